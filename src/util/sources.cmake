crust_layer(util
  SOURCES
    src/util/status.cc
    src/util/hex.cc
    src/util/sha256.cc
    src/util/blake3.cc
    src/util/crc32c.cc
    src/util/task_pool.cc
    src/util/utf8.cc
  LIBS OpenSSL::Crypto crust_blake3 Threads::Threads
  TESTS
    src/util/util_test.cc
    src/util/blake3_test.cc
    src/util/task_pool_test.cc
)
