// Approximate indexes of the embedded store, over the vectors held by an Arena.
//
//   HNSW:     hnswlib's HierarchicalNSW (Debian libhnswlib-dev, header-only) builds the graph
//             and holds its links; each node stores its row's arena slot where hnswlib would
//             store a copy of the vector, so the vectors live in memory once. The search is
//             the store's own (hnswlib's algorithm, reading vectors from the arena). Deletion
//             is hnswlib's markDelete; an upsert of a known id updates its node in place.
//   IVF_FLAT: k-means centroids plus inverted lists of (id, arena slot); the lists point into
//             the arena instead of copying vectors, so the vectors live in memory once.
//
// FLAT has no index object: it is Arena::exact_search.
//
// Snapshots: save() returns the index structure only (graph links and labels, or centroids and
// list membership), never the vectors, which load() takes from the arena. A snapshot that does
// not validate throws Error(Corrupt); the store then rebuilds from the rows.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "clipdex/store.h"
#include "store/embedded/vectors.h"

namespace clipdex::store::embedded {

class AnnIndex {
  public:
    virtual ~AnnIndex() = default;
    // False while an IVF index has too few rows to train; searches are then exact.
    virtual bool ready() const = 0;
    // Builds from every live vector of the arena (trains IVF when there are enough rows).
    virtual void build(const Arena& arena) = 0;
    virtual void upsert(int64_t id, uint32_t slot, const Arena& arena) = 0;
    // Makes room for `extra` more upserts; after it, an index whose concurrent_upserts() is true
    // takes those upserts from several threads and beside running searches (hnswlib's locking).
    virtual void reserve(size_t extra) { (void)extra; }
    virtual bool concurrent_upserts() const { return false; }
    virtual void remove(int64_t id) = 0;
    // Share of the index's entries that are deleted but still take space and search time
    // (hnswlib only marks deleted nodes); the store rebuilds the index above a threshold.
    virtual double deleted_fraction() const { return 0.0; }
    // `query` is prepared (prepare_query). With a filter, only ids it accepts are returned.
    virtual std::vector<Candidate> search(const float* query, size_t k, const SearchParams& params,
                                          const IdFilter* filter, const Arena& arena) const = 0;
    virtual std::vector<uint8_t> save() const = 0;
    // Loading a snapshot in two phases: parse() reads the structure (throws Error(Corrupt) when
    // the bytes do not validate) and needs no vectors, so it can run while the arena loads;
    // attach() then takes the vectors from the arena.
    virtual void parse(std::span<const uint8_t> bytes) = 0;
    virtual void attach(const Arena& arena) = 0;
    virtual std::string describe() const = 0;
    // The index's largest block of memory (HNSW's level-0 links), for huge pages; empty if none.
    virtual std::span<const uint8_t> bulk_memory() const { return {}; }
};

// Null for FLAT.
std::unique_ptr<AnnIndex> make_index(const IndexSpec& spec, int dim);
// Throws Error(Corrupt) when the bytes are not a snapshot of this index kind and shape.
// parse_index is phase 1 only (call attach() next); load_index does both.
std::unique_ptr<AnnIndex> parse_index(const IndexSpec& spec, int dim,
                                      std::span<const uint8_t> bytes);
std::unique_ptr<AnnIndex> load_index(const IndexSpec& spec, int dim, std::span<const uint8_t> bytes,
                                     const Arena& arena);

}  // namespace clipdex::store::embedded
