// The IVF_FLAT index of the embedded store (ann_index.h): k-means centroids plus inverted lists
// of (id, arena slot), so the vectors stay in the arena only.
#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <unordered_map>

#include "store/embedded/ann_index_impl.h"

namespace clipdex::store::embedded {

namespace {

constexpr uint32_t kIvfMagic = 0x31465649;  // "IVF1"

class IvfIndex final : public AnnIndex {
  public:
    IvfIndex(const IndexSpec& spec, int dim)
        : metric_(spec.metric),
          dim_(static_cast<size_t>(dim)),
          nlist_(static_cast<size_t>(spec.nlist)) {}

    bool ready() const override { return !centroids_.empty(); }

    // Training needs a few rows per cluster; below that exact search is as fast anyway.
    size_t train_threshold() const { return std::max<size_t>(4 * nlist_, 256); }

    void build(const Arena& arena) override {
        centroids_.clear();
        lists_.clear();
        where_.clear();
        if (arena.size() < train_threshold()) return;
        train(arena);
        std::vector<std::pair<int64_t, uint32_t>> items(arena.ids().begin(), arena.ids().end());
        std::sort(items.begin(), items.end());
        std::vector<uint32_t> assignment(items.size());
        parallel_for(items.size(), 1000, [&](size_t begin, size_t end) {
            std::vector<float> v(dim_);
            for (size_t i = begin; i < end; ++i)
                assignment[i] = nearest(arena.vector_at(items[i].second), v);
        });
        for (size_t i = 0; i < items.size(); ++i)
            append(assignment[i], items[i].first, items[i].second);
    }

    void upsert(int64_t id, uint32_t slot, const Arena& arena) override {
        if (!ready()) {
            if (arena.size() >= train_threshold()) build(arena);
            return;
        }
        remove(id);
        std::vector<float> v(dim_);
        append(nearest(arena.vector_at(slot), v), id, slot);
    }

    void remove(int64_t id) override {
        auto it = where_.find(id);
        if (it == where_.end()) return;
        auto [list, pos] = it->second;
        auto& entries = lists_[list];
        entries[pos] = entries.back();
        where_[entries[pos].id].second = pos;
        entries.pop_back();
        where_.erase(id);
    }

    std::vector<Candidate> search(const float* query, size_t k, const SearchParams& params,
                                  const IdFilter* filter, const Arena& arena) const override {
        if (!ready()) {
            TopK top(k);
            for (const auto& [id, slot] : arena.ids())
                if (!filter || (*filter)(id)) top.push(arena.distance(query, slot), id);
            return top.take_sorted();
        }
        size_t nlist = lists_.size();
        size_t nprobe =
            std::clamp<size_t>(static_cast<size_t>(std::max(params.nprobe, 1)), 1, nlist);
        TopK probes(nprobe);
        for (size_t c = 0; c < nlist; ++c)
            probes.push(centroid_distance(query, c), static_cast<int64_t>(c));
        TopK top(k);
        // A list's vectors are scattered over the arena and the hardware prefetcher cannot guess
        // the next slot: request the vectors kAhead places ahead while this one is scored, so that
        // several DRAM fetches are in flight at once.
        constexpr size_t kAhead = 8;
        for (const auto& probe : probes.take_sorted()) {
            const auto& list = lists_[static_cast<size_t>(probe.id)];
            for (size_t i = 0; i < list.size(); ++i) {
                if (i + kAhead < list.size())
                    prefetch(arena.vector_at(list[i + kAhead].slot), dim_ * sizeof(float));
                const Entry& e = list[i];
                if (!filter || (*filter)(e.id)) top.push(arena.distance(query, e.slot), e.id);
            }
        }
        return top.take_sorted();
    }

    std::vector<uint8_t> save() const override {
        ByteWriter w;
        w.put(kIvfMagic);
        w.put(static_cast<uint64_t>(dim_));
        w.put(static_cast<uint64_t>(lists_.size()));
        w.put_raw(centroids_.data(), centroids_.size() * sizeof(float));
        for (const auto& list : lists_) {
            w.put(static_cast<uint64_t>(list.size()));
            for (const auto& e : list) w.put(e.id);
        }
        return w.take();
    }

    // IVF snapshots are small (centroids and ids): parse() keeps the bytes, attach() reads them.
    void parse(std::span<const uint8_t> bytes) override {
        pending_.assign(bytes.begin(), bytes.end());
    }

    void attach(const Arena& arena) override {
        auto bytes = std::move(pending_);
        pending_.clear();
        load(bytes, arena);
    }

    void load(std::span<const uint8_t> bytes, const Arena& arena) {
        ByteReader r(bytes, "IVF_FLAT index");
        if (r.get<uint32_t>() != kIvfMagic) r.fail("bad magic");
        if (r.get<uint64_t>() != dim_) r.fail("dimension differs from the collection's");
        uint64_t nlist = r.get<uint64_t>();
        if (nlist > nlist_ || nlist > r.remaining() / (dim_ * sizeof(float) + 8))
            r.fail("bad list count");
        centroids_.resize(nlist * dim_);
        r.get_raw(centroids_.data(), centroids_.size() * sizeof(float));
        lists_.assign(nlist, {});
        for (uint64_t c = 0; c < nlist; ++c) {
            uint64_t size = r.get<uint64_t>();
            if (size > r.remaining() / 8) r.fail("list longer than the snapshot");
            for (uint64_t i = 0; i < size; ++i) {
                auto id = r.get<int64_t>();
                if (where_.count(id)) r.fail("id " + std::to_string(id) + " in two lists");
                int64_t slot = arena.slot_of(id);
                if (slot >= 0) append(static_cast<uint32_t>(c), id, static_cast<uint32_t>(slot));
            }
        }
        if (!r.at_end()) r.fail("trailing bytes");
    }

    std::string describe() const override {
        return ready() ? "IVF_FLAT " + std::to_string(lists_.size()) + " lists, " +
                             std::to_string(where_.size()) + " rows"
                       : "IVF_FLAT untrained (exact search until " +
                             std::to_string(train_threshold()) + " rows)";
    }

  private:
    struct Entry {
        int64_t id;
        uint32_t slot;
    };

    float centroid_distance(const float* prepared, size_t c) const {
        const float* centroid = centroids_.data() + c * dim_;
        return metric_ == Metric::L2 ? l2_squared(prepared, centroid, dim_)
                                     : -dot(prepared, centroid, dim_);
    }

    uint32_t nearest(const float* raw, std::vector<float>& scratch) const {
        std::copy(raw, raw + dim_, scratch.begin());
        if (metric_ == Metric::Cosine) normalize(scratch);
        size_t best = 0;
        float best_distance = std::numeric_limits<float>::infinity();
        for (size_t c = 0; c < lists_.size(); ++c) {
            float d = centroid_distance(scratch.data(), c);
            if (d < best_distance) best_distance = d, best = c;
        }
        return static_cast<uint32_t>(best);
    }

    void append(uint32_t list, int64_t id, uint32_t slot) {
        where_[id] = {list, static_cast<uint32_t>(lists_[list].size())};
        lists_[list].push_back({id, slot});
    }

    // Lloyd's k-means on a sample of at most 64 rows per list (spherical for COSINE).
    void train(const Arena& arena) {
        std::vector<uint32_t> slots;
        slots.reserve(arena.size());
        for (const auto& [id, slot] : arena.ids()) slots.push_back(slot);
        std::sort(slots.begin(), slots.end());
        std::mt19937_64 rng(42);
        std::shuffle(slots.begin(), slots.end(), rng);
        size_t nlist = std::min(nlist_, slots.size());
        slots.resize(std::min(slots.size(), nlist * 64));
        size_t n = slots.size();
        std::vector<float> sample(n * dim_);
        for (size_t i = 0; i < n; ++i) {
            std::copy(arena.vector_at(slots[i]), arena.vector_at(slots[i]) + dim_,
                      sample.begin() + static_cast<ptrdiff_t>(i * dim_));
            if (metric_ == Metric::Cosine) normalize({sample.data() + i * dim_, dim_});
        }
        centroids_.assign(sample.begin(), sample.begin() + static_cast<ptrdiff_t>(nlist * dim_));
        lists_.assign(nlist, {});
        std::vector<uint32_t> assignment(n);
        for (int iteration = 0; iteration < 10; ++iteration) {
            parallel_for(n, 256, [&](size_t begin, size_t end) {
                std::vector<float> v(dim_);
                for (size_t i = begin; i < end; ++i)
                    assignment[i] = nearest(sample.data() + i * dim_, v);
            });
            std::vector<double> sums(nlist * dim_, 0.0);
            std::vector<size_t> counts(nlist, 0);
            for (size_t i = 0; i < n; ++i) {
                ++counts[assignment[i]];
                const float* x = sample.data() + i * dim_;
                double* s = sums.data() + assignment[i] * dim_;
                for (size_t j = 0; j < dim_; ++j) s[j] += x[j];
            }
            std::uniform_int_distribution<size_t> pick(0, n - 1);
            for (size_t c = 0; c < nlist; ++c) {
                float* centroid = centroids_.data() + c * dim_;
                if (counts[c] == 0) {  // an empty cluster restarts at a random sample point
                    const float* x = sample.data() + pick(rng) * dim_;
                    std::copy(x, x + dim_, centroid);
                    continue;
                }
                for (size_t j = 0; j < dim_; ++j)
                    centroid[j] =
                        static_cast<float>(sums[c * dim_ + j] / static_cast<double>(counts[c]));
                if (metric_ == Metric::Cosine) normalize({centroid, dim_});
            }
        }
    }

    Metric metric_;
    size_t dim_;
    size_t nlist_;
    std::vector<float> centroids_;
    std::vector<std::vector<Entry>> lists_;
    std::unordered_map<int64_t, std::pair<uint32_t, uint32_t>> where_;  // id -> (list, position)
    std::vector<uint8_t> pending_;  // a parsed snapshot waiting for attach()
};

}  // namespace

std::unique_ptr<AnnIndex> make_ivf_index(const IndexSpec& spec, int dim) {
    return std::make_unique<IvfIndex>(spec, dim);
}

}  // namespace clipdex::store::embedded
