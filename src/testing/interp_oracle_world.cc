// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/interp_oracle_world.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "src/engine/prepare/host_abi.h"
#include "src/engine/runtime/host_gas.h"
#include "src/testing/interp_oracle.h"
#include "src/util/coding.h"

namespace crust::engine {
namespace {

// The codes `c` returns for a failed callee (vm_host.cc, piecrust-uplink).
constexpr int32_t kCallPanicked = -1;
constexpr int32_t kCallOutOfGas = -2;
constexpr int32_t kCallNoSuchContract = -3;
constexpr int32_t kCallOther = INT32_MIN;

Status OutOfBounds() { return Status::Trap("out of bounds memory access"); }

bool InBounds(std::span<uint8_t> mem, uint64_t ptr, uint64_t len) {
  return ptr <= mem.size() && len <= mem.size() - ptr;
}

// An i32 result as the backend expects it (raw bits, zero-extended).
uint64_t I32(int32_t v) { return static_cast<uint32_t>(v); }

}  // namespace

struct OracleWorld::Module {
  Hash32 id;
  Bytes owner;
  PreparedModule pm;
  std::unique_ptr<Host> host;  // outlives `oracle`
  std::unique_ptr<InterpOracle> oracle;
  std::vector<uint64_t> globals;  // persisted values of pm.state_globals
  int active = 0;                 // running activations
};

struct OracleWorld::Snapshot {
  std::map<Hash32, Bytes> memories;
  std::map<Hash32, std::vector<uint64_t>> globals;
};

// The env imports of one module: `c`, `caller`, `callstack`, `owner`,
// `feed` and the limits on events here; the rest is BasicOracleHost's.
class OracleWorld::Host : public BasicOracleHost {
 public:
  Host(OracleWorld* world, Module* self) : world_(world), self_(self) {}

  Status Call(const HostFunctionSpec& spec, std::span<const uint64_t> args, std::span<uint64_t> results,
              OracleContext& ctx) override {
    switch (spec.id) {
      case HostFn::kC: return C(args, results, ctx);
      case HostFn::kCaller: {
        if (world_->frames_.size() < 2) {
          results[0] = 0;
          return Status::OK();
        }
        RETURN_IF_ERROR(WriteA(ctx, world_->frames_[world_->frames_.size() - 2]->id.bytes.data(), 32));
        results[0] = 1;
        return Status::OK();
      }
      case HostFn::kCallstack: {
        const size_t n = world_->frames_.size() - 1;
        if (n * 32 > kArgBufferSize || !InBounds(ctx.memory(), ctx.arg_buffer(), n * 32)) return OutOfBounds();
        for (size_t i = 0; i < n; ++i) {
          RETURN_IF_ERROR(WriteA(ctx, world_->frames_[n - 1 - i]->id.bytes.data(), 32, 32 * i));
        }
        results[0] = n;
        return Status::OK();
      }
      case HostFn::kOwner: return Owner(args, results, ctx);
      case HostFn::kFeed:
        if (args[0] > kArgBufferSize || !InBounds(ctx.memory(), ctx.arg_buffer(), args[0])) return OutOfBounds();
        return Status::InvalidArgument("feed outside a feeder call");
      case HostFn::kEmit:
      case HostFn::kHdebug: {
        RETURN_IF_ERROR(BasicOracleHost::Call(spec, args, results, ctx));
        OracleReceipt& r = *world_->receipt_;
        for (auto& [topic, data] : events) r.events.push_back({self_->id, std::move(topic), std::move(data), false});
        events.clear();
        for (std::string& line : debug) r.debug.push_back(std::move(line));
        debug.clear();
        if (r.events.size() > world_->options_.max_events) {
          r.events.pop_back();  // the VM checks the count after charging, before keeping the event
          return Status::ResourceExhausted("more than " + std::to_string(world_->options_.max_events) +
                                           " events in one call");
        }
        return Status::OK();
      }
      default: return BasicOracleHost::Call(spec, args, results, ctx);
    }
  }

 private:
  Status WriteA(OracleContext& ctx, const uint8_t* data, size_t len, size_t at = 0) {
    std::span<uint8_t> mem = ctx.memory();
    const uint64_t a = uint64_t{ctx.arg_buffer()} + at;
    if (at + len > kArgBufferSize || !InBounds(mem, a, len)) return OutOfBounds();
    if (len != 0) std::memcpy(mem.data() + a, data, len);
    return Status::OK();
  }

  Status Owner(std::span<const uint64_t> args, std::span<uint64_t> results, OracleContext& ctx) {
    std::span<uint8_t> mem = ctx.memory();
    const HostRead r = CheckHostRead(mem.size(), ctx.host_window(), args[0], 32);
    if (!r.in_window) return OutOfBounds();
    Hash32 id = self_->id;
    std::string scratch;
    if (args[0] != 0) std::memcpy(id.bytes.data(), HostReadBytes(mem.data(), args[0], 32, r, &scratch).data(), 32);
    auto it = world_->modules_.find(id);
    if (it == world_->modules_.end()) {
      results[0] = 0;
      return Status::OK();
    }
    RETURN_IF_ERROR(WriteA(ctx, it->second->owner.data(), it->second->owner.size()));
    results[0] = it->second->owner.size();
    return Status::OK();
  }

  // vm_host.cc VmSessionImpl::C, step by step.
  Status C(std::span<const uint64_t> args, std::span<uint64_t> results, OracleContext& ctx) {
    const uint64_t mod_ptr = args[0], fn_ptr = args[1], fn_len = args[2], arg_len = args[3];
    const uint64_t requested = args[4];
    std::span<uint8_t> mem = ctx.memory();
    const uint32_t a = ctx.arg_buffer();
    const HostRead mod_r = CheckHostRead(mem.size(), ctx.host_window(), mod_ptr, 32);
    const HostRead fn_r = CheckHostRead(mem.size(), ctx.host_window(), fn_ptr, fn_len);
    if (!mod_r.in_window || !fn_r.in_window || arg_len > kArgBufferSize || !InBounds(mem, a, arg_len)) {
      return OutOfBounds();
    }
    std::string mod_scratch, fn_scratch;
    Hash32 callee;
    std::memcpy(callee.bytes.data(), HostReadBytes(mem.data(), mod_ptr, 32, mod_r, &mod_scratch).data(), 32);
    ASSIGN_OR_RETURN(std::string_view fn, OracleReadText(mem, fn_ptr, fn_len, fn_r, &fn_scratch));
    const std::string function(fn);
    // The call charge, first.
    if (ctx.gas_remaining() < kCallGas) {
      ctx.set_gas_remaining(0);
      return Status::OutOfGas("out of gas: an inter-contract call");
    }
    ctx.set_gas_remaining(ctx.gas_remaining() - kCallGas);
    if (world_->frames_.size() >= world_->options_.max_module_depth) {
      results[0] = I32(kCallOther);
      return Status::OK();
    }
    if (world_->modules_.count(callee) == 0) {
      results[0] = I32(kCallNoSuchContract);
      return Status::OK();
    }
    const uint64_t left = ctx.gas_remaining();
    const uint64_t limit = CalleeLimit(requested, left);
    const uint32_t depth_left = ctx.depth_remaining();
    const Bytes arg(mem.begin() + a, mem.begin() + a + static_cast<ptrdiff_t>(arg_len));  // a self-call overwrites A
    Outcome out = world_->CallModule(callee, function, arg, limit, depth_left, /*allow_init=*/false);
    if (!world_->fault_.ok()) return world_->fault_;
    ctx.set_gas_remaining(left - (out.status.ok() ? std::min(left, out.gas_spent) : limit));
    mem = ctx.memory();  // the callee may have grown this memory
    if (!InBounds(mem, a, kArgBufferSize)) return OutOfBounds();
    if (out.status.ok()) {
      RETURN_IF_ERROR(WriteA(ctx, out.data.data(), out.data.size()));
      results[0] = out.data.size();
      return Status::OK();
    }
    switch (out.status.code()) {
      case Status::Code::kPanic: {
        std::string_view msg = out.status.message();
        if (msg.size() > kArgBufferSize - 4) msg = msg.substr(0, kArgBufferSize - 4);
        Bytes buf(4);
        EncodeFixed32(buf.data(), static_cast<uint32_t>(msg.size()));
        buf.insert(buf.end(), msg.begin(), msg.end());
        RETURN_IF_ERROR(WriteA(ctx, buf.data(), buf.size()));
        results[0] = I32(kCallPanicked);
        return Status::OK();
      }
      case Status::Code::kOutOfGas: results[0] = I32(kCallOutOfGas); return Status::OK();
      default: results[0] = I32(kCallOther); return Status::OK();
    }
  }

  OracleWorld* const world_;
  Module* const self_;
};

OracleWorld::OracleWorld(OracleWorldOptions options) : options_(options) {}
OracleWorld::~OracleWorld() = default;

OracleReceipt OracleWorld::Deploy(const Hash32& id, PreparedModule module, const Bytes& owner, ByteView init_arg,
                                  uint64_t init_gas) {
  OracleReceipt r;
  if (modules_.count(id) != 0) {
    r.status = Status::AlreadyExists("module " + id.ToHex() + " is already deployed");
    return r;
  }
  auto m = std::make_unique<Module>();
  m->id = id;
  m->owner = owner;
  m->pm = std::move(module);
  m->host = std::make_unique<Host>(this, m.get());
  m->host->self_id = id;
  m->host->owner = owner;
  m->host->metadata = meta_;
  auto oracle = InterpOracle::Create(m->pm, m->host.get());
  if (!oracle.ok()) {
    r.status = oracle.status();
    return r;
  }
  m->oracle = std::move(oracle).value();
  for (const StateGlobal& g : m->pm.state_globals) m->globals.push_back(g.initial);
  const bool has_init = m->pm.has_init;
  modules_[id] = std::move(m);
  if (!has_init) return r;
  r = TopLevel(id, "init", init_arg, init_gas, /*allow_init=*/true);
  if (!r.status.ok()) modules_.erase(id);
  return r;
}

OracleReceipt OracleWorld::Call(const Hash32& id, std::string_view function, ByteView arg, uint64_t gas_limit) {
  return TopLevel(id, function, arg, gas_limit, /*allow_init=*/false);
}

OracleReceipt OracleWorld::TopLevel(const Hash32& id, std::string_view function, ByteView arg, uint64_t gas_limit,
                                    bool allow_init) {
  OracleReceipt r;
  receipt_ = &r;
  fault_ = Status::OK();
  Outcome out = CallModule(id, function, arg, gas_limit, options_.max_call_depth, allow_init);
  receipt_ = nullptr;
  r.status = fault_.ok() ? out.status : fault_;
  r.data = std::move(out.data);
  r.gas_spent = out.gas_spent;
  return r;
}

void OracleWorld::SetMeta(const std::string& name, const Bytes& value) {
  meta_[name] = value;
  for (auto& [id, m] : modules_) m->host->metadata[name] = value;
}

bool OracleWorld::Has(const Hash32& id) const { return modules_.count(id) != 0; }
std::span<const uint8_t> OracleWorld::Memory(const Hash32& id) const { return modules_.at(id)->oracle->memory(); }
const std::vector<uint64_t>& OracleWorld::PersistedGlobals(const Hash32& id) const { return modules_.at(id)->globals; }
const PreparedModule& OracleWorld::Prepared(const Hash32& id) const { return modules_.at(id)->pm; }

void OracleWorld::NewWriteInterval() {
  for (auto& [id, m] : modules_) m->oracle->NewWriteInterval();
}

OracleWorld::Snapshot OracleWorld::Take() const {
  Snapshot s;
  for (const auto& [id, m] : modules_) {
    std::span<const uint8_t> mem = m->oracle->memory();
    s.memories.emplace(id, Bytes(mem.begin(), mem.end()));
    s.globals.emplace(id, m->globals);
  }
  return s;
}

// Memories as they were (a fresh instance for a module not running whose
// memory grew: wabt memories cannot shrink) and persisted globals.
Status OracleWorld::Restore(const Snapshot& s) {
  for (auto& [id, m] : modules_) {
    auto mem = s.memories.find(id);
    if (mem == s.memories.end()) continue;  // deployed meanwhile (init of a nested deploy: not modelled)
    m->globals = s.globals.at(id);
    if (m->oracle->memory().size() != mem->second.size()) {
      if (m->active > 0) {
        return Status::NotSupported("oracle: rolling back the growth of the memory of running module " +
                                    id.ToHex() + " (wabt memories cannot shrink)");
      }
      ASSIGN_OR_RETURN(m->oracle, InterpOracle::Create(m->pm, m->host.get()));
    }
    RETURN_IF_ERROR(m->oracle->SetMemory(mem->second));
  }
  return Status::OK();
}

OracleWorld::Outcome OracleWorld::CallModule(const Hash32& id, std::string_view function, ByteView arg,
                                             uint64_t gas_limit, uint32_t wasm_depth, bool allow_init) {
  Outcome out;
  const size_t node = receipt_->call_tree.size();
  receipt_->call_tree.push_back({id, std::string(function), static_cast<uint32_t>(frames_.size()), gas_limit, 0, {}});
  auto finish = [&](Status s) {
    out.status = s;
    receipt_->call_tree[node].gas_spent = out.gas_spent;
    receipt_->call_tree[node].status = s;
    if (!s.ok()) out.data.clear();
    return out;
  };
  if (function == "init" && !allow_init) {
    return finish(frames_.empty() ? Status::InvalidArgument("init cannot be called")
                                  : Status::NotFound("init cannot be called"));
  }
  if (arg.size() > kArgBufferSize) return finish(Status::InvalidArgument("argument larger than the 64 KiB buffer"));
  auto it = modules_.find(id);
  if (it == modules_.end()) return finish(Status::NotFound("no module " + id.ToHex()));
  Module& m = *it->second;

  NewWriteInterval();  // the checkpoint
  const Snapshot before = Take();
  const size_t events_mark = receipt_->events.size();
  const std::vector<uint64_t> saved_globals = m.oracle->SaveGlobals();
  const bool reentry = m.active > 0;
  frames_.push_back(&m);
  m.active++;
  Status s = Execute(m, function, arg, gas_limit, wasm_depth, &out);
  m.active--;
  frames_.pop_back();
  if (!fault_.ok()) return finish(fault_);
  if (s.ok()) {
    if (reentry) {  // the outer activation resumes with its own counters
      std::vector<uint64_t> now = m.oracle->SaveGlobals();
      std::copy(saved_globals.end() - 3, saved_globals.end(), now.end() - 3);
      (void)m.oracle->RestoreGlobals(now);
    }
  } else {
    for (size_t i = events_mark; i < receipt_->events.size(); ++i) receipt_->events[i].reverted = true;
    if (Status rb = Restore(before); !rb.ok()) {
      fault_ = rb;
      return finish(rb);
    }
    (void)m.oracle->RestoreGlobals(saved_globals);
  }
  NewWriteInterval();  // the release or rollback
  return finish(s);
}

Status OracleWorld::Execute(Module& m, std::string_view function, ByteView arg, uint64_t gas_limit,
                            uint32_t wasm_depth, Outcome* out) {
  const bool callable = function == "init" ? m.pm.has_init
                                           : std::binary_search(m.pm.functions.begin(), m.pm.functions.end(),
                                                                function);
  if (!callable) return Status::NotFound("no callable function \"" + std::string(function) + "\"");
  const uint64_t a = m.pm.arg_buffer;
  if (a + kArgBufferSize > m.oracle->memory().size()) return Status::Trap("out of bounds: the argument buffer");
  if (m.active == 1) RETURN_IF_ERROR(m.oracle->SetStateGlobals(m.globals));
  RETURN_IF_ERROR(m.oracle->WriteMemory(a, arg));
  OracleOutcome o = m.oracle->Invoke(function, static_cast<uint32_t>(arg.size()), gas_limit, wasm_depth);
  out->gas_spent = o.gas_spent;
  if (!o.status.ok()) return o.status;
  if (o.ret > kArgBufferSize) return Status::ResourceExhausted("returned more than the 64 KiB argument buffer");
  std::span<const uint8_t> mem = m.oracle->memory();
  out->data.assign(mem.begin() + static_cast<ptrdiff_t>(a), mem.begin() + static_cast<ptrdiff_t>(a + o.ret));
  m.globals = m.oracle->GetStateGlobals();
  return Status::OK();
}

}  // namespace crust::engine
