// Copyright (c) crust authors. Licensed under the MIT license.
//
// The dedicated native stack compiled code runs on. A top-level call (no call
// active on the thread) switches to this thread's stack mapping and runs
// there; calls nested through host functions stay on it. Its size comes from
// the caller (CallState::stack_bytes), so the instrumented call-depth limit
// fires before the native stack runs out on every host, whatever its
// `ulimit -s` or the thread it runs on.
//
// The mapping is MAP_NORESERVE (only the pages a call touches cost memory)
// with an inaccessible guard of kGuardBytes below it; generated code probes
// large frames (-fstack-clash-protection), so an overflow faults in the
// guard and the signal handler (on the alternate signal stack) ends the call.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#include "src/engine/runtime/runtime_call.h"
#include "src/engine/runtime/wasm_rt_abi.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRUST_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRUST_ASAN_FIBERS 1
#endif
#endif
#ifdef CRUST_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

// crust_call_on_stack(fn, arg, top): calls fn(arg) with the stack pointer at
// `top` (16-byte aligned), then returns on the caller's stack. The frame
// pointer chain links back to the caller, so debuggers can unwind through it.
extern "C" void crust_call_on_stack(void (*fn)(void*), void* arg, void* top);

#if defined(__x86_64__)
asm(R"(
  .text
  .globl crust_call_on_stack
  .hidden crust_call_on_stack
  .type crust_call_on_stack, @function
crust_call_on_stack:
  .cfi_startproc
  pushq %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  movq %rsp, %rbp
  .cfi_def_cfa_register %rbp
  movq %rdx, %rsp
  movq %rdi, %rax
  movq %rsi, %rdi
  callq *%rax
  movq %rbp, %rsp
  popq %rbp
  .cfi_def_cfa %rsp, 8
  retq
  .cfi_endproc
  .size crust_call_on_stack, .-crust_call_on_stack
)");
#elif defined(__aarch64__)
asm(R"(
  .text
  .globl crust_call_on_stack
  .hidden crust_call_on_stack
  .type crust_call_on_stack, %function
crust_call_on_stack:
  .cfi_startproc
  stp x29, x30, [sp, #-16]!
  .cfi_def_cfa_offset 16
  .cfi_offset x29, -16
  .cfi_offset x30, -8
  mov x29, sp
  .cfi_def_cfa_register x29
  mov sp, x2
  mov x3, x0
  mov x0, x1
  blr x3
  mov sp, x29
  .cfi_def_cfa sp, 16
  ldp x29, x30, [sp], #16
  .cfi_def_cfa_offset 0
  ret
  .cfi_endproc
  .size crust_call_on_stack, .-crust_call_on_stack
)");
#else
#error "crust_call_on_stack: add the stack switch for this architecture"
#endif

namespace crust::engine::rt {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kGuardBytes = size_t{1} << 20;

struct DedicatedStack {
  uintptr_t map = 0;  // start of the mapping (the guard)
  size_t map_len = 0;
  size_t usable = 0;  // bytes above the guard
  bool in_use = false;
  ~DedicatedStack() {
    if (map != 0) munmap(reinterpret_cast<void*>(map), map_len);
  }
  uintptr_t lo() const { return map + kGuardBytes; }
  uintptr_t hi() const { return map + map_len; }
};
thread_local DedicatedStack tls_dedicated;

// Maps (or grows) this thread's stack to hold `bytes`. False if the kernel
// refuses the mapping.
bool EnsureMapped(size_t bytes) {
  DedicatedStack& d = tls_dedicated;
  bytes = (bytes + kPage - 1) / kPage * kPage;
  if (d.map != 0 && d.usable >= bytes) return true;
  if (d.map != 0) {
    munmap(reinterpret_cast<void*>(d.map), d.map_len);
    d.map = 0;
    d.map_len = d.usable = 0;
  }
  const size_t len = bytes + kGuardBytes;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return false;
  if (mprotect(p, kGuardBytes, PROT_NONE) != 0) {
    munmap(p, len);
    return false;
  }
  d.map = reinterpret_cast<uintptr_t>(p);
  d.map_len = len;
  d.usable = bytes;
  return true;
}

struct Entry {
  CallState* state;
  void (*fn)(void*);
  void* arg;
  int code;
  // AddressSanitizer: the caller's stack, to switch back to.
  const void* old_bottom;
  size_t old_size;
};

void RunEntry(void* p) {
  auto* e = static_cast<Entry*>(p);
#ifdef CRUST_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(nullptr, &e->old_bottom, &e->old_size);
#endif
  e->code = RunOnThisStack(e->state, e->fn, e->arg);
#ifdef CRUST_ASAN_FIBERS
  __sanitizer_start_switch_fiber(nullptr, e->old_bottom, e->old_size);
#endif
}

}  // namespace

int RunOnDedicatedStack(CallState* state, void (*fn)(void*), void* arg) {
  DedicatedStack& d = tls_dedicated;
  if (d.in_use) return RunOnThisStack(state, fn, arg);
  if (!EnsureMapped(state->stack_bytes)) return kNoStackCode;
  Entry e{state, fn, arg, 0, nullptr, 0};
  d.in_use = true;
#ifdef CRUST_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, reinterpret_cast<const void*>(d.lo()), d.usable);
#endif
  // 64 bytes below the top: the entry frame's red zone stays inside the mapping.
  crust_call_on_stack(&RunEntry, &e, reinterpret_cast<void*>(d.hi() - 64));
#ifdef CRUST_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  d.in_use = false;
  return e.code;
}

bool DedicatedStackBounds(uintptr_t* lo, uintptr_t* hi, uintptr_t* guard) {
  const DedicatedStack& d = tls_dedicated;
  if (!d.in_use) return false;
  *lo = d.lo();
  *hi = d.hi();
  *guard = d.map;
  return true;
}

size_t NativeStackBytes(uint32_t max_call_depth, uint32_t max_nested_calls) {
  return size_t{max_call_depth} * kMaxNativeFrameBytes + size_t{max_nested_calls + 1} * kHostLevelBytes +
         kMinCallHeadroom + kMinHostHeadroom;
}

}  // namespace crust::engine::rt
