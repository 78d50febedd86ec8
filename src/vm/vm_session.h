// Copyright (c) crust authors. Licensed under the MIT license.
//
// VmSessionImpl: deploys and calls modules over a store Session. Instances
// are created lazily, one per module per session, directly over the
// session's copy-on-write memory region (no copying in or out).
//
// The session is also the host context of every call it runs: a host
// function is always called by the innermost active call (frames_.back()).
// Each call, top-level or made by a contract through `c`, runs inside a store
// checkpoint; a failed call rolls back its memory writes and growth, the
// module metadata (persisted globals) they saved, and flags the events it and
// its callees emitted as reverted (vm_call.cc).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/vm.h"
#include "src/engine/compile/code_cache.h"
#include "src/engine/runtime/instance.h"
#include "src/engine/runtime/runtime.h"
#include "src/vm/module_meta.h"

namespace crust::vm {

class VmSessionImpl final : public VmSession, private engine::HostContext {
 public:
  VmSessionImpl(std::unique_ptr<Session> state, engine::CodeCache* cache, const VmOptions* options)
      : state_(std::move(state)), cache_(cache), options_(options) {}
  ~VmSessionImpl() override;

  Result<ModuleId> Deploy(ByteView wasm, const DeployOptions& options) override;
  CallReceipt Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) override;
  void CallInto(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit,
                CallReceipt* receipt) override;
  CallReceipt FeederCall(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit,
                         const std::function<void(ByteView)>& feeder) override;
  Result<ModuleId> MigrateWith(const ModuleId& module, ByteView new_wasm, const DeployOptions& options,
                              const MigrationFn& migrate) override;
  CallReceipt Migrate(const ModuleId& module, ByteView new_wasm, std::string_view function, ByteView arg,
                      uint64_t gas_limit, std::optional<Bytes> new_owner) override;
  void SetMeta(std::string name, Bytes value) override { meta_[std::move(name)] = std::move(value); }
  Result<Bytes> Owner(const ModuleId& module) override;
  Result<Root> CurrentRoot() override { return state_->CurrentRoot(); }
  Result<Root> Commit() override;
  Session& state() override { return *state_; }

  // Loaded modules running fast-tier code now (code tiers; tests).
  size_t FastTierModules() const;

 private:
  struct Loaded {
    std::shared_ptr<const engine::Code> code;
    std::unique_ptr<engine::Instance> instance;
    os::MemoryRegion* region = nullptr;  // the session's, as the instance's (lives as long)
    ModuleMeta meta;
    int active = 0;  // activations on the call stack (self-calls nest)
    // Looked up once at load (hot call path).
    engine::Instance::GlobalRef gas, depth, trap;
    std::vector<engine::Instance::GlobalRef> state_globals;  // parallel to meta.globals
    std::map<std::string, engine::FunctionRef, std::less<>> functions;
    // The last function called (a module is usually called for the same
    // one again): a string compare instead of the map's search. Points into
    // `functions` (its nodes never move; entries are never erased).
    const std::pair<const std::string, engine::FunctionRef>* last_function = nullptr;
    // Code tiers: false while fast code runs and an optimised build is on its
    // way (SwapSettledCode replaces the instance between top-level calls).
    engine::Tier tier = engine::Tier::kOptimised;
    bool final = true;
    Hash32 optimised_key;
  };
  struct Frame {
    ModuleId module;
    Loaded* loaded;
    uint64_t gas_limit;
  };
  // Result of one call at any depth (the returned bytes go to the buffer
  // the caller of CallModule names).
  struct Outcome {
    Status status;
    uint64_t gas_spent = 0;
  };

  Result<Loaded*> Load(const ModuleId& id);
  // Unloads the modules whose memory left the session behind the VM's back
  // (VmSession::state(): removed or renamed) since the last look; a counter
  // compare when none did. Only between top-level calls.
  void ForgetRemovedModules();
  // Every removal from loaded_ goes through these (they forget last_loaded_).
  void Unload(const ModuleId& id) {
    last_loaded_ = nullptr;
    loaded_.erase(id);
  }
  std::map<ModuleId, Loaded>::iterator Unload(std::map<ModuleId, Loaded>::iterator it) {
    last_loaded_ = nullptr;
    return loaded_.erase(it);
  }
  // Fills every field of *receipt (reusing its storage).
  void TopLevel(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit, bool allow_init,
                const std::function<void(ByteView)>* feeder, CallReceipt* receipt);
  CallReceipt TopLevel(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                       bool allow_init, const std::function<void(ByteView)>* feeder) {
    CallReceipt receipt;
    TopLevel(id, function, arg, gas_limit, allow_init, feeder, &receipt);
    return receipt;
  }
  // One call inside a checkpoint (vm_call.cc): rolled back when it fails.
  // The returned bytes replace *data (emptied unless the call succeeded).
  Outcome CallModule(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                     uint32_t wasm_depth, bool allow_init, Bytes* data);
  Status Execute(Loaded* m, const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                 uint32_t wasm_depth, Outcome* out, Bytes* data);
  Status SaveMeta(const ModuleId& id, Loaded* m);
  // At a top-level call boundary: drops the instances of modules whose
  // optimised code has arrived, so that Load creates them again from it.
  // Nothing of a module outlives a top-level call in its instance (memory is
  // the session's, state globals are set from the metadata at each call), so
  // the swap changes no outcome.
  void SwapSettledCode();
  void MarkRunning();
  void UndoMeta(size_t mark);

  // engine::HostContext (vm_host.cc).
  Status Panic(engine::Instance& self, uint32_t msg_len) override;
  Result<int64_t> Limit(engine::Instance& self) override;
  Result<int64_t> Spent(engine::Instance& self) override;
  Status SelfId(engine::Instance& self) override;
  Result<int32_t> Hd(engine::Instance& self, uint64_t name_ptr, uint32_t name_len) override;
  Result<int32_t> C(engine::Instance& self, uint64_t mod_ptr, uint64_t fn_ptr, uint32_t fn_len, uint32_t arg_len,
                    int64_t gas) override;
  Result<int32_t> Hq(engine::Instance& self, uint64_t name_ptr, uint32_t name_len, uint32_t arg_len) override;
  Status Emit(engine::Instance& self, uint64_t topic_ptr, uint32_t topic_len, uint32_t arg_len) override;
  Status Feed(engine::Instance& self, uint32_t arg_len) override;
  Result<int32_t> Caller(engine::Instance& self) override;
  Result<int32_t> Callstack(engine::Instance& self) override;
  Result<int32_t> Owner(engine::Instance& self, uint64_t mod_ptr) override;
  size_t CallStackBytes() const override;
  Status Hdebug(engine::Instance& self, uint32_t msg_len) override;
  Status Charge(uint64_t amount, std::string_view what);
  // Memory of the innermost call's instance; null when out of bounds.
  const uint8_t* Mem(engine::Instance& self, uint64_t ptr, uint64_t len) const;
  const uint8_t* Arg(engine::Instance& self, uint64_t len) const;
  uint8_t* WritableArg(engine::Instance& self, uint64_t len) const;
  Result<uint64_t> GasLeft(engine::Instance& self) const;

  std::unique_ptr<Session> state_;
  engine::CodeCache* const cache_;
  const VmOptions* const options_;
  std::map<std::string, Bytes, std::less<>> meta_;
  std::map<ModuleId, Loaded> loaded_;
  // Load's last answer: a session calls the same module again and again, and
  // comparing one id for equality is cheaper than the map's ordered search.
  std::pair<const ModuleId, Loaded>* last_loaded_ = nullptr;
  uint64_t background_seen_ = 0;  // cache_->background_done() at the last SwapSettledCode
  uint64_t removals_seen_ = 0;    // store::SessionModuleRemovals at the last ForgetRemovedModules
  // os::RegionFaultEpoch when MemoryFaults last found every loaded region OK
  // (reset when a module is loaded).
  static constexpr uint64_t kNeverChecked = ~uint64_t{0};
  uint64_t fault_epoch_checked_ = kNeverChecked;

  // State of the top-level call in progress.
  std::vector<Frame> frames_;
  // Globals of each running call's module as they were before it started
  // (a stack: each CallModule appends and truncates back), for rollback.
  std::vector<uint64_t> saved_globals_;
  // A `c` callee's result, until C copies it into the caller's A (each
  // nested call's result is written after its own callees returned and read
  // before any other call runs: one buffer serves every depth).
  Bytes callee_result_;
  CallReceipt* receipt_ = nullptr;
  const std::function<void(ByteView)>* feeder_ = nullptr;
  std::vector<std::pair<ModuleId, ModuleMeta>> meta_journal_;  // previous metadata, for rollback
  // Set by the first host fault (IsHostFault) a call ended with: the session
  // may not match what other nodes compute, so every later Deploy, Call,
  // Migrate and Commit fails with Aborted naming it.
  Status poisoned_;
  Status Poison(const Status& s);
  // The first FaultStatus of the loaded modules' memories (lazily filled
  // pages that could not be read or failed their check), OK if none.
  Status MemoryFaults();

  // A migration in progress (MigrateWith): its checkpoint is open, the
  // metadata journal spans its top-level calls, and the modules deployed
  // during it are removed if it fails.
  bool migrating_ = false;
  std::vector<ModuleId> migration_deploys_;
};

// A failure of the node rather than an outcome of the request: the OS or the
// disk failed (IOError), committed bytes are damaged (Corruption), or the host
// broke an invariant (Internal: e.g. its native stack ran out). Contracts never
// observe one (a `c` callee's host fault ends the whole call tree).
inline bool IsHostFault(const Status& s) {
  return s.code() == Status::Code::kIOError || s.code() == Status::Code::kCorruption ||
         s.code() == Status::Code::kInternal;
}

}  // namespace crust::vm
