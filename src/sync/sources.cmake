# The sync library (include/crust/sync.h): export, import and serve commits.
# Above the store; the only part of the library that speaks HTTP (Debian's
# cpp-httplib), so it is a library of its own that the tool links.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
add_library(crust_sync STATIC
  src/sync/manifest.cc
  src/sync/source.cc
  src/sync/commit_reader.cc
  src/sync/export.cc
  src/sync/import.cc
  src/sync/server.cc)
target_include_directories(crust_sync PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(crust_sync PUBLIC crust_store PkgConfig::HTTPLIB)
if(CRUST_BUILD_TESTS)
  add_executable(crust_sync_tests src/sync/sync_test.cc)
  target_link_libraries(crust_sync_tests PRIVATE crust_sync crust_testutil GTest::gtest_main)
  gtest_discover_tests(crust_sync_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 900 LABELS unit)
endif()
