# Engine, compile part (src/engine/compile): wasm2c translation, the C
# compiler processes (cc, tcc), the code cache of compiled objects. Included
# by ../sources.cmake.

# wasm_rt_abi.h (runtime/) is both compiled into the runtime and written next
# to every generated C file: embed its text at configure time.
set(CRUST_ENGINE_ABI_HEADER ${CMAKE_CURRENT_LIST_DIR}/../runtime/wasm_rt_abi.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CRUST_ENGINE_ABI_HEADER})
file(READ ${CRUST_ENGINE_ABI_HEADER} CRUST_ENGINE_ABI_TEXT)
configure_file(${CMAKE_CURRENT_LIST_DIR}/wasm_rt_abi_text.cc.in
               ${CMAKE_BINARY_DIR}/generated/engine/wasm_rt_abi_text.cc @ONLY)

set(CRUST_ENGINE_COMPILE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/compiler.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_translate.cc
  ${CMAKE_CURRENT_LIST_DIR}/compiler_tcc.cc
  ${CMAKE_CURRENT_LIST_DIR}/loop_versioning.cc
  ${CMAKE_BINARY_DIR}/generated/engine/wasm_rt_abi_text.cc
  ${CMAKE_CURRENT_LIST_DIR}/code_cache.cc
)
set(CRUST_ENGINE_COMPILE_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/code_cache_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/loop_versioning_test.cc
)
