# Libraries from Debian's -dev packages, found once here and handed to the modules that use them.
# The README's "Dependencies" table says why each was chosen.
# text: ICU (icu-uc: NFC, full lower-casing with Final_Sigma, general categories), zlib (bpe .gz).
pkg_check_modules(CLIPDEX_ICU REQUIRED IMPORTED_TARGET icu-uc)
find_package(ZLIB REQUIRED)
set(CLIPDEX_TEXT_DEPS PkgConfig::CLIPDEX_ICU ZLIB::ZLIB)
# image: libjpeg-turbo, libpng, libwebp (+demux for animations and EXIF), giflib. IMPORTED targets,
# so their headers are SYSTEM includes. librsvg (SVG, with cairo and GLib) is linked by the SVG
# worker only (src/image/worker/): clipdex itself never renders an SVG in its own process.
pkg_check_modules(CLIPDEX_IMG REQUIRED IMPORTED_TARGET libjpeg libpng libwebp libwebpdemux)
pkg_check_modules(CLIPDEX_RSVG REQUIRED IMPORTED_TARGET librsvg-2.0)
find_package(GIF 5 REQUIRED)
set(CLIPDEX_IMAGE_DEPS PkgConfig::CLIPDEX_IMG GIF::GIF)
# BLIS, single-threaded build (libblis-serial-dev), for the embedded store's vector math. Chosen by
# measurement: Debian's OpenBLAS 0.3.21 detects this CPU as Prescott.
find_path(CLIPDEX_BLIS_INCLUDE cblas.h PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/blis-serial NO_DEFAULT_PATH REQUIRED)
find_library(CLIPDEX_BLIS_LIBRARY blis PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/blis-serial NO_DEFAULT_PATH REQUIRED)
add_library(clipdex_blis INTERFACE)
target_include_directories(clipdex_blis SYSTEM INTERFACE ${CLIPDEX_BLIS_INCLUDE})
target_link_libraries(clipdex_blis INTERFACE ${CLIPDEX_BLIS_LIBRARY})
# model: oneDNN (libdnnl-dev) for the towers' GEMMs: its JIT AVX-512 sgemm ran the ViT-B-32 shapes
# ~2.5x faster than serial BLIS (bench/results/model-2026-11-23.md). It threads with OpenMP, so the
# model links libgomp to keep each call on its team thread (omp_set_num_threads(1)).
find_path(CLIPDEX_DNNL_INCLUDE dnnl.h REQUIRED)
find_library(CLIPDEX_DNNL_LIBRARY dnnl REQUIRED)
find_library(CLIPDEX_GOMP_LIBRARY NAMES gomp libgomp.so.1 REQUIRED)
add_library(clipdex_dnnl INTERFACE)
target_include_directories(clipdex_dnnl SYSTEM INTERFACE ${CLIPDEX_DNNL_INCLUDE})
target_link_libraries(clipdex_dnnl INTERFACE ${CLIPDEX_DNNL_LIBRARY} ${CLIPDEX_GOMP_LIBRARY})
set(CLIPDEX_MODEL_DEPS clipdex_dnnl)
# hub: libcurl (HTTP/HTTPS client for URL ingestion and model downloads; sha256 comes from common).
find_package(CURL 7.85 REQUIRED)
set(CLIPDEX_HUB_DEPS CURL::libcurl)
