# crust_testing: code that exists only to test crust, kept out of the
# product (libcrust.so/.a, crust_<layer> libraries): the wabt-interpreter
# oracle (interp_oracle, interp_oracle_world, interp_backend), the spec-test runner
# (spec_test_runner, reading wast2json's output with nlohmann-json) and the
# runtime test helpers (runtime_test_util). Linked only by test binaries,
# fuzzers and benches. It may include any layer; no layer includes it
# (scripts/check_layering.sh). scripts/check_test_symbols.sh checks that
# libcrust exports none of its names.
find_package(nlohmann_json REQUIRED)  # Debian nlohmann-json3-dev
add_library(crust_testing STATIC
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle_notes.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle_world.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_backend.cc
  ${CMAKE_CURRENT_LIST_DIR}/spec_test_runner.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_test_util.cc
)
target_link_libraries(crust_testing PUBLIC crust_engine crust_store nlohmann_json::nlohmann_json)
# runtime_test_util.cc keeps its shared code caches under the build directory.
target_compile_definitions(crust_testing PRIVATE CRUST_BINARY_DIR="${CMAKE_BINARY_DIR}")
# wabt 1.0.32's interpreter headers do not compile as C++20 with g++ 12
# (template-id destructors in interp-inl.h): that one file is C++17.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/interp_backend.cc PROPERTIES COMPILE_OPTIONS "-std=c++17")

foreach(t crust_engine_tests crust_vm_tests)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE crust_testing)
  endif()
endforeach()
if(TARGET crust_engine_tests)
  target_sources(crust_engine_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/interp_oracle_test.cc)
endif()
