// clipdex._core: the binding module under the clipdex package. The Python layer (clipdex/*.py)
// gives it its public shape; this module only exposes the engine and the embedder.
#include <nanobind/nanobind.h>

#include "clipdex/version.h"
#include "convert.h"

NB_MODULE(_core, m) {
    m.doc() = "clipdex's C++ core (use the clipdex package, not this module).";
    m.attr("__version__") = CLIPDEX_VERSION;
    clipdex::python::register_errors(m);
    clipdex::python::bind_embedder(m);
    clipdex::python::bind_engine(m);
}
