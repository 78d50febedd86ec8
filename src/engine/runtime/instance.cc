// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/instance.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "src/engine/prepare/module_info.h"
#include "src/engine/runtime/runtime_api.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/engine/runtime/runtime_host.h"
#include "src/os/memory_region.h"

namespace crust::engine {
namespace {

size_t ValueSize(char type) { return (type == 'j' || type == 'd') ? 8 : (type == 'i' || type == 'f') ? 4 : 0; }

uint64_t ReadValue(const void* p, char type) {
  uint64_t v = 0;
  std::memcpy(&v, p, ValueSize(type));
  return v;
}

void WriteValue(void* p, char type, uint64_t bits) { std::memcpy(p, &bits, ValueSize(type)); }

struct InstantiateArgs {
  const crust_module_desc* desc;
  void* raw;
  crust_import_slot* slots;
};

void DoInstantiate(void* a) {
  auto* args = static_cast<InstantiateArgs*>(a);
  args->desc->instantiate(args->raw, args->slots);
}

struct I32Args {
  wasm_rt_function_ptr_t fn;
  void* raw;
  uint32_t arg;
  uint32_t result;
};

void DoCallI32(void* a) {
  auto* args = static_cast<I32Args*>(a);
  args->result = reinterpret_cast<uint32_t (*)(void*, uint32_t)>(args->fn)(args->raw, args->arg);
}

struct InvokeArgs {
  crust_invoke_fn fn;
  void* raw;
  const uint64_t* args;
  uint64_t* results;
};

void DoInvoke(void* a) {
  auto* args = static_cast<InvokeArgs*>(a);
  args->fn(args->raw, args->args, args->results);
}

}  // namespace

Instance::Instance(std::shared_ptr<const Code> code, void* raw) : code_(std::move(code)), raw_(raw) {}

Instance::~Instance() {
  if (instantiated_) code_->desc().free_instance(raw_);
  std::free(raw_);
}

Result<std::unique_ptr<Instance>> Instance::Create(std::shared_ptr<const Code> code, const InstanceOptions& options,
                                                   std::unique_ptr<Instance>* failed) {
  const crust_module_desc& d = code->desc();
  const size_t align = d.instance_align < alignof(std::max_align_t) ? alignof(std::max_align_t) : d.instance_align;
  const size_t size = (d.instance_size + align - 1) / align * align;
  void* raw = std::aligned_alloc(align, size == 0 ? align : size);
  if (raw == nullptr) return Status::ResourceExhausted("cannot allocate an instance");
  std::memset(raw, 0, size);
  std::unique_ptr<Instance> inst(new Instance(std::move(code), raw));
  Status s = inst->Instantiate(options);
  if (!s.ok()) {
    if (failed != nullptr && inst->instantiated_) *failed = std::move(inst);
    return s;
  }
  return inst;
}

Status Instance::Instantiate(const InstanceOptions& options) {
  const crust_module_desc& d = code_->desc();
  const ImportResolver& resolver = options.imports != nullptr ? *options.imports : HostImports();
  imports_.resize(d.num_imports + 1);
  imports_[0].fn = reinterpret_cast<wasm_rt_function_ptr_t>(imports_.data());  // self pointer, see wasm_rt_abi.h
  for (uint32_t i = 0; i < d.num_imports; ++i) {
    RETURN_IF_ERROR(resolver.Resolve(d.imports[i], this, &imports_[i + 1]));
  }
  if (d.defined_memory != nullptr) {
    if (options.memory == nullptr) return Status::InvalidArgument("the module defines a memory: give a MemoryRegion");
    // The initial size is known only to the generated code; growing to it
    // happens below through the region when the stored memory is shorter.
  }
  rt::SetPendingMemory(d.defined_memory != nullptr ? options.memory : nullptr, options.max_memory_pages);
  InstantiateArgs args{&d, raw_, imports_.data()};
  // Marked before running: free_instance must release what a trapping
  // instantiation allocated (tables, memory registration).
  instantiated_ = true;
  Status s = RunCall(&DoInstantiate, &args, options.host);
  rt::SetPendingMemory(nullptr);
  RETURN_IF_ERROR(s);
  char type = 0;
  void* trap = GlobalAddress(kTrapGlobal, &type);
  if (trap != nullptr && type == 'i') trap_global_ = static_cast<uint32_t*>(trap);
  return options.run_start ? RunStart(options.host) : Status::OK();
}

Status Instance::RunStart(HostContext* host) {
  const crust_module_desc& d = code_->desc();
  if (started_ || d.start == nullptr) return Status::OK();
  started_ = true;
  return RunCall(d.start, raw_, host);
}

Status Instance::RunCall(void (*fn)(void*), void* arg, HostContext* host) {
  rt::CallState state;
  state.host = host;
  if (page_charge_.gas_per_page != 0) state.page_charge = &page_charge_;
  if (host != nullptr) state.stack_bytes = host->CallStackBytes();
  const int code = rt::RunProtected(&state, fn, arg);
  last_trap_ = ClassifyTrap(code);
  if (last_trap_ == TrapKind::kNone) return Status::OK();
  if (last_trap_ == TrapKind::kHostAbort) return state.host_status;
  return TrapStatus(last_trap_);
}

TrapKind Instance::ClassifyTrap(int code) const {
  const TrapKind kind = rt::KindOfCode(code);
  if (kind != TrapKind::kUnreachable || trap_global_ == nullptr) return kind;
  switch (static_cast<InjectedTrap>(*trap_global_)) {
    case InjectedTrap::kOutOfGas: return TrapKind::kOutOfGas;
    case InjectedTrap::kCallDepth: return TrapKind::kDepthLimit;
    default: return kind;
  }
}

Result<FunctionRef> Instance::FindFunction(std::string_view name) const {
  const crust_export_desc* e = code_->FindExport(name);
  if (e == nullptr || e->kind != CRUST_EXTERN_FUNC) return Status::NotFound("no exported function " + std::string(name));
  return FunctionRef{e};
}

Result<FunctionRef> Instance::FindI32Function(std::string_view name) const {
  ASSIGN_OR_RETURN(FunctionRef f, FindFunction(name));
  if (std::strcmp(f.desc->type, "i:i") != 0) {
    return Status::InvalidArgument("export " + std::string(name) + " is not of type (i32) -> i32");
  }
  return f;
}

Result<uint32_t> Instance::CallI32(FunctionRef fn, uint32_t arg, HostContext* host) {
  I32Args args{fn.desc->func, raw_, arg, 0};
  RETURN_IF_ERROR(RunCall(&DoCallI32, &args, host));
  return args.result;
}

Result<uint32_t> Instance::CallI32(std::string_view name, uint32_t arg, HostContext* host) {
  ASSIGN_OR_RETURN(FunctionRef f, FindI32Function(name));
  return CallI32(f, arg, host);
}

Status Instance::Invoke(FunctionRef fn, std::span<const uint64_t> args, std::vector<uint64_t>* results,
                        HostContext* host) {
  const char* colon = std::strchr(fn.desc->type, ':');
  const size_t nparams = static_cast<size_t>(colon - fn.desc->type);
  if (args.size() != nparams) return Status::InvalidArgument("wrong number of arguments");
  results->assign(std::strlen(colon + 1), 0);
  std::vector<uint64_t> padded(args.begin(), args.end());
  padded.push_back(0);
  InvokeArgs a{fn.desc->invoke, raw_, padded.data(), results->data()};
  return RunCall(&DoInvoke, &a, host);
}

void* Instance::GlobalAddress(std::string_view export_name, char* type) const {
  const crust_export_desc* e = code_->FindExport(export_name);
  if (e == nullptr || e->kind != CRUST_EXTERN_GLOBAL) return nullptr;
  *type = e->type[0];
  return e->get(raw_);
}

Result<uint64_t> Instance::GetGlobal(std::string_view export_name) const {
  char type = 0;
  void* p = GlobalAddress(export_name, &type);
  if (p == nullptr || ValueSize(type) == 0) return Status::NotFound("no exported number global " + std::string(export_name));
  return ReadValue(p, type);
}

Status Instance::SetGlobal(std::string_view export_name, uint64_t bits) {
  char type = 0;
  void* p = GlobalAddress(export_name, &type);
  if (p == nullptr || ValueSize(type) == 0) return Status::NotFound("no exported number global " + std::string(export_name));
  WriteValue(p, type, bits);
  return Status::OK();
}

Result<Instance::GlobalRef> Instance::FindGlobal(std::string_view export_name) const {
  GlobalRef g;
  g.addr = GlobalAddress(export_name, &g.type);
  if (g.addr == nullptr || ValueSize(g.type) == 0) {
    return Status::NotFound("no exported number global " + std::string(export_name));
  }
  return g;
}


std::vector<uint64_t> Instance::SaveGlobals() const {
  std::vector<uint64_t> out;
  SaveGlobals(&out);
  return out;
}

void Instance::SaveGlobals(std::vector<uint64_t>* out) const {
  const crust_module_desc& d = code_->desc();
  for (uint32_t i = 0; i < d.num_globals; ++i) out->push_back(ReadValue(d.globals[i].get(raw_), d.globals[i].type[0]));
}

Status Instance::RestoreGlobals(std::span<const uint64_t> values) {
  const crust_module_desc& d = code_->desc();
  if (values.size() != d.num_globals) return Status::InvalidArgument("RestoreGlobals: wrong number of globals");
  for (uint32_t i = 0; i < d.num_globals; ++i) WriteValue(d.globals[i].get(raw_), d.globals[i].type[0], values[i]);
  return Status::OK();
}

void Instance::SyncMemorySize() {
  const crust_module_desc& d = code_->desc();
  if (d.defined_memory == nullptr) return;
  wasm_rt_memory_t* m = d.defined_memory(raw_);
  auto* region = static_cast<os::MemoryRegion*>(m->crust_memory);
  if (region == nullptr) return;
  const uint64_t pages = region->length() / os::kWasmPageSize;
  m->pages = static_cast<uint32_t>(pages);
  m->size = pages == 65536 ? UINT32_MAX : static_cast<uint32_t>(region->length());
}

wasm_rt_memory_t* Instance::memory() const {
  const crust_module_desc& d = code_->desc();
  if (d.defined_memory != nullptr) return d.defined_memory(raw_);
  for (uint32_t i = 0; i < d.num_imports; ++i) {
    if (d.imports[i].kind == CRUST_EXTERN_MEMORY) return static_cast<wasm_rt_memory_t*>(imports_[i + 1].env);
  }
  return nullptr;
}

uint8_t* Instance::memory_data() const {
  const wasm_rt_memory_t* m = memory();
  return m == nullptr ? nullptr : m->data;
}

Status Instance::SetPageCharge(uint64_t gas_per_page, uint64_t exempt_offset, uint64_t exempt_len) {
  if (gas_per_page == 0) {
    page_charge_ = rt::PageCharge{};
    return Status::OK();
  }
  char type = 0;
  void* gas = GlobalAddress(kGasGlobal, &type);
  if (memory() == nullptr || gas == nullptr || type != 'j' || trap_global_ == nullptr) {
    return Status::InvalidArgument("page charges need an instrumented module with a memory");
  }
  page_charge_.memory = memory();
  page_charge_.gas = static_cast<uint64_t*>(gas);
  page_charge_.trap = trap_global_;
  page_charge_.gas_per_page = gas_per_page;
  page_charge_.exempt_begin = exempt_offset;
  page_charge_.exempt_end = exempt_offset + exempt_len;
  return Status::OK();
}

uint64_t Instance::memory_size() const {
  const wasm_rt_memory_t* m = memory();
  return m == nullptr ? 0 : uint64_t{m->pages} * os::kWasmPageSize;
}

uint8_t* Instance::WritableMemory(uint64_t ptr, uint64_t len) {
  wasm_rt_memory_t* m = memory();
  if (m == nullptr) return nullptr;
  const uint64_t size = uint64_t{m->pages} * os::kWasmPageSize;
  if (ptr > size || len > size - ptr) return nullptr;
  if (len != 0 && m->crust_memory != nullptr) {
    auto* region = static_cast<os::MemoryRegion*>(m->crust_memory);
    // Lazily filled pages are filled here rather than by the fault thread;
    // a failed fill poisons the region, which the call's end reports.
    (void)region->Prefill(ptr, len);
    region->NoteWrite(ptr, len);
  }
  return m->data + ptr;
}

Result<void*> Instance::ExportAddress(std::string_view name, uint32_t kind) const {
  const crust_export_desc* e = code_->FindExport(name);
  if (e == nullptr || e->kind != kind) return Status::NotFound("no export " + std::string(name) + " of that kind");
  return e->get(raw_);
}

}  // namespace crust::engine
