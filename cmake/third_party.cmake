# Libraries from Debian's -dev packages, found once here and handed to the modules that use them.
# The README's "Dependencies" table says why each was chosen.
# text: ICU (icu-uc: NFC, full lower-casing with Final_Sigma, general categories), zlib (bpe .gz).
pkg_check_modules(CLIPDEX_ICU REQUIRED IMPORTED_TARGET icu-uc)
find_package(ZLIB REQUIRED)
set(CLIPDEX_TEXT_DEPS PkgConfig::CLIPDEX_ICU ZLIB::ZLIB)
# image: libjpeg-turbo, libpng, libwebp (+demux for animations and EXIF), giflib, librsvg (SVG, with
# cairo and GLib). IMPORTED targets, so their headers are SYSTEM includes.
pkg_check_modules(CLIPDEX_IMG REQUIRED IMPORTED_TARGET libjpeg libpng libwebp libwebpdemux librsvg-2.0)
find_package(GIF 5 REQUIRED)
set(CLIPDEX_IMAGE_DEPS PkgConfig::CLIPDEX_IMG GIF::GIF)
# model: OpenBLAS (pthread build) for the towers' GEMMs, called single-threaded per worker.
pkg_check_modules(CLIPDEX_BLAS REQUIRED IMPORTED_TARGET openblas)
set(CLIPDEX_MODEL_DEPS PkgConfig::CLIPDEX_BLAS)
# hub: libcurl (HTTP/HTTPS client for URL ingestion and model downloads; sha256 comes from common).
find_package(CURL 7.85 REQUIRED)
set(CLIPDEX_HUB_DEPS CURL::libcurl)
