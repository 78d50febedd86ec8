// Copyright (c) crust authors. Licensed under the MIT license.
//
// VmSessionImpl: deploys and calls modules over a store Session. Instances
// are created lazily, one per module per session, directly over the
// session's copy-on-write memory region (no copying in or out).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "crust/session.h"
#include "crust/vm.h"
#include "src/engine/code_cache.h"
#include "src/engine/instance.h"
#include "src/vm/module_meta.h"

namespace crust::vm {

class VmSessionImpl final : public VmSession {
 public:
  VmSessionImpl(std::unique_ptr<Session> state, engine::CodeCache* cache, const VmOptions* options)
      : state_(std::move(state)), cache_(cache), options_(options) {}
  ~VmSessionImpl() override;

  Result<ModuleId> Deploy(ByteView wasm, const DeployOptions& options) override;
  CallReceipt Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) override;
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
  };
  Result<Loaded*> Load(const ModuleId& id);
  // The call itself; `allow_init` only for deploy.
  CallReceipt Invoke(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                     bool allow_init);
  Status RunCall(Loaded* m, const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                 CallReceipt* receipt);

  std::unique_ptr<Session> state_;
  engine::CodeCache* const cache_;
  const VmOptions* const options_;
  std::map<std::string, Bytes, std::less<>> meta_;
  std::map<ModuleId, Loaded> loaded_;
};

}  // namespace crust::vm
