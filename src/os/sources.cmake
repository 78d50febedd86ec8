crust_layer(os
  SOURCES
    src/os/env.cc
    src/os/env_posix.cc
    src/os/posix_error.cc
    src/os/posix_file.cc
    src/os/dirty_tracking.cc
    src/os/uffd_tracker.cc
    src/os/pagemap_tracker.cc
    src/os/memory_region_posix.cc
    src/os/lazy_fill.cc
    src/os/per_process.cc
    src/os/mapped_file.cc
    src/os/fault_guard.cc
  DEPS crust_util
  LIBS Threads::Threads
  TESTS
    src/os/env_test.cc
    src/os/memory_region_test.cc
    src/os/fault_guard_test.cc
)
