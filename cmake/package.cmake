# libclipdex.so and the CMake package a program links: find_package(clipdex) + clipdex::clipdex.
#
# Why one shared library: a user of a C++ library expects one thing to link, with its own
# dependencies kept inside. libclipdex.so is built from the objects of every module below the
# HTTP server and exports only what the public headers mark CLIPDEX_API (the rest is compiled
# with hidden visibility); ICU, oneDNN, BLIS, SQLite, gRPC, protobuf, libcurl and the image
# codecs are its private dependencies, so a program needs none of their -dev packages and its
# own copies of them cannot clash with clipdex's. A static archive would instead hand every one
# of them to the user (a find_dependency each, same versions, link order). The only public
# dependency is nlohmann_json (header-only), because SearchHit::extra and store::Row::extra are
# the rows' dynamic fields, which are JSON by nature.
#
# Inside this repository the CLI, tests and tools keep linking the static modules (clipdex_all)
# and may use the private headers in src/; only the package is installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

configure_file(${CMAKE_SOURCE_DIR}/cmake/version.h.in ${CLIPDEX_GENERATED_INCLUDE}/clipdex/version.h @ONLY)

if(CLIPDEX_FUZZ)
  return()  # the fuzz build instruments every object for libFuzzer; it ships nothing
endif()

get_property(clipdex_lib_modules GLOBAL PROPERTY CLIPDEX_MODULES_WITH_SOURCES)
list(REMOVE_ITEM clipdex_lib_modules clipdex_server clipdex_encoder_service)  # the HTTP servers belong to the CLI
set(clipdex_lib_objects "")
foreach(module IN LISTS clipdex_lib_modules)
  list(APPEND clipdex_lib_objects $<TARGET_OBJECTS:${module}>)
endforeach()

add_library(clipdex_lib SHARED ${clipdex_lib_objects})
# The static modules after the objects bring their dependencies (nothing more is pulled from
# them: every symbol they define is already in the objects).
target_link_libraries(clipdex_lib PRIVATE ${clipdex_lib_modules})
target_link_libraries(clipdex_lib PUBLIC nlohmann_json::nlohmann_json)
target_include_directories(clipdex_lib PUBLIC
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
  $<BUILD_INTERFACE:${CLIPDEX_GENERATED_INCLUDE}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(clipdex_lib PUBLIC cxx_std_20)
set_target_properties(clipdex_lib PROPERTIES
  OUTPUT_NAME clipdex
  EXPORT_NAME clipdex
  LINKER_LANGUAGE CXX
  VERSION ${PROJECT_VERSION}
  # 0.x: a minor release may change the ABI.
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  # Beside clipdex-svg-worker in the build tree, so an uninstalled library finds its worker.
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
  INSTALL_RPATH_USE_LINK_PATH ON)
target_link_options(clipdex_lib PRIVATE -Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/libclipdex.map)
set_property(TARGET clipdex_lib APPEND PROPERTY LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/libclipdex.map)
if(NOT CLIPDEX_SANITIZE)
  target_link_options(clipdex_lib PRIVATE -Wl,--no-undefined)
endif()
add_dependencies(clipdex_lib clipdex-svg-worker)

install(TARGETS clipdex_lib EXPORT clipdex-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/clipdex DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${CLIPDEX_GENERATED_INCLUDE}/clipdex/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/clipdex)
install(EXPORT clipdex-targets NAMESPACE clipdex::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipdex)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/clipdex-config.cmake.in
  ${CMAKE_BINARY_DIR}/generated/clipdex-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipdex)
# 0.x: only the same minor version is compatible.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/clipdex-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/clipdex-config.cmake
              ${CMAKE_BINARY_DIR}/generated/clipdex-config-version.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/clipdex)
