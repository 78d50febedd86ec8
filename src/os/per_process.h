// Copyright (c) crust authors. Licensed under the MIT license.
//
// Process-wide objects that belong to one process: descriptors that name
// "self" (/proc/self/pagemap is the opener's page table) or an address space
// (a userfaultfd acts on the memory of the process that created it), and
// threads serving them. fork() copies such an object into the child, where
// it would silently act on the parent: scanning the parent's page table for
// the child's writes, registering the parent's ranges. PerProcess<T> makes
// one T per process: the first use in a process (the parent, or a child
// after fork) builds it; an object built by the parent is left to it (never
// destroyed here: regions may outlive static destructors, and the parent
// still uses its own).
//
// Thread-safety: Get may be called concurrently; `make` runs once per
// process, under a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace crust::os {

// Changes in a child process at every fork(), before fork returns there
// (pthread_atfork); the same value in a process until it forks. Registers
// its handler on first use: call it before forking to make children see a
// new value (every PerProcess does, when it builds its object).
uint64_t ForkGeneration();

template <typename T>
class PerProcess {
 public:
  explicit constexpr PerProcess(T* (*make)()) : make_(make) {}
  PerProcess(const PerProcess&) = delete;
  PerProcess& operator=(const PerProcess&) = delete;

  T& Get() {
    const uint64_t gen = ForkGeneration();
    Node* n = node_.load(std::memory_order_acquire);
    if (n != nullptr && n->gen == gen) return *n->object;
    std::lock_guard<std::mutex> l(mu_);
    n = node_.load(std::memory_order_acquire);
    if (n == nullptr || n->gen != gen) {
      n = new Node{gen, make_()};
      node_.store(n, std::memory_order_release);
    }
    return *n->object;
  }

 private:
  struct Node {
    uint64_t gen;
    T* object;
  };
  T* (*const make_)();
  std::mutex mu_;
  std::atomic<Node*> node_{nullptr};
};

}  // namespace crust::os
