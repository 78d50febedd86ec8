// Copyright (c) crust authors. Licensed under the MIT license.
//
// A reference engine for tests: runs a PreparedModule in wabt's interpreter
// with the same protocol the native engine follows (module_info.h): gas and
// depth limits through the injected globals, the injected trap flag to tell
// out-of-gas and depth exhaustion apart, state globals in and out, and the
// ABI's argument buffer. The native engine's results, traps and gas must be
// identical to this oracle's on every test module and call.
//
// It is 100-300x slower than native code and copies memory into a private
// buffer: never use it in production (it is in crust_testing, src/testing,
// linked only by tests, fuzzers and benches).
//
// Thread-safety: an InterpOracle is used by one thread at a time; distinct
// oracles are independent.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/host_abi.h"
#include "src/engine/prepare/module_info.h"

namespace crust::engine {

// What a host function sees of the running call.
class OracleContext {
 public:
  virtual ~OracleContext() = default;
  virtual std::span<uint8_t> memory() = 0;  // valid until the guest runs again
  virtual uint32_t arg_buffer() const = 0;  // PreparedModule::arg_buffer
  virtual uint64_t host_window() const = 0;  // host_abi.h kHostWindow32 / kHostWindow64
  virtual uint64_t gas_limit() const = 0;
  virtual uint64_t gas_remaining() const = 0;
  // Calls still allowed to nest (the injected depth counter, module_info.h):
  // what a `c` callee gets as its depth limit (docs/abi.md §10).
  virtual uint32_t depth_remaining() const = 0;
  // A host function charging for its work lowers the remaining gas; it must
  // return Status::OutOfGas itself if the work costs more than remains.
  virtual void set_gas_remaining(uint64_t remaining) = 0;
};

// Implements the env imports. `args` hold the wasm arguments (i32 values
// zero-extended), `results` has room for spec.results. A non-OK status ends
// the call with that status (e.g. Panic, OutOfGas, Trap).
class OracleHost {
 public:
  virtual ~OracleHost() = default;
  virtual Status Call(const HostFunctionSpec& spec, std::span<const uint64_t> args,
                      std::span<uint64_t> results, OracleContext& ctx) = 0;
};

// The imports of this issue: panic (Status::Panic with the UTF-8 message in
// A), limit, spent, self_id (writes `self_id` into A), hd (looks `metadata`
// up by the name at [ptr, ptr+len), copies the value into A, returns its
// length or 0). Reserved imports fail with NotSupported. Out-of-bounds
// pointers give Status::Trap("out of bounds memory access").
class BasicOracleHost : public OracleHost {
 public:
  Hash32 self_id;
  Bytes owner;  // `owner(0)` and `owner(&self_id)`; other ids have none
  std::map<std::string, Bytes, std::less<>> metadata;
  // What `emit` and `hdebug` recorded (with the VM's charges, host_gas.h),
  // in order; the caller clears them.
  std::vector<std::pair<std::string, Bytes>> events;
  std::vector<std::string> debug;

  Status Call(const HostFunctionSpec& spec, std::span<const uint64_t> args,
              std::span<uint64_t> results, OracleContext& ctx) override;
};

struct OracleOutcome {
  // OK; OutOfGas; Trap with a canonical kind as message ("unreachable",
  // "out of bounds memory access", "integer divide by zero", "integer
  // overflow", "invalid conversion to integer", "undefined element",
  // "uninitialized element", "indirect call type mismatch", "call stack
  // exhausted", "out of bounds table access"); or a host function's status.
  Status status;
  uint32_t ret = 0;  // the export's result, when status is OK
  Bytes data;        // Call(): A[0 .. ret] when status is OK
  uint64_t gas_spent = 0;  // limit - remaining; the whole limit on OutOfGas
};

// Maps a wabt interpreter trap message to the canonical kind above.
std::string CanonicalTrapKind(std::string_view wabt_message);

// A name or topic a host function reads at [ptr, ptr + len) (host_abi.h
// CheckHostRead's `r`, in the window), as the VM reads it: InvalidArgument
// when it is not UTF-8, ResourceExhausted for a zero-filled read longer than
// kMaxZeroFilledName. The view may point into *scratch.
Result<std::string_view> OracleReadText(std::span<uint8_t> mem, uint64_t ptr, uint64_t len, const HostRead& r,
                                        std::string* scratch);

// Models the VM's page-write charge (host_gas.h kPageWriteGas, docs/abi.md
// §9.2): it runs a copy of the module with a note call before every memory
// write (interp_oracle_notes.h) and treats every Invoke as starting a new
// interval (the VM's calls start with a checkpoint operation).
class InterpOracle {
 public:
  // Instantiates `module` (which must stay valid only during Create) with its
  // memory image and state globals at their initial values. `host` must
  // outlive the oracle; it may be null for modules without imports.
  // NotSupported for a module whose imports are not env host functions or
  // whose data segments are still in the wasm; InvalidModule if wabt refuses.
  static Result<std::unique_ptr<InterpOracle>> Create(const PreparedModule& module, OracleHost* host);
  ~InterpOracle();
  InterpOracle(const InterpOracle&) = delete;
  InterpOracle& operator=(const InterpOracle&) = delete;

  // Calls export `name` of type (i32) -> i32 with `arg`. Re-entrant: a host
  // function may invoke the same oracle again (a `c` self-call, see
  // interp_oracle_world.h); the inner call's gas limit and host status do
  // not leak into the outer one, but its gas, depth and trap counters do
  // (the caller saves and restores them, as the VM does).
  OracleOutcome Invoke(std::string_view name, uint32_t arg, uint64_t gas_limit,
                       uint32_t depth_limit = kDefaultMaxCallDepth);
  // The ABI call: copies `arg` (at most 64 KiB) to A, invokes with its
  // length, and returns A[0 .. ret] in data (Trap if ret exceeds 64 KiB).
  OracleOutcome Call(std::string_view name, ByteView arg, uint64_t gas_limit,
                     uint32_t depth_limit = kDefaultMaxCallDepth);

  // The whole linear memory (valid until the next call).
  std::span<const uint8_t> memory() const;
  // Replaces memory contents from offset 0, growing the memory if needed.
  Status SetMemory(ByteView bytes);
  // Writes `bytes` at `offset` (a host write: not noted, never charged).
  // InvalidArgument if they do not fit in the memory.
  Status WriteMemory(uint64_t offset, ByteView bytes);
  // Values of PreparedModule::state_globals, in that order.
  std::vector<uint64_t> GetStateGlobals() const;
  Status SetStateGlobals(std::span<const uint64_t> values);
  // Every global a call can change: the state globals, then the gas, depth
  // and trap counters (what the VM's Instance::SaveGlobals covers).
  std::vector<uint64_t> SaveGlobals() const;
  Status RestoreGlobals(std::span<const uint64_t> values);
  // A checkpoint operation of the session: no page counts as written any
  // more (docs/abi.md §9.2). Invoke starts with one.
  void NewWriteInterval();

 private:
  struct Impl;
  explicit InterpOracle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crust::engine
