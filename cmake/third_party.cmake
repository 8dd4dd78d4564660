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
# model: BLIS, single-threaded build (libblis-serial-dev): the towers run their own worker threads and
# call one GEMM per thread. Chosen by measurement: Debian's OpenBLAS 0.3.21 detects this CPU as Prescott.
find_path(CLIPDEX_BLIS_INCLUDE cblas.h PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/blis-serial NO_DEFAULT_PATH REQUIRED)
find_library(CLIPDEX_BLIS_LIBRARY blis PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-serial NO_DEFAULT_PATH REQUIRED)
add_library(clipdex_blis INTERFACE)
target_include_directories(clipdex_blis SYSTEM INTERFACE ${CLIPDEX_BLIS_INCLUDE})
target_link_libraries(clipdex_blis INTERFACE ${CLIPDEX_BLIS_LIBRARY})
set(CLIPDEX_MODEL_DEPS clipdex_blis)
# hub: libcurl (HTTP/HTTPS client for URL ingestion and model downloads; sha256 comes from common).
find_package(CURL 7.85 REQUIRED)
set(CLIPDEX_HUB_DEPS CURL::libcurl)
