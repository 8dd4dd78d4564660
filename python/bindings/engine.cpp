// _core.Engine: clipdex::Engine. Indexing, adding and searching release the GIL (one engine
// serves many Python threads); results become plain dicts and lists once the GIL is back.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "clipdex/engine.h"
#include "convert.h"

namespace clipdex::python {

namespace {

std::unique_ptr<Engine> open_engine(const std::string& uri, const std::string& collection,
                                    const std::string& model, int threads,
                                    bool allow_private_urls, const std::string& token,
                                    double timeout_seconds, bool read_only) {
    EngineOptions options;
    options.db_uri = uri;
    options.collection = collection;
    options.model = model;
    options.threads = threads;
    options.allow_private_urls = allow_private_urls;
    options.store.token = token;
    options.store.timeout_seconds = timeout_seconds;
    options.store.read_only = read_only;
    nb::gil_scoped_release release;
    return Engine::open(options);
}

nb::dict counts_to_dict(const IndexProgress& counts) {
    nb::dict out;
    out["done"] = counts.done;
    out["total"] = counts.total;
    out["added"] = counts.added;
    out["updated"] = counts.updated;
    out["unchanged"] = counts.unchanged;
    out["failed"] = counts.failed;
    out["discovery_done"] = counts.discovery_done;
    return out;
}

nb::dict report_to_dict(const IndexReport& report) {
    nb::dict out = counts_to_dict(report.counts);
    out["pruned"] = report.pruned;
    out["seconds"] = report.seconds;
    nb::list failures;
    for (const auto& failure : report.failures) {
        nb::dict item;
        item["path"] = failure.path;
        item["reason"] = failure.reason;
        failures.append(item);
    }
    out["failures"] = failures;
    return out;
}

// Calls a Python progress callback from the indexing thread. The first exception it raises
// stops further calls and is raised again once indexing has returned.
class ProgressRelay {
  public:
    explicit ProgressRelay(nb::object callback) : callback_(std::move(callback)) {}
    ~ProgressRelay() {
        nb::gil_scoped_acquire acquire;
        error_.reset();
        callback_ = nb::object();
    }

    IndexOptions options(bool recursive, bool prune, int batch_size) {
        IndexOptions out;
        out.recursive = recursive;
        out.prune = prune;
        out.batch_size = batch_size;
        if (callback_.is_valid() && !callback_.is_none())
            out.progress = [this](const IndexProgress& counts) { call(counts); };
        return out;
    }

    void raise_if_failed() {  // GIL held
        if (error_) {
            nb::python_error error = *error_;
            error_.reset();
            throw error;
        }
    }

  private:
    void call(const IndexProgress& counts) {
        nb::gil_scoped_acquire acquire;
        if (error_) return;
        try {
            callback_(counts_to_dict(counts));
        } catch (nb::python_error& e) {
            error_.emplace(e);
        }
    }

    nb::object callback_;
    std::optional<nb::python_error> error_;
};

nb::dict index_directory(Engine& self, const std::string& dir, const Descriptions& descriptions,
                         bool recursive, bool prune, int batch_size, nb::object progress) {
    ProgressRelay relay(std::move(progress));
    const IndexOptions options = relay.options(recursive, prune, batch_size);
    IndexReport report;
    {
        nb::gil_scoped_release release;
        report = self.index_directory(std::filesystem::path(dir), descriptions, options);
    }
    relay.raise_if_failed();
    return report_to_dict(report);
}

nb::dict index_images(Engine& self, const std::vector<std::string>& paths,
                      const Descriptions& descriptions, int batch_size, nb::object progress) {
    ProgressRelay relay(std::move(progress));
    const IndexOptions options = relay.options(false, false, batch_size);
    const std::vector<std::filesystem::path> files(paths.begin(), paths.end());
    IndexReport report;
    {
        nb::gil_scoped_release release;
        report = self.index_images(files, descriptions, options);
    }
    relay.raise_if_failed();
    return report_to_dict(report);
}

int64_t add_image_file(Engine& self, const std::string& path, std::optional<int64_t> id,
                       std::optional<std::string> description) {
    nb::gil_scoped_release release;
    return self.add_image_file(std::filesystem::path(path), id, std::move(description));
}

void add_image_by_url(Engine& self, int64_t id, const std::string& url,
                      const std::string& description) {
    nb::gil_scoped_release release;
    self.add_image_by_url(id, url, description);
}

void add_image(Engine& self, int64_t id, const nb::bytes& data, const std::string& name,
               const std::string& description) {
    const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(data.data()), data.size());
    nb::gil_scoped_release release;
    self.add_image(id, bytes, name, description);
}

nb::list add_images_by_url(Engine& self,
                           const std::vector<std::tuple<int64_t, std::string, std::string>>& items) {
    std::vector<UrlImage> images;
    for (const auto& [id, url, description] : items) images.push_back({id, url, description});
    std::vector<UrlAddResult> results;
    {
        nb::gil_scoped_release release;
        results = self.add_images_by_url(images);
    }
    nb::list out;
    for (const auto& result : results) {
        nb::dict item;
        item["ok"] = result.ok;
        item["error"] = result.error;
        item["code"] = result.code;
        out.append(item);
    }
    return out;
}

nb::list hits_to_list(const std::vector<SearchHit>& hits) {
    nb::list out;
    for (const auto& hit : hits) out.append(hit_to_dict(hit));
    return out;
}

template <typename Fn>
nb::list search_with(Fn&& fn) {
    std::vector<SearchHit> hits;
    {
        nb::gil_scoped_release release;
        hits = fn();
    }
    return hits_to_list(hits);
}

nb::list search(Engine& self, const std::string& text, int top_k, const std::string& filter) {
    return search_with([&] { return self.search(text, top_k, filter); });
}

nb::list search_batch(Engine& self, const std::vector<std::string>& texts, int top_k,
                      const std::string& filter) {
    std::vector<std::vector<SearchHit>> lists;
    {
        nb::gil_scoped_release release;
        lists = self.search_batch(texts, top_k, filter);
    }
    nb::list out;
    for (const auto& hits : lists) out.append(hits_to_list(hits));
    return out;
}

nb::list search_by_image_file(Engine& self, const std::string& path, int top_k,
                              const std::string& filter) {
    return search_with([&] { return self.search_by_image_file(path, top_k, filter); });
}

nb::list search_by_image_bytes(Engine& self, const nb::bytes& data, int top_k,
                               const std::string& filter) {
    const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(data.data()), data.size());
    return search_with([&] { return self.search_by_image_bytes(bytes, top_k, filter); });
}

nb::list search_by_image_url(Engine& self, const std::string& url, int top_k,
                             const std::string& filter) {
    return search_with([&] { return self.search_by_image_url(url, top_k, filter); });
}

nb::list search_by_vector(Engine& self,
                          nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu> vector,
                          int top_k, const std::string& filter) {
    const std::span<const float> values(vector.data(), vector.shape(0));
    return search_with([&] { return self.search_by_vector(values, top_k, filter); });
}

nb::list get_all_data(Engine& self, bool include_vectors, int64_t limit, int64_t offset) {
    std::vector<store::Row> rows;
    {
        nb::gil_scoped_release release;
        rows = self.get_all_data(include_vectors, limit, offset);
    }
    nb::list out;
    for (auto& row : rows) out.append(row_to_dict(std::move(row)));
    return out;
}

nb::dict get_database_stats(Engine& self) {
    DatabaseStats stats;
    {
        nb::gil_scoped_release release;
        stats = self.get_database_stats();
    }
    nb::dict out;
    out["total_records"] = stats.total_records;
    out["collection_name"] = stats.collection_name;
    out["model"] = stats.model;
    out["dimension"] = stats.dimension;
    out["index_type"] = std::string(store::index_kind_name(stats.index_type));
    out["metric_type"] = std::string(store::metric_name(stats.metric_type));
    out["backend"] = stats.backend;
    out["uri"] = stats.uri;
    out["bytes_on_disk"] = stats.bytes_on_disk;
    out["index_state"] = stats.index_state;
    return out;
}

nb::dict collection_info(Engine& self) {
    CollectionDescription info;
    {
        nb::gil_scoped_release release;
        info = self.collection_info();
    }
    const store::CollectionSpec& spec = info.spec;
    nb::dict index;
    index["index_type"] = std::string(store::index_kind_name(spec.index.kind));
    index["metric_type"] = std::string(store::metric_name(spec.index.metric));
    nb::dict params;
    if (spec.index.kind == store::IndexKind::IvfFlat) params["nlist"] = spec.index.nlist;
    if (spec.index.kind == store::IndexKind::Hnsw) {
        params["M"] = spec.index.m;
        params["efConstruction"] = spec.index.ef_construction;
    }
    index["params"] = params;
    nb::dict out;
    out["collection_name"] = spec.name;
    out["description"] = spec.description;
    out["dimension"] = spec.dim;
    out["index"] = index;
    out["num_entities"] = info.num_entities;
    out["properties"] = spec.properties;
    out["backend"] = info.backend;
    return out;
}

bool remove_by_id(Engine& self, int64_t id) {
    nb::gil_scoped_release release;
    return self.remove_by_id(id);
}

void close(Engine& self) {
    nb::gil_scoped_release release;
    self.close();
}

}  // namespace

void bind_engine(nb::module_& m) {
    nb::class_<Engine>(m, "Engine")
        .def_static("open", &open_engine, nb::arg("uri"), nb::arg("collection"), nb::arg("model"),
                    nb::arg("threads") = 0, nb::arg("allow_private_urls") = false,
                    nb::arg("token") = "", nb::arg("timeout") = 30.0,
                    nb::arg("read_only") = false)
        .def_prop_ro("dim", &Engine::dim)
        .def_prop_ro("model_name", &Engine::model_name)
        .def("index_directory", &index_directory, nb::arg("dir"), nb::arg("descriptions"),
             nb::arg("recursive") = true, nb::arg("prune") = false, nb::arg("batch_size") = 32,
             nb::arg("progress").none() = nb::none())
        .def("index_images", &index_images, nb::arg("paths"), nb::arg("descriptions"),
             nb::arg("batch_size") = 32, nb::arg("progress").none() = nb::none())
        .def("add_image_file", &add_image_file, nb::arg("path"), nb::arg("id").none() = nb::none(),
             nb::arg("description").none() = nb::none())
        .def("add_image_by_url", &add_image_by_url, nb::arg("id"), nb::arg("url"),
             nb::arg("description") = "")
        .def("add_image", &add_image, nb::arg("id"), nb::arg("data"), nb::arg("name"),
             nb::arg("description") = "")
        .def("add_images_by_url", &add_images_by_url, nb::arg("items"))
        .def("search", &search, nb::arg("text"), nb::arg("top_k"), nb::arg("filter") = "")
        .def("search_batch", &search_batch, nb::arg("texts"), nb::arg("top_k"),
             nb::arg("filter") = "")
        .def("search_by_image_file", &search_by_image_file, nb::arg("path"), nb::arg("top_k"),
             nb::arg("filter") = "")
        .def("search_by_image_bytes", &search_by_image_bytes, nb::arg("data"), nb::arg("top_k"),
             nb::arg("filter") = "")
        .def("search_by_image_url", &search_by_image_url, nb::arg("url"), nb::arg("top_k"),
             nb::arg("filter") = "")
        .def("search_by_vector", &search_by_vector, nb::arg("vector"), nb::arg("top_k"),
             nb::arg("filter") = "")
        .def("get_all_data", &get_all_data, nb::arg("include_vectors"), nb::arg("limit"),
             nb::arg("offset"))
        .def("get_database_stats", &get_database_stats)
        .def("collection_info", &collection_info)
        .def("remove_by_id", &remove_by_id, nb::arg("id"))
        .def("close", &close);
}

}  // namespace clipdex::python
