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

#include "crust/status.h"
#include "src/engine/runtime.h"

namespace crust::engine {
class HostContext;
}

namespace crust::engine::rt {

// Trap codes are wasm_rt_trap_t values, plus this one for host aborts.
inline constexpr int kHostAbortCode = 100;

struct CallState {
  sigjmp_buf jmp;
  CallState* prev = nullptr;
  HostContext* host = nullptr;
  int in_host = 0;     // > 0 while a host function runs: faults then are not traps
  Status host_status;  // why a host function aborted (kHostAbortCode)
};

// The innermost active call of this thread, or null.
CallState* CurrentCall();

// Runs fn(arg) as the innermost call `state`. Returns 0 when fn returned, or
// the trap code. Refuses to start (WASM_RT_TRAP_EXHAUSTION) when less than
// kMinCallHeadroom bytes of native stack remain.
int RunProtected(CallState* state, void (*fn)(void*), void* arg);

// Ends the innermost call with a trap. REQUIRES: a call is active and no C++
// object with a destructor lives between here and RunProtected, except in
// frames of generated code.
[[noreturn]] void RaiseTrap(int code);

// True when more than `bytes` of native stack remain below this frame.
bool StackHeadroomOk(size_t bytes);

inline constexpr size_t kMinCallHeadroom = 256 * 1024;
inline constexpr size_t kMinHostHeadroom = 128 * 1024;

// Maps a trap code to a kind (WASM_RT_TRAP_* or kHostAbortCode).
TrapKind KindOfCode(int code);

// ---- runtime_signals.cc ----
// Installs the SIGSEGV/SIGBUS handlers (once per process) and this thread's
// alternate signal stack (once per thread), and caches the thread's stack
// bounds. Idempotent and cheap after the first call on a thread.
void EnsureThreadReady();
// [lo, hi) of this thread's stack (valid after EnsureThreadReady).
void ThreadStackBounds(uintptr_t* lo, uintptr_t* hi);
// Registers [base, base + len) as a wasm memory reservation: faults inside
// it during a call are out-of-bounds traps. Lock-free; safe from any thread.
void RegisterMemory(const void* base, size_t len);
void UnregisterMemory(const void* base);

}  // namespace crust::engine::rt
