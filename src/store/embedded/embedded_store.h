// The embedded backend of clipdex::store::Store: one SQLite file (embedded_store_impl.h maps
// the files that implement it; each file's head carries its part of the design).
#pragma once

#include <memory>
#include <string>

#include "clipdex/store.h"

namespace clipdex::store::embedded {

// `path` is the database file (created when absent unless options.read_only). A writer takes an
// exclusive flock on PATH.lock and is refused with Error(Conflict) while another holds it.
std::unique_ptr<Store> open_embedded_store(const std::string& path, const StoreOptions& options);

}  // namespace clipdex::store::embedded
