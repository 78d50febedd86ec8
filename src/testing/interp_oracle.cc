// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/interp_oracle.h"

#include <algorithm>
#include <cstring>

#include "src/engine/runtime/host_gas.h"
#include "src/testing/interp_backend.h"
#include "src/testing/interp_oracle_notes.h"
#include "src/util/utf8.h"

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

Result<std::string_view> OracleReadText(std::span<uint8_t> mem, uint64_t ptr, uint64_t len, const HostRead& r,
                                        std::string* scratch) {
  if (!HostReadIsUtf8(mem.data(), ptr, r)) return Status::InvalidArgument("not valid UTF-8");
  if (r.in_memory < len && len > kMaxZeroFilledName) return Status::ResourceExhausted("zero-filled name");
  return HostReadBytes(mem.data(), ptr, len, r, scratch);
}

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
      if (!IsUtf8(mem.data() + a, args[0])) return Status::InvalidArgument("panic: the message is not valid UTF-8");
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
      const HostRead r = CheckHostRead(mem.size(), ctx.host_window(), args[0], args[1]);
      if (!r.in_window) return OutOfBounds();
      std::string scratch;
      ASSIGN_OR_RETURN(std::string_view name, OracleReadText(mem, args[0], args[1], r, &scratch));
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
      const HostRead r = CheckHostRead(mem.size(), ctx.host_window(), topic, topic_len);
      if (!r.in_window || len > kArgBufferSize || !InBounds(mem, a, len)) return OutOfBounds();
      if (topic_len > kArgBufferSize) return Status::ResourceExhausted("event topic longer than 64 KiB");
      std::string scratch;
      ASSIGN_OR_RETURN(std::string_view topic_text, OracleReadText(mem, topic, topic_len, r, &scratch));
      RETURN_IF_ERROR(Charge(ctx, kEventByteGas * (topic_len + len)));
      events.emplace_back(std::string(topic_text),
                          Bytes(mem.data() + a, mem.data() + a + len));
      return Status::OK();
    }
    case HostFn::kHdebug: {
      const uint64_t len = args[0];
      if (len > kArgBufferSize || !InBounds(mem, a, len)) return OutOfBounds();
      RETURN_IF_ERROR(Charge(ctx, kDebugByteGas * len));
      if (!IsUtf8(mem.data() + a, len)) return Status::InvalidArgument("hdebug: the message is not valid UTF-8");
      debug.emplace_back(reinterpret_cast<const char*>(mem.data() + a), len);
      return Status::OK();
    }
    case HostFn::kOwner: {
      const uint64_t ptr = args[0];
      const HostRead r = CheckHostRead(mem.size(), ctx.host_window(), ptr, 32);
      if (!r.in_window) return OutOfBounds();
      std::string scratch;
      if (ptr != 0 && std::memcmp(HostReadBytes(mem.data(), ptr, 32, r, &scratch).data(), self_id.bytes.data(), 32) != 0) {
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
  size_t note_import = SIZE_MAX;  // index of the kNoteField import
  std::vector<uint64_t> segment_lengths;  // of data segments; 0 once dropped
  std::vector<uint8_t> noted;             // per 4 KiB page: written since the call started
  uint32_t arg_buf = 0;
  uint64_t limit = 0;
  uint64_t window = kHostWindow32;
  Status host_status;  // set by a failing host function, reported by the call

  std::span<uint8_t> memory() override {
    return {backend->memory_data(), static_cast<size_t>(backend->memory_size())};
  }
  uint32_t arg_buffer() const override { return arg_buf; }
  uint64_t host_window() const override { return window; }
  uint64_t gas_limit() const override { return limit; }
  uint64_t gas_remaining() const override { return Global(kGasGlobal); }
  void set_gas_remaining(uint64_t remaining) override { SetGlobal(kGasGlobal, remaining); }
  uint32_t depth_remaining() const override { return static_cast<uint32_t>(Global(kDepthGlobal)); }

  uint64_t Global(std::string_view name) const {
    uint64_t bits = 0;
    backend->GetGlobal(std::string(name), &bits);
    return bits;
  }
  void SetGlobal(std::string_view name, uint64_t bits) { backend->SetGlobal(std::string(name), bits); }

  // The VM's page-write charge (host_gas.h kPageWriteGas), seen through the
  // note calls interp_oracle_notes.h inserts: the same pages, in the same
  // order, after the same bounds checks as the write barrier's slow path.
  Status NoteWrite(const std::vector<uint64_t>& args) {
    const auto kind = static_cast<NoteKind>(args[0]);
    const uint64_t dst = args[1], len = args[2], src = args[3];
    const uint32_t segment = static_cast<uint32_t>(args[4]);
    if (kind == NoteKind::kDrop) {
      if (segment < segment_lengths.size()) segment_lengths[segment] = 0;
      return Status::OK();
    }
    const uint64_t size = backend->memory_size();
    if (len == 0 || dst > size || len > size - dst) return Status::OK();  // nothing written, or it traps
    if (kind == NoteKind::kCopy && (src > size || len > size - src)) return Status::OK();
    if (kind == NoteKind::kInit) {
      const uint64_t have = segment < segment_lengths.size() ? segment_lengths[segment] : 0;
      if (src > have || len > have - src) return Status::OK();
    }
    const uint64_t first = dst / kPageWriteUnit, last = (dst + len - 1) / kPageWriteUnit;
    if (noted.size() <= last) noted.resize(last + 1, 0);
    const uint64_t exempt_begin = arg_buf, exempt_end = uint64_t{arg_buf} + kArgBufferSize;
    uint64_t fresh = 0;
    for (uint64_t p = first; p <= last; ++p) {
      const bool exempt = p * kPageWriteUnit < exempt_end && (p + 1) * kPageWriteUnit > exempt_begin;
      if (!noted[p] && !exempt) ++fresh;
    }
    if (fresh != 0) {
      const uint64_t cost = fresh * kPageWriteGas;
      if (cost > gas_remaining()) {
        SetGlobal(kTrapGlobal, static_cast<uint64_t>(InjectedTrap::kOutOfGas));
        return Status::OutOfGas("out of gas");
      }
      set_gas_remaining(gas_remaining() - cost);
    }
    for (uint64_t p = first; p <= last; ++p) noted[p] = 1;
    return Status::OK();
  }

  bool HostCall(size_t index, const std::vector<uint64_t>& args, std::vector<uint64_t>* results) {
    if (index == note_import) {
      Status st = NoteWrite(args);
      if (st.ok()) return true;
      host_status = st;
      return false;
    }
    const HostFunctionSpec& spec = *import_specs[index];
    Status st = host ? host->Call(spec, args, *results, *this) : Status::NotSupported("no host functions");
    if (st.ok()) return true;
    host_status = st;
    return false;
  }

  Status CheckImports() {
    for (const internal::BackendImport& imp : backend->imports()) {
      if (imp.module == kNoteModule && imp.name == kNoteField && imp.is_func) {
        note_import = import_specs.size();
        import_specs.push_back(nullptr);
        continue;
      }
      const HostFunctionSpec* spec = imp.module == kHostModule ? FindHostFunction(imp.name) : nullptr;
      if (!spec || !imp.is_func) {
        return Status::NotSupported("oracle cannot provide import \"" + imp.module + "\".\"" + imp.name + "\"");
      }
      import_specs.push_back(spec);
      // As the VM's import resolution: a 64-bit-pointer form (HostParams64,
      // whose first parameter is the i64 pointer) makes the window 64-bit.
      if (!spec->params.empty() && spec->params[0] == ValType::kI32 && HostParams64(spec->id)[0] == ValType::kI64 &&
          !imp.params.empty() &&
          imp.params[0] == internal::BackendType::kI64) {
        window = kHostWindow64;
      }
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
  ASSIGN_OR_RETURN(NotedModule noted, AddWriteNotes(pm.wasm));
  impl->segment_lengths = std::move(noted.segment_lengths);
  std::string error;
  impl->backend = internal::InterpBackend::Load(noted.wasm.data(), noted.wasm.size(), &error);
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
  // A nested (re-entrant) call must not change what the outer one sees.
  const uint64_t outer_limit = s.limit;
  const Status outer_status = s.host_status;
  struct Restore {
    Impl& s;
    uint64_t limit;
    const Status& status;
    ~Restore() {
      s.limit = limit;
      s.host_status = status;
    }
  } restore{s, outer_limit, outer_status};
  s.limit = gas_limit;
  s.host_status = Status::OK();
  s.noted.assign(s.noted.size(), 0);  // a call starts with a checkpoint operation
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

Status InterpOracle::WriteMemory(uint64_t offset, ByteView bytes) {
  std::span<uint8_t> mem = impl_->memory();
  if (!InBounds(mem, offset, bytes.size())) return Status::InvalidArgument("write outside memory");
  std::copy(bytes.begin(), bytes.end(), mem.begin() + static_cast<ptrdiff_t>(offset));
  return Status::OK();
}

std::vector<uint64_t> InterpOracle::GetStateGlobals() const {
  std::vector<uint64_t> out;
  for (const StateGlobal& sg : impl_->state) out.push_back(impl_->Global(sg.export_name));
  return out;
}

std::vector<uint64_t> InterpOracle::SaveGlobals() const {
  std::vector<uint64_t> out = GetStateGlobals();
  for (std::string_view g : {kGasGlobal, kDepthGlobal, kTrapGlobal}) out.push_back(impl_->Global(g));
  return out;
}

Status InterpOracle::RestoreGlobals(std::span<const uint64_t> values) {
  const size_t n = impl_->state.size();
  if (values.size() != n + 3) return Status::InvalidArgument("wrong number of globals");
  RETURN_IF_ERROR(SetStateGlobals(values.first(n)));
  const std::string_view counters[3] = {kGasGlobal, kDepthGlobal, kTrapGlobal};
  for (size_t i = 0; i < 3; ++i) impl_->SetGlobal(counters[i], values[n + i]);
  return Status::OK();
}

void InterpOracle::NewWriteInterval() { impl_->noted.assign(impl_->noted.size(), 0); }

Status InterpOracle::SetStateGlobals(std::span<const uint64_t> values) {
  if (values.size() != impl_->state.size()) return Status::InvalidArgument("wrong number of state globals");
  for (size_t i = 0; i < values.size(); ++i) impl_->SetGlobal(impl_->state[i].export_name, values[i]);
  return Status::OK();
}

}  // namespace crust::engine
