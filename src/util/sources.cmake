crust_layer(util
  SOURCES
    src/util/status.cc
    src/util/hex.cc
    src/util/sha256.cc
    src/util/crc32c.cc
  LIBS OpenSSL::Crypto Threads::Threads
  TESTS
    src/util/util_test.cc
)
