# Deploy-time half of the engine: host ABI table, validation of crust's rules,
# wasm instrumentation (gas, call depth, NaN canonicalisation), deploy
# preparation and the wabt-interpreter oracle. Included by sources.cmake,
# which passes these lists to crust_layer(engine ...).
find_package(wabt REQUIRED CONFIG)

list(APPEND CRUST_ENGINE_PREPARE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/host_abi.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_info.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_limits.cc
  ${CMAKE_CURRENT_LIST_DIR}/wabt_util.cc
  ${CMAKE_CURRENT_LIST_DIR}/validate.cc
  ${CMAKE_CURRENT_LIST_DIR}/lower64.cc
  ${CMAKE_CURRENT_LIST_DIR}/instrument.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle_notes.cc
  ${CMAKE_CURRENT_LIST_DIR}/wat.cc
)
list(APPEND CRUST_ENGINE_PREPARE_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/host_abi_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/validate_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_limits_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/lower64_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/instrument_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/interp_oracle_test.cc
)
# wabt's static library (reader, validator, writer, WAT parser, interpreter).
list(APPEND CRUST_ENGINE_PREPARE_LIBS wabt::wabt)
# wabt 1.0.32's interpreter headers do not compile as C++20 with g++ 12
# (template-id destructors in interp-inl.h): that one file is C++17.
list(APPEND CRUST_ENGINE_PREPARE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/interp_backend.cc)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/interp_backend.cc PROPERTIES COMPILE_OPTIONS "-std=c++17")
