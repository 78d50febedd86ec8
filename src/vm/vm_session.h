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
// events it and its callees emitted, and the module metadata (persisted
// globals) they saved (vm_call.cc).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/vm.h"
#include "src/engine/code_cache.h"
#include "src/engine/instance.h"
#include "src/engine/runtime.h"
#include "src/vm/module_meta.h"

namespace crust::vm {

class VmSessionImpl final : public VmSession, private engine::HostContext {
 public:
  VmSessionImpl(std::unique_ptr<Session> state, engine::CodeCache* cache, const VmOptions* options)
      : state_(std::move(state)), cache_(cache), options_(options) {}
  ~VmSessionImpl() override;

  Result<ModuleId> Deploy(ByteView wasm, const DeployOptions& options) override;
  CallReceipt Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) override;
  CallReceipt FeederCall(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit,
                         const std::function<void(ByteView)>& feeder) override;
  CallReceipt Migrate(const ModuleId& module, ByteView new_wasm, std::string_view function, ByteView arg,
                      uint64_t gas_limit, std::optional<Bytes> new_owner) override;
  void SetMeta(std::string name, Bytes value) override { meta_[std::move(name)] = std::move(value); }
  Result<Bytes> Owner(const ModuleId& module) override;
  Result<Root> CurrentRoot() override { return state_->CurrentRoot(); }
  Result<Root> Commit() override { return state_->Commit(); }
  Session& state() override { return *state_; }

 private:
  struct Loaded {
    std::shared_ptr<const engine::Code> code;
    std::unique_ptr<engine::Instance> instance;
    ModuleMeta meta;
    int active = 0;  // activations on the call stack (self-calls nest)
    // Looked up once at load (hot call path).
    engine::Instance::GlobalRef gas, depth, trap;
    std::vector<engine::Instance::GlobalRef> state_globals;  // parallel to meta.globals
    std::map<std::string, engine::FunctionRef, std::less<>> functions;
  };
  struct Frame {
    ModuleId module;
    Loaded* loaded;
    uint64_t gas_limit;
  };
  // Result of one call at any depth.
  struct Outcome {
    Status status;
    Bytes data;
    uint64_t gas_spent = 0;
  };

  Result<Loaded*> Load(const ModuleId& id);
  CallReceipt TopLevel(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                       bool allow_init, const std::function<void(ByteView)>* feeder);
  // One call inside a checkpoint (vm_call.cc): rolled back when it fails.
  Outcome CallModule(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                     uint32_t wasm_depth, bool allow_init);
  Status Execute(Loaded* m, const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                 uint32_t wasm_depth, Outcome* out);
  Status SaveMeta(const ModuleId& id, Loaded* m);
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

  // State of the top-level call in progress.
  std::vector<Frame> frames_;
  // Globals of each running call's module as they were before it started
  // (a stack: each CallModule appends and truncates back), for rollback.
  std::vector<uint64_t> saved_globals_;
  CallReceipt* receipt_ = nullptr;
  const std::function<void(ByteView)>* feeder_ = nullptr;
  std::vector<std::pair<ModuleId, ModuleMeta>> meta_journal_;  // previous metadata, for rollback
};

}  // namespace crust::vm
