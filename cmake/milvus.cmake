# The Milvus backend (gRPC). Filled in by the Milvus module; until then an empty module.
clipdex_module(milvus DIRS src/store/milvus DEPS clipdex_filter)
