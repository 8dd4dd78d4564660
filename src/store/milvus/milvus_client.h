// One gRPC channel to a Milvus server and the call discipline every RPC shares: metadata,
// a deadline per attempt, retries with backoff while the server is unreachable or rate-limits,
// and the mapping of gRPC and Milvus statuses to clipdex::Error.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "clipdex/error.h"
#include "clipdex/store.h"
#include "milvus_service.grpc.pb.h"
#include "store/milvus/milvus_store.h"
#include "store/milvus/milvus_uri.h"

namespace clipdex::store::milvus {

namespace pb = ::milvus::proto::milvus;
namespace pbc = ::milvus::proto::common;
namespace pbs = ::milvus::proto::schema;

// What a failed call should become, decided from the server's answer alone.
struct Verdict {
    ErrorCode code = ErrorCode::Internal;
    bool retry = false;
};
Verdict classify_grpc(grpc::StatusCode code);
Verdict classify_status(const pbc::Status& status);  // status not Success
bool status_ok(const pbc::Status& status);

struct RetryPolicy {
    int max_attempts = 6;
    std::chrono::milliseconds first_backoff{100};
    std::chrono::milliseconds max_backoff{3000};
};
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

class Client {
  public:
    Client(const Endpoint& endpoint, const StoreOptions& options);

    pb::MilvusService::Stub& stub() { return *stub_; }
    const std::string& db_name() const { return db_name_; }

    // Runs one unary RPC: `what` names it in errors ("Insert"), `collection` too when set.
    template <class Request, class Response>
    Response call(const char* what, const std::string& collection,
                  grpc::Status (pb::MilvusService::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                  const Request& request) {
        for (int attempt = 1;; ++attempt) {
            Response response;
            grpc::ClientContext context;
            prepare(context);
            auto start = std::chrono::steady_clock::now();
            grpc::Status status = ((*stub_).*method)(&context, request, &response);
            count(start, request.ByteSizeLong(), status.ok() ? response.ByteSizeLong() : 0);
            Verdict verdict;
            std::string detail;
            if (!status.ok()) {
                verdict = classify_grpc(status.error_code());
                detail = "gRPC status " + std::to_string(int(status.error_code())) + " (" +
                         grpc_code_name(status.error_code()) + "): " + status.error_message();
            } else if (const pbc::Status& s = status_of(response); !status_ok(s)) {
                verdict = classify_status(s);
                detail = describe_status(s);
            } else {
                return response;
            }
            if (!verdict.retry || attempt >= policy_.max_attempts) {
                throw Error(verdict.code, message(what, collection, detail, attempt));
            }
            std::this_thread::sleep_for(backoff_delay(policy_, attempt));
        }
    }

    Traffic traffic() const;

    static std::string describe_status(const pbc::Status& status);
    static const char* grpc_code_name(grpc::StatusCode code);
    static std::string message(const char* what, const std::string& collection,
                               const std::string& detail, int attempts);

  private:
    void prepare(grpc::ClientContext& context) const;
    void count(std::chrono::steady_clock::time_point start, size_t sent, size_t received);
    static const pbc::Status& status_of(const pbc::Status& status) { return status; }
    template <class Response>
    static const pbc::Status& status_of(const Response& response) {
        return response.status();
    }

    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<pb::MilvusService::Stub> stub_;
    std::vector<std::pair<std::string, std::string>> metadata_;
    std::string db_name_;
    std::string target_;
    std::chrono::milliseconds timeout_;
    RetryPolicy policy_;
    mutable std::mutex traffic_mutex_;
    Traffic traffic_;
};

}  // namespace clipdex::store::milvus
