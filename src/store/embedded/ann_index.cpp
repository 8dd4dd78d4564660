// The index kinds of the embedded store behind one interface (ann_index.h): HNSW in
// hnsw_index.cpp, IVF_FLAT in ivf_index.cpp; FLAT has no index object.
#include "store/embedded/ann_index.h"

#include "store/embedded/ann_index_impl.h"

namespace clipdex::store::embedded {

std::unique_ptr<AnnIndex> make_index(const IndexSpec& spec, int dim) {
    switch (spec.kind) {
        case IndexKind::Flat:
            return nullptr;
        case IndexKind::IvfFlat:
            return make_ivf_index(spec, dim);
        case IndexKind::Hnsw:
        case IndexKind::AutoIndex:
            return make_hnsw_index(spec, dim);
    }
    return nullptr;
}

std::unique_ptr<AnnIndex> parse_index(const IndexSpec& spec, int dim,
                                      std::span<const uint8_t> bytes) {
    auto index = make_index(spec, dim);
    if (index) index->parse(bytes);
    return index;
}

std::unique_ptr<AnnIndex> load_index(const IndexSpec& spec, int dim, std::span<const uint8_t> bytes,
                                     const Arena& arena) {
    auto index = parse_index(spec, dim, bytes);
    if (index) index->attach(arena);
    return index;
}

}  // namespace clipdex::store::embedded
