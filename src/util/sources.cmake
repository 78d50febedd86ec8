crust_layer(util
  SOURCES
    src/util/status.cc
    src/util/hex.cc
    src/util/sha256.cc
    src/util/crc32c.cc
    src/util/task_pool.cc
  LIBS OpenSSL::Crypto Threads::Threads
  TESTS
    src/util/util_test.cc
    src/util/task_pool_test.cc
)
