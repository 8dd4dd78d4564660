#include "convert.h"

#include <nanobind/stl/string.h>

#include <string>
#include <utility>

#include "clipdex/error.h"

namespace clipdex::python {

namespace {

template <typename Array>
Array owned_array(std::vector<float>&& values, std::initializer_list<size_t> shape) {
    auto* owned = new std::vector<float>(std::move(values));
    nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
    return Array(owned->data(), shape, owner);
}

}  // namespace

FloatMatrix to_matrix(std::vector<float>&& values, size_t rows, size_t cols) {
    return owned_array<FloatMatrix>(std::move(values), {rows, cols});
}

FloatVector to_vector(std::vector<float>&& values) {
    const size_t n = values.size();
    return owned_array<FloatVector>(std::move(values), {n});
}

nb::object json_to_python(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null:
        case nlohmann::json::value_t::discarded:
            return nb::none();
        case nlohmann::json::value_t::boolean:
            return nb::bool_(value.get<bool>());
        case nlohmann::json::value_t::number_integer:
            return nb::int_(value.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned:
            return nb::int_(value.get<uint64_t>());
        case nlohmann::json::value_t::number_float:
            return nb::float_(value.get<double>());
        case nlohmann::json::value_t::string:
            return nb::str(value.get_ref<const std::string&>().c_str(),
                           value.get_ref<const std::string&>().size());
        case nlohmann::json::value_t::array: {
            nb::list out;
            for (const auto& item : value) out.append(json_to_python(item));
            return out;
        }
        case nlohmann::json::value_t::object: {
            nb::dict out;
            for (const auto& [key, item] : value.items()) out[nb::str(key.c_str(), key.size())] = json_to_python(item);
            return out;
        }
        case nlohmann::json::value_t::binary:
            break;
    }
    throw Error(ErrorCode::Internal, "a stored dynamic field holds binary data");
}

nb::dict hit_to_dict(const SearchHit& hit) {
    nb::dict out;
    out["id"] = hit.id;
    out["url"] = hit.url;
    out["description"] = hit.description;
    out["score"] = hit.score;
    if (hit.extra.is_object())
        for (const auto& [key, item] : hit.extra.items())
            if (!out.contains(key.c_str())) out[nb::str(key.c_str(), key.size())] = json_to_python(item);
    return out;
}

nb::dict row_to_dict(store::Row&& row) {
    nb::dict out;
    out["id"] = row.id;
    out["url"] = row.url;
    out["description"] = row.description;
    if (!row.vector.empty()) out["vector"] = to_vector(std::move(row.vector));
    out["added_at"] = row.added_at;
    out["updated_at"] = row.updated_at;
    if (row.extra.is_object())
        for (const auto& [key, item] : row.extra.items())
            if (!out.contains(key.c_str())) out[nb::str(key.c_str(), key.size())] = json_to_python(item);
    return out;
}

void register_errors(nb::module_& m) {
    (void)m;
    nb::register_exception_translator([](const std::exception_ptr& p, void*) {
        try {
            std::rethrow_exception(p);
        } catch (const Error& e) {
            // clipdex.errors maps each code name ("not_found", ...) onto its exception class.
            nb::object errors = nb::module_::import_("clipdex.errors");
            const std::string name(error_code_name(e.code()));
            nb::object cls = errors.attr("class_for_code")(name);
            PyErr_SetString(cls.ptr(), e.what());
        }
    });
}

}  // namespace clipdex::python
