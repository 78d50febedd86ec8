# Engine, runtime part (src/engine/runtime): loading compiled code, instances,
# calls (signals, the dedicated stack, traps), host-function dispatch and
# pricing, and the C ABI shared with generated code (wasm_rt_abi.h). Included
# by ../sources.cmake.
set(CRUST_ENGINE_RUNTIME_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/runtime_api.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_call.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_signals.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_stack.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_code.cc
  ${CMAKE_CURRENT_LIST_DIR}/runtime_host.cc
  ${CMAKE_CURRENT_LIST_DIR}/instance.cc
)
set(CRUST_ENGINE_RUNTIME_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/instance_test.cc
)
