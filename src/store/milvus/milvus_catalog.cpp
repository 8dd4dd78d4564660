// The Milvus backend's collections: create, drop, describe and stats, their indexes, loading
// them into the server's memory for search, and flush.
#include <algorithm>
#include <thread>

#include "store/milvus/milvus_store_impl.h"

namespace clipdex::store::milvus {

std::vector<std::string> MilvusStore::list_collections() {
    pb::ShowCollectionsRequest request;
    scope(request);
    auto response = client_.call("ShowCollections", "", &Stub::ShowCollections, request);
    std::vector<std::string> names(response.collection_names().begin(),
                                   response.collection_names().end());
    std::sort(names.begin(), names.end());
    return names;
}

bool MilvusStore::has_collection(const std::string& name) {
    check_collection_name(name);
    pb::HasCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    try {
        return client_.call("HasCollection", name, &Stub::HasCollection, request).value();
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Unsupported) throw;
    }
    auto names = list_collections();
    return std::find(names.begin(), names.end(), name) != names.end();
}

void MilvusStore::create_collection(const CollectionSpec& spec) {
    writable();
    check_collection_name(spec.name);
    if (spec.dim <= 0 || spec.dim > 32768) {
        throw Error(ErrorCode::InvalidInput, "collection `" + spec.name + "`: dimension " +
                                                 std::to_string(spec.dim) + " is not in 1..32768");
    }
    std::lock_guard write(write_mutex_);
    if (has_collection(spec.name)) {
        throw Error(ErrorCode::AlreadyExists, "collection `" + spec.name + "` already exists");
    }
    pb::CreateCollectionRequest request;
    scope(request);
    request.set_collection_name(spec.name);
    request.set_schema(build_schema(spec).SerializeAsString());
    request.set_consistency_level(pbc::Strong);
    for (const auto& kv : collection_properties(spec)) *request.add_properties() = kv;
    client_.call("CreateCollection", spec.name, &Stub::CreateCollection, request);
    forget(spec.name);
    try {
        create_index(spec);
        load(spec.name);
    } catch (const Error&) {
        drop_quietly(spec.name);  // all or nothing: no half-made collection stays behind
        throw;
    }
}

void MilvusStore::drop_collection(const std::string& name) {
    writable();
    std::lock_guard write(write_mutex_);
    if (!has_collection(name))
        throw Error(ErrorCode::NotFound, "collection `" + name + "` does not exist");
    pb::DropCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    client_.call("DropCollection", name, &Stub::DropCollection, request);
    forget(name);
}

CollectionInfo MilvusStore::describe_collection(const std::string& name) {
    CollectionInfo info;
    info.spec = collection(name).spec;
    info.row_count = count(name, "");
    return info;
}

void MilvusStore::set_properties(const std::string& name,
                                 const std::map<std::string, std::string>& properties) {
    writable();
    collection(name);  // NotFound when absent
    CollectionSpec changed;
    changed.name = name;
    changed.properties = properties;
    pb::AlterCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    for (const auto& kv : collection_properties(changed)) *request.add_properties() = kv;
    std::lock_guard write(write_mutex_);
    try {
        client_.call("AlterCollection", name, &Stub::AlterCollection, request);
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Unsupported) throw;
        throw Error(ErrorCode::Unsupported, "Milvus server " + uri_ +
                                                " cannot change the properties of collection `" +
                                                name + "` (no AlterCollection): " + e.what());
    }
    std::lock_guard lock(cache_mutex_);
    cache_.erase(name);  // the next describe reads the new properties
}

CollectionStats MilvusStore::stats(const std::string& name) {
    CollectionStats stats;
    stats.row_count = count(name, "");
    stats.index_state = index_state(name);
    return stats;
}

void MilvusStore::flush(const std::string& name) {
    collection(name);
    pb::FlushRequest request;
    scope(request);
    request.add_collection_names(name);
    pb::FlushResponse response;
    try {
        response = client_.call("Flush", name, &Stub::Flush, request);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::Unsupported) return;  // Milvus Lite persists every write itself
        throw;
    }
    wait_flushed(name, response);
}

void MilvusStore::drop_quietly(const std::string& name) {
    pb::DropCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    try {
        client_.call("DropCollection", name, &Stub::DropCollection, request);
    } catch (const Error&) {
        // the original error is the one worth reporting
    }
    forget(name);
}

void MilvusStore::create_index(const CollectionSpec& spec) {
    pb::CreateIndexRequest request;
    scope(request);
    request.set_collection_name(spec.name);
    request.set_field_name(kFieldVector);
    for (const auto& kv : index_params(spec.index)) *request.add_extra_params() = kv;
    try {
        client_.call("CreateIndex", spec.name, &Stub::CreateIndex, request);
    } catch (const Error& e) {
        // Milvus Lite searches exhaustively whatever the index and refuses HNSW outright;
        // FLAT is what it would run anyway, so the collection stays usable as asked.
        if (spec.index.kind == IndexKind::Flat ||
            std::string(e.what()).find("only support") == std::string::npos)
            throw;
        request.clear_extra_params();
        for (const auto& kv : flat_stand_in(spec.index)) *request.add_extra_params() = kv;
        client_.call("CreateIndex", spec.name, &Stub::CreateIndex, request);
    }
}

pb::DescribeIndexResponse MilvusStore::describe_index(const std::string& name, bool* found) {
    pb::DescribeIndexRequest request;
    scope(request);
    request.set_collection_name(name);
    request.set_field_name(kFieldVector);
    *found = false;
    try {
        auto response = client_.call("DescribeIndex", name, &Stub::DescribeIndex, request);
        *found = true;
        return response;
    } catch (const Error& e) {
        if (e.code() != ErrorCode::NotFound && e.code() != ErrorCode::Unsupported) throw;
    }
    return {};
}

std::string MilvusStore::index_state(const std::string& name) {
    bool found = false;
    auto response = describe_index(name, &found);
    if (!found || response.index_descriptions_size() == 0) return "no index";
    const auto& index = response.index_descriptions(0);
    switch (index.state()) {
        case pbc::Finished:
            return "ready";
        case pbc::Failed:
            return "failed: " + index.index_state_fail_reason();
        case pbc::InProgress:
        case pbc::Unissued:
        case pbc::Retry:
            return "building";
        default:
            return "ready";
    }
}

// Schema, index and layout of a collection, asked once and cached.
Collection MilvusStore::collection(const std::string& name) {
    check_collection_name(name);
    {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(name); it != cache_.end()) return it->second;
    }
    pb::DescribeCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    pb::DescribeCollectionResponse described;
    try {
        described = client_.call("DescribeCollection", name, &Stub::DescribeCollection, request);
    } catch (const Error& e) {
        if (e.code() == ErrorCode::NotFound || e.code() == ErrorCode::InvalidInput ||
            e.code() == ErrorCode::Internal) {
            if (!has_collection(name))
                throw Error(ErrorCode::NotFound, "collection `" + name + "` does not exist");
        }
        throw;
    }
    bool found = false;
    auto index = describe_index(name, &found);
    Collection info;
    info.spec = spec_from_description(described, found ? &index : nullptr);
    info.spec.name = name;
    info.layout = layout_of(described.schema());
    if (!info.layout.has(kFieldId) || !info.layout.has(kFieldVector)) {
        throw Error(ErrorCode::Unsupported,
                    "collection `" + name +
                        "` lacks an `id` or `vector` field; clipdex reads seed 001's schema");
    }
    std::lock_guard lock(cache_mutex_);
    return cache_.emplace(name, info).first->second;
}

bool MilvusStore::is_loaded(const std::string& name) {
    pb::GetLoadStateRequest request;
    scope(request);
    request.set_collection_name(name);
    return client_.call("GetLoadState", name, &Stub::GetLoadState, request).state() ==
           pbc::LoadStateLoaded;
}

void MilvusStore::load(const std::string& name) {
    pb::LoadCollectionRequest request;
    scope(request);
    request.set_collection_name(name);
    client_.call("LoadCollection", name, &Stub::LoadCollection, request);
    auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(int64_t(std::max(options_.timeout_seconds, 1.0) * 1000));
    try {
        while (!is_loaded(name)) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw Error(ErrorCode::Unavailable,
                            "Milvus collection `" + name + "` did not finish loading within " +
                                std::to_string(options_.timeout_seconds) + " s");
            }
            std::this_thread::sleep_for(kPollInterval);
        }
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Unsupported) throw;  // no GetLoadState: Load returns when loaded
    }
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) it->second.loaded = true;
}

// A collection made elsewhere may be released; searching it needs it in memory.
void MilvusStore::ensure_loaded(const std::string& name) {
    {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(name); it != cache_.end() && it->second.loaded) return;
    }
    bool loaded = false;
    try {
        loaded = is_loaded(name);
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Unsupported) throw;
    }
    if (!loaded) {
        load(name);
        return;
    }
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(name); it != cache_.end()) it->second.loaded = true;
}

void MilvusStore::wait_flushed(const std::string& name, const pb::FlushResponse& response) {
    pb::GetFlushStateRequest request;
    scope(request);
    request.set_collection_name(name);
    if (auto it = response.coll_flush_ts().find(name); it != response.coll_flush_ts().end()) {
        request.set_flush_ts(it->second);
    }
    if (auto it = response.coll_segids().find(name); it != response.coll_segids().end()) {
        for (int64_t id : it->second.data()) request.add_segmentids(id);
    }
    auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(int64_t(std::max(options_.timeout_seconds, 1.0) * 1000));
    try {
        while (!client_.call("GetFlushState", name, &Stub::GetFlushState, request).flushed()) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw Error(ErrorCode::Unavailable,
                            "Milvus flush of collection `" + name + "` did not finish within " +
                                std::to_string(options_.timeout_seconds) + " s");
            }
            std::this_thread::sleep_for(kPollInterval);
        }
    } catch (const Error& e) {
        if (e.code() != ErrorCode::Unsupported) throw;
    }
}

}  // namespace clipdex::store::milvus
