// Copyright (c) crust authors. Licensed under the MIT license.
// Compiled as C++17: see interp_backend.h.
#include "src/testing/interp_backend.h"

#include <map>

#include "wabt/binary-reader.h"
#include "wabt/feature.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"

namespace crust::engine::internal {
namespace {

namespace wi = wabt::interp;

BackendType ToBackendType(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32: return BackendType::kI32;
    case wabt::Type::I64: return BackendType::kI64;
    case wabt::Type::F32: return BackendType::kF32;
    case wabt::Type::F64: return BackendType::kF64;
    default: return BackendType::kOther;
  }
}

bool Is32(wabt::Type t) { return t == wabt::Type::I32 || t == wabt::Type::F32; }

// Same features as crust::engine::DecodeFeatures() (kept in sync by hand:
// validate.h cannot be included from C++17).
wabt::Features Features() {
  wabt::Features f;
  f.enable_simd();
  f.enable_threads();
  f.enable_exceptions();
  f.enable_tail_call();
  f.enable_memory64();
  f.enable_multi_memory();
  return f;
}

class Backend : public InterpBackend {
 public:
  bool Load(const uint8_t* wasm, size_t size, std::string* error) {
    wi::ModuleDesc desc;
    wabt::Errors errors;
    wabt::ReadBinaryOptions options(Features(), nullptr, false, true, true);
    if (wabt::Failed(wi::ReadBinaryInterp("module.wasm", wasm, size, options, &errors, &desc))) {
      *error = errors.empty() ? "read failed" : errors[0].message;
      return false;
    }
    module_ = wi::Module::New(store_, std::move(desc));
    for (const wi::ImportType& imp : module_->import_types()) {
      BackendImport bi;
      bi.module = imp.module;
      bi.name = imp.name;
      if (const auto* ft = wabt::dyn_cast<wi::FuncType>(imp.type.get())) {
        bi.is_func = true;
        for (wabt::Type t : ft->params) bi.params.push_back(ToBackendType(t));
        for (wabt::Type t : ft->results) bi.results.push_back(ToBackendType(t));
      }
      imports_.push_back(std::move(bi));
    }
    return true;
  }

  const std::vector<BackendImport>& imports() const override { return imports_; }

  bool Instantiate(BackendHostFn host, std::string* error) override {
    host_ = std::move(host);
    wi::RefVec refs;
    const auto& types = module_->import_types();
    for (size_t i = 0; i < types.size(); ++i) {
      const auto* ft = wabt::dyn_cast<wi::FuncType>(types[i].type.get());
      if (!ft) {
        *error = "import " + types[i].module + "." + types[i].name + " is not a function";
        return false;
      }
      refs.push_back(MakeHostFunc(i, *ft).ref());
    }
    wi::Trap::Ptr trap;
    instance_ = wi::Instance::Instantiate(store_, module_.ref(), refs, &trap);
    if (!instance_) {
      *error = trap ? trap->message() : std::string("instantiation failed");
      return false;
    }
    IndexExports();
    return true;
  }

  bool HasI32Func(const std::string& name) const override {
    auto it = funcs_.find(name);
    if (it == funcs_.end()) return false;
    const wi::FuncType& t = it->second->type();
    return t.params == wi::ValueTypes{wabt::Type::I32} && t.results == wi::ValueTypes{wabt::Type::I32};
  }

  bool CallI32(const std::string& name, uint32_t arg, uint32_t* ret, std::string* trap_msg) override {
    wi::Values params{wi::Value::Make(arg)};
    wi::Values results;
    wi::Trap::Ptr trap;
    if (wabt::Failed(funcs_.at(name)->Call(store_, params, results, &trap))) {
      *trap_msg = trap ? trap->message() : std::string("trap");
      return false;
    }
    *ret = results.at(0).Get<uint32_t>();
    return true;
  }

  bool GetGlobal(const std::string& name, uint64_t* bits) const override {
    auto it = globals_.find(name);
    if (it == globals_.end()) return false;
    const wi::Global::Ptr& g = it->second;
    *bits = Is32(g->type().type) ? uint64_t{g->UnsafeGet<uint32_t>()} : g->UnsafeGet<uint64_t>();
    return true;
  }

  bool SetGlobal(const std::string& name, uint64_t bits) override {
    auto it = globals_.find(name);
    if (it == globals_.end()) return false;
    wi::Global::Ptr& g = it->second;
    g->UnsafeSet(Is32(g->type().type) ? wi::Value::Make(static_cast<uint32_t>(bits)) : wi::Value::Make(bits));
    return true;
  }

  uint8_t* memory_data() override { return memory_ ? memory_->UnsafeData() : nullptr; }
  uint64_t memory_size() const override { return memory_ ? memory_->ByteSize() : 0; }
  bool GrowMemory(uint64_t pages) override { return memory_ && wabt::Succeeded(memory_->Grow(pages)); }

 private:
  wi::HostFunc::Ptr MakeHostFunc(size_t index, const wi::FuncType& type) {
    return wi::HostFunc::New(store_, type, [this, index, type](wi::Thread&, const wi::Values& params,
                                                               wi::Values& results, wi::Trap::Ptr* out_trap) {
      std::vector<uint64_t> args;
      for (size_t i = 0; i < params.size(); ++i) {
        args.push_back(Is32(type.params[i]) ? uint64_t{params[i].Get<uint32_t>()} : params[i].Get<uint64_t>());
      }
      std::vector<uint64_t> res(type.results.size());
      if (!host_(index, args, &res)) {
        *out_trap = wi::Trap::New(store_, "host function failed");
        return wabt::Result::Error;
      }
      results.resize(res.size());
      for (size_t i = 0; i < res.size(); ++i) {
        results[i] = Is32(type.results[i]) ? wi::Value::Make(static_cast<uint32_t>(res[i])) : wi::Value::Make(res[i]);
      }
      return wabt::Result::Ok;
    });
  }

  void IndexExports() {
    const auto& types = module_->export_types();
    for (size_t i = 0; i < types.size(); ++i) {
      wi::Ref ref = instance_->exports()[i];
      switch (types[i].type->kind) {
        case wabt::ExternalKind::Func: funcs_[types[i].name] = store_.UnsafeGet<wi::Func>(ref); break;
        case wabt::ExternalKind::Global: globals_[types[i].name] = store_.UnsafeGet<wi::Global>(ref); break;
        default: break;
      }
    }
    if (!instance_->memories().empty()) memory_ = store_.UnsafeGet<wi::Memory>(instance_->memories()[0]);
  }

  // The store must outlive every RefPtr below (members die in reverse order).
  wi::Store store_{Features()};
  wi::Module::Ptr module_;
  wi::Instance::Ptr instance_;
  wi::Memory::Ptr memory_;
  std::map<std::string, wi::Func::Ptr> funcs_;
  std::map<std::string, wi::Global::Ptr> globals_;
  std::vector<BackendImport> imports_;
  BackendHostFn host_;
};

}  // namespace

std::unique_ptr<InterpBackend> InterpBackend::Load(const uint8_t* wasm, size_t size, std::string* error) {
  auto b = std::make_unique<Backend>();
  if (!b->Load(wasm, size, error)) return nullptr;
  return b;
}

}  // namespace crust::engine::internal
