// Where and how to reach a Milvus server: the URI as pymilvus takes it, and the gRPC metadata
// (authorization, database) every call carries.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipdex::store::milvus {

struct Endpoint {
    std::string target;   // "host:port" for grpc::CreateChannel
    bool tls = false;     // https:// — TLS with the system's root certificates
    std::string db_name;  // from the URI path, empty when none
};

// "http://host[:port][/db]" or "https://…"; the port defaults to 19530. Throws
// Error(InvalidInput) naming the URI for anything else.
Endpoint parse_uri(const std::string& uri);

std::string base64_encode(std::string_view bytes);

// The metadata pymilvus sends: `authorization` = base64(token) where the token is an API key
// or "user:password", and `dbname` when a database other than the default is named.
std::vector<std::pair<std::string, std::string>> call_metadata(const std::string& token,
                                                               const std::string& db_name);

}  // namespace clipdex::store::milvus
