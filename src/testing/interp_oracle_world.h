// Copyright (c) crust authors. Licensed under the MIT license.
//
// OracleWorld: several contracts in the interpreter oracle (interp_oracle.h),
// called the way the VM's session calls them (docs/abi.md §2 and vm_call.cc),
// including the inter-contract call `c` (§5), so that nested calls can be
// compared native against oracle (src/vm/equivalence_test.cc):
//
//   * a call (top-level or through `c`) is a checkpoint: on failure every
//     memory write and growth of every module, the persisted globals of
//     every module and the callee's live globals come back, and the events
//     it and its callees emitted are flagged reverted; its start and its end
//     are checkpoint operations, which end the page-write interval of every
//     module (§9.2);
//   * persisted state globals are set before a module's first activation and
//     saved after each successful call; a self-call re-enters the running
//     instance (its gas, depth and trap counters are restored after it);
//   * `c`: bounds of the id, name and argument (trap), the name's UTF-8
//     (InvalidArgument), the 2,000-gas call charge (engine::kCallGas), the
//     module-depth limit (INT32_MIN), a missing module (-3, nothing more
//     charged), the callee limit (engine::CalleeLimit), the shared wasm
//     depth budget, the argument copied to the callee's A, the result or
//     the panic message (u32le length ‖ at most 65,532 bytes) copied back,
//     and the caller paying what a successful callee spent or a failed
//     callee's whole limit; return codes −1 (panic), −2 (out of gas), −3 and
//     INT32_MIN (anything else);
//   * `caller`, `callstack`, `emit` (at most max_events per top-level call)
//     and `feed` (always outside a feeder call) as the VM has them; `hq` is
//     not provided (NotSupported).
//
// What wabt cannot model is reported, never approximated: rolling back the
// growth of a memory whose module is still running (wabt memories cannot
// shrink) ends the whole call with NotSupported.
//
// Thread-safety: used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/module_info.h"

namespace crust::engine {

struct OracleWorldOptions {
  uint32_t max_call_depth = kDefaultMaxCallDepth;  // VmOptions::max_call_depth
  uint32_t max_module_depth = 48;                  // VmOptions::max_module_depth
  uint32_t max_events = 4096;                      // VmOptions::max_events
};

struct OracleEvent {
  Hash32 source;
  std::string topic;
  Bytes data;
  bool reverted = false;
};

// One call made (CallNode of crust/vm.h).
struct OracleCallNode {
  Hash32 module;
  std::string function;
  uint32_t depth = 0;
  uint64_t gas_limit = 0;
  uint64_t gas_spent = 0;
  Status status;
};

struct OracleReceipt {
  Status status;
  Bytes data;
  uint64_t gas_spent = 0;
  std::vector<OracleEvent> events;
  std::vector<std::string> debug;
  std::vector<OracleCallNode> call_tree;  // in the order the calls started
};

class OracleWorld {
 public:
  explicit OracleWorld(OracleWorldOptions options = {});
  ~OracleWorld();
  OracleWorld(const OracleWorld&) = delete;
  OracleWorld& operator=(const OracleWorld&) = delete;

  // Adds `module` (a contract) under `id` with its initial memory, then runs
  // its `init`, if any, as the VM's deploy does. The module stays only if
  // that succeeded; the receipt is init's (OK and empty without init).
  // AlreadyExists, or InterpOracle::Create's errors, as the status.
  OracleReceipt Deploy(const Hash32& id, PreparedModule module, const Bytes& owner, ByteView init_arg,
                       uint64_t init_gas);
  // VmSession::Call.
  OracleReceipt Call(const Hash32& id, std::string_view function, ByteView arg, uint64_t gas_limit);
  // VmSession::SetMeta (what `hd` reads).
  void SetMeta(const std::string& name, const Bytes& value);

  bool Has(const Hash32& id) const;
  // REQUIRES: Has(id).
  std::span<const uint8_t> Memory(const Hash32& id) const;
  const std::vector<uint64_t>& PersistedGlobals(const Hash32& id) const;
  const PreparedModule& Prepared(const Hash32& id) const;

 private:
  struct Module;
  class Host;
  struct Outcome {
    Status status;
    Bytes data;
    uint64_t gas_spent = 0;
  };
  struct Snapshot;

  OracleReceipt TopLevel(const Hash32& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                         bool allow_init);
  Outcome CallModule(const Hash32& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                     uint32_t wasm_depth, bool allow_init);
  Status Execute(Module& m, std::string_view function, ByteView arg, uint64_t gas_limit, uint32_t wasm_depth,
                 Outcome* out);
  Snapshot Take() const;
  Status Restore(const Snapshot& s);
  void NewWriteInterval();

  const OracleWorldOptions options_;
  std::map<Hash32, std::unique_ptr<Module>> modules_;
  std::map<std::string, Bytes, std::less<>> meta_;
  std::vector<Module*> frames_;          // running calls, outermost first
  OracleReceipt* receipt_ = nullptr;     // of the running top-level call
  Status fault_;                         // what the world could not model (ends the top-level call)
};

}  // namespace crust::engine
