// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/vm/vm_session.h"

#include <cstring>
#include <memory>

#include "src/engine/module_info.h"
#include "src/engine/prepared_cache.h"
#include "src/store/session_region.h"
#include "src/engine/runtime_call.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"

namespace crust::vm {
namespace {

ModuleId DeriveId(ByteView wasm, const Bytes& owner, uint64_t nonce) {
  static const char kTag[] = "crust-module-id-v1";
  Hash32 code = Sha256Of(wasm);
  Bytes buf(kTag, kTag + sizeof(kTag) - 1);
  PutHash(&buf, code);
  PutFixed32(&buf, static_cast<uint32_t>(owner.size()));
  PutBytes(&buf, owner);
  PutFixed64(&buf, nonce);
  return Sha256Of(buf);
}

ModuleMeta MetaFor(const engine::PreparedModule& prepared, Bytes owner) {
  ModuleMeta meta;
  meta.owner = std::move(owner);
  meta.arg_buffer = prepared.arg_buffer;
  for (const engine::StateGlobal& g : prepared.state_globals) {
    meta.globals.push_back({g.index, static_cast<uint8_t>(g.type), g.initial});
  }
  return meta;
}

}  // namespace

VmSessionImpl::~VmSessionImpl() {
  loaded_.clear();  // instances reference the session's memory regions
  state_.reset();
}

Status VmSessionImpl::Poison(const Status& s) {
  if (poisoned_.ok() && IsHostFault(s)) poisoned_ = s;
  return s;
}

Result<Root> VmSessionImpl::Commit() {
  if (!poisoned_.ok()) return Status::Aborted("session unusable after a host fault: " + poisoned_.ToString());
  return state_->Commit();
}

size_t VmSessionImpl::CallStackBytes() const {
  return engine::rt::NativeStackBytes(options_->max_call_depth, options_->max_module_depth);
}

Result<ModuleId> VmSessionImpl::Deploy(ByteView wasm, const DeployOptions& options) {
  if (!poisoned_.ok()) return Status::Aborted("session unusable after a host fault: " + poisoned_.ToString());
  if (options.owner.size() > kMaxOwner) return Status::InvalidArgument("owner longer than 1 KiB");
  // Prepared before (same bytes and preparation fingerprint)? Then this is a
  // hash and at most a small file read; rejections are never cached.
  ASSIGN_OR_RETURN(std::shared_ptr<const engine::PreparedModule> prepared_module, cache_->prepared().Get(wasm));
  const engine::PreparedModule& prepared = *prepared_module;
  const ModuleId id = options.id ? *options.id : DeriveId(wasm, options.owner, options.nonce);
  if (state_->HasModule(id)) return Status::AlreadyExists("module " + id.ToHex() + " is already deployed");
  // Compile (or find) the code first: a module that cannot be compiled is not deployed.
  RETURN_IF_ERROR(cache_->GetTiered(prepared.wasm).status());
  const engine::MemoryImage& image = *prepared.memory;
  if (image.initial_pages > options_->max_memory_pages) {
    return Status::ResourceExhausted("module " + id.ToHex() + ": initial memory of " +
                                     std::to_string(image.initial_pages) + " pages exceeds the limit of " +
                                     std::to_string(options_->max_memory_pages) + " pages");
  }
  RETURN_IF_ERROR(
      state_->AddModule(id, prepared.wasm, {}, image.ByteSize(), EncodeModuleMeta(MetaFor(prepared, options.owner))));
  Status s;
  for (const auto& chunk : image.chunks) {
    s = state_->WriteMemory(id, chunk.offset, chunk.data);
    if (!s.ok()) break;
  }
  if (s.ok() && prepared.has_init) {
    CallReceipt r = TopLevel(id, "init", options.init_arg, options.gas_limit, /*allow_init=*/true, nullptr);
    s = r.status.WithContext("init of module " + id.ToHex());
  }
  if (!s.ok()) {
    loaded_.erase(id);
    state_->RemoveModule(id).IgnoreError();
    return Poison(s);
  }
  return id;
}

Result<Bytes> VmSessionImpl::Owner(const ModuleId& module) {
  ASSIGN_OR_RETURN(Bytes raw, state_->Metadata(module));
  ASSIGN_OR_RETURN(ModuleMeta meta, DecodeModuleMeta(raw, module.ToHex()));
  return meta.owner;
}

Result<VmSessionImpl::Loaded*> VmSessionImpl::Load(const ModuleId& id) {
  auto it = loaded_.find(id);
  if (it != loaded_.end()) return &it->second;
  if (!state_->HasModule(id)) return Status::NotFound("no module " + id.ToHex());
  Loaded m;
  ASSIGN_OR_RETURN(Bytes raw_meta, state_->Metadata(id));
  ASSIGN_OR_RETURN(m.meta, DecodeModuleMeta(raw_meta, id.ToHex()));
  ASSIGN_OR_RETURN(Bytes wasm, state_->Bytecode(id));
  ASSIGN_OR_RETURN(engine::TieredCode tiered, cache_->GetTiered(wasm));
  m.code = std::move(tiered.code);
  m.tier = tiered.tier;
  m.final = tiered.final;
  m.optimised_key = tiered.optimised_key;
  ASSIGN_OR_RETURN(os::MemoryRegion * region, store::SessionMemoryRegion(*state_, id));
  engine::InstanceOptions io;
  io.memory = region;
  io.run_start = false;
  io.max_memory_pages = options_->max_memory_pages;
  ASSIGN_OR_RETURN(m.instance, engine::Instance::Create(m.code, io));
  ASSIGN_OR_RETURN(m.gas, m.instance->FindGlobal(engine::kGasGlobal));
  ASSIGN_OR_RETURN(m.depth, m.instance->FindGlobal(engine::kDepthGlobal));
  ASSIGN_OR_RETURN(m.trap, m.instance->FindGlobal(engine::kTrapGlobal));
  for (const PersistedGlobal& g : m.meta.globals) {
    ASSIGN_OR_RETURN(engine::Instance::GlobalRef ref,
                     m.instance->FindGlobal(std::string(engine::kStateGlobalPrefix) + std::to_string(g.index)));
    m.state_globals.push_back(ref);
  }
  return &loaded_.emplace(id, std::move(m)).first->second;
}

CallReceipt VmSessionImpl::Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) {
  return TopLevel(module, function, arg, gas_limit, /*allow_init=*/false, nullptr);
}

CallReceipt VmSessionImpl::FeederCall(const ModuleId& module, std::string_view function, ByteView arg,
                                      uint64_t gas_limit, const std::function<void(ByteView)>& feeder) {
  return TopLevel(module, function, arg, gas_limit, /*allow_init=*/false, &feeder);
}

CallReceipt VmSessionImpl::TopLevel(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                                    bool allow_init, const std::function<void(ByteView)>* feeder) {
  if (frames_.empty() && cache_->background_done() != background_seen_) SwapSettledCode();
  CallReceipt receipt;
  receipt.gas_limit = gas_limit;
  if (!poisoned_.ok()) {
    receipt.status = Status::Aborted("session unusable after a host fault: " + poisoned_.ToString());
    return receipt;
  }
  receipt_ = &receipt;
  feeder_ = feeder;
  meta_journal_.clear();
  Outcome out = CallModule(id, function, arg, gas_limit, options_->max_call_depth, allow_init);
  receipt_ = nullptr;
  feeder_ = nullptr;
  meta_journal_.clear();
  receipt.status = Poison(out.status);
  receipt.data = std::move(out.data);
  receipt.gas_spent = out.gas_spent;
  return receipt;
}

void VmSessionImpl::SwapSettledCode() {
  background_seen_ = cache_->background_done();
  for (auto it = loaded_.begin(); it != loaded_.end();) {
    const Loaded& m = it->second;
    if (!m.final && m.active == 0 && cache_->Settled(m.optimised_key)) {
      it = loaded_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t VmSessionImpl::FastTierModules() const {
  size_t n = 0;
  for (const auto& [id, m] : loaded_) n += m.tier == engine::Tier::kFast ? 1 : 0;
  return n;
}

// A migration deploys the new code under a temporary id with a fresh memory,
// runs `function` on it (it may call the old module, still under its id, to
// read the state it wants to keep), then gives the new module the old id.
CallReceipt VmSessionImpl::Migrate(const ModuleId& module, ByteView new_wasm, std::string_view function, ByteView arg,
                                   uint64_t gas_limit, std::optional<Bytes> new_owner) {
  CallReceipt fail;
  fail.gas_limit = gas_limit;
  auto old_owner = Owner(module);
  if (!old_owner.ok()) {
    fail.status = old_owner.status();
    return fail;
  }
  Bytes tmp_seed(module.bytes.begin(), module.bytes.end());
  const char kTag[] = "crust-migration";
  tmp_seed.insert(tmp_seed.end(), kTag, kTag + sizeof(kTag) - 1);
  DeployOptions d;
  d.id = Sha256Of(tmp_seed);
  d.owner = new_owner ? *new_owner : *old_owner;
  d.gas_limit = gas_limit;
  auto tmp = Deploy(new_wasm, d);
  if (!tmp.ok()) {
    fail.status = tmp.status();
    return fail;
  }
  CallReceipt r = TopLevel(*tmp, function, arg, gas_limit, /*allow_init=*/false, nullptr);
  Status s = r.status;
  if (s.ok()) {
    loaded_.erase(*tmp);
    loaded_.erase(module);
    s = state_->RenameModule(*tmp, module);
  }
  if (!s.ok()) {
    loaded_.erase(*tmp);
    state_->RemoveModule(*tmp).IgnoreError();
    r.status = s;
    r.data.clear();
  }
  return r;
}

}  // namespace crust::vm
