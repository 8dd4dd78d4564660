// clipdex::version(): the library's version, to compare with the headers' CLIPDEX_VERSION.
#include "clipdex/version.h"

namespace clipdex {

const char* version() noexcept {
    return CLIPDEX_VERSION;
}

}  // namespace clipdex
