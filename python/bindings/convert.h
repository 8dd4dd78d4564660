// Conversions shared by the binding files: C++ results to Python objects (created with the GIL
// held), Python inputs to C++ values.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "clipdex/engine.h"

namespace clipdex::python {

namespace nb = nanobind;

using FloatMatrix = nb::ndarray<nb::numpy, float, nb::ndim<2>, nb::c_contig>;
using FloatVector = nb::ndarray<nb::numpy, float, nb::ndim<1>, nb::c_contig>;

// Hands the vector's buffer to NumPy without a copy: the array owns it and frees it.
FloatMatrix to_matrix(std::vector<float>&& values, size_t rows, size_t cols);
FloatVector to_vector(std::vector<float>&& values);

nb::object json_to_python(const nlohmann::json& value);
nb::dict hit_to_dict(const SearchHit& hit);
nb::dict row_to_dict(store::Row&& row);

// Registers the translator that turns clipdex::Error into the clipdex.errors class of its code.
void register_errors(nb::module_& m);

void bind_embedder(nb::module_& m);
void bind_engine(nb::module_& m);

}  // namespace clipdex::python
