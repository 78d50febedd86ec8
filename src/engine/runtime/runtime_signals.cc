// Copyright (c) crust authors. Licensed under the MIT license.
//
// Turns hardware faults inside compiled wasm code into traps:
//  * an access into a registered memory reservation (its inaccessible tail
//    is the guard) -> out of bounds;
//  * an access at or just below the stack the call runs on (the dedicated
//    stack, runtime_stack.cc, or the thread's own) -> stack exhausted (the
//    handler runs on a per-thread alternate stack; generated code is built
//    with -fstack-clash-protection so large frames probe the guard page);
//  * any SIGBUS (a mapped file that cannot be read: a hole on a full tmpfs,
//    a truncated file, an I/O error) -> a host fault, kHostIOFaultCode, which
//    ends the call with IOError, never a trap a contract can observe;
//  * a SIGBUS inside RunHostAccess (host functions, the vm copying arguments
//    and results), at an address inside a registered wasm memory: the page
//    is replaced by a zero page, the fault counted and the access retried
//    (runtime_call.h RunHostAccess: the caller turns it into IOError).
// Faults anywhere else, or other faults while a host function runs, go to
// the handler that was installed before ours (or the default action: a crash).
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "src/engine/runtime/runtime_call.h"
#include "src/engine/runtime/wasm_rt_abi.h"

namespace crust::engine::rt {
namespace {

constexpr size_t kMaxMemories = 32768;
constexpr size_t kAltStackSize = 64 * 1024;
constexpr uintptr_t kStackSlack = 1 << 20;  // below the stack's low end: the kernel's guard gap

struct MemorySlot {
  std::atomic<uintptr_t> base{0};
  std::atomic<uintptr_t> len{0};
};
MemorySlot g_memories[kMaxMemories];
std::atomic<size_t> g_memories_used{0};  // high-water mark of used slots

struct sigaction g_old_segv, g_old_bus;
uintptr_t g_page_size = 4096;  // set before the handlers are installed

struct ThreadStack {
  bool ready = false;
  uintptr_t lo = 0, hi = 0;
  void* alt = nullptr;
  ~ThreadStack() {
    if (alt == nullptr) return;
    stack_t ss = {};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    std::free(alt);
  }
};
thread_local ThreadStack tls_stack;
thread_local int tls_host_access = 0;  // > 0 inside RunHostAccess
thread_local volatile uint64_t tls_host_bus_faults = 0;

bool InMemory(uintptr_t a) {
  const size_t used = g_memories_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; ++i) {
    const MemorySlot& s = g_memories[i];
    const uintptr_t b = s.base.load(std::memory_order_acquire);
    if (b != 0 && a >= b && a - b < s.len.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

bool NearStack(uintptr_t a) {
  uintptr_t lo = 0, hi = 0, guard = 0;
  if (DedicatedStackBounds(&lo, &hi, &guard) && a < hi && a >= guard) return true;
  const ThreadStack& t = tls_stack;
  return t.ready && t.lo != 0 && a < t.hi && a + kStackSlack >= t.lo;
}

void Chain(int sig, siginfo_t* info, void* uctx) {
  const struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
  if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != nullptr) {
    old.sa_sigaction(sig, info, uctx);
    return;
  }
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != nullptr) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting access repeats and
  // the process dies as it would have without us.
  signal(sig, SIG_DFL);
}

// In the handler: maps a private zero page over the page holding `a` (mmap
// is async-signal-safe). False if the kernel refuses.
bool ReplaceWithZeroPage(uintptr_t a) {
  const uintptr_t page = a & ~(g_page_size - 1);
  void* p = mmap(reinterpret_cast<void*>(page), g_page_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return p != MAP_FAILED;
}

void Handler(int sig, siginfo_t* info, void* uctx) {
  CallState* cs = CurrentCall();
  // Host code (not compiled code nested inside it: that takes the path below).
  if (sig == SIGBUS && tls_host_access > 0 && (cs == nullptr || cs->in_host > 0)) {
    const auto a = reinterpret_cast<uintptr_t>(info->si_addr);
    if (InMemory(a) && ReplaceWithZeroPage(a)) {
      tls_host_bus_faults = tls_host_bus_faults + 1;
      return;  // the access is retried on the zero page
    }
  }
  if (cs != nullptr && cs->in_host == 0) {
    const auto a = reinterpret_cast<uintptr_t>(info->si_addr);
    int code = 0;
    if (sig == SIGBUS) {
      code = kHostIOFaultCode;
    } else if (InMemory(a)) {
      code = WASM_RT_TRAP_OOB;
    } else if (NearStack(a)) {
      code = WASM_RT_TRAP_EXHAUSTION;
    }
    if (code != 0) {
      // Jump buffers are saved without the signal mask: unblock by hand.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, sig);
      pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      siglongjmp(cs->jmp, code);
    }
  }
  Chain(sig, info, uctx);
}

void InstallHandlers() {
  const long page = sysconf(_SC_PAGESIZE);
  if (page > 0) g_page_size = static_cast<uintptr_t>(page);
  struct sigaction sa = {};
  sa.sa_sigaction = &Handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_old_segv) != 0 || sigaction(SIGBUS, &sa, &g_old_bus) != 0) std::abort();
}

}  // namespace

void EnsureThreadReady() {
  ThreadStack& t = tls_stack;
  if (t.ready) return;
  static std::once_flag once;
  std::call_once(once, InstallHandlers);
  stack_t old = {};
  if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
    t.alt = std::malloc(kAltStackSize);
    stack_t ss = {};
    ss.ss_sp = t.alt;
    ss.ss_size = kAltStackSize;
    if (t.alt == nullptr || sigaltstack(&ss, nullptr) != 0) std::abort();
  }
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      t.lo = reinterpret_cast<uintptr_t>(addr);
      t.hi = t.lo + size;
    }
    pthread_attr_destroy(&attr);
  }
  t.ready = true;
}

uint64_t RunHostAccess(void (*fn)(void*), void* arg) {
  EnsureThreadReady();
  const uint64_t before = tls_host_bus_faults;
  tls_host_access++;
  fn(arg);
  tls_host_access--;
  return tls_host_bus_faults - before;
}

void ThreadStackBounds(uintptr_t* lo, uintptr_t* hi) {
  uintptr_t guard = 0;
  if (DedicatedStackBounds(lo, hi, &guard)) return;
  *lo = tls_stack.lo;
  *hi = tls_stack.hi;
}

void RegisterMemory(const void* base, size_t len) {
  const auto b = reinterpret_cast<uintptr_t>(base);
  for (size_t i = 0; i < kMaxMemories; ++i) {
    MemorySlot& s = g_memories[i];
    uintptr_t expected = 0;
    if (s.base.load(std::memory_order_relaxed) == 0 &&
        s.base.compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
      s.len.store(len, std::memory_order_release);
      size_t used = g_memories_used.load(std::memory_order_relaxed);
      while (used < i + 1 && !g_memories_used.compare_exchange_weak(used, i + 1)) {
      }
      return;
    }
  }
  // Full: faults in this memory will not be recognised (the process crashes
  // instead of trapping). vm.max_map_count makes this unreachable in practice.
}

void UnregisterMemory(const void* base) {
  const auto b = reinterpret_cast<uintptr_t>(base);
  const size_t used = g_memories_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; ++i) {
    MemorySlot& s = g_memories[i];
    uintptr_t expected = b;
    if (s.base.compare_exchange_strong(expected, 0, std::memory_order_release)) return;
  }
}

}  // namespace crust::engine::rt
