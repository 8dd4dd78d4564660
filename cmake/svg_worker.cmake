# clipdex-svg-worker: the process SVGs are rendered in (src/image/worker/, src/image/decode_svg.cpp).
# clipdex_svg_render is the librsvg renderer; only the worker and test_image (which compares its
# pixels with the worker's) link it. The image module finds the worker through
# $CLIPDEX_SVG_WORKER, beside the running program or in ../libexec/clipdex/ from it, beside the
# library holding the image code (libclipdex.so or a program) or in its libexec dir (relative
# to it, so a moved install still finds its own worker), the configured install's libexec dir,
# then this build dir.
include(GNUInstallDirs)
add_library(clipdex_svg_render STATIC ${CMAKE_SOURCE_DIR}/src/image/worker/render_svg.cpp)
target_link_libraries(clipdex_svg_render PUBLIC clipdex_common clipdex_internal PkgConfig::CLIPDEX_RSVG)

add_executable(clipdex-svg-worker ${CMAKE_SOURCE_DIR}/src/image/worker/main.cpp)
target_link_libraries(clipdex-svg-worker PRIVATE clipdex_svg_render)
set_target_properties(clipdex-svg-worker PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
  INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS clipdex-svg-worker RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/clipdex)

file(RELATIVE_PATH clipdex_lib_to_worker ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_LIBEXECDIR}/clipdex)
target_compile_definitions(clipdex_image PRIVATE
  CLIPDEX_LIBEXEC_DIR="${CMAKE_INSTALL_FULL_LIBEXECDIR}/clipdex"
  CLIPDEX_LIB_TO_LIBEXEC="${clipdex_lib_to_worker}"
  CLIPDEX_BUILD_DIR="${CMAKE_BINARY_DIR}")
