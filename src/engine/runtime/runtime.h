// Copyright (c) crust authors. Licensed under the MIT license.
//
// Public vocabulary of crust's WebAssembly runtime: trap kinds and the host
// interface that compiled modules call through their `env` imports.
//
// How a call runs: Instance::Call* (instance.h) makes the calling thread's
// host context current, arms a thread-local jump buffer, and enters the
// compiled code. A trap (generated check, out-of-bounds access caught by the
// SIGSEGV handler, native stack exhaustion, or a host function that aborts)
// jumps back to that buffer; the call returns a Status and the thread stays
// usable. Calls nest (a host function may call into another instance).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crust/status.h"

namespace crust::engine {

class Instance;

enum class TrapKind : uint8_t {
  kNone = 0,
  kUnreachable,
  kOutOfBounds,          // memory or table access out of bounds
  kIntegerDivideByZero,
  kIntegerOverflow,
  kInvalidConversion,    // float to int of NaN or out of range
  kIndirectCallMismatch, // null entry, bad index or signature in call_indirect
  kStackExhausted,       // native stack nearly full
  kOutOfGas,             // the instrumented gas counter ran out
  kDepthLimit,           // the instrumented call-depth limit was exceeded
  kHostAbort,            // a host function ended the call (its Status is returned)
};

// Stable lowercase names ("unreachable", "out of bounds", ...), the first
// words of the Status message for a trap.
const char* TrapKindName(TrapKind kind);

// The Status a trap turns into: kOutOfGas -> Status::OutOfGas, every other
// engine trap -> Status::Trap("<kind name>: <detail>").
Status TrapStatus(TrapKind kind);

// What a module's `env` imports reach. The vm layer implements one per call
// (or per session) and passes it to Instance::Call*; the runtime keeps it
// current for the calling thread while the call runs.
//
// Every method runs on the calling thread, inside the call. A method returns
// its import's result, or a non-OK Status that ends the call at once (the call
// then returns exactly that Status: Panic for `panic`, OutOfGas when the host
// charges more than remains...). `self` is the instance whose code made the
// import call: read and write its memory (memory_data()) and globals there.
// Methods must not throw. Do not call into `self` again from a method
// (re-entering the same instance is not supported); other instances are fine.
//
// The default implementation of every method fails with NotSupported naming
// the import, so a host implements only what it offers.
class HostContext {
 public:
  virtual ~HostContext() = default;
  virtual Status Panic(Instance& self, uint32_t msg_len);
  virtual Result<int64_t> Limit(Instance& self);
  virtual Result<int64_t> Spent(Instance& self);
  virtual Status SelfId(Instance& self);
  // Pointers are 64-bit: a 32-bit module's i32 pointers arrive zero-extended,
  // a memory64 module's i64 pointers (host_abi.h HostParams64) unchanged.
  virtual Result<int32_t> Hd(Instance& self, uint64_t name_ptr, uint32_t name_len);
  virtual Result<int32_t> C(Instance& self, uint64_t mod_ptr, uint64_t fn_ptr, uint32_t fn_len,
                            uint32_t arg_len, int64_t gas);
  virtual Result<int32_t> Hq(Instance& self, uint64_t name_ptr, uint32_t name_len, uint32_t arg_len);
  virtual Status Emit(Instance& self, uint64_t topic_ptr, uint32_t topic_len, uint32_t arg_len);
  virtual Status Feed(Instance& self, uint32_t arg_len);
  virtual Result<int32_t> Caller(Instance& self);
  virtual Result<int32_t> Callstack(Instance& self);
  virtual Result<int32_t> Owner(Instance& self, uint64_t mod_ptr);

  // Size of the dedicated native stack a top-level call with this host runs
  // on (runtime_call.h NativeStackBytes). The host sizes it from the limits
  // it enforces, so that they fire before the native stack runs out. Default:
  // kDefaultMaxCallDepth wasm frames and one nested call.
  virtual size_t CallStackBytes() const;
  virtual Status Hdebug(Instance& self, uint32_t msg_len);
};

}  // namespace crust::engine
