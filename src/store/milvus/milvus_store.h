// The Milvus backend of clipdex::store::Store, speaking Milvus's gRPC protocol
// (milvus.proto.milvus.MilvusService) to Milvus standalone/distributed 2.3+, Zilliz Cloud and
// the Milvus Lite servers.
//
//   auto store = clipdex::store::milvus::open_milvus_store("http://127.0.0.1:19530", {});
//
// URI: http://host[:port] (plain gRPC) or https://host[:port] (TLS, system roots); port 19530
// when left out; an optional path names the database ("http://h:19530/mydb") unless
// StoreOptions::db_name is set. StoreOptions::token is an API key or "user:password", sent as
// pymilvus sends it (metadata `authorization`, base64). Opening checks that the server answers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "clipdex/store.h"

namespace clipdex::store::milvus {

// What a Milvus store's client has sent and received so far, to see what an operation costs
// on the wire (tests, benchmarks).
struct Traffic {
    int64_t calls = 0;
    int64_t request_bytes = 0;
    int64_t response_bytes = 0;
    double rpc_seconds = 0;  // time inside RPCs, retries included
};
// Throws Error(InvalidInput) when `store` is not a Milvus store.
Traffic traffic_of(const Store& store);

// Throws Error(InvalidInput) for a malformed URI and Error(Unavailable) when the server does
// not answer within StoreOptions::timeout_seconds.
std::unique_ptr<Store> open_milvus_store(const std::string& uri, const StoreOptions& options);

}  // namespace clipdex::store::milvus
