# clipdex_module(NAME DIRS dir... DEPS target...)
# Builds clipdex_NAME from the *.cpp directly inside each DIR (not recursive: sub-folders are
# modules of their own). A module without sources yet is an INTERFACE library, so that
# dependants link the same way before and after it has code.
#
# With CLIPDEX_UNITY, a module compiles as one translation unit (CMake's unity build), except
# the files marked SKIP_UNITY_BUILD_INCLUSION (clipdex_no_unity): the shared headers (JSON, CLI11,
# Boost.Beast, gRPC) are parsed once per module instead of once per file.
#
# Include directories: include/ (the public headers) and the generated version header are
# PUBLIC; src/ (the private headers) is PRIVATE to every module, so nothing that links a module
# sees the private headers by accident. Programs inside this repository that need them (the CLI,
# tests, tools, benchmarks) link clipdex_internal, which adds src/.
add_library(clipdex_internal INTERFACE)
target_include_directories(clipdex_internal INTERFACE ${CMAKE_SOURCE_DIR}/src)

set(CLIPDEX_GENERATED_INCLUDE ${CMAKE_BINARY_DIR}/generated/include)

function(clipdex_module name)
  cmake_parse_arguments(M "" "" "DIRS;DEPS" ${ARGN})
  set(sources "")
  foreach(dir IN LISTS M_DIRS)
    file(GLOB found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cpp ${CMAKE_SOURCE_DIR}/${dir}/*.c)
    list(APPEND sources ${found})
  endforeach()
  set(target clipdex_${name})
  set(public_includes $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                      $<BUILD_INTERFACE:${CLIPDEX_GENERATED_INCLUDE}>)
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${public_includes})
    target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${M_DEPS})
    set_property(GLOBAL APPEND PROPERTY CLIPDEX_MODULES_WITH_SOURCES ${target})
    if(CLIPDEX_UNITY)
      set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
    endif()
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${public_includes})
    target_link_libraries(${target} INTERFACE ${M_DEPS})
  endif()
endfunction()

# Files that keep their own translation unit in a unity build: hot kernels (their own
# optimisation context) and files whose private classes would leak across a merged unit.
function(clipdex_no_unity)
  set_source_files_properties(${ARGN} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()
