crust_layer(vm
  SOURCES
    src/vm/module_meta.cc
    src/vm/call_host.cc
    src/vm/vm_session.cc
    src/vm/vm_impl.cc
  DEPS crust_engine crust_store crust_os crust_util
  TESTS
    src/vm/vm_test.cc
)
