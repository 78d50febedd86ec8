// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/vm/vm_session.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "src/engine/runtime/host_gas.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/prepared_cache.h"
#include "src/store/session_region.h"
#include "src/engine/runtime/runtime_call.h"
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
  last_loaded_ = nullptr;
  loaded_.clear();  // instances reference the session's memory regions
  state_.reset();
}

Status VmSessionImpl::MemoryFaults() {
  // The VM unloads the modules it removes (a failed deploy or migration), so
  // unless a module left the session otherwise (state(), perhaps during the
  // call), each cached region is the live one: no lookup per call.
  // No region of the process failed since every loaded one was found OK.
  const uint64_t epoch = os::RegionFaultEpoch();
  if (epoch == fault_epoch_checked_) return Status::OK();
  const bool removed = store::SessionModuleRemovals(*state_) != removals_seen_;
  for (const auto& [id, m] : loaded_) {
    os::MemoryRegion* region = m.region;
    if (removed) {
      auto r = store::SessionMemoryRegion(*state_, id);
      if (!r.ok()) continue;  // removed meanwhile
      region = *r;
    }
    if (Status s = region->FaultStatus(); !s.ok()) return s;
  }
  fault_epoch_checked_ = epoch;
  return Status::OK();
}

void VmSessionImpl::ForgetRemovedModules() {
  const uint64_t removals = store::SessionModuleRemovals(*state_);
  if (removals == removals_seen_) return;
  for (auto it = loaded_.begin(); it != loaded_.end();) {
    auto r = store::SessionMemoryRegion(*state_, it->first);
    if (!r.ok() || *r != it->second.region) {
      it = Unload(it);  // its instance mapped a memory the session no longer has
    } else {
      ++it;
    }
  }
  removals_seen_ = removals;
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
    Unload(id);
    state_->RemoveModule(id).IgnoreError();
    return Poison(s);
  }
  if (migrating_) migration_deploys_.push_back(id);
  return id;
}

Result<Bytes> VmSessionImpl::Owner(const ModuleId& module) {
  ASSIGN_OR_RETURN(Bytes raw, state_->Metadata(module));
  ASSIGN_OR_RETURN(ModuleMeta meta, DecodeModuleMeta(raw, module.ToHex()));
  return meta.owner;
}

Result<VmSessionImpl::Loaded*> VmSessionImpl::Load(const ModuleId& id) {
  if (last_loaded_ != nullptr && last_loaded_->first == id) return &last_loaded_->second;
  auto it = loaded_.find(id);
  if (it != loaded_.end()) {
    last_loaded_ = &*it;
    return &it->second;
  }
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
  m.region = region;
  io.memory = region;
  io.run_start = false;
  io.max_memory_pages = options_->max_memory_pages;
  ASSIGN_OR_RETURN(m.instance, engine::Instance::Create(m.code, io));
  ASSIGN_OR_RETURN(m.gas, m.instance->FindGlobal(engine::kGasGlobal));
  ASSIGN_OR_RETURN(m.depth, m.instance->FindGlobal(engine::kDepthGlobal));
  ASSIGN_OR_RETURN(m.trap, m.instance->FindGlobal(engine::kTrapGlobal));
  if (m.instance->memory_data() != nullptr) {
    RETURN_IF_ERROR(m.instance->SetPageCharge(engine::kPageWriteGas, m.meta.arg_buffer, engine::kArgBufferSize));
  }
  for (const PersistedGlobal& g : m.meta.globals) {
    ASSIGN_OR_RETURN(engine::Instance::GlobalRef ref,
                     m.instance->FindGlobal(std::string(engine::kStateGlobalPrefix) + std::to_string(g.index)));
    m.state_globals.push_back(ref);
  }
  fault_epoch_checked_ = kNeverChecked;  // its region may have failed before (a host read): ask it
  return &loaded_.emplace(id, std::move(m)).first->second;
}

CallReceipt VmSessionImpl::Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) {
  return TopLevel(module, function, arg, gas_limit, /*allow_init=*/false, nullptr);
}

void VmSessionImpl::CallInto(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit,
                             CallReceipt* receipt) {
  // The natural chaining, `CallInto(m, f, r.data, g, &r)`: the argument is
  // the receipt's own result, which the call replaces; take a copy first.
  const uint8_t* d = receipt->data.data();
  if (!arg.empty() && arg.data() >= d && arg.data() < d + receipt->data.size()) {
    const Bytes copy(arg.begin(), arg.end());
    TopLevel(module, function, copy, gas_limit, /*allow_init=*/false, nullptr, receipt);
    return;
  }
  TopLevel(module, function, arg, gas_limit, /*allow_init=*/false, nullptr, receipt);
}

CallReceipt VmSessionImpl::FeederCall(const ModuleId& module, std::string_view function, ByteView arg,
                                      uint64_t gas_limit, const std::function<void(ByteView)>& feeder) {
  return TopLevel(module, function, arg, gas_limit, /*allow_init=*/false, &feeder);
}

void VmSessionImpl::TopLevel(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                             bool allow_init, const std::function<void(ByteView)>* feeder, CallReceipt* receipt) {
  if (frames_.empty()) {
    ForgetRemovedModules();
    if (cache_->background_done() != background_seen_) SwapSettledCode();
  }
  // Every field replaced, the storage kept (CallInto).
  receipt->data.clear();
  receipt->gas_limit = gas_limit;
  receipt->gas_spent = 0;
  receipt->events.clear();
  receipt->call_tree.clear();
  receipt->debug.clear();
  if (!poisoned_.ok()) {
    receipt->status = Status::Aborted("session unusable after a host fault: " + poisoned_.ToString());
    return;
  }
  receipt_ = receipt;
  feeder_ = feeder;
  // Inside a migration the journal spans every call, so that a failed
  // migration can restore the metadata its successful calls saved.
  if (!migrating_) meta_journal_.clear();
  Outcome out = CallModule(id, function, arg, gas_limit, options_->max_call_depth, allow_init, &receipt->data);
  receipt_ = nullptr;
  feeder_ = nullptr;
  if (!migrating_) meta_journal_.clear();
  // A page of a lazily filled memory that could not be read (SIGBUS on its
  // file) or failed its check against the page tree reads as zero: the call
  // then computed from bytes that are not the state. That is a host fault,
  // whatever the call returned.
  if (Status fault = MemoryFaults(); !fault.ok()) {
    out.status = fault;
    receipt->data.clear();
    for (Event& e : receipt->events) e.reverted = true;  // as for every failed call
  }
  if (!out.status.ok()) Poison(out.status).IgnoreError();
  receipt->status = std::move(out.status);
  receipt->gas_spent = out.gas_spent;
  // Nodes were appended as calls started; piecrust lists callees first.
  if (options_->call_tree_order == CallTreeOrder::kCalleeFirst) {
    std::reverse(receipt->call_tree.begin(), receipt->call_tree.end());
  }
}

void VmSessionImpl::SwapSettledCode() {
  background_seen_ = cache_->background_done();
  for (auto it = loaded_.begin(); it != loaded_.end();) {
    const Loaded& m = it->second;
    if (!m.final && m.active == 0 && cache_->Settled(m.optimised_key)) {
      it = Unload(it);
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

// A migration runs inside one store checkpoint (memories) plus the metadata
// journal and the list of modules deployed meanwhile (what checkpoints do not
// cover), so that a failure restores the session exactly; the rename happens
// after the checkpoint is released (RenameModule needs none open).
Result<ModuleId> VmSessionImpl::MigrateWith(const ModuleId& module, ByteView new_wasm, const DeployOptions& options,
                                            const MigrationFn& migrate) {
  if (!poisoned_.ok()) return Status::Aborted("session unusable after a host fault: " + poisoned_.ToString());
  if (migrating_) return Status::Busy("a migration is already running on this session");
  if (!frames_.empty()) return Status::Busy("cannot migrate while a call is running");
  ASSIGN_OR_RETURN(Bytes old_owner, Owner(module));
  DeployOptions d = options;
  if (!d.id) {
    Bytes seed(module.bytes.begin(), module.bytes.end());
    static const char kTag[] = "crust-migration";
    seed.insert(seed.end(), kTag, kTag + sizeof(kTag) - 1);
    d.id = Sha256Of(seed);
  }
  if (d.owner.empty()) d.owner = std::move(old_owner);
  const ModuleId new_id = *d.id;
  if (new_id == module) return Status::InvalidArgument("the migration's new id is the module's own id " + module.ToHex());

  RETURN_IF_ERROR(state_->Checkpoint());
  migrating_ = true;
  migration_deploys_.clear();
  meta_journal_.clear();
  Status s = Deploy(new_wasm, d).status();
  if (s.ok()) s = migrate(new_id, *this).WithContext("migration of module " + module.ToHex());
  if (s.ok() && !state_->HasModule(new_id)) s = Status::NotFound("the migration's new module " + new_id.ToHex() + " is gone");
  migrating_ = false;
  if (s.ok()) s = state_->Release();
  if (s.ok()) {
    Unload(new_id);
    Unload(module);
    s = state_->RenameModule(new_id, module);
    if (s.ok()) {
      meta_journal_.clear();
      migration_deploys_.clear();
      return module;
    }
    // The checkpoint is released: memories keep the migration's writes,
    // but the old module is intact (the rename failed) and the deployed ones
    // are removed below.
  } else {
    state_->Rollback().IgnoreError();
  }
  UndoMeta(0);
  for (auto it = migration_deploys_.rbegin(); it != migration_deploys_.rend(); ++it) {
    Unload(*it);
    state_->RemoveModule(*it).IgnoreError();
  }
  migration_deploys_.clear();
  for (auto& [mid, other] : loaded_) other.instance->SyncMemorySize();
  return s;
}

CallReceipt VmSessionImpl::Migrate(const ModuleId& module, ByteView new_wasm, std::string_view function, ByteView arg,
                                   uint64_t gas_limit, std::optional<Bytes> new_owner) {
  CallReceipt receipt;
  receipt.gas_limit = gas_limit;
  bool called = false;
  DeployOptions d;
  d.gas_limit = gas_limit;
  if (new_owner) {
    if (new_owner->empty()) {
      receipt.status = Status::InvalidArgument("a migration cannot give a module an empty owner");
      return receipt;
    }
    d.owner = *new_owner;
  }
  auto r = MigrateWith(module, new_wasm, d, [&](const ModuleId& new_id, VmSession& session) {
    receipt = session.Call(new_id, function, arg, gas_limit);
    called = true;
    return receipt.status;
  });
  if (!r.ok()) {
    // The call's own failure, or what failed around it (deploy, swap).
    if (!called || receipt.ok()) receipt.status = r.status();
    receipt.data.clear();
  }
  return receipt;
}

}  // namespace crust::vm
