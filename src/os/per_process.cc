// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/per_process.h"

#include <pthread.h>

namespace crust::os {
namespace {

std::atomic<uint64_t> fork_generation{0};

// Runs in the child only, with one thread: an atomic increment is
// async-signal-safe.
void InChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

uint64_t ForkGeneration() {
  static const bool registered = [] { return ::pthread_atfork(nullptr, nullptr, InChild) == 0; }();
  (void)registered;  // without the handler (ENOMEM) children reuse the parent's objects, as before
  return fork_generation.load(std::memory_order_relaxed);
}

}  // namespace crust::os
