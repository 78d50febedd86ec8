// Copyright (c) crust authors. Licensed under the MIT license.
//
// Running one call, at any depth: checkpoint, instance setup (persisted
// globals, gas, depth), the argument in A, the call, the result from A, and
// on failure the rollback of everything the call and its callees did (their
// events stay in the receipt, flagged reverted).
#include <cstring>
#include <utility>

#include "src/engine/prepare/module_info.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/vm/vm_session.h"

namespace crust::vm {
namespace {

Status MemoryIOError(const ModuleId& id, const char* what) {
  return Status::IOError("module " + id.ToHex() + ": " + what +
                         ": a mapped file could not be read (SIGBUS): a host fault, not a contract outcome");
}

}  // namespace

VmSessionImpl::Outcome VmSessionImpl::CallModule(const ModuleId& id, std::string_view function, ByteView arg,
                                                 uint64_t gas_limit, uint32_t wasm_depth, bool allow_init,
                                                 Bytes* data) {
  Outcome out;
  data->clear();
  const size_t node = receipt_->call_tree.size();
  // (Braces, not emplace_back's parentheses: clang 14 has no parenthesized
  // aggregate initialization.)
  receipt_->call_tree.push_back({id, std::string(function), static_cast<uint32_t>(frames_.size()), gas_limit, 0, {}});
  // Ends every path. An OK status is the node's already.
  auto finish = [&](Status s) -> Outcome {
    CallNode& n = receipt_->call_tree[node];
    n.gas_spent = out.gas_spent;
    if (!s.ok()) {
      n.status = s;
      data->clear();
    }
    out.status = std::move(s);
    return out;
  };
  if (function == "init" && !allow_init) {
    // From the host an invalid request; through `c` a function that is not
    // callable (-3), as if it did not exist.
    std::string msg = "module " + id.ToHex() + ": init runs once at deploy and cannot be called";
    return finish(frames_.empty() ? Status::InvalidArgument(msg) : Status::NotFound(msg));
  }
  if (arg.size() > engine::kArgBufferSize) {
    return finish(Status::InvalidArgument("argument of " + std::to_string(arg.size()) +
                                          " bytes exceeds the 64 KiB argument buffer"));
  }
  auto loaded = Load(id);
  if (!loaded.ok()) return finish(loaded.status());
  Loaded* m = *loaded;

  if (Status cp = state_->Checkpoint(); !cp.ok()) return finish(std::move(cp));
  const size_t events_mark = receipt_->events.size();
  const size_t meta_mark = meta_journal_.size();
  // A self-call re-enters a running instance: the outer activation's gas,
  // depth and trap counters must resume as they were; on failure all its
  // globals come back. A first activation saves nothing: every global it
  // could change is state (set from the metadata before the module's next
  // first activation, Execute) or a counter (set before every call), and
  // nothing reads an instance's globals while it is not running.
  const size_t globals_mark = saved_globals_.size();
  const bool reentry = m->active > 0;
  if (reentry) m->instance->SaveGlobals(&saved_globals_);
  const engine::Instance::GlobalRef counter_refs[3] = {m->gas, m->depth, m->trap};
  uint64_t counters[3] = {0, 0, 0};
  if (reentry) {
    for (int i = 0; i < 3; i++) counters[i] = engine::Instance::Get(counter_refs[i]);
  }
  frames_.push_back({id, m, gas_limit});
  m->active++;
  MarkRunning();  // every running module may write its memory from now on
  Status s = Execute(m, id, function, arg, gas_limit, wasm_depth, &out, data);
  m->active--;
  frames_.pop_back();
  if (s.ok()) {
    s = state_->Release();
    MarkRunning();
  } else {
    Status rb = state_->Rollback();
    // Kept in the receipt, flagged (as piecrust does).
    for (size_t i = events_mark; i < receipt_->events.size(); i++) receipt_->events[i].reverted = true;
    UndoMeta(meta_mark);
    if (reentry) {
      m->instance->RestoreGlobals(std::span<const uint64_t>(saved_globals_).subspan(globals_mark)).IgnoreError();
    }
    for (auto& [mid, other] : loaded_) other.instance->SyncMemorySize();
    MarkRunning();
    // A rollback that failed leaves the session poisoned (Aborted). A host
    // fault that ended the call stays the status (its cause); otherwise the
    // rollback's failure replaces the contract's outcome, which no longer
    // describes the session.
    if (!rb.ok()) {
      s = IsHostFault(s) ? s.WithContext("rolling back failed too (" + rb.ToString() + ")")
                         : rb.WithContext("rolling back after: " + s.ToString());
    }
  }
  if (reentry && s.ok()) {
    for (int i = 0; i < 3; i++) engine::Instance::Set(counter_refs[i], counters[i]);
  }
  saved_globals_.resize(globals_mark);
  return finish(std::move(s));
}

// A checkpoint operation scans only memories marked as possibly written and
// clears the marks; the modules still running (the whole call stack) keep
// writing, so they are marked again after each one.
void VmSessionImpl::MarkRunning() {
  for (const Frame& f : frames_) state_->MarkWritten(f.module);
}

Status VmSessionImpl::Execute(Loaded* m, const ModuleId& id, std::string_view function, ByteView arg,
                              uint64_t gas_limit, uint32_t wasm_depth, Outcome* out, Bytes* data) {
  engine::Instance& inst = *m->instance;
  const std::pair<const std::string, engine::FunctionRef>* cached = m->last_function;
  if (cached == nullptr || cached->first != function) {
    auto found = m->functions.find(function);
    if (found == m->functions.end()) {
      auto fn = inst.FindI32Function(function);
      if (!fn.ok()) {
        return Status::NotFound("module " + id.ToHex() + " has no callable function \"" + std::string(function) + "\"");
      }
      found = m->functions.emplace(std::string(function), *fn).first;
    }
    cached = m->last_function = &*found;
  }
  const uint64_t a = m->meta.arg_buffer;
  uint8_t* const mem = inst.memory_data();
  if (mem == nullptr || a + engine::kArgBufferSize > inst.memory_size()) {
    return Status::Trap("out of bounds: the argument buffer of module " + id.ToHex() + " is outside its memory");
  }
  // Persisted state globals (unless the instance is already running: then
  // its live values are the state), then the instrumentation's counters.
  if (m->active == 1) {
    for (size_t i = 0; i < m->state_globals.size(); i++) engine::Instance::Set(m->state_globals[i], m->meta.globals[i].bits);
  }
  engine::Instance::Set(m->gas, gas_limit);
  engine::Instance::Set(m->depth, wasm_depth);
  engine::Instance::Set(m->trap, 0);
  // Copies in and out of contract memory run as host accesses: a page of a
  // mapped file that cannot be read (SIGBUS) is an IOError, not a crash.
  if (!arg.empty() &&
      engine::rt::HostAccess([&] { std::memcpy(inst.WritableMemory(a, arg.size()), arg.data(), arg.size()); }) != 0) {
    return MemoryIOError(id, "writing the argument");
  }

  Result<uint32_t> ret = inst.CallI32(cached->second, static_cast<uint32_t>(arg.size()), this);

  const uint64_t remaining = engine::Instance::Get(m->gas);
  out->gas_spent = remaining <= gas_limit ? gas_limit - remaining : gas_limit;
  if (!ret.ok()) {
    if (ret.status().code() == Status::Code::kOutOfGas) out->gas_spent = gas_limit;
    if (inst.last_trap() == engine::TrapKind::kStackExhausted) {
      // The dedicated stack is sized so that the depth limit fires first:
      // running out of it is the host's failure, not the contract's.
      return Status::Internal("module " + id.ToHex() + ": the native stack ran out before the call-depth limit (" +
                              ret.status().ToString() + ")");
    }
    return ret.status();
  }
  if (*ret > engine::kArgBufferSize) {
    return Status::ResourceExhausted("module " + id.ToHex() + " returned " + std::to_string(*ret) +
                                     " bytes, more than the 64 KiB argument buffer");
  }
  // The memory's base never moves (a fixed reservation); its size may have grown.
  if (a + *ret > inst.memory_size()) return Status::Trap("out of bounds: return value outside memory");
  if (engine::rt::HostAccess([&] { data->assign(mem + a, mem + a + *ret); }) != 0) {
    return MemoryIOError(id, "reading the result");
  }
  return SaveMeta(id, m);
}

// Saves the module's mutable globals when they changed, journaling the
// previous metadata so that a failing caller can roll it back.
Status VmSessionImpl::SaveMeta(const ModuleId& id, Loaded* m) {
  bool changed = false;
  for (size_t i = 0; i < m->state_globals.size(); i++) {
    if (engine::Instance::Get(m->state_globals[i]) != m->meta.globals[i].bits) changed = true;
  }
  if (!changed) return Status::OK();
  ModuleMeta next = m->meta;
  for (size_t i = 0; i < m->state_globals.size(); i++) next.globals[i].bits = engine::Instance::Get(m->state_globals[i]);
  RETURN_IF_ERROR(state_->SetMetadata(id, EncodeModuleMeta(next)));
  meta_journal_.push_back({id, std::move(m->meta)});
  m->meta = std::move(next);
  return Status::OK();
}

void VmSessionImpl::UndoMeta(size_t mark) {
  while (meta_journal_.size() > mark) {
    auto& [id, old] = meta_journal_.back();
    auto it = loaded_.find(id);
    if (it != loaded_.end()) it->second.meta = old;
    state_->SetMetadata(id, EncodeModuleMeta(old)).IgnoreError();
    meta_journal_.pop_back();
  }
}

}  // namespace crust::vm
