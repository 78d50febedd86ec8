# Engine, deploy-time part (src/engine/prepare): host ABI table, validation of
# crust's rules, limits, wasm instrumentation (gas, call depth, NaN
# canonicalisation), memory64 lowering, deploy preparation, the prepared-module
# cache, its format and its sweep, and the wabt adapter. Includes nothing from compile/ or
# runtime/ (scripts/check_layering.sh). Included by ../sources.cmake.
include(${CMAKE_SOURCE_DIR}/cmake/Wabt.cmake)  # find_package(wabt) + the version check

set(CRUST_ENGINE_PREPARE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/host_abi.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_info.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_limits.cc
  ${CMAKE_CURRENT_LIST_DIR}/wabt_adapter.cc
  ${CMAKE_CURRENT_LIST_DIR}/wabt_util.cc
  ${CMAKE_CURRENT_LIST_DIR}/validate.cc
  ${CMAKE_CURRENT_LIST_DIR}/lower64.cc
  ${CMAKE_CURRENT_LIST_DIR}/instrument.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare.cc
  ${CMAKE_CURRENT_LIST_DIR}/wat.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare_fingerprint.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/cache_sweep.cc
)
set(CRUST_ENGINE_PREPARE_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/host_abi_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/validate_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/wabt_adapter_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_limits_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/lower64_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/instrument_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_format_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_cache_test.cc
)
# wabt's static library (reader, validator, writer, WAT parser).
set(CRUST_ENGINE_PREPARE_LIBS wabt::wabt)
# The configure-time wabt check refuses an unsupported version, naming the
# supported ones (a fake <wabt/config.h> of wabt 9.9.9), and accepts this one.
if(CRUST_BUILD_TESTS)
  add_test(NAME wabt_version_check_refuses_others
           COMMAND ${CMAKE_COMMAND} -DCRUST_WABT_CONFIG_H=${CMAKE_SOURCE_DIR}/tests/data/wabt-9.9.9/wabt/config.h
                   -P ${CMAKE_SOURCE_DIR}/cmake/WabtVersion.cmake)
  set_tests_properties(wabt_version_check_refuses_others PROPERTIES TIMEOUT 60 LABELS unit
    # (CMake wraps the message: whitespace may be a newline)
    PASS_REGULAR_EXPRESSION "unsupported wabt version '9.9.9'[^!]*supports[ \n]+wabt[ \n]+1[.]0[.]32[ \n]+only")
  add_test(NAME wabt_version_check_accepts_installed
           COMMAND ${CMAKE_COMMAND} -DCRUST_WABT_CONFIG_H=${CRUST_WABT_CONFIG_H} -P ${CMAKE_SOURCE_DIR}/cmake/WabtVersion.cmake)
  set_tests_properties(wabt_version_check_accepts_installed PROPERTIES TIMEOUT 60 LABELS unit)
endif()
