#include "store/milvus/milvus_client.h"

#include <algorithm>
#include <climits>
#include "common/ascii.h"

namespace clipdex::store::milvus {
namespace {

// Milvus 2.3+ error codes (pkg/util/merr) that the legacy ErrorCode enum does not tell apart.
constexpr int kServiceNotReady = 1;
constexpr int kServiceUnavailable = 2;
constexpr int kServiceRequestLimitExceeded = 4;
constexpr int kServiceRateLimit = 8;
constexpr int kServiceQuotaExceeded = 9;
constexpr int kServiceUnimplemented = 10;
constexpr int kServiceTimeTickLongDelay = 11;
constexpr int kCollectionNotFound = 100;
constexpr int kCollectionNotLoaded = 101;
constexpr int kIndexNotFound = 700;
constexpr int kDatabaseNotFound = 800;

bool contains(const std::string& haystack, std::string_view needle) {
    return ascii_lower(haystack).find(needle) != std::string::npos;
}

}  // namespace

Verdict classify_grpc(grpc::StatusCode code) {
    switch (code) {
        case grpc::StatusCode::UNAVAILABLE:
            return {ErrorCode::Unavailable, true};
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return {ErrorCode::Unavailable, false};
        case grpc::StatusCode::UNIMPLEMENTED:
            return {ErrorCode::Unsupported, false};
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return {ErrorCode::TooLarge, false};
        case grpc::StatusCode::UNAUTHENTICATED:
        case grpc::StatusCode::PERMISSION_DENIED:
            return {ErrorCode::InvalidInput, false};
        case grpc::StatusCode::INVALID_ARGUMENT:
            return {ErrorCode::InvalidInput, false};
        case grpc::StatusCode::NOT_FOUND:
            return {ErrorCode::NotFound, false};
        case grpc::StatusCode::ALREADY_EXISTS:
            return {ErrorCode::AlreadyExists, false};
        case grpc::StatusCode::CANCELLED:
        case grpc::StatusCode::ABORTED:
            return {ErrorCode::Unavailable, false};
        default:
            return {ErrorCode::Internal, false};
    }
}

bool status_ok(const pbc::Status& status) {
    return status.error_code() == pbc::Success && status.code() == 0;
}

Verdict classify_status(const pbc::Status& status) {
    switch (status.code()) {
        case kServiceRateLimit:
        case kServiceQuotaExceeded:
        case kServiceNotReady:
        case kServiceUnavailable:
        case kServiceTimeTickLongDelay:
            return {ErrorCode::Unavailable, true};
        case kServiceRequestLimitExceeded:
            return {ErrorCode::TooLarge, false};
        case kServiceUnimplemented:
            return {ErrorCode::Unsupported, false};
        case kCollectionNotFound:
        case kIndexNotFound:
        case kDatabaseNotFound:
            return {ErrorCode::NotFound, false};
        case kCollectionNotLoaded:
            return {ErrorCode::Conflict, false};
        default:
            break;
    }
    if (status.code() >= 1100 && status.code() < 1200) return {ErrorCode::InvalidInput, false};
    switch (status.error_code()) {
        case pbc::RateLimit:
        case pbc::NotReadyServe:
        case pbc::NotReadyCoordActivating:
        case pbc::TimeTickLongDelay:
            return {ErrorCode::Unavailable, true};
        case pbc::ForceDeny:
        case pbc::MemoryQuotaExhausted:
        case pbc::DiskQuotaExhausted:
            return {ErrorCode::Unavailable, false};
        case pbc::CollectionNotExists:
        case pbc::CollectionNameNotFound:
        case pbc::IndexNotExist:
            return {ErrorCode::NotFound, false};
        case pbc::PermissionDenied:
            return {ErrorCode::InvalidInput, false};
        default:
            break;
    }
    if (status.error_code() >= pbc::IllegalArgument &&
        status.error_code() <= pbc::IllegalMetricType) {
        return {ErrorCode::InvalidInput, false};
    }
    if (contains(status.reason(), "already exist")) return {ErrorCode::AlreadyExists, false};
    if (contains(status.reason(), "not found") || contains(status.reason(), "not exist") ||
        contains(status.reason(), "can't find")) {
        return {ErrorCode::NotFound, false};
    }
    if (status.retriable()) return {ErrorCode::Unavailable, true};
    if (contains(status.reason(), "invalid") || contains(status.reason(), "cannot parse") ||
        contains(status.reason(), "failed to create query plan") ||
        contains(status.reason(), "exceed") || contains(status.reason(), "should be")) {
        return {ErrorCode::InvalidInput, false};
    }
    return {ErrorCode::Internal, false};
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
    int64_t delay = policy.first_backoff.count();
    for (int i = 1; i < attempt && delay < policy.max_backoff.count(); ++i) delay *= 2;
    return std::chrono::milliseconds(std::min<int64_t>(delay, policy.max_backoff.count()));
}

Client::Client(const Endpoint& endpoint, const StoreOptions& options)
    : db_name_(options.db_name.empty() ? endpoint.db_name : options.db_name),
      target_(endpoint.target) {
    double seconds = options.timeout_seconds > 0 ? options.timeout_seconds : 30;
    timeout_ = std::chrono::milliseconds(int64_t(std::min(seconds, 86400.0) * 1000));
    metadata_ = call_metadata(options.token, db_name_);
    grpc::ChannelArguments args;
    // Search and query answers can be far larger than gRPC's 4 MB default; pymilvus lifts both.
    args.SetMaxReceiveMessageSize(INT_MAX);
    args.SetMaxSendMessageSize(INT_MAX);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 55000);
    auto credentials = endpoint.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                    : grpc::InsecureChannelCredentials();
    channel_ = grpc::CreateCustomChannel(endpoint.target, credentials, args);
    stub_ = pb::MilvusService::NewStub(channel_);
}

void Client::prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    for (const auto& [key, value] : metadata_) context.AddMetadata(key, value);
}

void Client::count(std::chrono::steady_clock::time_point start, size_t sent, size_t received) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard lock(traffic_mutex_);
    traffic_.calls += 1;
    traffic_.request_bytes += int64_t(sent);
    traffic_.response_bytes += int64_t(received);
    traffic_.rpc_seconds += seconds;
}

Traffic Client::traffic() const {
    std::lock_guard lock(traffic_mutex_);
    return traffic_;
}

std::string Client::describe_status(const pbc::Status& status) {
    std::string text = "server status code " + std::to_string(status.code());
    if (status.error_code() != pbc::Success) {
        text += " (error_code " + std::to_string(int(status.error_code())) + ")";
    }
    return text + ": " + (status.reason().empty() ? "no reason given" : status.reason());
}

const char* Client::grpc_code_name(grpc::StatusCode code) {
    switch (code) {
        case grpc::StatusCode::CANCELLED:
            return "CANCELLED";
        case grpc::StatusCode::INVALID_ARGUMENT:
            return "INVALID_ARGUMENT";
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return "DEADLINE_EXCEEDED";
        case grpc::StatusCode::NOT_FOUND:
            return "NOT_FOUND";
        case grpc::StatusCode::ALREADY_EXISTS:
            return "ALREADY_EXISTS";
        case grpc::StatusCode::PERMISSION_DENIED:
            return "PERMISSION_DENIED";
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return "RESOURCE_EXHAUSTED";
        case grpc::StatusCode::UNIMPLEMENTED:
            return "UNIMPLEMENTED";
        case grpc::StatusCode::INTERNAL:
            return "INTERNAL";
        case grpc::StatusCode::UNAVAILABLE:
            return "UNAVAILABLE";
        case grpc::StatusCode::UNAUTHENTICATED:
            return "UNAUTHENTICATED";
        default:
            return "error";
    }
}

std::string Client::message(const char* what, const std::string& collection,
                            const std::string& detail, int attempts) {
    std::string text = std::string("Milvus ") + what;
    if (!collection.empty()) text += " on collection `" + collection + "`";
    text += " failed";
    if (attempts > 1) text += " after " + std::to_string(attempts) + " attempts";
    return text + ": " + detail;
}

}  // namespace clipdex::store::milvus
