// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/interp_oracle.h"

#include <algorithm>
#include <cstring>

#include "src/engine/host_gas.h"
#include "src/testing/interp_backend.h"

namespace crust::engine {

namespace {

bool InBounds(std::span<uint8_t> mem, uint64_t ptr, uint64_t len) {
  return ptr <= mem.size() && len <= mem.size() - ptr;
}

Status OutOfBounds() { return Status::Trap("out of bounds memory access"); }

Status Charge(OracleContext& ctx, uint64_t amount) {
  if (amount > ctx.gas_remaining()) {
    ctx.set_gas_remaining(0);
    return Status::OutOfGas("out of gas");
  }
  ctx.set_gas_remaining(ctx.gas_remaining() - amount);
  return Status::OK();
}

}  // namespace

std::string CanonicalTrapKind(std::string_view msg) {
  static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
      {"unreachable executed", "unreachable"},
      {"out of bounds memory access", "out of bounds memory access"},
      {"integer divide by zero", "integer divide by zero"},
      {"integer overflow", "integer overflow"},
      {"invalid conversion to integer", "invalid conversion to integer"},
      {"undefined table index", "undefined element"},
      {"uninitialized table element", "uninitialized element"},
      {"indirect call signature mismatch", "indirect call type mismatch"},
      {"call stack exhausted", "call stack exhausted"},
      {"value stack exhausted", "call stack exhausted"},
      {"out of bounds table access", "out of bounds table access"},
  };
  for (const auto& [prefix, kind] : kMap) {
    if (msg.starts_with(prefix)) return std::string(kind);
  }
  return std::string(msg);
}

Status BasicOracleHost::Call(const HostFunctionSpec& spec, std::span<const uint64_t> args,
                             std::span<uint64_t> results, OracleContext& ctx) {
  std::span<uint8_t> mem = ctx.memory();
  const uint32_t a = ctx.arg_buffer();
  switch (spec.id) {
    case HostFn::kPanic: {
      if (args[0] > kArgBufferSize || !InBounds(mem, a, args[0])) return OutOfBounds();
      return Status::Panic(std::string(reinterpret_cast<const char*>(mem.data() + a), args[0]));
    }
    case HostFn::kLimit:
      results[0] = ctx.gas_limit();
      return Status::OK();
    case HostFn::kSpent:
      results[0] = ctx.gas_limit() - ctx.gas_remaining();
      return Status::OK();
    case HostFn::kSelfId:
      if (!InBounds(mem, a, self_id.bytes.size())) return OutOfBounds();
      std::memcpy(mem.data() + a, self_id.bytes.data(), self_id.bytes.size());
      return Status::OK();
    case HostFn::kHd: {
      if (!InBounds(mem, args[0], args[1])) return OutOfBounds();
      std::string_view name(reinterpret_cast<const char*>(mem.data() + args[0]), args[1]);
      auto it = metadata.find(name);
      if (it == metadata.end()) {
        results[0] = 0;
        return Status::OK();
      }
      // Like the VM: a value that does not fit the argument buffer ends the
      // call rather than being truncated.
      if (it->second.size() > kArgBufferSize) {
        return Status::ResourceExhausted("session metadata \"" + it->first + "\" is larger than the 64 KiB buffer");
      }
      const size_t n = it->second.size();
      if (!InBounds(mem, a, n)) return OutOfBounds();
      std::memcpy(mem.data() + a, it->second.data(), n);
      results[0] = n;
      return Status::OK();
    }
    case HostFn::kEmit: {
      const uint64_t topic = args[0], topic_len = args[1], len = args[2];
      if (!InBounds(mem, topic, topic_len) || len > kArgBufferSize || !InBounds(mem, a, len)) return OutOfBounds();
      if (topic_len > kArgBufferSize) return Status::ResourceExhausted("event topic longer than 64 KiB");
      RETURN_IF_ERROR(Charge(ctx, kEventByteGas * (topic_len + len)));
      events.emplace_back(std::string(reinterpret_cast<const char*>(mem.data() + topic), topic_len),
                          Bytes(mem.data() + a, mem.data() + a + len));
      return Status::OK();
    }
    case HostFn::kHdebug: {
      const uint64_t len = args[0];
      if (len > kArgBufferSize || !InBounds(mem, a, len)) return OutOfBounds();
      RETURN_IF_ERROR(Charge(ctx, kDebugByteGas * len));
      debug.emplace_back(reinterpret_cast<const char*>(mem.data() + a), len);
      return Status::OK();
    }
    case HostFn::kOwner: {
      const uint64_t ptr = args[0];
      if (!InBounds(mem, ptr, 32)) return OutOfBounds();
      if (ptr != 0 && std::memcmp(mem.data() + ptr, self_id.bytes.data(), 32) != 0) {
        return Status::NotSupported("oracle: owner of another module");
      }
      if (!InBounds(mem, a, owner.size())) return OutOfBounds();
      if (!owner.empty()) std::memcpy(mem.data() + a, owner.data(), owner.size());
      results[0] = owner.size();
      return Status::OK();
    }
    default:
      return Status::NotSupported("host function \"" + std::string(spec.name) + "\" is not implemented yet");
  }
}

struct InterpOracle::Impl : public OracleContext {
  std::unique_ptr<internal::InterpBackend> backend;
  std::vector<const HostFunctionSpec*> import_specs;  // per import
  std::vector<StateGlobal> state;
  OracleHost* host = nullptr;
  uint32_t arg_buf = 0;
  uint64_t limit = 0;
  Status host_status;  // set by a failing host function, reported by the call

  std::span<uint8_t> memory() override {
    return {backend->memory_data(), static_cast<size_t>(backend->memory_size())};
  }
  uint32_t arg_buffer() const override { return arg_buf; }
  uint64_t gas_limit() const override { return limit; }
  uint64_t gas_remaining() const override { return Global(kGasGlobal); }
  void set_gas_remaining(uint64_t remaining) override { SetGlobal(kGasGlobal, remaining); }

  uint64_t Global(std::string_view name) const {
    uint64_t bits = 0;
    backend->GetGlobal(std::string(name), &bits);
    return bits;
  }
  void SetGlobal(std::string_view name, uint64_t bits) { backend->SetGlobal(std::string(name), bits); }

  bool HostCall(size_t index, const std::vector<uint64_t>& args, std::vector<uint64_t>* results) {
    const HostFunctionSpec& spec = *import_specs[index];
    Status st = host ? host->Call(spec, args, *results, *this) : Status::NotSupported("no host functions");
    if (st.ok()) return true;
    host_status = st;
    return false;
  }

  Status CheckImports() {
    for (const internal::BackendImport& imp : backend->imports()) {
      const HostFunctionSpec* spec = imp.module == kHostModule ? FindHostFunction(imp.name) : nullptr;
      if (!spec || !imp.is_func) {
        return Status::NotSupported("oracle cannot provide import \"" + imp.module + "\".\"" + imp.name + "\"");
      }
      import_specs.push_back(spec);
    }
    return Status::OK();
  }

  void WriteImage(const MemoryImage& image) {
    std::span<uint8_t> m = memory();
    for (const MemoryImage::Chunk& c : image.chunks) {
      std::memcpy(m.data() + c.offset, c.data.data(), c.data.size());
    }
  }
};

InterpOracle::InterpOracle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InterpOracle::~InterpOracle() = default;

Result<std::unique_ptr<InterpOracle>> InterpOracle::Create(const PreparedModule& pm, OracleHost* host) {
  if (pm.data_segments_in_wasm) return Status::NotSupported("oracle: data segments not applied at prepare");
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  impl->arg_buf = pm.arg_buffer;
  impl->state = pm.state_globals;
  std::string error;
  impl->backend = internal::InterpBackend::Load(pm.wasm.data(), pm.wasm.size(), &error);
  if (!impl->backend) return Status::InvalidModule("oracle: " + error);
  RETURN_IF_ERROR(impl->CheckImports());
  Impl* self = impl.get();
  auto host_fn = [self](size_t i, const std::vector<uint64_t>& args, std::vector<uint64_t>* results) {
    return self->HostCall(i, args, results);
  };
  if (!impl->backend->Instantiate(host_fn, &error)) return Status::Trap("oracle: instantiation failed: " + error);
  uint64_t unused;
  for (std::string_view g : {kGasGlobal, kDepthGlobal, kTrapGlobal}) {
    if (!impl->backend->GetGlobal(std::string(g), &unused)) {
      return Status::InvalidArgument("oracle: module is not instrumented");
    }
  }
  if (pm.memory) impl->WriteImage(*pm.memory);
  return std::unique_ptr<InterpOracle>(new InterpOracle(std::move(impl)));
}

OracleOutcome InterpOracle::Invoke(std::string_view name, uint32_t arg, uint64_t gas_limit, uint32_t depth_limit) {
  Impl& s = *impl_;
  OracleOutcome out;
  const std::string fn(name);
  if (!s.backend->HasI32Func(fn)) {
    out.status = Status::NotFound("no exported (i32) -> i32 function \"" + fn + "\"");
    return out;
  }
  s.limit = gas_limit;
  s.host_status = Status::OK();
  s.SetGlobal(kGasGlobal, gas_limit);
  s.SetGlobal(kDepthGlobal, depth_limit);
  s.SetGlobal(kTrapGlobal, 0);

  std::string trap;
  const bool ok = s.backend->CallI32(fn, arg, &out.ret, &trap);
  out.gas_spent = gas_limit - s.gas_remaining();
  if (ok) return out;
  out.ret = 0;
  const auto flag = static_cast<InjectedTrap>(s.Global(kTrapGlobal));
  if (!s.host_status.ok()) {
    out.status = s.host_status;
  } else if (flag == InjectedTrap::kOutOfGas) {
    out.status = Status::OutOfGas("out of gas");
  } else if (flag == InjectedTrap::kCallDepth) {
    out.status = Status::Trap("call stack exhausted");
  } else {
    out.status = Status::Trap(CanonicalTrapKind(trap));
  }
  if (out.status.code() == Status::Code::kOutOfGas) out.gas_spent = gas_limit;
  return out;
}

OracleOutcome InterpOracle::Call(std::string_view name, ByteView arg, uint64_t gas_limit, uint32_t depth_limit) {
  std::span<uint8_t> mem = impl_->memory();
  const uint32_t a = impl_->arg_buf;
  OracleOutcome out;
  if (arg.size() > kArgBufferSize || !InBounds(mem, a, arg.size())) {
    out.status = Status::InvalidArgument("argument larger than the 64 KiB buffer");
    return out;
  }
  std::copy(arg.begin(), arg.end(), mem.begin() + a);
  out = Invoke(name, static_cast<uint32_t>(arg.size()), gas_limit, depth_limit);
  if (!out.status.ok()) return out;
  mem = impl_->memory();  // the call may have grown memory
  if (out.ret > kArgBufferSize || !InBounds(mem, a, out.ret)) {
    out.status = Status::Trap("returned length " + std::to_string(out.ret) + " exceeds the argument buffer");
    return out;
  }
  out.data.assign(mem.begin() + a, mem.begin() + a + out.ret);
  return out;
}

std::span<const uint8_t> InterpOracle::memory() const { return impl_->memory(); }

Status InterpOracle::SetMemory(ByteView bytes) {
  const uint64_t have = impl_->backend->memory_size();
  if (bytes.size() > have) {
    const uint64_t pages = (bytes.size() - have + kWasmPageSize - 1) / kWasmPageSize;
    if (!impl_->backend->GrowMemory(pages)) return Status::InvalidArgument("memory cannot grow to fit");
  }
  std::copy(bytes.begin(), bytes.end(), impl_->memory().begin());
  return Status::OK();
}

std::vector<uint64_t> InterpOracle::GetStateGlobals() const {
  std::vector<uint64_t> out;
  for (const StateGlobal& sg : impl_->state) out.push_back(impl_->Global(sg.export_name));
  return out;
}

Status InterpOracle::SetStateGlobals(std::span<const uint64_t> values) {
  if (values.size() != impl_->state.size()) return Status::InvalidArgument("wrong number of state globals");
  for (size_t i = 0; i < values.size(); ++i) impl_->SetGlobal(impl_->state[i].export_name, values[i]);
  return Status::OK();
}

}  // namespace crust::engine
