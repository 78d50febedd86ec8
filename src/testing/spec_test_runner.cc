// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/spec_test_runner.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "src/engine/compile/compiler_process.h"
#include "src/engine/runtime/instance.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"

namespace crust::engine::spec {
namespace {

constexpr uint64_t kSpecGas = 1ull << 62;

// wast2json's output, read with nlohmann-json (Debian nlohmann-json3-dev).
using Json = nlohmann::json;

// The member `key` of an object, or nullptr.
const Json* Get(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// The string member `key`, or "" if absent or not a string.
std::string_view Str(const Json& j, const char* key) {
  const Json* v = Get(j, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// A module as crust deploys it: prepared, compiled, with its memory image.
struct Deployed {
  Status status;  // OK, or why prepare/compile failed
  PreparedModule prepared;
  std::shared_ptr<const Code> code;
};

void SpecNoop(void*) {}

// The "spectest" module every script may import from.
struct SpecTestModule {
  uint32_t g_i32 = 666;
  uint64_t g_i64 = 666;
  float g_f32 = 666.6f;
  double g_f64 = 666.6;
  wasm_rt_funcref_table_t table{};
  std::unique_ptr<os::MemoryRegion> region;
  wasm_rt_memory_t memory{};

  Status Init() {
    table.size = 10;
    table.max_size = 20;
    table.data = static_cast<wasm_rt_funcref_t*>(std::calloc(10, sizeof(wasm_rt_funcref_t)));
    ASSIGN_OR_RETURN(region, os::Env::Default()->MapMemory(nullptr, 0, os::kWasmPageSize, 2 * os::kWasmPageSize));
    memory = {region->data(), 1, 2, static_cast<uint32_t>(os::kWasmPageSize), region.get(), region->noted_map()};
    rt::RegisterMemory(region->data(), os::kReservation);
    return Status::OK();
  }
  ~SpecTestModule() {
    std::free(table.data);
    if (region) rt::UnregisterMemory(region->data());
  }
};

bool LimitsFit(uint64_t size, uint64_t max, const crust_import_desc& imp) {
  if (size < imp.limits_initial) return false;
  return imp.limits_max == 0xffffffffu || max <= imp.limits_max;
}

class Linker : public ImportResolver {
 public:
  Linker(SpecTestModule* spectest, const std::map<std::string, Instance*>* registered)
      : spectest_(spectest), registered_(registered) {}

  Status Resolve(const crust_import_desc& imp, Instance*, crust_import_slot* slot) const override {
    const std::string module(imp.module, imp.module_len), field(imp.field, imp.field_len);
    const std::string type(imp.type);
    auto unlinkable = [&](const char* why) {
      return Status::InvalidModule(std::string(why) + ": " + module + "." + field);
    };
    if (module == "spectest") return ResolveSpecTest(imp, field, type, slot) ? Status::OK() : unlinkable("unknown import");
    auto it = registered_->find(module);
    if (it == registered_->end()) return unlinkable("unknown import");
    const Instance* from = it->second;
    const crust_export_desc* e = from->code().FindExport(field);
    if (e == nullptr || e->kind != imp.kind) return unlinkable("unknown import");
    switch (imp.kind) {
      case CRUST_EXTERN_FUNC:
        if (type != e->type) return unlinkable("incompatible import type");
        slot->fn = e->func;
        slot->env = from->raw();
        return Status::OK();
      case CRUST_EXTERN_GLOBAL:
        if (type != e->type || imp.is_mutable != e->is_mutable) return unlinkable("incompatible import type");
        break;
      case CRUST_EXTERN_MEMORY: {
        const auto* m = static_cast<const wasm_rt_memory_t*>(e->get(from->raw()));
        if (!LimitsFit(m->pages, m->max_pages, imp)) return unlinkable("incompatible import type");
        break;
      }
      case CRUST_EXTERN_TABLE: {
        const auto* t = static_cast<const wasm_rt_funcref_table_t*>(e->get(from->raw()));
        if (type != e->type || !LimitsFit(t->size, t->max_size, imp)) return unlinkable("incompatible import type");
        break;
      }
    }
    slot->fn = nullptr;
    slot->env = e->get(from->raw());
    return Status::OK();
  }

 private:
  bool ResolveSpecTest(const crust_import_desc& imp, const std::string& field, const std::string& type,
                       crust_import_slot* slot) const {
    slot->fn = nullptr;
    if (imp.kind == CRUST_EXTERN_FUNC) {
      const bool print = field.rfind("print", 0) == 0 && type.back() == ':';
      slot->fn = reinterpret_cast<wasm_rt_function_ptr_t>(&SpecNoop);
      slot->env = nullptr;
      return print;
    }
    if (imp.kind == CRUST_EXTERN_GLOBAL) {
      if (imp.is_mutable) return false;
      if (field == "global_i32" && type == "i") slot->env = &spectest_->g_i32;
      if (field == "global_i64" && type == "j") slot->env = &spectest_->g_i64;
      if (field == "global_f32" && type == "f") slot->env = &spectest_->g_f32;
      if (field == "global_f64" && type == "d") slot->env = &spectest_->g_f64;
      return slot->env != nullptr;
    }
    if (imp.kind == CRUST_EXTERN_TABLE && field == "table" && type == "r") {
      slot->env = &spectest_->table;
      return LimitsFit(spectest_->table.size, spectest_->table.max_size, imp);
    }
    if (imp.kind == CRUST_EXTERN_MEMORY && field == "memory") {
      slot->env = &spectest_->memory;
      return LimitsFit(spectest_->memory.pages, spectest_->memory.max_pages, imp);
    }
    return false;
  }

  SpecTestModule* const spectest_;
  const std::map<std::string, Instance*>* const registered_;
};

uint64_t ParseU64(std::string_view s) { return std::strtoull(std::string(s).c_str(), nullptr, 10); }

// Arguments as 64-bit cells (see crust_invoke_fn); externref N is N + 1 so
// that it differs from null.
uint64_t ArgCell(const Json& v) {
  const std::string_view type = Str(v, "type"), value = Str(v, "value");
  if (type == "externref" || type == "funcref") return value == "null" ? 0 : ParseU64(value) + 1;
  return ParseU64(value);
}

bool Matches(const Json& want, uint64_t got) {
  const std::string_view type = Str(want, "type"), value = Str(want, "value");
  if (type == "i32" || type == "f32") {
    const auto g = static_cast<uint32_t>(got);
    if (value == "nan:canonical") return (g & 0x7fffffffu) == 0x7fc00000u;
    if (value == "nan:arithmetic") return (g & 0x7fc00000u) == 0x7fc00000u;
    return g == static_cast<uint32_t>(ParseU64(value));
  }
  if (type == "i64" || type == "f64") {
    if (value == "nan:canonical") return (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    if (value == "nan:arithmetic") return (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return got == ParseU64(value);
  }
  if (type == "externref") return value == "null" ? got == 0 : got == ParseU64(value) + 1;
  if (type == "funcref") return value == "null" ? got == 0 : got != 0;
  return false;
}

class Script {
 public:
  Script(CodeCache* cache, std::string dir, int threads, std::string file)
      : cache_(cache), dir_(std::move(dir)), threads_(threads), file_(std::move(file)) {}

  Status Init() { return spectest_.Init(); }

  // Prepares and compiles every binary module of the script, in parallel.
  void DeployAll(const Json& commands) {
    std::vector<std::string> files;
    for (const Json& c : commands) {
      const std::string_view t = Str(c, "type");
      if ((t == "module" || t == "assert_uninstantiable" || t == "assert_unlinkable" || t == "assert_trap") &&
          Get(c, "filename") != nullptr && Str(c, "module_type") != "text") {
        files.emplace_back(Str(c, "filename"));
      }
    }
    std::mutex mu;
    size_t next = 0;
    auto worker = [&] {
      for (;;) {
        std::string f;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (next >= files.size()) return;
          f = files[next++];
          if (deployed_.count(f)) continue;
          deployed_[f];  // claim
        }
        Deployed d = Deploy(f);
        std::lock_guard<std::mutex> lock(mu);
        deployed_[f] = std::move(d);
      }
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads_; ++i) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }

  void RunCommand(const Json& c) {
    const std::string_view t = Str(c, "type");
    line_ = Get(c, "line") ? Get(c, "line")->dump() : "?";
    if (t == "module") {
      auto inst = Instantiate(std::string(Str(c, "filename")));
      if (!inst.ok()) return Fail("module: " + inst.status().ToString());
      current_ = inst.value();
      if (Get(c, "name")) named_[std::string(Str(c, "name"))] = current_;
      return Pass();
    }
    if (t == "register") {
      Instance* i = Get(c, "name") ? named_[std::string(Str(c, "name"))] : current_;
      if (i == nullptr) return Fail("register: no module");
      registered_[std::string(Str(c, "as"))] = i;
      return Pass();
    }
    if (t == "action") {
      std::vector<uint64_t> out;
      Status s = Act(*Get(c, "action"), &out);
      return s.ok() ? Pass() : Fail("action: " + s.ToString());
    }
    if (t == "assert_return") return AssertReturn(c);
    if (t == "assert_trap" || t == "assert_exhaustion") return AssertTrap(c, t == "assert_exhaustion");
    if (t == "assert_invalid" || t == "assert_malformed") return AssertInvalid(c);
    if (t == "assert_uninstantiable" || t == "assert_unlinkable") {
      auto inst = Instantiate(std::string(Str(c, "filename")));
      return inst.ok() ? Fail(std::string(t) + ": instantiated") : Pass();
    }
    result_.skipped++;
  }

  FileResult& result() { return result_; }

 private:
  Deployed Deploy(const std::string& file) {
    Deployed d;
    auto bytes = os::Env::Default()->ReadFile(dir_ + "/" + file);
    if (!bytes.ok()) {
      d.status = bytes.status();
      return d;
    }
    PrepareOptions options;
    options.abi = Abi::kNone;
    auto prepared = PrepareModule(bytes.value(), options);
    if (!prepared.ok()) {
      d.status = prepared.status();
      return d;
    }
    d.prepared = std::move(prepared).value();
    auto code = cache_->Get(d.prepared.wasm);
    if (!code.ok()) {
      d.status = code.status();
      return d;
    }
    d.code = code.value();
    return d;
  }

  Result<Instance*> Instantiate(const std::string& file) {
    auto it = deployed_.find(file);
    if (it == deployed_.end()) return Status::NotFound("module not deployed: " + file);
    const Deployed& d = it->second;
    RETURN_IF_ERROR(d.status);
    std::unique_ptr<os::MemoryRegion> region;
    if (d.prepared.memory.has_value()) {
      const MemoryImage& img = *d.prepared.memory;
      const uint64_t max = img.max_pages ? uint64_t{*img.max_pages} * os::kWasmPageSize : os::kMaxMemory;
      ASSIGN_OR_RETURN(region, os::Env::Default()->MapMemory(nullptr, 0, img.ByteSize(), max));
      for (const MemoryImage::Chunk& ch : img.chunks) std::memcpy(region->data() + ch.offset, ch.data.data(), ch.data.size());
    } else if (d.code->desc().defined_memory != nullptr) {
      // No image (segments kept in the module): the runtime grows the
      // region to the declared initial size; the declared max still applies.
      ASSIGN_OR_RETURN(region, os::Env::Default()->MapMemory(nullptr, 0, 0, os::kMaxMemory));
    }
    Linker linker(&spectest_, &registered_);
    InstanceOptions o;
    o.memory = region.get();
    o.imports = &linker;
    o.run_start = false;
    std::unique_ptr<Instance> failed;
    auto created = Instance::Create(d.code, o, &failed);
    regions_.push_back(std::move(region));
    if (!created.ok()) {
      if (failed) instances_.push_back(std::move(failed));  // tables may point into it
      return created.status();
    }
    instances_.push_back(std::move(created).value());
    Instance* raw = instances_.back().get();
    ResetLimits();
    RETURN_IF_ERROR(raw->RunStart(nullptr));
    return raw;
  }

  // Gas and depth limits of every live instance: calls cross modules.
  void ResetLimits() {
    for (auto& i : instances_) {
      i->SetGlobal(kGasGlobal, kSpecGas).IgnoreError();
      i->SetGlobal(kDepthGlobal, kDefaultMaxCallDepth).IgnoreError();
      i->SetGlobal(kTrapGlobal, 0).IgnoreError();
    }
  }

  Status Act(const Json& action, std::vector<uint64_t>* out) {
    Instance* inst = Get(action, "module") ? named_[std::string(Str(action, "module"))] : current_;
    if (inst == nullptr) return Status::NotFound("no module");
    const std::string field(Str(action, "field"));
    if (Str(action, "type") == "get") {
      const crust_export_desc* e = inst->code().FindExport(field);
      if (e == nullptr || e->kind != CRUST_EXTERN_GLOBAL) return Status::NotFound("no global " + field);
      uint64_t v = 0;
      const char t = e->type[0];
      std::memcpy(&v, e->get(inst->raw()), (t == 'j' || t == 'd') ? 8 : (t == 'i' || t == 'f') ? 4 : sizeof(void*));
      if (t == 'r') v = static_cast<const wasm_rt_funcref_t*>(e->get(inst->raw()))->func != nullptr;
      out->assign(1, v);
      return Status::OK();
    }
    ASSIGN_OR_RETURN(FunctionRef fn, inst->FindFunction(field));
    std::vector<uint64_t> args;
    if (const Json* a = Get(action, "args")) {
      for (const Json& v : *a) args.push_back(ArgCell(v));
    }
    ResetLimits();
    return inst->Invoke(fn, args, out, nullptr);
  }

  void AssertReturn(const Json& c) {
    std::vector<uint64_t> out;
    Status s = Act(*Get(c, "action"), &out);
    if (!s.ok()) return Fail("assert_return: " + s.ToString());
    const Json* expected = Get(c, "expected");
    if (expected == nullptr || !expected->is_array() || expected->size() != out.size()) return Fail("assert_return: result count");
    for (size_t i = 0; i < out.size(); ++i) {
      const Json& want = (*expected)[i];
      if (!Matches(want, out[i])) {
        return Fail("assert_return: result " + std::to_string(i) + " is " + std::to_string(out[i]) + ", want " +
                    std::string(Str(want, "type")) + " " + std::string(Str(want, "value")));
      }
    }
    Pass();
  }

  void AssertTrap(const Json& c, bool exhaustion) {
    if (Get(c, "action") == nullptr) {  // a module whose start traps
      auto inst = Instantiate(std::string(Str(c, "filename")));
      return inst.ok() ? Fail("assert_trap: instantiated") : Pass();
    }
    std::vector<uint64_t> out;
    Status s = Act(*Get(c, "action"), &out);
    if (s.code() != Status::Code::kTrap) return Fail("want trap '" + std::string(Str(c, "text")) + "', got " + s.ToString());
    const Instance* inst = Get(*Get(c, "action"), "module") ? named_[std::string(Str(*Get(c, "action"), "module"))] : current_;
    const TrapKind k = inst->last_trap();
    if (exhaustion && k != TrapKind::kStackExhausted && k != TrapKind::kDepthLimit) {
      return Fail("want exhaustion, got " + s.ToString());
    }
    Pass();
  }

  void AssertInvalid(const Json& c) {
    if (Str(c, "module_type") == "text") {
      result_.skipped++;  // text-format errors: wabt's parser, not crust's
      return;
    }
    auto bytes = os::Env::Default()->ReadFile(dir_ + "/" + std::string(Str(c, "filename")));
    if (!bytes.ok()) return Fail(bytes.status().ToString());
    PrepareOptions options;
    options.abi = Abi::kNone;
    auto p = PrepareModule(bytes.value(), options);
    if (p.ok() && !KnownDeviation(file_, Str(c, "text")).empty()) {
      result_.known++;
      return;
    }
    if (p.ok()) return Fail(std::string(Str(c, "type")) + ": accepted ('" + std::string(Str(c, "text")) + "')");
    Pass();
  }

  void Pass() { result_.passed++; }
  void Fail(const std::string& what) {
    result_.failed++;
    if (result_.failures.size() < 50) result_.failures.push_back("line " + line_ + ": " + what);
  }

  CodeCache* const cache_;
  const std::string dir_;
  const int threads_;
  const std::string file_;
  SpecTestModule spectest_;
  std::map<std::string, Deployed> deployed_;
  std::vector<std::unique_ptr<os::MemoryRegion>> regions_;  // outlive instances_ (declared first)
  std::vector<std::unique_ptr<Instance>> instances_;
  std::map<std::string, Instance*> named_, registered_;
  Instance* current_ = nullptr;
  std::string line_;
  FileResult result_;

 public:
  int modules() const { return static_cast<int>(deployed_.size()); }
};

Result<Json> Convert(const std::string& wast_path, const std::string& dir) {
  const std::string name = BaseName(wast_path);
  os::Env* env = os::Env::Default();
  env->RemoveDirRecursive(dir).IgnoreError();
  const std::string parent = dir.substr(0, dir.rfind('/'));
  if (!env->Exists(parent)) RETURN_IF_ERROR(env->CreateDir(parent));
  RETURN_IF_ERROR(env->CreateDir(dir));
  const std::string json = dir + "/" + name + ".json";
  ProcessLimits limits;
  limits.wall_seconds = 120;
  RETURN_IF_ERROR(RunProcess({"wast2json", wast_path, "-o", json}, dir + "/wast2json.log", limits));
  ASSIGN_OR_RETURN(Bytes text, env->ReadFile(json));
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption(json + ": not valid JSON");
  const Json* commands = Get(j, "commands");
  if (commands == nullptr || !commands->is_array()) return Status::Corruption(json + ": no commands array");
  return j;
}

}  // namespace

std::string KnownDeviation(const std::string& file_name, std::string_view text) {
  static const struct {
    const char* file;
    const char* text;
  } kKnown[] = {
      {"binary", "zero byte expected"},                  // reserved memory index byte
      {"binary-leb128", "integer representation too long"},
      {"binary-leb128", "integer too large"},
      {"custom", "unexpected end"},                      // custom section contents
      {"utf8-custom-section-id", "malformed UTF-8 encoding"},  // custom section names
  };
  for (const auto& k : kKnown) {
    if (file_name == k.file && text == k.text) return "wabt 1.0.32 reader accepts it";
  }
  return "";
}

std::string SkipReason(const std::string& file_name) {
  if (file_name.rfind("simd_", 0) == 0) return "SIMD (v128) is rejected by crust";
  return "";
}

Result<FileResult> SpecRunner::Run(const std::string& wast_path) {
  const std::string dir = work_dir_ + "/" + BaseName(wast_path);
  ASSIGN_OR_RETURN(Json j, Convert(wast_path, dir));
  Script script(cache_, dir, compile_threads_, BaseName(wast_path));
  RETURN_IF_ERROR(script.Init());
  const Json& commands = *Get(j, "commands");
  script.DeployAll(commands);
  for (const Json& c : commands) script.RunCommand(c);
  FileResult r = script.result();
  r.modules = script.modules();
  return r;
}

Status SpecRunner::CheckRejected(const std::string& wast_path, int* modules, int* rejected,
                                 std::vector<std::string>* accepted) {
  const std::string dir = work_dir_ + "/" + BaseName(wast_path);
  ASSIGN_OR_RETURN(Json j, Convert(wast_path, dir));
  *modules = *rejected = 0;
  for (const Json& c : *Get(j, "commands")) {
    if (Str(c, "type") != "module" || Get(c, "filename") == nullptr) continue;
    ASSIGN_OR_RETURN(Bytes b, os::Env::Default()->ReadFile(dir + "/" + std::string(Str(c, "filename"))));
    PrepareOptions options;
    options.abi = Abi::kNone;
    auto p = PrepareModule(b, options);
    ++*modules;
    if (!p.ok()) {
      ++*rejected;
    } else {
      accepted->push_back(std::string(Str(c, "filename")));
    }
  }
  return Status::OK();
}

}  // namespace crust::engine::spec
