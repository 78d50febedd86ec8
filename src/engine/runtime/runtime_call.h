// Copyright (c) crust authors. Licensed under the MIT license.
//
// Internal: how a call into compiled code is protected. One CallState per
// active call, linked per thread (calls nest through host functions). A trap
// siglongjmps to the innermost call's buffer. Generated code, host
// trampolines and the signal handler raise traps; Instance runs calls.
//
// Thread-safety: everything here is per thread.
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "crust/status.h"
#include "src/engine/prepare/module_limits.h"
#include "src/engine/runtime/runtime.h"

namespace crust::engine {
class HostContext;
}

namespace crust::engine::rt {

// Trap codes are wasm_rt_trap_t values, plus this one for host aborts.
inline constexpr int kHostAbortCode = 100;

// The page-write charge of a call (docs/abi.md §9.2, host_gas.h): the slow
// path of the write barrier (NoteWrite) charges `gas_per_page` from *gas for
// each 4 KiB page of `memory` a store in bounds is about to write that is not
// yet noted and does not overlap [exempt_begin, exempt_end) (the argument
// buffer, which the host writes); too little gas sets *trap to
// InjectedTrap::kOutOfGas and traps as the instrumented code does.
struct PageCharge {
  const void* memory = nullptr;  // the instance's wasm_rt_memory_t
  uint64_t* gas = nullptr;
  uint32_t* trap = nullptr;
  uint64_t gas_per_page = 0;
  uint64_t exempt_begin = 0, exempt_end = 0;
};

struct CallState {
  sigjmp_buf jmp;
  const PageCharge* page_charge = nullptr;  // null: writes are not charged
  CallState* prev = nullptr;
  HostContext* host = nullptr;
  int in_host = 0;     // > 0 while a host function runs: faults then are not traps
  Status host_status;  // why a host function aborted (kHostAbortCode)

  // Size of the dedicated native stack a top-level call runs on (ignored by
  // nested calls, which run on their caller's). See NativeStackBytes().
  size_t stack_bytes = 0;
};

// The innermost active call of this thread, or null.
CallState* CurrentCall();

// Runs fn(arg) as the innermost call `state`. Returns 0 when fn returned, or
// the trap code. A top-level call runs on this thread's dedicated stack
// (runtime_stack.cc) of state->stack_bytes; nested calls run where they are.
// Refuses to start (WASM_RT_TRAP_EXHAUSTION) when less than kMinCallHeadroom
// bytes of native stack remain. Host faults are not traps: a SIGBUS while
// compiled code runs, or a dedicated stack that cannot be mapped, returns
// kHostAbortCode with state->host_status set (IOError, ResourceExhausted).
int RunProtected(CallState* state, void (*fn)(void*), void* arg);

// Ends the innermost call with a trap. REQUIRES: a call is active and no C++
// object with a destructor lives between here and RunProtected, except in
// frames of generated code.
[[noreturn]] void RaiseTrap(int code);

// True when more than `bytes` of native stack remain below this frame.
bool StackHeadroomOk(size_t bytes);

inline constexpr size_t kMinCallHeadroom = 256 * 1024;
inline constexpr size_t kMinHostHeadroom = 128 * 1024;

// Internal codes RunProtected turns into host_status (never trap kinds).
inline constexpr int kHostIOFaultCode = 101;  // SIGBUS in compiled code
inline constexpr int kNoStackCode = 102;      // the dedicated stack cannot be mapped

// ---- runtime_stack.cc ----
// Native frames from wasm frames (module_limits.h: 8 bytes per local and
// operand stack slot, a function of the wasm alone). Every function compiled
// from a module whose largest wasm frame is W bytes must have a native frame
// of at most NativeFrameBound(W): the compiler checks each one (compiler.cc
// -fstack-usage, compiler_tcc.cc prologues) and a larger one is a host error
// (Internal naming the function, never a deploy decision). The factor covers
// compilers that give every C variable its own slot and spill temporaries
// (tcc, gcc -O0) and gcc -O2 inlining callees of the same module; the slack
// covers fixed costs (saved registers, call arguments, wasm2c's glue).
inline constexpr size_t kNativeBytesPerWasmByte = 4;
inline constexpr size_t kNativeFrameSlack = 8 * 1024;
constexpr uint64_t NativeFrameBound(uint64_t wasm_frame_bytes) {
  return kNativeBytesPerWasmByte * wasm_frame_bytes + kNativeFrameSlack;
}
// The largest native frame compiled code may have: the bound for the largest
// wasm frame a prepared module may have (deploy limit + instrumentation).
inline constexpr size_t kMaxNativeFrameBytes =
    NativeFrameBound(kDeployLimits.max_frame_bytes + kInstrumentationFrameBytes);
// Native stack used by the host between a call into compiled code and a
// nested call it makes through a host function (trampolines, the vm's `c`).
inline constexpr size_t kHostLevelBytes = 256 * 1024;
// The dedicated stack for calls nesting at most max_call_depth wasm frames
// (each at most kMaxNativeFrameBytes) across at most max_nested_calls host
// calls into other instances.
size_t NativeStackBytes(uint32_t max_call_depth, uint32_t max_nested_calls);
// RunProtected's stack switch (top-level calls; nested ones call
// RunOnThisStack directly).
int RunOnDedicatedStack(CallState* state, void (*fn)(void*), void* arg);
int RunOnThisStack(CallState* state, void (*fn)(void*), void* arg);
// [lo, hi) of the dedicated stack and the start of its guard, when this
// thread runs on it. False otherwise.
bool DedicatedStackBounds(uintptr_t* lo, uintptr_t* hi, uintptr_t* guard);

// Host code touching wasm memories (copying arguments, messages, events,
// results in or out): runs fn(arg) to its end and returns how many SIGBUS
// faults it met inside registered wasm memories (0 normally). Each such page
// (a mapped file that cannot be read: a hole on a full file system, a
// truncated file, an I/O error) was replaced by a zero page and the access
// retried, so fn — C++ with destructors and locks, which cannot be
// longjmp'd out of — finishes on garbage; the caller must then fail with
// IOError and never commit that memory (the vm poisons the session). Host
// functions called from compiled code run this way (runtime_host.cc).
// Nests; per thread.
uint64_t RunHostAccess(void (*fn)(void*), void* arg);
template <typename F>
uint64_t HostAccess(F&& f) {
  return RunHostAccess([](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); }, &f);
}

// Maps a trap code to a kind (WASM_RT_TRAP_* or kHostAbortCode).
TrapKind KindOfCode(int code);

// ---- runtime_signals.cc ----
// Installs the SIGSEGV/SIGBUS handlers (once per process) and this thread's
// alternate signal stack (once per thread), and caches the thread's stack
// bounds. Idempotent and cheap after the first call on a thread.
void EnsureThreadReady();
// [lo, hi) of the stack this thread runs on now: the dedicated stack during
// a call, else the thread's own (valid after EnsureThreadReady).
void ThreadStackBounds(uintptr_t* lo, uintptr_t* hi);
// Registers [base, base + len) as a wasm memory reservation: faults inside
// it during a call are out-of-bounds traps. Lock-free; safe from any thread.
void RegisterMemory(const void* base, size_t len);
void UnregisterMemory(const void* base);

}  // namespace crust::engine::rt
