// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/runtime_call.h"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/engine/prepare/module_info.h"

#include "src/engine/runtime/wasm_rt_abi.h"

namespace crust::engine::rt {
namespace {
thread_local CallState* tls_call = nullptr;
}  // namespace

CallState* CurrentCall() { return tls_call; }

int RunProtected(CallState* state, void (*fn)(void*), void* arg) {
  EnsureThreadReady();
  if (state->stack_bytes == 0) state->stack_bytes = NativeStackBytes(kDefaultMaxCallDepth, 1);
  const int code = tls_call == nullptr ? RunOnDedicatedStack(state, fn, arg) : RunOnThisStack(state, fn, arg);
  if (code == kHostIOFaultCode) {
    state->host_status = Status::IOError(
        "a mapped file could not be read (SIGBUS) while compiled code ran: a host fault, not a contract outcome");
    return kHostAbortCode;
  }
  if (code == kNoStackCode) {
    state->host_status = Status::ResourceExhausted("cannot map a native stack of " +
                                                   std::to_string(state->stack_bytes) + " bytes for the call");
    return kHostAbortCode;
  }
  return code;
}

__attribute__((noinline)) int RunOnThisStack(CallState* state, void (*fn)(void*), void* arg) {
  if (!StackHeadroomOk(kMinCallHeadroom)) return WASM_RT_TRAP_EXHAUSTION;
  state->prev = tls_call;
  tls_call = state;
  // Invariant: nothing assigned between sigsetjmp and a longjmp is read after
  // it, except `code` (state, fn and arg are not modified).
  const int code = sigsetjmp(state->jmp, 0);
  if (code == 0) fn(arg);
  tls_call = state->prev;
  return code;
}

void RaiseTrap(int code) {
  CallState* cs = tls_call;
  if (cs == nullptr) std::abort();  // a trap outside any call is a runtime bug
  siglongjmp(cs->jmp, code);
}

bool StackHeadroomOk(size_t bytes) {
  uintptr_t lo = 0, hi = 0;
  ThreadStackBounds(&lo, &hi);
  const auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  return lo == 0 || (sp > lo && sp - lo > bytes);
}

TrapKind KindOfCode(int code) {
  switch (code) {
    case 0: return TrapKind::kNone;
    case WASM_RT_TRAP_OOB: return TrapKind::kOutOfBounds;
    case WASM_RT_TRAP_INT_OVERFLOW: return TrapKind::kIntegerOverflow;
    case WASM_RT_TRAP_DIV_BY_ZERO: return TrapKind::kIntegerDivideByZero;
    case WASM_RT_TRAP_INVALID_CONVERSION: return TrapKind::kInvalidConversion;
    case WASM_RT_TRAP_UNREACHABLE: return TrapKind::kUnreachable;
    case WASM_RT_TRAP_CALL_INDIRECT: return TrapKind::kIndirectCallMismatch;
    case WASM_RT_TRAP_EXHAUSTION: return TrapKind::kStackExhausted;
    case kHostAbortCode: return TrapKind::kHostAbort;
    default: return TrapKind::kUnreachable;
  }
}

}  // namespace crust::engine::rt

namespace crust::engine {

const char* TrapKindName(TrapKind kind) {
  switch (kind) {
    case TrapKind::kNone: return "none";
    case TrapKind::kUnreachable: return "unreachable";
    case TrapKind::kOutOfBounds: return "out of bounds";
    case TrapKind::kIntegerDivideByZero: return "integer divide by zero";
    case TrapKind::kIntegerOverflow: return "integer overflow";
    case TrapKind::kInvalidConversion: return "invalid conversion to integer";
    case TrapKind::kIndirectCallMismatch: return "indirect call mismatch";
    case TrapKind::kStackExhausted: return "call stack exhausted";
    case TrapKind::kOutOfGas: return "out of gas";
    case TrapKind::kDepthLimit: return "call depth limit exceeded";
    case TrapKind::kHostAbort: return "host abort";
  }
  return "unknown";
}

Status TrapStatus(TrapKind kind) {
  if (kind == TrapKind::kNone) return Status::OK();
  if (kind == TrapKind::kOutOfGas) return Status::OutOfGas("out of gas");
  // module_info.h: the instrumented depth limit reads as stack exhaustion.
  if (kind == TrapKind::kDepthLimit) return Status::Trap("call stack exhausted (call depth limit)");
  return Status::Trap(TrapKindName(kind));
}

}  // namespace crust::engine
