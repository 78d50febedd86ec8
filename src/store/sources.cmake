crust_layer(store
  SOURCES
    src/store/page_tree.cc
    src/store/index.cc
    src/store/root.cc
    src/store/memory_image.cc
    src/store/image_cache.cc
    src/store/page_codec.cc
    src/store/delta.cc
    src/store/layer_build.cc
    src/store/layer_stream.cc
    src/store/committed_memory.cc
    src/store/store_impl.cc
    src/store/session_impl.cc
    src/store/session_hash.cc
    src/store/session_commit.cc
    src/store/session_checkpoint.cc
    src/store/verify.cc
  DEPS crust_os crust_util
  LIBS PkgConfig::ZSTD
  TESTS
    src/store/format_test.cc
    src/store/store_test.cc
    src/store/checkpoint_test.cc
    src/store/lazy_layers_test.cc
)
