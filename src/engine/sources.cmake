# Engine layer, one library (crust_engine) in three parts, each listing its
# own files: prepare/ (deploy time: validate, limits, instrument, prepare,
# the prepared-module cache; wabt), compile/ (wasm2c + the C compiler, the
# code cache) and runtime/ (loaded code, instances, calls, signals, host
# functions). spec_test.cc runs all three on the WebAssembly spec suite. The
# spec-test harness, the interpreter oracle and the runtime test helpers are
# in src/testing (crust_testing).
include(${CMAKE_CURRENT_LIST_DIR}/prepare/sources.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/compile/sources.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/runtime/sources.cmake)

crust_layer(engine
  SOURCES ${CRUST_ENGINE_PREPARE_SOURCES} ${CRUST_ENGINE_COMPILE_SOURCES} ${CRUST_ENGINE_RUNTIME_SOURCES}
  DEPS crust_os crust_util
  LIBS ${CRUST_ENGINE_PREPARE_LIBS} ${CMAKE_DL_LIBS}
  TESTS ${CRUST_ENGINE_PREPARE_TESTS} ${CRUST_ENGINE_COMPILE_TESTS} ${CRUST_ENGINE_RUNTIME_TESTS}
        ${CMAKE_CURRENT_LIST_DIR}/spec_test.cc
)
if(TARGET crust_engine_tests)
  target_compile_definitions(crust_engine_tests PRIVATE
    CRUST_SPEC_TESTSUITE_DIR="${CMAKE_SOURCE_DIR}/../shared/wasm-testsuite")
endif()
