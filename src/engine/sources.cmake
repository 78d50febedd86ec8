# Engine layer: the deploy-time half (prepare_sources.cmake) plus the
# execution half listed here (wasm2c compiler, code cache, prepared-module
# cache, runtime, instances). The spec-test harness, the interpreter oracle
# and the runtime test helpers are in src/testing (crust_testing).
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/prepare_sources.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/prepare_sources.cmake)
else()
  include(${CMAKE_SOURCE_DIR}/cmake/Wabt.cmake)
  set(CRUST_ENGINE_PREPARE_LIBS wabt::wabt)
endif()

# wasm_rt_abi.h is both compiled into the runtime and written next to every
# generated C file: embed its text at configure time.
set(CRUST_ENGINE_ABI_HEADER ${CMAKE_CURRENT_LIST_DIR}/wasm_rt_abi.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CRUST_ENGINE_ABI_HEADER})
file(READ ${CRUST_ENGINE_ABI_HEADER} CRUST_ENGINE_ABI_TEXT)
configure_file(${CMAKE_CURRENT_LIST_DIR}/wasm_rt_abi_text.cc.in
               ${CMAKE_BINARY_DIR}/generated/engine/wasm_rt_abi_text.cc @ONLY)

set(CRUST_ENGINE_EXEC_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/compiler.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_translate.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_tcc.cc
  ${CMAKE_BINARY_DIR}/generated/engine/wasm_rt_abi_text.cc
  ${CMAKE_CURRENT_LIST_DIR}/code_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepare_fingerprint.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_api.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_call.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_signals.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_stack.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_code.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_host.cc
  ${CMAKE_CURRENT_LIST_DIR}/instance.cc
)
set(CRUST_ENGINE_EXEC_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/instance_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/code_cache_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_format_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/prepared_cache_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/spec_test.cc
)
# Only list prepare-half files that exist (it is being written concurrently).
set(_crust_engine_prepare_existing)
foreach(f ${CRUST_ENGINE_PREPARE_SOURCES})
  if(EXISTS ${f})
    list(APPEND _crust_engine_prepare_existing ${f})
  endif()
endforeach()
set(_crust_engine_prepare_tests_existing)
foreach(f ${CRUST_ENGINE_PREPARE_TESTS})
  if(EXISTS ${f})
    list(APPEND _crust_engine_prepare_tests_existing ${f})
  endif()
endforeach()

crust_layer(engine
  SOURCES ${_crust_engine_prepare_existing} ${CRUST_ENGINE_EXEC_SOURCES}
  DEPS crust_os crust_util
  LIBS ${CRUST_ENGINE_PREPARE_LIBS} ${CMAKE_DL_LIBS}
  TESTS ${_crust_engine_prepare_tests_existing} ${CRUST_ENGINE_EXEC_TESTS}
)
if(TARGET crust_engine_tests)
  target_compile_definitions(crust_engine_tests PRIVATE
    CRUST_SPEC_TESTSUITE_DIR="${CMAKE_SOURCE_DIR}/../shared/wasm-testsuite")
endif()
