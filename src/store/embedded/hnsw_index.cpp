// The HNSW index of the embedded store (ann_index.h): hnswlib builds the graph and holds its
// links, each node naming its row's arena slot; the search over the graph is the store's own.
#include "store/embedded/ann_index_impl.h"

// Debian's hnswlib 0.6.2 prefetches one entry past the end of its link lists when its manual
// SSE/AVX code is on: a harmless read in practice, but one ASan reports. Only sanitizer builds
// switch that code (and so the prefetch) off; every other build keeps hnswlib's search speed.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <queue>
#include <string>
#include <unordered_map>

namespace clipdex::store::embedded {

namespace {

constexpr uint32_t kHnswMagic = 0x31534E48;  // "HNS1"
constexpr int kMaxHnswLevel = 64;

// What the HNSW graph keeps per node where hnswlib would keep a second copy of the vector: the
// node's arena slot, and for COSINE the vector's 1/|v| (the arena holds raw vectors). The copy
// doubled the memory of an HNSW collection and the pages an open must populate; with the slot,
// the graph reads vectors from the arena as FLAT and IVF_FLAT do.
struct NodeRef {
    uint32_t slot = 0;
    float scale = 1.0f;  // 1/|v| for COSINE, 1 otherwise
};
constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();

// hnswlib's distance space over NodeRefs, in the store's own convention (smaller is closer:
// -dot for IP and COSINE, squared distance for L2). A slot outside the arena (a row deleted
// since the snapshot, before the replay marks its node) reads as a zero vector.
class SlotSpace final : public hnswlib::SpaceInterface<float> {
  public:
    SlotSpace(size_t dim, Metric metric)
        : dim_(dim), l2_(metric == Metric::L2), cosine_(metric == Metric::Cosine), zeros_(dim) {}
    size_t get_data_size() override { return sizeof(NodeRef); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &between_nodes; }
    void* get_dist_func_param() override { return this; }

    // The arena whose slots the nodes name; the collection owns both, so it outlives the graph.
    void bind(const Arena& arena) { arena_ = &arena; }
    bool bound_to(const Arena& arena) const { return arena_ == &arena; }
    NodeRef node_for(uint32_t slot) const {
        return {slot, cosine_ ? arena_->inverse_norm_at(slot) : 1.0f};
    }
    const float* vector(uint32_t slot) const {
        return slot < arena_->slot_count() ? arena_->vector_at(slot) : zeros_.data();
    }
    // `query` is prepared (unit length for COSINE).
    float to_query(const float* query, NodeRef node) const {
        const float* v = vector(node.slot);
        return l2_ ? l2_squared(query, v, dim_) : -dot(query, v, dim_) * node.scale;
    }

  private:
    static float between_nodes(const void* a, const void* b, const void* param) {
        const auto& space = *static_cast<const SlotSpace*>(param);
        NodeRef x, y;
        std::memcpy(&x, a, sizeof x);
        std::memcpy(&y, b, sizeof y);
        const float* va = space.vector(x.slot);
        const float* vb = space.vector(y.slot);
        return space.l2_ ? l2_squared(va, vb, space.dim_)
                         : -dot(va, vb, space.dim_) * x.scale * y.scale;
    }

    size_t dim_;
    bool l2_, cosine_;
    std::vector<float> zeros_;
    const Arena* arena_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
class HnswIndex final : public AnnIndex {
  public:
    HnswIndex(const IndexSpec& spec, int dim)
        : metric_(spec.metric), dim_(static_cast<size_t>(dim)) {
        space_ = std::make_unique<SlotSpace>(dim_, metric_);
        m_ = static_cast<size_t>(spec.m);
        ef_construction_ = static_cast<size_t>(spec.ef_construction);
        graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), kInitialCapacity,
                                                                   m_, ef_construction_);
    }

    bool ready() const override { return true; }

    void build(const Arena& arena) override {
        space_->bind(arena);
        graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            space_.get(), std::max(kInitialCapacity, arena.size() + 16), m_, ef_construction_);
        std::vector<std::pair<int64_t, uint32_t>> items(arena.ids().begin(), arena.ids().end());
        std::sort(items.begin(), items.end());
        parallel_for(items.size(), 2000, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) add(items[i].first, items[i].second);
        });
    }

    // Upserts run on several threads at once; build() or attach() has bound the arena already.
    void upsert(int64_t id, uint32_t slot, const Arena& arena) override {
        if (!space_->bound_to(arena)) space_->bind(arena);
        if (graph_->cur_element_count >= graph_->max_elements_)
            graph_->resizeIndex(graph_->max_elements_ * 2);
        add(id, slot);
    }

    void reserve(size_t extra) override {
        size_t needed = graph_->cur_element_count + extra;
        if (needed > graph_->max_elements_) {
            graph_->resizeIndex(std::max(needed, graph_->max_elements_ * 2));
        }
    }

    bool concurrent_upserts() const override { return true; }

    void remove(int64_t id) override {
        auto it = graph_->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
        if (it == graph_->label_lookup_.end() || graph_->isMarkedDeleted(it->second)) return;
        graph_->markDeletedInternal(it->second);
    }

    double deleted_fraction() const override {
        const auto& g = *graph_;
        return g.cur_element_count == 0
                   ? 0.0
                   : static_cast<double>(g.num_deleted_) / static_cast<double>(g.cur_element_count);
    }

    std::vector<Candidate> search(const float* query, size_t k, const SearchParams& params,
                                  const IdFilter* filter, const Arena&) const override {
        const auto& g = *graph_;
        if (g.cur_element_count == 0 || k == 0) return {};
        size_t ef = std::max<size_t>(static_cast<size_t>(std::max(params.ef, 1)), k);
        hnswlib::tableint entry = descend(query);
        auto top = g.num_deleted_ ? search_base_layer<true>(entry, query, ef)
                                  : search_base_layer<false>(entry, query, ef);
        TopK best(k);
        while (!top.empty()) {
            auto [distance, internal] = top.top();
            top.pop();
            int64_t id = static_cast<int64_t>(g.getExternalLabel(internal));
            if (filter && !(*filter)(id)) continue;
            best.push(distance, id);
        }
        return best.take_sorted();
    }

    std::vector<uint8_t> save() const override {
        const auto& g = *graph_;
        ByteWriter w;
        w.put(kHnswMagic);
        w.put(static_cast<uint64_t>(dim_));
        w.put(static_cast<uint64_t>(g.cur_element_count));
        w.put(static_cast<uint64_t>(g.M_));
        w.put(static_cast<uint64_t>(g.maxM0_));
        w.put(static_cast<uint64_t>(g.ef_construction_));
        w.put(static_cast<int32_t>(g.maxlevel_));
        w.put(static_cast<uint32_t>(g.enterpoint_node_));
        for (size_t i = 0; i < g.cur_element_count; ++i) {
            auto internal = static_cast<hnswlib::tableint>(i);
            w.put(static_cast<int64_t>(g.getExternalLabel(internal)));
            w.put(static_cast<int32_t>(g.element_levels_[i]));
            w.put_raw(g.get_linklist0(internal), g.size_links_level0_);
            if (g.element_levels_[i] > 0)
                w.put_raw(g.linkLists_[i],
                          g.size_links_per_element_ * static_cast<size_t>(g.element_levels_[i]));
        }
        return w.take();
    }

    // Phase 1 of a snapshot load: the graph's structure, which needs no vectors (so it can be
    // parsed while the arena loads). Phase 2, attach(), points the nodes at their slots.
    void parse(std::span<const uint8_t> bytes) override {
        ByteReader r(bytes, "HNSW index");
        if (r.get<uint32_t>() != kHnswMagic) r.fail("bad magic");
        if (r.get<uint64_t>() != dim_) r.fail("dimension differs from the collection's");
        uint64_t count = r.get<uint64_t>();
        uint64_t m = r.get<uint64_t>(), max_m0 = r.get<uint64_t>(), efc = r.get<uint64_t>();
        if (m != m_ || max_m0 != 2 * m_ || efc < 1)
            r.fail("parameters differ from the collection's");
        int32_t max_level = r.get<int32_t>();
        uint32_t entry = r.get<uint32_t>();
        size_t level0_bytes = max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
        if (count > r.remaining() / (level0_bytes + 12))
            r.fail("element count larger than the snapshot");
        graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            space_.get(), std::max<size_t>(kInitialCapacity, count + 16), m_, ef_construction_);
        auto& g = *graph_;
        prefault(g.data_level0_memory_, count * g.size_data_per_element_);
        for (uint64_t i = 0; i < count; ++i) {
            auto internal = static_cast<hnswlib::tableint>(i);
            auto label = r.get<int64_t>();
            int32_t level = r.get<int32_t>();
            if (level < 0 || level > kMaxHnswLevel || level > max_level)
                r.fail("bad element level");
            r.get_raw(g.get_linklist0(internal), level0_bytes);
            check_links(r, g.get_linklist0(internal), g.maxM0_, count);
            g.element_levels_[i] = level;
            g.linkLists_[i] = nullptr;
            if (level > 0) {
                size_t upper = g.size_links_per_element_ * static_cast<size_t>(level);
                if (upper > r.remaining()) r.fail("truncated link lists");
                g.linkLists_[i] = static_cast<char*>(std::malloc(upper));
                if (!g.linkLists_[i]) throw std::bad_alloc();
            }
            g.cur_element_count = i + 1;  // from here the graph's destructor owns linkLists_[i]
            if (level > 0) {
                r.get_raw(g.linkLists_[i], g.size_links_per_element_ * static_cast<size_t>(level));
                for (int l = 1; l <= level; ++l)
                    check_links(r, g.get_linklist(internal, l), g.maxM_, count);
            }
            if (!g.label_lookup_.emplace(static_cast<hnswlib::labeltype>(label), internal).second)
                r.fail("label " + std::to_string(label) + " appears twice");
            g.setExternalLabel(internal, static_cast<hnswlib::labeltype>(label));
            if (g.isMarkedDeleted(internal)) ++g.num_deleted_;
        }
        if (!r.at_end()) r.fail("trailing bytes");
        if (count == 0) {
            if (max_level != -1) r.fail("empty graph with levels");
        } else if (entry >= count || max_level != g.element_levels_[entry]) {
            r.fail("bad entry point");
        }
        g.maxlevel_ = max_level;
        g.enterpoint_node_ = count == 0 ? static_cast<hnswlib::tableint>(-1) : entry;
    }

    // Points every node at its row's slot in the arena (a hash lookup per node, on every core).
    void attach(const Arena& arena) override {
        space_->bind(arena);
        auto& g = *graph_;
        parallel_for(g.cur_element_count, 20000, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) {
                auto internal = static_cast<hnswlib::tableint>(i);
                int64_t slot = arena.slot_of(static_cast<int64_t>(g.getExternalLabel(internal)));
                NodeRef ref = slot < 0 ? NodeRef{kNoSlot, 0.0f}
                                       : space_->node_for(static_cast<uint32_t>(slot));
                std::memcpy(g.getDataByInternalId(internal), &ref, sizeof ref);
            }
        });
    }

    std::span<const uint8_t> bulk_memory() const override {
        const auto& g = *graph_;
        return {reinterpret_cast<const uint8_t*>(g.data_level0_memory_),
                g.max_elements_ * g.size_data_per_element_};
    }

    std::string describe() const override {
        return "HNSW " + std::to_string(graph_->cur_element_count) + " nodes, " +
               std::to_string(graph_->num_deleted_) + " deleted";
    }

  private:
    static constexpr size_t kInitialCapacity = 1024;
    // Cache lines of each unvisited neighbour's vector asked for before its distance is computed;
    // the hardware prefetcher streams the rest of the vector once its first lines are read.
    static constexpr size_t kPrefetchLines = 4;

    using MaxHeap = std::priority_queue<std::pair<float, hnswlib::tableint>,
                                        std::vector<std::pair<float, hnswlib::tableint>>,
                                        hnswlib::HierarchicalNSW<float>::CompareByFirst>;

    NodeRef node(hnswlib::tableint internal) const {
        NodeRef ref;
        std::memcpy(&ref, graph_->getDataByInternalId(internal), sizeof ref);
        return ref;
    }

    void add(int64_t id, uint32_t slot) {
        NodeRef ref = space_->node_for(slot);
        graph_->addPoint(&ref, static_cast<hnswlib::labeltype>(id));
    }

    // Greedy descent through the upper layers to the base layer's entry point. hnswlib's
    // searchKnn reads the shared ef_ member, so the store has its own search taking ef per call.
    hnswlib::tableint descend(const float* query) const {
        const auto& g = *graph_;
        hnswlib::tableint current = g.enterpoint_node_;
        float current_distance = space_->to_query(query, node(current));
        for (int level = g.maxlevel_; level > 0; --level) {
            bool changed = true;
            while (changed) {
                changed = false;
                auto* list = g.get_linklist(current, level);
                int size = g.getListCount(list);
                auto* links = reinterpret_cast<hnswlib::tableint*>(list + 1);
                for (int i = 0; i < size; ++i) {
                    float d = space_->to_query(query, node(links[i]));
                    if (d < current_distance) {
                        current_distance = d;
                        current = links[i];
                        changed = true;
                    }
                }
            }
        }
        return current;
    }

    // hnswlib's base-layer beam search (same visiting order and stopping rule), reading vectors
    // from the arena. Each expanded node's unvisited neighbours are gathered first so that all
    // their NodeRefs, then the first lines of all their vectors, are in flight together.
    template <bool kHasDeletions>
    MaxHeap search_base_layer(hnswlib::tableint entry, const float* query, size_t ef) const {
        const auto& g = *graph_;
        auto* visited_list = g.visited_list_pool_->getFreeVisitedList();
        struct Release {
            hnswlib::VisitedListPool* pool;
            hnswlib::VisitedList* list;
            ~Release() { pool->releaseVisitedList(list); }
        } release{g.visited_list_pool_, visited_list};
        auto* visited = visited_list->mass;
        auto tag = visited_list->curV;

        MaxHeap top, candidates;  // candidates hold negated distances (closest on top)
        float bound = std::numeric_limits<float>::max();
        if (!kHasDeletions || !g.isMarkedDeleted(entry)) {
            bound = space_->to_query(query, node(entry));
            top.emplace(bound, entry);
        }
        candidates.emplace(-bound, entry);
        visited[entry] = tag;

        const size_t prefetch_bytes = std::min(kPrefetchLines * 64, dim_ * sizeof(float));
        std::vector<hnswlib::tableint> fresh(g.maxM0_);
        std::vector<NodeRef> refs(g.maxM0_);
        while (!candidates.empty()) {
            auto [negated, current] = candidates.top();
            if (-negated > bound && (top.size() == ef || !kHasDeletions)) break;
            candidates.pop();
            auto* list = g.get_linklist0(current);
            size_t size = g.getListCount(list);
            auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
            size_t n = 0;
            for (size_t j = 0; j < size; ++j) {
                hnswlib::tableint id = links[j];
                if (visited[id] == tag) continue;
                visited[id] = tag;
                fresh[n++] = id;
                __builtin_prefetch(g.getDataByInternalId(id));
            }
            for (size_t j = 0; j < n; ++j) {
                refs[j] = node(fresh[j]);
                prefetch(space_->vector(refs[j].slot), prefetch_bytes);
            }
            for (size_t j = 0; j < n; ++j) {
                float d = space_->to_query(query, refs[j]);
                if (top.size() >= ef && d >= bound) continue;
                candidates.emplace(-d, fresh[j]);
                if (!kHasDeletions || !g.isMarkedDeleted(fresh[j])) top.emplace(d, fresh[j]);
                if (top.size() > ef) top.pop();
                if (!top.empty()) bound = top.top().first;
            }
        }
        return top;
    }

    static void check_links(ByteReader& r, const hnswlib::linklistsizeint* list, size_t max_links,
                            uint64_t count) {
        unsigned short size = *reinterpret_cast<const unsigned short*>(list);
        if (size > max_links) r.fail("link list longer than M allows");
        const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
        for (unsigned short i = 0; i < size; ++i)
            if (links[i] >= count) r.fail("link to a node that does not exist");
    }

    Metric metric_;
    size_t dim_;
    size_t m_ = 16;
    size_t ef_construction_ = 200;
    std::unique_ptr<SlotSpace> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
};

}  // namespace

std::unique_ptr<AnnIndex> make_hnsw_index(const IndexSpec& spec, int dim) {
    return std::make_unique<HnswIndex>(spec, dim);
}

}  // namespace clipdex::store::embedded
