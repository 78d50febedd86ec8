crust_layer(vm
  SOURCES
    src/vm/module_meta.cc
    src/vm/vm_session.cc
    src/vm/vm_call.cc
    src/vm/vm_host.cc
    src/vm/vm_impl.cc
  DEPS crust_engine crust_store crust_os crust_util
  TESTS
    src/vm/vm_test.cc
    src/vm/composition_test.cc
    src/vm/equivalence_test.cc
    src/vm/abi_test.cc
    src/vm/memory64_test.cc
    src/vm/deploy_cache_test.cc
)
