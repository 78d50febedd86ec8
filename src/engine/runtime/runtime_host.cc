// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/runtime_host.h"

#include <optional>
#include <string>
#include <utility>

#include "src/engine/prepare/host_abi.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/runtime/runtime_call.h"

namespace crust::engine {

// Defaults: an import the host does not offer fails the call.
namespace {
Status Unsupported(const char* name) { return Status::NotSupported(std::string("host function env.") + name + " is not available"); }
}  // namespace
Status HostContext::Panic(Instance&, uint32_t) { return Unsupported("panic"); }
Result<int64_t> HostContext::Limit(Instance&) { return Unsupported("limit"); }
Result<int64_t> HostContext::Spent(Instance&) { return Unsupported("spent"); }
Status HostContext::SelfId(Instance&) { return Unsupported("self_id"); }
Result<int32_t> HostContext::Hd(Instance&, uint64_t, uint32_t) { return Unsupported("hd"); }
Result<int32_t> HostContext::C(Instance&, uint64_t, uint64_t, uint32_t, uint32_t, int64_t) { return Unsupported("c"); }
Result<int32_t> HostContext::Hq(Instance&, uint64_t, uint32_t, uint32_t) { return Unsupported("hq"); }
Status HostContext::Emit(Instance&, uint64_t, uint32_t, uint32_t) { return Unsupported("emit"); }
Status HostContext::Feed(Instance&, uint32_t) { return Unsupported("feed"); }
Result<int32_t> HostContext::Caller(Instance&) { return Unsupported("caller"); }
Result<int32_t> HostContext::Callstack(Instance&) { return Unsupported("callstack"); }
Result<int32_t> HostContext::Owner(Instance&, uint64_t) { return Unsupported("owner"); }
size_t HostContext::CallStackBytes() const { return rt::NativeStackBytes(kDefaultMaxCallDepth, 1); }
Status HostContext::Hdebug(Instance&, uint32_t) { return Unsupported("hdebug"); }

namespace {

// Runs one host method. Every C++ object of the host call lives and dies in
// this frame; the caller raises the trap (a longjmp) only after it returned.
template <typename T, typename F>
__attribute__((noinline)) bool RunHost(rt::CallState* cs, void* env, F&& f, T* out) {
  if (cs->host == nullptr) {
    cs->host_status = Status::Aborted("a host function was called without a host context");
    return false;
  }
  cs->in_host++;
  std::optional<decltype(f(*cs->host, *static_cast<Instance*>(env)))> result;
  const uint64_t faults = rt::HostAccess([&] { result.emplace(f(*cs->host, *static_cast<Instance*>(env))); });
  auto r = std::move(*result);
  cs->in_host--;
  if (faults != 0) {
    // A page of a wasm memory could not be read (runtime_call.h
    // RunHostAccess): what the host function computed from it is garbage.
    cs->host_status = Status::IOError(
        "a mapped file could not be read (SIGBUS) while a host function accessed contract memory: a host fault, "
        "not a contract outcome");
    return false;
  }
  if constexpr (std::is_same_v<decltype(r), Status>) {
    if (!r.ok()) {
      cs->host_status = std::move(r);
      return false;
    }
  } else {
    if (!r.ok()) {
      cs->host_status = r.status();
      return false;
    }
    *out = static_cast<T>(r.value());
  }
  return true;
}

template <typename T, typename F>
T CallHost(void* env, F&& f) {
  rt::CallState* cs = rt::CurrentCall();
  if (!rt::StackHeadroomOk(rt::kMinHostHeadroom)) rt::RaiseTrap(WASM_RT_TRAP_EXHAUSTION);
  T out{};
  if (!RunHost<T>(cs, env, std::forward<F>(f), &out)) rt::RaiseTrap(rt::kHostAbortCode);
  return out;
}

void Panic(void* env, uint32_t len) {
  CallHost<int>(env, [&](HostContext& h, Instance& i) {
    Status s = h.Panic(i, len);
    return s.ok() ? Status::Panic("") : s;  // panic never returns to the module
  });
}
uint64_t Limit(void* env) { return CallHost<uint64_t>(env, [](HostContext& h, Instance& i) { return h.Limit(i); }); }
uint64_t Spent(void* env) { return CallHost<uint64_t>(env, [](HostContext& h, Instance& i) { return h.Spent(i); }); }
void SelfId(void* env) { CallHost<int>(env, [](HostContext& h, Instance& i) { return h.SelfId(i); }); }
// Functions taking pointers exist twice: Ptr = uint32_t for 32-bit modules,
// uint64_t for memory64 modules (host_abi.h HostParams64).
template <typename Ptr>
uint32_t Hd(void* env, Ptr p, uint32_t n) {
  return CallHost<uint32_t>(env, [&](HostContext& h, Instance& i) { return h.Hd(i, p, n); });
}
template <typename Ptr>
uint32_t C(void* env, Ptr m, Ptr f, uint32_t fl, uint32_t a, uint64_t g) {
  return CallHost<uint32_t>(env, [&](HostContext& h, Instance& i) { return h.C(i, m, f, fl, a, static_cast<int64_t>(g)); });
}
template <typename Ptr>
uint32_t Hq(void* env, Ptr p, uint32_t n, uint32_t a) {
  return CallHost<uint32_t>(env, [&](HostContext& h, Instance& i) { return h.Hq(i, p, n, a); });
}
template <typename Ptr>
void Emit(void* env, Ptr p, uint32_t n, uint32_t a) {
  CallHost<int>(env, [&](HostContext& h, Instance& i) { return h.Emit(i, p, n, a); });
}
void Feed(void* env, uint32_t a) { CallHost<int>(env, [&](HostContext& h, Instance& i) { return h.Feed(i, a); }); }
uint32_t Caller(void* env) { return CallHost<uint32_t>(env, [](HostContext& h, Instance& i) { return h.Caller(i); }); }
uint32_t Callstack(void* env) {
  return CallHost<uint32_t>(env, [](HostContext& h, Instance& i) { return h.Callstack(i); });
}
template <typename Ptr>
uint32_t Owner(void* env, Ptr m) { return CallHost<uint32_t>(env, [&](HostContext& h, Instance& i) { return h.Owner(i, m); }); }

void Hdebug(void* env, uint32_t n) { CallHost<int>(env, [&](HostContext& h, Instance& i) { return h.Hdebug(i, n); }); }

// The trampoline for a memory64 module's import of `id` (pointer-taking
// functions only; the others have one form).
wasm_rt_function_ptr_t Trampoline64(HostFn id) {
  using P = wasm_rt_function_ptr_t;
  switch (id) {
    case HostFn::kHd: return reinterpret_cast<P>(&Hd<uint64_t>);
    case HostFn::kC: return reinterpret_cast<P>(&C<uint64_t>);
    case HostFn::kHq: return reinterpret_cast<P>(&Hq<uint64_t>);
    case HostFn::kEmit: return reinterpret_cast<P>(&Emit<uint64_t>);
    case HostFn::kOwner: return reinterpret_cast<P>(&Owner<uint64_t>);
    default: return nullptr;
  }
}

wasm_rt_function_ptr_t Trampoline(HostFn id) {
  using P = wasm_rt_function_ptr_t;
  switch (id) {
    case HostFn::kPanic: return reinterpret_cast<P>(&Panic);
    case HostFn::kLimit: return reinterpret_cast<P>(&Limit);
    case HostFn::kSpent: return reinterpret_cast<P>(&Spent);
    case HostFn::kSelfId: return reinterpret_cast<P>(&SelfId);
    case HostFn::kHd: return reinterpret_cast<P>(&Hd<uint32_t>);
    case HostFn::kC: return reinterpret_cast<P>(&C<uint32_t>);
    case HostFn::kHq: return reinterpret_cast<P>(&Hq<uint32_t>);
    case HostFn::kEmit: return reinterpret_cast<P>(&Emit<uint32_t>);
    case HostFn::kFeed: return reinterpret_cast<P>(&Feed);
    case HostFn::kCaller: return reinterpret_cast<P>(&Caller);
    case HostFn::kCallstack: return reinterpret_cast<P>(&Callstack);
    case HostFn::kOwner: return reinterpret_cast<P>(&Owner<uint32_t>);
    case HostFn::kHdebug: return reinterpret_cast<P>(&Hdebug);
  }
  return nullptr;
}

char Letter(ValType t) {
  switch (t) {
    case ValType::kI32: return 'i';
    case ValType::kI64: return 'j';
    case ValType::kF32: return 'f';
    case ValType::kF64: return 'd';
  }
  return '?';
}

class HostImportResolver : public ImportResolver {
 public:
  Status Resolve(const crust_import_desc& imp, Instance* self, crust_import_slot* slot) const override {
    const std::string_view module(imp.module, imp.module_len), field(imp.field, imp.field_len);
    const HostFunctionSpec* spec = module == kHostModule ? FindHostFunction(field) : nullptr;
    if (spec == nullptr || imp.kind != CRUST_EXTERN_FUNC) {
      return Status::InvalidModule("unknown import " + std::string(module) + "." + std::string(field));
    }
    auto sig = [&](std::span<const ValType> params) {
      std::string s;
      for (ValType t : params) s += Letter(t);
      s += ':';
      for (ValType t : spec->results) s += Letter(t);
      return s;
    };
    // The 64-bit-pointer form differs only for functions taking pointers.
    const bool has64 = Trampoline64(spec->id) != nullptr;
    if (sig(spec->params) == imp.type) {
      slot->fn = Trampoline(spec->id);
    } else if (has64 && sig(HostParams64(spec->id)) == imp.type) {
      slot->fn = Trampoline64(spec->id);
      self->set_host_window(kHostWindow64);
    } else {
      return Status::InvalidModule("import env." + std::string(field) + " must have type " +
                                   SignatureString(spec->params, spec->results) +
                                   (has64 ? " or " + SignatureString(HostParams64(spec->id), spec->results) : ""));
    }
    slot->env = self;
    return Status::OK();
  }
};

}  // namespace

const ImportResolver& HostImports() {
  static const HostImportResolver* const resolver = new HostImportResolver();
  return *resolver;
}

}  // namespace crust::engine
