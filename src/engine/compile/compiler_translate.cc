// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/compiler_translate.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wabt/apply-names.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/c-writer.h"
#include "wabt/cast.h"
#include "wabt/error-formatter.h"
#include "wabt/generate-names.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/validator.h"
#include "src/engine/compile/loop_versioning.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/module_limits.h"
#include "src/engine/prepare/wabt_adapter.h"

namespace crust::engine {
namespace {

// An in-memory stream that fails (and from then on ignores writes, as every
// wabt::Stream does after a failure) once it would exceed `cap` bytes: the
// translated C never takes more memory than kMaxTranslatedCBytes.
class CappedStream : public wabt::Stream {
 public:
  explicit CappedStream(size_t cap) : cap_(cap) {}
  bool overflowed() const { return overflowed_; }
  std::string Take() { return std::move(data_); }

 protected:
  wabt::Result WriteDataImpl(size_t offset, const void* data, size_t size) override {
    if (offset > cap_ || size > cap_ - offset) {
      overflowed_ = true;
      return wabt::Result::Error;
    }
    if (offset + size > data_.size()) data_.resize(offset + size);
    std::memcpy(data_.data() + offset, data, size);
    return wabt::Result::Ok;
  }
  wabt::Result MoveDataImpl(size_t dst, size_t src, size_t size) override {
    if (src > data_.size() || size > data_.size() - src || dst > cap_ || size > cap_ - dst) {
      overflowed_ = dst > cap_ || size > cap_ - dst;
      return wabt::Result::Error;
    }
    if (dst + size > data_.size()) data_.resize(dst + size);
    std::memmove(data_.data() + dst, data_.data() + src, size);
    return wabt::Result::Ok;
  }
  wabt::Result TruncateImpl(size_t size) override {
    if (size > data_.size()) return wabt::Result::Error;
    data_.resize(size);
    return wabt::Result::Ok;
  }

 private:
  const size_t cap_;
  bool overflowed_ = false;
  std::string data_;
};

// Letters for value types, see wasm_rt_abi.h. 0 for types the glue rejects.
char TypeLetter(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32: return 'i';
    case wabt::Type::I64: return 'j';
    case wabt::Type::F32: return 'f';
    case wabt::Type::F64: return 'd';
    case wabt::Type::FuncRef: return 'r';
    case wabt::Type::ExternRef: return 'e';
    default: return 0;
  }
}

const char* CType(char letter) {
  switch (letter) {
    case 'i': return "u32";
    case 'j': return "u64";
    case 'f': return "f32";
    case 'd': return "f64";
    case 'r': return "wasm_rt_funcref_t";
    default: return "wasm_rt_externref_t";
  }
}

// A C string literal holding `s` exactly (octal escapes for everything but
// letters and digits, so no trigraph or UTF-8 surprises).
std::string CString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
      out += static_cast<char>(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\%03o", ch);
      out += buf;
    }
  }
  return out + "\"";
}

struct Sig {
  std::string params, results;  // letters
  std::string Str() const { return params + ":" + results; }
};

Result<std::string> Letters(const wabt::TypeVector& types) {
  std::string out;
  for (wabt::Type t : types) {
    const char c = TypeLetter(t);
    if (c == 0) return Status::NotSupported("value type " + std::string(t.GetName()) + " in a signature");
    out += c;
  }
  return out;
}

Result<Sig> SigOf(const wabt::FuncSignature& s) {
  Sig sig;
  ASSIGN_OR_RETURN(sig.params, Letters(s.param_types));
  ASSIGN_OR_RETURN(sig.results, Letters(s.result_types));
  return sig;
}

// The C return type wasm2c uses for a result list.
std::string ReturnType(const std::string& results) {
  if (results.empty()) return "void";
  if (results.size() == 1) return CType(results[0]);
  return "struct wasm_multi_" + results;
}

// Conversions between 64-bit cells and C values, used by invoke thunks.
constexpr char kGluePreludeHead[] = R"(
/* ---- crust glue ---- */
#include <stdarg.h>
#include <stdlib.h>
static const crust_rt_api* crust_rt;
bool wasm_rt_is_initialized(void) { return crust_rt != NULL; }
void wasm_rt_trap(wasm_rt_trap_t c) { crust_rt->trap(c); }
uint32_t wasm_rt_register_func_type(uint32_t p, uint32_t r, ...) {
  /* On the heap: every native frame has a fixed size (-fstack-usage). */
  wasm_rt_type_t* t = (wasm_rt_type_t*)malloc(sizeof(wasm_rt_type_t) * ((size_t)p + r + 1));
  if (t == NULL) crust_rt->trap(WASM_RT_TRAP_EXHAUSTION);
  va_list ap;
  va_start(ap, r);
  for (uint32_t i = 0; i < p + r; ++i) t[i] = (wasm_rt_type_t)va_arg(ap, int);
  va_end(ap);
  uint32_t index = crust_rt->register_func_type(p, r, t);
  free(t);
  return index;
}
void wasm_rt_allocate_memory(wasm_rt_memory_t* m, uint32_t i, uint32_t x) { crust_rt->allocate_memory(m, i, x); }
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* m, uint32_t d) { return crust_rt->grow_memory(m, d); }
void wasm_rt_free_memory(wasm_rt_memory_t* m) { crust_rt->free_memory(m); }
static void crust_note_write(wasm_rt_memory_t* m, uint64_t a, uint64_t n) { crust_rt->note_write(m, a, n); }
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t* t, uint32_t e, uint32_t x) { crust_rt->allocate_funcref_table(t, e, x); }
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t* t) { crust_rt->free_funcref_table(t); }
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t* t, uint32_t d, wasm_rt_funcref_t v) { return crust_rt->grow_funcref_table(t, d, v); }
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t* t, uint32_t e, uint32_t x) { crust_rt->allocate_externref_table(t, e, x); }
void wasm_rt_free_externref_table(wasm_rt_externref_table_t* t) { crust_rt->free_externref_table(t); }
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t* t, uint32_t d, wasm_rt_externref_t v) { return crust_rt->grow_externref_table(t, d, v); }

)";
// ... then crust_slots() (wabt_adapter.h: wasm2c 1.0.32's import context), then:
constexpr char kGluePreludeTail[] = R"(static inline u32 crust_arg_i(uint64_t x) { return (u32)x; }
static inline u64 crust_arg_j(uint64_t x) { return x; }
static inline f32 crust_arg_f(uint64_t x) { u32 b = (u32)x; f32 f; memcpy(&f, &b, 4); return f; }
static inline f64 crust_arg_d(uint64_t x) { f64 f; memcpy(&f, &x, 8); return f; }
static inline wasm_rt_externref_t crust_arg_e(uint64_t x) { return (wasm_rt_externref_t)(uintptr_t)x; }
static inline wasm_rt_funcref_t crust_arg_r(uint64_t x) { (void)x; return wasm_rt_funcref_null_value; }
static inline uint64_t crust_res_i(u32 v) { return v; }
static inline uint64_t crust_res_j(u64 v) { return v; }
static inline uint64_t crust_res_f(f32 v) { u32 b; memcpy(&b, &v, 4); return b; }
static inline uint64_t crust_res_d(f64 v) { uint64_t b; memcpy(&b, &v, 8); return b; }
static inline uint64_t crust_res_e(wasm_rt_externref_t v) { return (uint64_t)(uintptr_t)v; }
static inline uint64_t crust_res_r(wasm_rt_funcref_t v) { return v.func != NULL; }
)";

const std::string& GluePrelude() {
  static const std::string* const text =
      new std::string(std::string(kGluePreludeHead) + std::string(ImportContextSlotsC()) + kGluePreludeTail);
  return *text;
}

class GlueWriter {
 public:
  explicit GlueWriter(const wabt::Module& m) : m_(m) {}

  Result<std::string> Write() {
    out_ = GluePrelude();
    RETURN_IF_ERROR(WriteImports());
    RETURN_IF_ERROR(WriteExports());
    WriteGlobals();
    WriteDescriptor();
    return std::move(out_);
  }

 private:
  Status WriteImports() {
    import_table_ = "static const crust_import_desc crust_imports[] = {\n";
    for (size_t k = 0; k < m_.imports.size(); ++k) {
      RETURN_IF_ERROR(WriteImport(k, *m_.imports[k]));
    }
    import_table_ += "  {0}\n};\n";
    out_ += import_table_;
    return Status::OK();
  }

  Status WriteImport(size_t k, const wabt::Import& imp) {
    const std::string sym = "Z_iZ_k" + std::to_string(k);
    const std::string slot = "(crust_slots(c) + " + std::to_string(k + 1) + ")";
    std::string type;
    int kind = 0, is_mutable = 0;
    uint64_t initial = 0, max = 0xffffffffu;
    switch (imp.kind()) {
      case wabt::ExternalKind::Func: {
        const auto& fi = static_cast<const wabt::FuncImport&>(imp);
        ASSIGN_OR_RETURN(Sig sig, SigOf(fi.func.decl.sig));
        WriteImportFunc(sym, slot, sig);
        type = sig.Str();
        kind = 0;
        break;
      }
      case wabt::ExternalKind::Global: {
        const auto& gi = static_cast<const wabt::GlobalImport&>(imp);
        const char c = TypeLetter(gi.global.type);
        if (c == 0) return Status::NotSupported("imported global of type " + std::string(gi.global.type.GetName()));
        type = std::string(1, c);
        is_mutable = gi.global.mutable_;
        out_ += std::string(CType(c)) + "* " + sym + "(struct Z_i_instance_t* c) { return (" + CType(c) +
                "*)" + slot + "->env; }\n";
        kind = 3;
        break;
      }
      case wabt::ExternalKind::Table: {
        const auto& ti = static_cast<const wabt::TableImport&>(imp);
        const char c = TypeLetter(ti.table.elem_type);
        type = std::string(1, c);
        const char* ct = c == 'r' ? "wasm_rt_funcref_table_t" : "wasm_rt_externref_table_t";
        out_ += std::string(ct) + "* " + sym + "(struct Z_i_instance_t* c) { return (" + ct + "*)" + slot +
                "->env; }\n";
        initial = ti.table.elem_limits.initial;
        if (ti.table.elem_limits.has_max) max = ti.table.elem_limits.max;
        kind = 1;
        break;
      }
      case wabt::ExternalKind::Memory: {
        const auto& mi = static_cast<const wabt::MemoryImport&>(imp);
        out_ += "wasm_rt_memory_t* " + sym + "(struct Z_i_instance_t* c) { return (wasm_rt_memory_t*)" + slot +
                "->env; }\n";
        initial = mi.memory.page_limits.initial;
        if (mi.memory.page_limits.has_max) max = mi.memory.page_limits.max;
        kind = 2;
        break;
      }
      default:
        return Status::NotSupported("import of kind " + std::string(wabt::GetKindName(imp.kind())));
    }
    const auto& [module_name, field_name] = original_import_names_->at(k);
    import_table_ += "  {" + CString(module_name) + ", " + std::to_string(module_name.size()) + ", " +
                     CString(field_name) + ", " + std::to_string(field_name.size()) + ", " +
                     std::to_string(kind) + ", " + std::to_string(is_mutable) + ", " + CString(type) + ", " +
                     std::to_string(initial) + "u, " + std::to_string(max) + "u},\n";
    return Status::OK();
  }

  void WriteImportFunc(const std::string& sym, const std::string& slot, const Sig& sig) {
    const std::string ret = ReturnType(sig.results);
    std::string params = "struct Z_i_instance_t* c", ptypes = "void*", args = slot + "->env";
    for (size_t i = 0; i < sig.params.size(); ++i) {
      params += std::string(", ") + CType(sig.params[i]) + " p" + std::to_string(i);
      ptypes += std::string(", ") + CType(sig.params[i]);
      args += ", p" + std::to_string(i);
    }
    out_ += ret + " " + sym + "(" + params + ") {\n  " + (ret == "void" ? "" : "return ") + "((" + ret +
            " (*)(" + ptypes + "))" + slot + "->fn)(" + args + ");\n}\n";
  }

  Status WriteExports() {
    export_table_ = "static const crust_export_desc crust_exports[] = {\n";
    for (size_t k = 0; k < m_.exports.size(); ++k) {
      const wabt::Export& e = *m_.exports[k];
      if (k >= num_exports_) {  // synthetic, see Rename(): accessors only
        if (e.kind != wabt::ExternalKind::Func) WriteGetter("Z_mZ_" + e.name);
        continue;
      }
      RETURN_IF_ERROR(WriteExport(k, e));
    }
    export_table_ += "  {0}\n};\n";
    out_ += export_table_;
    return Status::OK();
  }

  Status WriteExport(size_t k, const wabt::Export& e) {
    const std::string sym = "Z_mZ_e" + std::to_string(k);
    const std::string& name = original_export_names_->at(k);
    std::string head = "  {" + CString(name) + ", " + std::to_string(name.size()) + ", ";
    switch (e.kind) {
      case wabt::ExternalKind::Func: {
        const wabt::Func* f = m_.GetFunc(e.var);
        ASSIGN_OR_RETURN(Sig sig, SigOf(f->decl.sig));
        WriteInvoke(k, sym, sig);
        export_table_ += head + "0, 0, " + CString(sig.Str()) + ", (wasm_rt_function_ptr_t)&" + sym +
                         ", &crust_invoke_" + std::to_string(k) + ", NULL},\n";
        return Status::OK();
      }
      case wabt::ExternalKind::Global: {
        const wabt::Global* g = m_.GetGlobal(e.var);
        const char c = TypeLetter(g->type);
        if (c == 0) return Status::NotSupported("exported global of type " + std::string(g->type.GetName()));
        WriteGetter(sym);
        export_table_ += head + "3, " + std::to_string(g->mutable_) + ", \"" + std::string(1, c) +
                         "\", NULL, NULL, &crust_get_" + sym + "},\n";
        return Status::OK();
      }
      case wabt::ExternalKind::Table: {
        const wabt::Table* t = m_.GetTable(e.var);
        WriteGetter(sym);
        export_table_ += head + "1, 0, \"" + std::string(1, TypeLetter(t->elem_type)) +
                         "\", NULL, NULL, &crust_get_" + sym + "},\n";
        return Status::OK();
      }
      case wabt::ExternalKind::Memory:
        WriteGetter(sym);
        export_table_ += head + "2, 0, \"\", NULL, NULL, &crust_get_" + sym + "},\n";
        return Status::OK();
      default:
        return Status::NotSupported("export of kind " + std::string(wabt::GetKindName(e.kind)));
    }
  }

  void WriteGetter(const std::string& sym) {
    out_ += "static void* crust_get_" + sym + "(void* i) { return (void*)" + sym + "((Z_m_instance_t*)i); }\n";
  }

  void WriteInvoke(size_t k, const std::string& sym, const Sig& sig) {
    std::string call = sym + "((Z_m_instance_t*)inst";
    for (size_t i = 0; i < sig.params.size(); ++i) {
      call += std::string(", crust_arg_") + sig.params[i] + "(a[" + std::to_string(i) + "])";
    }
    call += ")";
    out_ += "static void crust_invoke_" + std::to_string(k) +
            "(void* inst, const uint64_t* a, uint64_t* r) {\n  (void)a; (void)r;\n";
    if (sig.results.empty()) {
      out_ += "  " + call + ";\n}\n";
      return;
    }
    out_ += "  " + ReturnType(sig.results) + " v = " + call + ";\n";  // no __auto_type: tcc lacks it
    if (sig.results.size() == 1) {
      out_ += std::string("  r[0] = crust_res_") + sig.results[0] + "(v);\n}\n";
      return;
    }
    for (size_t i = 0; i < sig.results.size(); ++i) {
      const std::string field = std::string(1, sig.results[i]) + std::to_string(i);
      out_ += "  r[" + std::to_string(i) + "] = crust_res_" + sig.results[i] + "(v." + field + ");\n";
    }
    out_ += "}\n";
  }

  void WriteGlobals() {
    out_ += "static const crust_global_desc crust_globals[] = {\n";
    for (size_t g = m_.num_global_imports; g < m_.globals.size(); ++g) {
      const wabt::Global* gl = m_.globals[g];
      out_ += "  {" + std::to_string(g) + ", " + std::to_string(gl->mutable_) + ", \"" +
              std::string(1, TypeLetter(gl->type)) + "\", &crust_get_Z_mZ_crust_g" + std::to_string(g) + "},\n";
    }
    out_ += "  {0}\n};\n";
  }

  void WriteDescriptor() {
    const bool defined_memory = m_.memories.size() > m_.num_memory_imports;
    if (defined_memory) {
      out_ += "static wasm_rt_memory_t* crust_defined_memory(void* i) { return Z_mZ_crust_mem((Z_m_instance_t*)i); }\n";
    }
    if (has_start_) {
      out_ += "static void crust_start(void* i) { Z_mZ_crust_start((Z_m_instance_t*)i); }\n";
    }
    const bool has_imports = !m_.imports.empty();
    out_ += "static void crust_instantiate(void* i, crust_import_slot* s) {\n  (void)s;\n  Z_m_instantiate((Z_m_instance_t*)i" +
            std::string(has_imports ? ", (struct Z_i_instance_t*)s" : "") + ");\n}\n";
    out_ += "static void crust_free(void* i) { Z_m_free((Z_m_instance_t*)i); }\n";
    out_ += "static const crust_module_desc crust_desc = {\n  CRUST_RT_ABI_VERSION, sizeof(Z_m_instance_t), "
            "_Alignof(Z_m_instance_t), &crust_rt, &Z_m_init_module, &crust_instantiate, &crust_free,\n  " +
            std::to_string(m_.imports.size()) + ", crust_imports, " + std::to_string(num_exports_) +
            ", crust_exports, " + std::to_string(m_.globals.size() - m_.num_global_imports) + ", crust_globals, " +
            (defined_memory ? "&crust_defined_memory" : "NULL") + ", " + (has_start_ ? "&crust_start" : "NULL") +
            "\n};\n";
    out_ += "__attribute__((visibility(\"default\"))) const crust_module_desc* crust_module_v1(void) {\n"
            "  return &crust_desc;\n}\n";
  }

 public:
  const std::vector<std::string>* original_export_names_ = nullptr;
  const std::vector<std::pair<std::string, std::string>>* original_import_names_ = nullptr;
  size_t num_exports_ = 0;
  bool has_start_ = false;

 private:
  const wabt::Module& m_;
  std::string out_, import_table_, export_table_;
};

// Renames imports and exports (see the header) and adds synthetic exports.
// Returns the original export names by export index.
std::vector<std::string> Rename(wabt::Module* m, std::vector<std::pair<std::string, std::string>>* imports) {
  for (size_t k = 0; k < m->imports.size(); ++k) {
    imports->emplace_back(m->imports[k]->module_name, m->imports[k]->field_name);
    m->imports[k]->module_name = "i";
    m->imports[k]->field_name = "k" + std::to_string(k);
  }
  std::vector<std::string> names;
  for (size_t k = 0; k < m->exports.size(); ++k) {
    names.push_back(m->exports[k]->name);
    m->exports[k]->name = "e" + std::to_string(k);
  }
  auto add_export = [m](std::string name, wabt::ExternalKind kind, wabt::Index index) {
    auto f = std::make_unique<wabt::ExportModuleField>();
    f->export_.name = std::move(name);
    f->export_.kind = kind;
    f->export_.var = wabt::Var(index, wabt::Location());
    m->AppendField(std::move(f));
  };
  for (size_t g = m->num_global_imports; g < m->globals.size(); ++g) {
    add_export("crust_g" + std::to_string(g), wabt::ExternalKind::Global, static_cast<wabt::Index>(g));
  }
  if (m->memories.size() > m->num_memory_imports) add_export("crust_mem", wabt::ExternalKind::Memory, 0);
  if (!m->starts.empty()) {
    const wabt::Index start = m->GetFuncIndex(*m->starts[0]);
    m->starts.clear();
    for (auto it = m->fields.begin(); it != m->fields.end(); ++it) {
      if (it->type() == wabt::ModuleFieldType::Start) {
        m->fields.erase(it);
        break;
      }
    }
    add_export("crust_start", wabt::ExternalKind::Func, start);
  }
  return names;
}

// Where the function bodies start: the line after wasm2c's helpers.
constexpr std::string_view kBodiesAnchor = kWasm2cBodiesAnchor;

// FUNC_PROLOGUE's part for InsertMemoryLocals.
constexpr char kMemoryLocalsPrologue[] =
    " u8* const crust_base_ = CRUST_MEM->data; const u8* const crust_map_ = CRUST_MEM->crust_noted;"
    " (void)crust_base_; (void)crust_map_;";

// Prefix of the macro a store calls when SkipNotedStores drops its barrier.
constexpr char kNoBarrierPrefix[] = "CRUST_NB_";

// The fixed text of the per-function memory access (see InsertMemoryLocals):
// CRUST_MEM is defined in front of it, per module.
std::string MemoryLocalsText(bool write_barrier) {
  std::string t =
      "/* ---- crust: loads and stores through per-function copies of the memory's base\n"
      " * and noted map (read once by FUNC_PROLOGUE; neither changes while an instance\n"
      " * lives: the memory is a fixed reservation). Locals whose address is never taken\n"
      " * cannot be aliased by stores into wasm memory, so the C compiler keeps them in\n"
      " * registers instead of reloading both from the instance after every store. ---- */\n"
      "#define CRUST_AFTER_NOTE (void)0 /* redefined to reload the gas local where there is one */\n"
      "#define CRUST_DEFINE_LOAD(name, t1, t2, t3) static inline t3 crust_##name(const u8* b, u64 a) { "
      "t1 r; wasm_rt_memcpy(&r, b + a, sizeof(t1)); wasm_asm(\"\" ::\"r\"(r)); return (t3)(t2)r; }\n";
  if (write_barrier) {
    // A span group's check (SkipNotedStores): the n bytes at a lie in one
    // page, and it is noted.
    t += "#define CRUST_SPAN_NOTED(b, lo, n) LIKELY(crust_span_noted(crust_map_, (u64)(b) + (lo), (n)))\n"
         "static inline int crust_span_noted(const u8* map, u64 a, u64 n) { "
         "return (map[a >> 12] != 0) & ((a & 4095u) <= 4096u - n); }\n";
    // One map entry per store: a store that crosses a page boundary takes the
    // slow path, which notes both pages (CRUST_NOTE_STORE checked both ends).
    // Returns 1 when it took the slow path: crust_note_write may have charged
    // gas for the page (the page-write charge), so the caller reloads its
    // copy of the gas counter (CRUST_AFTER_NOTE).
    t += "#define CRUST_DEFINE_STORE(name, t1, t2) static inline int crust_##name(u8* b, const u8* map, "
         "wasm_rt_memory_t* mem, u64 a, t2 v) { int slow = 0; "
         "if (UNLIKELY(!map[a >> 12] | ((a & 4095u) > 4096u - sizeof(t1)))) { crust_note_write(mem, a, sizeof(t1)); slow = 1; } "
         "t1 w = (t1)v; wasm_rt_memcpy(b + a, &w, sizeof(t1)); return slow; }\n";
  } else {
    t += "#define CRUST_DEFINE_STORE(name, t1, t2) static inline int crust_##name(u8* b, const u8* map, "
         "wasm_rt_memory_t* mem, u64 a, t2 v) { (void)map; (void)mem; "
         "t1 w = (t1)v; wasm_rt_memcpy(b + a, &w, sizeof(t1)); return 0; }\n";
  }
  // A store whose pages an earlier store of the same straight-line run
  // already noted, or whose span group's check passed (SkipNotedStores): no
  // barrier.
  t += "#define CRUST_DEFINE_STORE_NB(name, t1, t2) static inline void crust_nb_##name(u8* b, u64 a, t2 v) { "
       "t1 w = (t1)v; wasm_rt_memcpy(b + a, &w, sizeof(t1)); }\n";
  for (const Wasm2cAccess& a : Wasm2cStores()) {
    t += std::string("CRUST_DEFINE_STORE_NB(") + a.name + ", " + a.t1 + ", " + a.t2 + ")\n";
    t += std::string("#define ") + kNoBarrierPrefix + a.name + "(m, a, v) crust_nb_" + a.name + "(crust_base_, a, v)\n";
  }
  for (const Wasm2cAccess& a : Wasm2cLoads()) {
    t += std::string("CRUST_DEFINE_LOAD(") + a.name + ", " + a.t1 + ", " + a.t2 + ", " + a.t3 + ")\n";
    t += std::string("#define ") + a.name + "(m, a) crust_" + a.name + "(crust_base_, a)\n";
  }
  for (const Wasm2cAccess& a : Wasm2cStores()) {
    t += std::string("CRUST_DEFINE_STORE(") + a.name + ", " + a.t1 + ", " + a.t2 + ")\n";
    t += std::string("#define ") + a.name + "(m, a, v) do { if (crust_" + a.name +
         "(crust_base_, crust_map_, CRUST_MEM, a, v)) CRUST_AFTER_NOTE; } while (0)\n";
  }
  return t;
}

// Makes every load and store in the function bodies go through locals set
// by FUNC_PROLOGUE (MemoryLocalsText). The memory expression is read from
// the first access; every access must use the same one (one memory), else
// the output is not what this expects and translation fails. A module with
// no load or store is left as it is.
Status InsertMemoryLocals(std::string* c, bool write_barrier, bool* applied) {
  *applied = false;
  const size_t bodies = c->find(kBodiesAnchor);
  if (bodies == std::string::npos || c->find(kBodiesAnchor, bodies + 1) != std::string::npos) {
    return Status::NotSupported("wasm2c output is not what crust's memory access patch expects: no single \"" +
                                std::string(kBodiesAnchor.substr(1, kBodiesAnchor.size() - 2)) + "\"");
  }
  std::string mem;
  size_t calls = 0, matching = 0;
  auto scan = [&](const Wasm2cAccess& a) {
    const std::string call = std::string(a.name) + "(";
    for (size_t at = c->find(call, bodies); at != std::string::npos; at = c->find(call, at + 1)) {
      const char before = (*c)[at - 1];
      if (std::isalnum(static_cast<unsigned char>(before)) || before == '_') continue;  // e.g. crust_i32_load(
      ++calls;
      const size_t arg = at + call.size();
      const size_t comma = c->find(", ", arg);
      if (comma == std::string::npos) continue;
      const std::string expr = c->substr(arg, comma - arg);
      if (mem.empty() && IsWasm2cInstanceField(expr)) mem = expr;
      if (expr == mem) ++matching;
    }
  };
  for (const Wasm2cAccess& a : Wasm2cLoads()) scan(a);
  for (const Wasm2cAccess& a : Wasm2cStores()) scan(a);
  if (calls == 0) return Status::OK();
  if (mem.empty() || matching != calls || mem.find_first_of("(),;") != std::string::npos) {
    return Status::NotSupported("wasm2c output is not what crust's memory access patch expects: loads and stores "
                                "on more than one memory expression (first \"" + mem + "\")");
  }
  c->insert(bodies + 1, "#define CRUST_MEM (" + mem + ")\n" + MemoryLocalsText(write_barrier));
  *applied = true;
  return Status::OK();
}

// The gas counter in a local of each function (write-through): reads of the
// gas global in function bodies read the local, writes store both, and the
// local is read again from the instance after every line that calls a
// function (a callee or host function charges the same counter). The
// instance's value is therefore exact whenever anything can observe it (a
// callee, the host, a trap: wasm stores may alias the instance under
// -fno-strict-aliasing, so the C compiler keeps the store in order before
// them), and the chain from one charge to the next stays in a register
// instead of going through memory. `field` is the global's C lvalue.
constexpr char kGasLocalPrologue[] = " u64 crust_gas_ = CRUST_GAS; (void)crust_gas_;";

Status CacheGasInLocal(std::string* c, const std::string& field) {
  const std::string read = Wasm2cGlobalReadText(field), write = Wasm2cGlobalWriteText(field);
  const std::string reload = " crust_gas_ = " + field + ";";
  std::string out;
  out.reserve(c->size() + c->size() / 8);
  size_t at = 0;
  for (;;) {
    const size_t body = c->find(kWasm2cBodyStart, at);
    if (body == std::string::npos) break;
    const size_t end = c->find(kWasm2cBodyEnd, body);
    if (end == std::string::npos) return Status::NotSupported("wasm2c output: a function body without its end");
    out.append(*c, at, body - at);
    for (size_t line = body; line < end;) {
      size_t nl = c->find('\n', line);
      if (nl == std::string::npos || nl > end) nl = end;
      std::string text = c->substr(line, nl - line);
      for (size_t r = text.find(read); r != std::string::npos; r = text.find(read, r)) {
        text.replace(r, read.size(), "= crust_gas_;");
      }
      if (text.find(write) != std::string::npos) {
        text.replace(text.find(write), write.size(), field + " = crust_gas_ = ");
      } else if (Wasm2cLineMayCharge(text)) {
        if (text.empty() || text.back() != ';') {
          return Status::NotSupported("wasm2c output: a call that does not end its line: \"" + text + "\"");
        }
        text += reload;
      }
      out += text;
      out += '\n';
      line = nl + 1;
    }
    at = end + 1;
  }
  out.append(*c, at, std::string::npos);
  *c = std::move(out);
  return Status::OK();
}

// ---- Stores whose pages are already noted, and spans checked once ----
//
// After a store completes, every 4 KiB page it wrote is noted for the rest
// of the interval: the barrier's fast path found it noted, or its slow path
// (crust_note_write) noted it; a store that does not complete traps. Pages
// stop being noted only at a checkpoint operation, which happens inside
// calls. So in a straight-line run of a function (no control instruction,
// no call, nothing but the plain stack instructions listed in StackEffect),
// nothing un-notes a page, and two rewrites keep every store's effect:
//
// * Constant addresses: a store whose address operand is an `i32.const` and
//   whose pages all lie in pages written by earlier constant-address stores
//   of the same run needs no barrier: the barrier would find them noted,
//   take its fast path and charge nothing. Such stores call the barrier-free
//   helper (CRUST_NB_<name>). (Keccak's state at a static address: 75
//   stores per round, one page.)
// * Spans from one base: consecutive stores of a run whose addresses are one
//   unknown value S plus constants (`local.get`, `global.get` of an i32
//   global, `i32.add`/`i32.sub` of an `i32.const`, through locals and
//   globals set and read within the run: a symbolic value per stack slot,
//   local and global) form a group when all their bytes lie in
//   a span of at most 4096 bytes from S's smallest constant. At the group's
//   first store the generated C checks once that the whole span lies in one
//   page and that page is noted (CRUST_SPAN_NOTED); if so, the group's
//   stores run barrier-free, else the same lines run with every barrier (the
//   C of the group is emitted twice, as `if (check) {fast} else {as is}`).
//   When the check passes, each store's barrier would have found its page
//   noted and not crossed: fast path, nothing charged. Addresses wrap modulo
//   2^32 (`i32.add`): the span is taken from S + the smallest constant
//   without wrapping, so if a member's address wrapped, the span reaches
//   beyond 4 GiB, where no page is ever noted, and the check fails. (fill:
//   four u64 stores per iteration at p, p+8, p+16, p+24; matmul: two at
//   p and p+4 through `local.tee`.)
//
// Gas, results, traps and the noted set are exactly those of the stores
// with their barriers.
struct StoreSite {
  std::string name;  // wasm2c's helper, e.g. "i64_store"
  uint64_t offset = 0;
  bool skip = false;  // a constant address whose pages are noted: no barrier
  // Spans: `last` is, on a group's first store, the index (among the
  // function's stores) of its last store, else 0; `in_group` on every member.
  size_t last = 0;
  bool in_group = false;
  uint32_t check_add = 0;  // first store's address + check_add (mod 2^32) = S + the smallest constant
  uint64_t check_lo = 0;   // the span: [that + check_lo, that + check_lo + check_len)
  uint64_t check_len = 0;
};

class StoreRuns {
 public:
  // The stores of `f` in the order wasm2c writes them. False when the body
  // holds a construct this does not follow (its stores are then left alone).
  bool Function(const wabt::Module& m, const wabt::Func& f, std::vector<StoreSite>* out) {
    module_ = &m;
    func_ = &f;
    out_ = out;
    ok_ = true;
    next_symbol_ = 1;
    List(f.exprs);
    return ok_;
  }

  // A span group is at most this many bytes (one page: its check reads one
  // map entry) and at most kMaxGroupInstructions instructions long (the C
  // between its first and last store is written twice).
  static constexpr uint64_t kMaxSpan = 4096;
  static constexpr size_t kMaxGroupInstructions = 256;

 private:
  struct Effect {
    bool known;
    int pops, pushes;
  };
  static Effect StackEffect(const wabt::Expr& e) {
    using wabt::ExprType;
    switch (e.type()) {
      case ExprType::Const: case ExprType::LocalGet: case ExprType::GlobalGet: case ExprType::MemorySize:
        return {true, 0, 1};
      case ExprType::LocalSet: case ExprType::GlobalSet: case ExprType::Drop:
        return {true, 1, 0};
      case ExprType::LocalTee: case ExprType::Unary: case ExprType::Convert: case ExprType::Load:
        return {true, 1, 1};
      case ExprType::Binary: case ExprType::Compare:
        return {true, 2, 1};
      case ExprType::Select:
        return {true, 3, 1};
      case ExprType::Store:
        return {true, 2, 0};
      case ExprType::Nop:
        return {true, 0, 0};
      default:
        return {false, 0, 0};
    }
  }

  // The instruction of `run` that pushed a store's address operand (below
  // its value operand), or nullptr. Looks back kMaxLookBack instructions at
  // most, so that a long straight-line body translates in linear time.
  static constexpr size_t kMaxLookBack = 256;
  static const wabt::Expr* AddressProducer(const std::vector<const wabt::Expr*>& run) {
    int skip = 1;  // the value operand
    size_t steps = 0;
    for (auto it = run.rbegin(); it != run.rend() && steps < kMaxLookBack; ++it, ++steps) {
      const Effect fx = StackEffect(**it);
      if (!fx.known || fx.pushes > 1) return nullptr;
      if (fx.pushes == 1) {
        if (skip == 0) return *it;
        --skip;
      }
      skip += fx.pops;
    }
    return nullptr;
  }

  // A value of the run: symbol `sym` (an unknown value; 0: zero) plus `add`,
  // modulo 2^32. Each value the analysis does not follow gets a new symbol.
  struct Value {
    uint64_t sym;
    uint32_t add;
  };
  struct Member {
    size_t site;
    int64_t delta;  // the address's constant minus the first member's, as a signed 32-bit difference
    uint64_t offset, size;
  };
  // The state of one run: the values of the stack slots pushed within it and
  // of the locals set or read within it, and the open span group.
  struct Run {
    std::vector<const wabt::Expr*> exprs;
    std::set<uint64_t> noted;  // pages written by the run's constant-address stores so far
    std::vector<Value> stack;
    std::unordered_map<wabt::Index, Value> locals;
    std::unordered_map<wabt::Index, Value> globals;  // i32 globals only
    std::vector<Member> group;
    uint64_t group_sym = 0;
    uint32_t group_add = 0;  // the first member's constant
    size_t group_start = 0;  // exprs.size() at the first member
  };

  Value Fresh() { return {next_symbol_++, 0}; }
  static Value Pop(Run* r, Value fresh) {
    if (r->stack.empty()) return fresh;  // pushed before the run: unknown
    const Value v = r->stack.back();
    r->stack.pop_back();
    return v;
  }

  // Follows `e`'s effect on the run's values (e has a known StackEffect).
  void Step(const wabt::Expr& e, Run* r) {
    using wabt::ExprType;
    switch (e.type()) {
      case ExprType::Const: {
        const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&e)->const_;
        r->stack.push_back(c.type() == wabt::Type::I32 ? Value{0, c.u32()} : Fresh());
        return;
      }
      case ExprType::GlobalGet: {
        // Nothing but the run's own global.set changes a global within a run
        // (no call, no host function; the host's page-write charge changes
        // the gas counter, an i64). Only i32 values can be addresses.
        const wabt::Var& var = wabt::cast<wabt::GlobalGetExpr>(&e)->var;
        const wabt::Global* g = module_->GetGlobal(var);
        if (g == nullptr || g->type != wabt::Type::I32) {
          r->stack.push_back(Fresh());
          return;
        }
        const wabt::Index i = module_->GetGlobalIndex(var);
        auto it = r->globals.find(i);
        if (it == r->globals.end()) it = r->globals.emplace(i, Fresh()).first;
        r->stack.push_back(it->second);
        return;
      }
      case ExprType::GlobalSet: {
        const wabt::Var& var = wabt::cast<wabt::GlobalSetExpr>(&e)->var;
        const Value v = Pop(r, Fresh());
        const wabt::Global* g = module_->GetGlobal(var);
        if (g != nullptr && g->type == wabt::Type::I32) r->globals[module_->GetGlobalIndex(var)] = v;
        return;
      }
      case ExprType::LocalGet: {
        const wabt::Index i = func_->GetLocalIndex(wabt::cast<wabt::LocalGetExpr>(&e)->var);
        auto it = r->locals.find(i);
        if (it == r->locals.end()) it = r->locals.emplace(i, Fresh()).first;
        r->stack.push_back(it->second);
        return;
      }
      case ExprType::LocalSet: {
        const wabt::Index i = func_->GetLocalIndex(wabt::cast<wabt::LocalSetExpr>(&e)->var);
        r->locals[i] = Pop(r, Fresh());
        return;
      }
      case ExprType::LocalTee: {
        const wabt::Index i = func_->GetLocalIndex(wabt::cast<wabt::LocalTeeExpr>(&e)->var);
        const Value v = Pop(r, Fresh());
        r->locals[i] = v;
        r->stack.push_back(v);
        return;
      }
      case ExprType::Binary: {
        const wabt::Opcode op = wabt::cast<wabt::BinaryExpr>(&e)->opcode;
        const Value b = Pop(r, Fresh()), a = Pop(r, Fresh());
        if (op == wabt::Opcode::I32Add && b.sym == 0) {
          r->stack.push_back({a.sym, a.add + b.add});
        } else if (op == wabt::Opcode::I32Add && a.sym == 0) {
          r->stack.push_back({b.sym, a.add + b.add});
        } else if (op == wabt::Opcode::I32Sub && b.sym == 0) {
          r->stack.push_back({a.sym, a.add - b.add});
        } else {
          r->stack.push_back(Fresh());
        }
        return;
      }
      default: {
        const Effect fx = StackEffect(e);
        for (int k = 0; k < fx.pops; ++k) Pop(r, Fresh());
        for (int k = 0; k < fx.pushes; ++k) r->stack.push_back(Fresh());
        return;
      }
    }
  }

  void Reset(Run* r) {
    CloseGroup(r);
    r->exprs.clear();
    r->noted.clear();
    r->stack.clear();
    // A new map rather than clear(), which costs the bucket count even when
    // empty: many resets after one run that read many locals stay linear.
    if (!r->locals.empty()) r->locals = {};
    if (!r->globals.empty()) r->globals = {};
  }

  void List(const wabt::ExprList& exprs) {
    Run run;
    for (const wabt::Expr& e : exprs) {
      switch (e.type()) {
        case wabt::ExprType::Block:
          Reset(&run);
          List(wabt::cast<wabt::BlockExpr>(&e)->block.exprs);
          continue;
        case wabt::ExprType::Loop:
          Reset(&run);
          List(wabt::cast<wabt::LoopExpr>(&e)->block.exprs);
          continue;
        case wabt::ExprType::If: {
          Reset(&run);
          const auto* i = wabt::cast<wabt::IfExpr>(&e);
          List(i->true_.exprs);
          List(i->false_);
          continue;
        }
        case wabt::ExprType::Try:
          ok_ = false;  // wasm2c's order of its parts is not followed here
          return;
        case wabt::ExprType::Store:
          Store(*wabt::cast<wabt::StoreExpr>(&e), &run);
          run.exprs.push_back(&e);
          continue;
        default:
          break;
      }
      if (StackEffect(e).known) {
        Step(e, &run);
        run.exprs.push_back(&e);
      } else {
        Reset(&run);  // calls (checkpoints happen inside them), memory.grow, bulk memory, branches, ...
      }
    }
    CloseGroup(&run);
  }

  void Store(const wabt::StoreExpr& s, Run* r) {
    StoreSite site;
    site.name = s.opcode.GetName();
    std::replace(site.name.begin(), site.name.end(), '.', '_');
    site.offset = s.offset;
    const wabt::Expr* producer = AddressProducer(r->exprs);
    const uint64_t n = s.opcode.GetMemorySize();
    if (producer != nullptr && producer->type() == wabt::ExprType::Const && n != 0) {
      const wabt::Const& c = wabt::cast<wabt::ConstExpr>(producer)->const_;
      if (c.type() == wabt::Type::I32) {
        const uint64_t a = uint64_t{c.u32()} + s.offset;
        bool all = true;
        for (uint64_t p = a >> 12; p <= (a + n - 1) >> 12; ++p) all = all && r->noted.count(p) != 0;
        if (all) {
          site.skip = true;
        } else {
          for (uint64_t p = a >> 12; p <= (a + n - 1) >> 12; ++p) r->noted.insert(p);
        }
      }
    }
    out_->push_back(std::move(site));
    Pop(r, Fresh());  // the value
    const Value address = Pop(r, Fresh());
    if (address.sym == 0 || n == 0) {
      CloseGroup(r);
      return;
    }
    if (!r->group.empty() && (address.sym != r->group_sym || r->exprs.size() - r->group_start > kMaxGroupInstructions ||
                              !Joins(*r, address.add, s.offset, n))) {
      CloseGroup(r);
    }
    if (r->group.empty()) {
      r->group_sym = address.sym;
      r->group_add = address.add;
      r->group_start = r->exprs.size();
    }
    r->group.push_back({out_->size() - 1, static_cast<int32_t>(address.add - r->group_add), s.offset, n});
  }

  // The span of a group's members (and of `extra`, if given), relative to
  // S + the smallest constant: [lo, hi), and the range of their constants.
  struct Span {
    int64_t min_delta, max_delta;
    uint64_t lo, hi;
  };
  static Span SpanOf(const std::vector<Member>& group, const Member* extra) {
    Span s{INT64_MAX, INT64_MIN, UINT64_MAX, 0};
    auto each = [&](auto&& f) {
      for (const Member& m : group) f(m);
      if (extra != nullptr) f(*extra);
    };
    each([&](const Member& m) {
      s.min_delta = std::min(s.min_delta, m.delta);
      s.max_delta = std::max(s.max_delta, m.delta);
    });
    each([&](const Member& m) {
      const uint64_t at = static_cast<uint64_t>(m.delta - s.min_delta) + m.offset;
      s.lo = std::min(s.lo, at);
      s.hi = std::max(s.hi, at + m.size);
    });
    return s;
  }
  static bool Fits(const Span& s) {
    return static_cast<uint64_t>(s.max_delta - s.min_delta) <= kMaxSpan && s.hi - s.lo <= kMaxSpan;
  }
  // Whether a store at the group's symbol + `add`, `offset`, `n` bytes keeps
  // the group within kMaxSpan. (Linear in the group, which the instruction
  // cap bounds.)
  static bool Joins(const Run& r, uint32_t add, uint64_t offset, uint64_t n) {
    const Member m{0, static_cast<int32_t>(add - r.group_add), offset, n};
    return Fits(SpanOf(r.group, &m));
  }

  void CloseGroup(Run* r) {
    if (r->group.size() >= 2) {
      const Span s = SpanOf(r->group, nullptr);
      StoreSite& first = (*out_)[r->group.front().site];
      first.last = r->group.back().site;
      first.check_add = static_cast<uint32_t>(s.min_delta);
      first.check_lo = s.lo;
      first.check_len = s.hi - s.lo;
      for (const Member& m : r->group) (*out_)[m.site].in_group = true;
    }
    r->group.clear();
  }

  const wabt::Module* module_ = nullptr;
  const wabt::Func* func_ = nullptr;
  std::vector<StoreSite>* out_ = nullptr;
  bool ok_ = true;
  uint64_t next_symbol_ = 1;
};

// The address argument of a store line "name(mem, addr, value);" is addr,
// "(u64)(x)" or "(u64)(x) + <offset>".
bool StoreLineMatches(std::string_view line, const StoreSite& site) {
  const size_t first = line.find(", ");
  if (first == std::string_view::npos) return false;
  const size_t second = line.find(", ", first + 2);
  if (second == std::string_view::npos) return false;
  const std::string_view addr = line.substr(first + 2, second - first - 2);
  const size_t plus = addr.find(" + ");
  if (site.offset == 0) return plus == std::string_view::npos;
  if (plus == std::string_view::npos) return false;
  std::string_view off = addr.substr(plus + 3);
  if (!off.empty() && off.back() == 'u') off.remove_suffix(1);
  return off == std::to_string(site.offset);
}

// The wasm address operand of a store line: x in "(u64)(x)", when x is a C
// identifier (wasm2c's stack variable), else "".
std::string_view StoreLineOperand(std::string_view line) {
  constexpr std::string_view kCast = "(u64)(";
  const size_t first = line.find(", ");
  if (first == std::string_view::npos || line.substr(first + 2, kCast.size()) != kCast) return "";
  const size_t from = first + 2 + kCast.size(), close = line.find(')', from);
  if (close == std::string_view::npos || close == from) return "";
  const std::string_view x = line.substr(from, close - from);
  for (char ch : x) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return "";
  }
  return x;
}

// Whether the C lines [begin, end) of a span group are plain statements
// that can be written twice: each ends with ';', none opens or closes a
// brace or is a label.
bool PlainStatements(std::string_view text) {
  for (size_t line = 0; line < text.size();) {
    size_t nl = text.find('\n', line);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view l = text.substr(line, nl - line);
    const size_t lead = l.find_first_not_of(' ');
    if (lead != std::string_view::npos) {
      if (l.back() != ';' || l.find_first_of("{}") != std::string_view::npos) return false;
      size_t id = lead;
      while (id < l.size() && (std::isalnum(static_cast<unsigned char>(l[id])) || l[id] == '_')) ++id;
      if (id < l.size() && l[id] == ':') return false;
    }
    line = nl + 1;
  }
  return true;
}

// A span group's C lines [begin, end), the check written before them and
// the positions of its stores' names.
struct SpanRegion {
  size_t begin = 0, end = 0;
  std::string check;
  std::vector<size_t> members;
};

// Appends c[begin, end) to `out`, with kNoBarrierPrefix before each position
// of the ascending lists `a` and `b` that falls in it.
void AppendPrefixed(std::string* out, const std::string& c, size_t begin, size_t end, const std::vector<size_t>& a,
                    const std::vector<size_t>& b) {
  auto ia = std::lower_bound(a.begin(), a.end(), begin);
  auto ib = std::lower_bound(b.begin(), b.end(), begin);
  size_t from = begin;
  for (;;) {
    const size_t na = ia != a.end() && *ia < end ? *ia : end, nb = ib != b.end() && *ib < end ? *ib : end;
    const size_t next = std::min(na, nb);
    if (next == end) break;
    out->append(c, from, next - from);
    *out += kNoBarrierPrefix;
    from = next;
    if (na == next) ++ia;
    if (nb == next) ++ib;
  }
  out->append(c, from, end - from);
}

// Rewrites the stores StoreRuns lets go without a barrier to call
// kNoBarrierPrefix<name>, and writes each span group's lines twice behind
// its check. A function whose C does not list exactly the stores the
// analysis saw (names and offsets, in order) is left as it is. Returns how
// many stores were rewritten (constant-address ones, and group members in
// their checked copy). `spans` false leaves out the span groups (for
// measuring them against the constant-address rewrite alone).
size_t SkipNotedStores(const wabt::Module& m, std::string* c, bool spans) {
  if (m.memories.size() != 1 || m.memories[0]->page_limits.is_64) return 0;
  std::vector<const char*> names;
  for (const Wasm2cAccess& a : Wasm2cStores()) names.push_back(a.name);
  std::vector<size_t> edits;  // positions of the store names to prefix, ascending
  std::vector<SpanRegion> regions;  // ascending, disjoint
  size_t at = c->find(kBodiesAnchor);
  if (at == std::string::npos) return 0;
  for (size_t f = m.num_func_imports; f < m.funcs.size(); ++f) {
    const size_t body = c->find(kWasm2cBodyStart, at);
    if (body == std::string::npos) break;
    const size_t end = c->find(kWasm2cBodyEnd, body);
    if (end == std::string::npos) break;
    at = end;
    std::vector<StoreSite> sites;
    StoreRuns runs;
    if (!runs.Function(m, *m.funcs[f], &sites)) continue;
    if (std::none_of(sites.begin(), sites.end(), [&](const StoreSite& s) { return s.skip || (spans && s.in_group); })) {
      continue;
    }
    const size_t edits_before = edits.size(), regions_before = regions.size();
    std::vector<size_t> line_of(sites.size()), name_at(sites.size()), line_end(sites.size());
    size_t k = 0;
    bool match = true;
    for (size_t line = body; line < end && match;) {
      size_t nl = c->find('\n', line);
      if (nl == std::string::npos || nl > end) nl = end;
      const std::string_view text(c->data() + line, nl - line);
      const size_t lead = text.find_first_not_of(' ');
      if (lead != std::string_view::npos) {
        const std::string_view rest = text.substr(lead);
        for (const char* name : names) {
          const std::string_view n(name);
          if (rest.size() > n.size() && rest.substr(0, n.size()) == n && rest[n.size()] == '(') {
            if (k >= sites.size() || sites[k].name != n || !StoreLineMatches(rest, sites[k])) {
              match = false;
            } else {
              line_of[k] = line;
              name_at[k] = line + lead;
              line_end[k] = nl < c->size() ? nl + 1 : nl;
              if (sites[k].skip) edits.push_back(line + lead);
            }
            ++k;
            break;
          }
        }
      }
      line = nl + 1;
    }
    if (match && k == sites.size() && spans) {
      for (size_t s = 0; s < sites.size() && match; ++s) {
        if (sites[s].last == 0) continue;
        SpanRegion r;
        r.begin = line_of[s];
        r.end = line_end[sites[s].last];
        const std::string_view operand =
            StoreLineOperand(std::string_view(*c).substr(name_at[s], line_end[s] - name_at[s]));
        if (operand.empty() || !PlainStatements(std::string_view(*c).substr(r.begin, r.end - r.begin))) {
          match = false;
          break;
        }
        const std::string indent = c->substr(line_of[s], name_at[s] - line_of[s]);
        r.check = indent + "if (CRUST_SPAN_NOTED((u32)(" + std::string(operand) + " + " +
                  std::to_string(sites[s].check_add) + "u), " + std::to_string(sites[s].check_lo) + "ull, " +
                  std::to_string(sites[s].check_len) + "u)) {\n";
        for (size_t j = s; j <= sites[s].last; ++j) {
          if (sites[j].in_group) r.members.push_back(name_at[j]);
        }
        regions.push_back(std::move(r));
      }
    }
    if (!match || k != sites.size()) {  // this function is left as it is
      edits.resize(edits_before);
      regions.resize(regions_before);
    }
  }
  // A region's text is written twice: within kMaxTranslatedCBytes, or no
  // region is (the constant-address edits add a few bytes per store).
  size_t extra = 0;
  for (const SpanRegion& r : regions) extra += r.end - r.begin + r.check.size() + r.members.size() * 16 + 64;
  if (extra > kMaxTranslatedCBytes - std::min(kMaxTranslatedCBytes, c->size())) regions.clear();
  // One pass over the text, so the cost is linear in its size however many
  // stores are rewritten.
  if (edits.empty() && regions.empty()) return 0;
  size_t rewritten = edits.size();
  std::string out;
  out.reserve(c->size() + edits.size() * (sizeof(kNoBarrierPrefix) - 1));
  const std::vector<size_t> none;
  size_t from = 0;
  for (const SpanRegion& r : regions) {
    AppendPrefixed(&out, *c, from, r.begin, edits, none);
    const std::string indent = r.check.substr(0, r.check.find_first_not_of(' '));
    out += r.check;
    AppendPrefixed(&out, *c, r.begin, r.end, edits, r.members);
    out += indent + "} else {\n";
    AppendPrefixed(&out, *c, r.begin, r.end, edits, none);
    out += indent + "}\n";
    from = r.end;
    rewritten += r.members.size();
  }
  AppendPrefixed(&out, *c, from, c->size(), edits, none);
  *c = std::move(out);
  return rewritten;
}

// The C lvalue of global `index` as wasm2c's accessor of the synthetic
// export crust_g<index> returns it ("instance->w2c_..."), or "" if absent.
std::string GlobalField(const std::string& c, uint32_t index) {
  const std::string head = Wasm2cGlobalAccessorHead("crust_g" + std::to_string(index));
  const size_t at = c.find(head);
  if (at == std::string::npos) return "";
  const size_t from = at + head.size(), semi = c.find(";\n", from);
  if (semi == std::string::npos) return "";
  std::string field = c.substr(from, semi - from);
  return field.rfind("instance->", 0) == 0 && field.find_first_of(" ()[],;") == std::string::npos ? field : "";
}

std::string FormatErrors(const wabt::Errors& errors) {
  return wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary);
}

}  // namespace

const char* Wasm2cVersion() { return WabtVersion(); }

const std::string& TranslatorText() {
  static const std::string* const text = [] {
    auto* t = new std::string(GluePrelude());
    for (const Wasm2cPatch& p : WriteBarrierPatches()) *t = *t + "\n" + p.anchor + "\n" + p.insert;
    *t += MemoryLocalsText(true) + MemoryLocalsText(false) + std::string(kBodiesAnchor) + kMemoryLocalsPrologue +
          kGasLocalPrologue + LoopVersioningText();
    return t;
  }();
  return *text;
}

namespace {

Result<CSource> Translate(ByteView wasm, bool write_barrier) {
  // Prepared modules stay within the deploy budgets plus what instrumentation
  // adds; checking again bounds translation of bytes from anywhere.
  RETURN_IF_ERROR(CheckModuleLimits(wasm, kDeployLimits.Prepared()));
  wabt::Errors errors;
  wabt::Module module;
  wabt::Features features;  // wabt's defaults; the prepare step has already narrowed them
  wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/false);
  if (wabt::Failed(wabt::ReadBinaryIr("module.wasm", wasm.data(), wasm.size(), options, &errors, &module))) {
    return Status::InvalidModule("wasm2c could not read the module: " + FormatErrors(errors));
  }
  wabt::ValidateOptions vopts(features);
  if (wabt::Failed(wabt::ValidateModule(&module, &errors, vopts))) {
    return Status::InvalidModule("wasm2c: module does not validate: " + FormatErrors(errors));
  }
  if (module.memories.size() > 1) return Status::NotSupported("more than one memory");
  const size_t num_exports = module.exports.size();
  std::vector<std::pair<std::string, std::string>> import_names;
  const std::vector<std::string> names = Rename(&module, &import_names);
  if (wabt::Failed(wabt::GenerateNames(&module))) return Status::InvalidModule("wasm2c: naming failed");
  // As the wasm2c tool does: ApplyNames may report names it could not apply
  // (e.g. to references in passive segments); the C writer does not need them.
  wabt::ApplyNames(&module);
  CappedStream c_stream(kMaxTranslatedCBytes), h_stream(kMaxTranslatedCBytes);
  wabt::WriteCOptions wopts;
  wopts.module_name = "m";
  const bool written = wabt::Succeeded(wabt::WriteC(&c_stream, &h_stream, kGeneratedHeaderName, &module, wopts));
  if (c_stream.overflowed() || h_stream.overflowed()) {
    return Status::ResourceExhausted("deploy limit exceeded: the translated C exceeds " +
                                     std::to_string(kMaxTranslatedCBytes) + " bytes (translated C size)");
  }
  if (!written) return Status::InvalidModule("wasm2c could not translate the module");
  GlueWriter glue(module);
  glue.original_export_names_ = &names;
  glue.original_import_names_ = &import_names;
  glue.num_exports_ = num_exports;
  glue.has_start_ = std::any_of(module.exports.begin(), module.exports.end(),
                                [](const wabt::Export* e) { return e->name == "crust_start"; });
  ASSIGN_OR_RETURN(std::string glue_text, glue.Write());
  CSource out;
  out.c = c_stream.Take();
  if (write_barrier) RETURN_IF_ERROR(ApplyWasm2cPatches(WriteBarrierPatches(), &out.c));
  bool memory_locals = false, gas_local = false;
  RETURN_IF_ERROR(InsertMemoryLocals(&out.c, write_barrier, &memory_locals));
  if (write_barrier && memory_locals) SkipNotedStores(module, &out.c, /*spans=*/true);
  // The instrumentation's gas counter, when the module has one.
  for (size_t k = 0; k < num_exports; ++k) {
    const wabt::Export& e = *module.exports[k];
    if (names[k] != kGasGlobal || e.kind != wabt::ExternalKind::Global) continue;
    const std::string field = GlobalField(out.c, module.GetGlobalIndex(e.var));
    if (field.empty()) return Status::NotSupported("wasm2c output: no accessor for the gas global");
    RETURN_IF_ERROR(CacheGasInLocal(&out.c, field));
    // Counted loops whose every charge and barrier can be settled at entry
    // (loop_versioning.h); needs the memory locals and the gas local.
    if (memory_locals && VersionCountedLoops(module, module.GetGlobalIndex(e.var), write_barrier, &out.c) > 0) {
      out.c.insert(out.c.find(kBodiesAnchor) + 1, LoopVersioningText());
    }
    out.c.insert(out.c.find(kBodiesAnchor) + 1, "#define CRUST_GAS " + field + "\n" +
                 (memory_locals ? "#undef CRUST_AFTER_NOTE\n#define CRUST_AFTER_NOTE (crust_gas_ = CRUST_GAS)\n" : ""));
    gas_local = true;
    break;
  }
  if (memory_locals || gas_local) {
    out.c.insert(out.c.find(kBodiesAnchor) + 1,
                 std::string("#undef FUNC_PROLOGUE\n#define FUNC_PROLOGUE") +
                     (memory_locals ? kMemoryLocalsPrologue : "") + (gas_local ? kGasLocalPrologue : "") +
                     " (void)0\n");
  }
  out.c += glue_text;
  out.h = h_stream.Take();
  return out;
}

}  // namespace

Result<CSource> TranslateToC(ByteView wasm, bool write_barrier) {
  try {
    return Translate(wasm, write_barrier);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while translating a module of " + std::to_string(wasm.size()) +
                                     " bytes to C");
  }
}

}  // namespace crust::engine
