// _core.Embedder: clipdex::Embedder (a model without a store). Every encode releases the GIL, so
// Python threads encode in parallel; results are NumPy arrays that own the C++ buffer.
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "clipdex/embedder.h"
#include "convert.h"

namespace clipdex::python {

namespace {

std::unique_ptr<Embedder> open_embedder(const std::string& model, int threads) {
    EmbedderOptions options;
    options.model = model;
    options.threads = threads;
    nb::gil_scoped_release release;
    return Embedder::open(options);
}

FloatMatrix encode_texts(Embedder& self, const std::vector<std::string>& texts) {
    std::vector<float> out;
    {
        nb::gil_scoped_release release;
        out = self.encode_texts(texts);
    }
    return to_matrix(std::move(out), texts.size(), static_cast<size_t>(self.dim()));
}

FloatMatrix encode_image_files(Embedder& self, const std::vector<std::string>& paths) {
    std::vector<float> out;
    {
        nb::gil_scoped_release release;
        out.reserve(paths.size() * static_cast<size_t>(self.dim()));
        for (const auto& path : paths) {
            const std::vector<float> row = self.encode_image_file(std::filesystem::path(path));
            out.insert(out.end(), row.begin(), row.end());
        }
    }
    return to_matrix(std::move(out), paths.size(), static_cast<size_t>(self.dim()));
}

// `blobs` are Python bytes objects, kept alive by the caller's arguments while the GIL is off.
FloatMatrix encode_image_bytes(Embedder& self, const std::vector<nb::bytes>& blobs,
                               const std::vector<std::string>& names) {
    std::vector<std::span<const uint8_t>> spans;
    for (const auto& blob : blobs)
        spans.emplace_back(static_cast<const uint8_t*>(blob.data()), blob.size());
    std::vector<float> out;
    {
        nb::gil_scoped_release release;
        out.reserve(spans.size() * static_cast<size_t>(self.dim()));
        for (size_t i = 0; i < spans.size(); ++i) {
            const std::string name = i < names.size() ? names[i] : "image " + std::to_string(i);
            const std::vector<float> row = self.encode_image_bytes(spans[i], name);
            out.insert(out.end(), row.begin(), row.end());
        }
    }
    return to_matrix(std::move(out), spans.size(), static_cast<size_t>(self.dim()));
}

}  // namespace

void bind_embedder(nb::module_& m) {
    nb::class_<Embedder>(m, "Embedder")
        .def_static("open", &open_embedder, nb::arg("model"), nb::arg("threads") = 0)
        .def_prop_ro("model_name", &Embedder::model_name)
        .def_prop_ro("dim", &Embedder::dim)
        .def_prop_ro("image_size", &Embedder::image_size)
        .def("encode_texts", &encode_texts, nb::arg("texts"))
        .def("encode_image_files", &encode_image_files, nb::arg("paths"))
        .def("encode_image_bytes", &encode_image_bytes, nb::arg("blobs"), nb::arg("names"));
}

}  // namespace clipdex::python
