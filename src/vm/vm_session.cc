// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/vm/vm_session.h"

#include <cstring>

#include "src/engine/module_info.h"
#include "src/engine/prepare.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"
#include "src/vm/call_host.h"

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

}  // namespace

VmSessionImpl::~VmSessionImpl() {
  loaded_.clear();  // instances reference the session's memory regions
  state_.reset();
}

Result<ModuleId> VmSessionImpl::Deploy(ByteView wasm, const DeployOptions& options) {
  if (options.owner.size() > kMaxOwner) return Status::InvalidArgument("owner longer than 1 KiB");
  ASSIGN_OR_RETURN(engine::PreparedModule prepared, engine::PrepareModule(wasm));
  const ModuleId id = options.id ? *options.id : DeriveId(wasm, options.owner, options.nonce);
  if (state_->HasModule(id)) return Status::AlreadyExists("module " + id.ToHex() + " is already deployed");
  // Compile (or find) the code first: a module that cannot be compiled is not deployed.
  ASSIGN_OR_RETURN(std::shared_ptr<const engine::Code> code, cache_->Get(prepared.wasm));
  ModuleMeta meta;
  meta.owner = options.owner;
  meta.arg_buffer = prepared.arg_buffer;
  for (const engine::StateGlobal& g : prepared.state_globals) {
    meta.globals.push_back({g.index, static_cast<uint8_t>(g.type), g.initial});
  }
  const engine::MemoryImage& image = *prepared.memory;
  RETURN_IF_ERROR(state_->AddModule(id, prepared.wasm, {}, image.ByteSize(), EncodeModuleMeta(meta)));
  Status s;
  for (const auto& chunk : image.chunks) {
    s = state_->WriteMemory(id, chunk.offset, chunk.data);
    if (!s.ok()) break;
  }
  if (s.ok() && prepared.has_init) {
    CallReceipt r = Invoke(id, "init", options.init_arg, options.gas_limit, /*allow_init=*/true);
    s = r.status.WithContext("init of module " + id.ToHex());
  }
  if (!s.ok()) {
    loaded_.erase(id);
    state_->RemoveModule(id).IgnoreError();
    return s;
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
  ASSIGN_OR_RETURN(m.code, cache_->Get(wasm));
  ASSIGN_OR_RETURN(os::MemoryRegion * region, state_->MemoryRegion(id));
  engine::InstanceOptions io;
  io.memory = region;
  io.run_start = false;
  ASSIGN_OR_RETURN(m.instance, engine::Instance::Create(m.code, io));
  return &loaded_.emplace(id, std::move(m)).first->second;
}

CallReceipt VmSessionImpl::Call(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit) {
  return Invoke(module, function, arg, gas_limit, /*allow_init=*/false);
}

CallReceipt VmSessionImpl::Invoke(const ModuleId& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                                  bool allow_init) {
  CallReceipt receipt;
  receipt.gas_limit = gas_limit;
  if (function == "init" && !allow_init) {
    receipt.status = Status::InvalidArgument("module " + id.ToHex() + ": init runs once at deploy and cannot be called");
    return receipt;
  }
  if (arg.size() > engine::kArgBufferSize) {
    receipt.status = Status::InvalidArgument("argument of " + std::to_string(arg.size()) +
                                             " bytes exceeds the 64 KiB argument buffer");
    return receipt;
  }
  auto loaded = Load(id);
  if (!loaded.ok()) {
    receipt.status = loaded.status();
    return receipt;
  }
  // A call is atomic: on failure every memory write and growth it made is
  // rolled back (its globals were never saved), leaving the session exactly
  // as before the call.
  Status cp = state_->Checkpoint();
  if (!cp.ok()) {
    receipt.status = cp;
    return receipt;
  }
  receipt.status = RunCall(*loaded, id, function, arg, gas_limit, &receipt);
  Status end = receipt.status.ok() ? state_->Release() : state_->Rollback();
  if (!receipt.status.ok()) {
    receipt.data.clear();
    for (auto& [mid, m] : loaded_) m.instance->SyncMemorySize();
  }
  if (!end.ok() && receipt.status.ok()) receipt.status = end;
  return receipt;
}

Status VmSessionImpl::RunCall(Loaded* m, const ModuleId& id, std::string_view function, ByteView arg,
                              uint64_t gas_limit, CallReceipt* receipt) {
  engine::Instance& inst = *m->instance;
  auto fn = inst.FindI32Function(function);
  if (!fn.ok()) {
    return Status::NotFound("module " + id.ToHex() + " has no callable function \"" + std::string(function) + "\"");
  }
  const uint64_t a = m->meta.arg_buffer;
  if (inst.memory_data() == nullptr || a + engine::kArgBufferSize > inst.memory_size()) {
    return Status::Trap("out of bounds: the argument buffer of module " + id.ToHex() + " is outside its memory");
  }
  // Persisted state globals, then the instrumentation's counters.
  for (const PersistedGlobal& g : m->meta.globals) {
    RETURN_IF_ERROR(inst.SetGlobal(std::string(engine::kStateGlobalPrefix) + std::to_string(g.index), g.bits));
  }
  RETURN_IF_ERROR(inst.SetGlobal(engine::kGasGlobal, gas_limit));
  RETURN_IF_ERROR(inst.SetGlobal(engine::kDepthGlobal, options_->max_call_depth));
  RETURN_IF_ERROR(inst.SetGlobal(engine::kTrapGlobal, 0));
  if (!arg.empty()) std::memcpy(inst.memory_data() + a, arg.data(), arg.size());

  CallHost host(id, m->meta.arg_buffer, gas_limit, &meta_);
  Result<uint32_t> ret = inst.CallI32(*fn, static_cast<uint32_t>(arg.size()), &host);

  auto remaining = inst.GetGlobal(engine::kGasGlobal);
  receipt->gas_spent = remaining.ok() && *remaining <= gas_limit ? gas_limit - *remaining : gas_limit;
  if (!ret.ok()) {
    if (ret.status().code() == Status::Code::kOutOfGas) receipt->gas_spent = gas_limit;
    return ret.status();
  }
  if (*ret > engine::kArgBufferSize) {
    return Status::ResourceExhausted("module " + id.ToHex() + " returned " + std::to_string(*ret) +
                                     " bytes, more than the 64 KiB argument buffer");
  }
  // inst.memory_data() is stable, but the memory may have grown: re-check.
  if (a + *ret > inst.memory_size()) return Status::Trap("out of bounds: return value outside memory");
  receipt->data.assign(inst.memory_data() + a, inst.memory_data() + a + *ret);
  // Persist the module's mutable globals when they changed.
  bool changed = false;
  for (PersistedGlobal& g : m->meta.globals) {
    ASSIGN_OR_RETURN(uint64_t bits, inst.GetGlobal(std::string(engine::kStateGlobalPrefix) + std::to_string(g.index)));
    if (bits != g.bits) {
      g.bits = bits;
      changed = true;
    }
  }
  if (changed) RETURN_IF_ERROR(state_->SetMetadata(id, EncodeModuleMeta(m->meta)));
  return Status::OK();
}

}  // namespace crust::vm
