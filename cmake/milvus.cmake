# The Milvus backend (gRPC): C++ generated from src/store/milvus/proto/*.proto (our own cut-down
# copies of the public protocol) plus the client in src/store/milvus: a backend on the store module,
# beside `embedded`.
find_package(Protobuf REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
find_program(CLIPDEX_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(milvus_proto_dir ${CMAKE_SOURCE_DIR}/src/store/milvus/proto)
set(milvus_gen_dir ${CMAKE_BINARY_DIR}/generated/milvus)
file(MAKE_DIRECTORY ${milvus_gen_dir})
file(GLOB milvus_protos CONFIGURE_DEPENDS ${milvus_proto_dir}/*.proto)

set(milvus_gen_sources "")
foreach(proto IN LISTS milvus_protos)
  get_filename_component(stem ${proto} NAME_WE)
  set(outputs ${milvus_gen_dir}/${stem}.pb.cc ${milvus_gen_dir}/${stem}.pb.h
              ${milvus_gen_dir}/${stem}.grpc.pb.cc ${milvus_gen_dir}/${stem}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND protobuf::protoc
      --proto_path=${milvus_proto_dir}
      --cpp_out=${milvus_gen_dir}
      --grpc_out=${milvus_gen_dir}
      --plugin=protoc-gen-grpc=${CLIPDEX_GRPC_CPP_PLUGIN}
      ${proto}
    DEPENDS ${milvus_protos}
    COMMENT "protoc ${stem}.proto"
    VERBATIM)
  list(APPEND milvus_gen_sources ${milvus_gen_dir}/${stem}.pb.cc ${milvus_gen_dir}/${stem}.grpc.pb.cc)
endforeach()

# Generated code is not ours to keep warning-free under -Wpedantic -Werror.
add_library(clipdex_milvus_proto STATIC ${milvus_gen_sources})
set_source_files_properties(${milvus_gen_sources} PROPERTIES COMPILE_OPTIONS "-w")
target_include_directories(clipdex_milvus_proto SYSTEM PUBLIC ${milvus_gen_dir})
target_link_libraries(clipdex_milvus_proto PUBLIC protobuf::libprotobuf PkgConfig::GRPCPP)

clipdex_module(milvus DIRS src/store/milvus DEPS clipdex_store clipdex_milvus_proto)
