// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/wabt_adapter.h"

#include <string>

#include "wabt/config.h"

namespace crust::engine {
namespace {

constexpr bool Supported(std::string_view version) {
  for (std::string_view v : kSupportedWabtVersions) {
    if (v == version) return true;
  }
  return false;
}
static_assert(Supported(WABT_VERSION_STRING),
              "wabt version not supported by crust: see src/engine/prepare/wabt_adapter.h and cmake/Wabt.cmake");

const Wasm2cPatch kWriteBarrierPatches[] = {
    {"    wasm_rt_memcpy(&mem->data[addr], &wrapped, sizeof(t1));", "    CRUST_NOTE_STORE(mem, addr, sizeof(t1));   \\\n",
     "DEFINE_STORE's copy into memory (every store instruction)"},
    {"  memset(mem->data + d, val, n);", "  CRUST_NOTE_RANGE(mem, d, n);\n", "memory_fill's memset (memory.fill)"},
    {"  memmove(dest->data + dest_addr, src->data + src_addr, n);", "  CRUST_NOTE_RANGE(dest, dest_addr, n);\n",
     "memory_copy's memmove (memory.copy)"},
    {"    load_data(&(m.data[o]), i, s);", "    CRUST_NOTE_RANGE((&m), o, s);  \\\n",
     "LOAD_DATA's copy (memory.init and active data segments)"},
};

constexpr char kImportContextSlotsC[] = R"(/* Import context: slot 0 holds its own address. wasm2c 1.0.32 passes the
 * context itself on direct calls of an imported function, but the address of
 * the instance field holding it when the function is reached through a table
 * (call_indirect); the self pointer tells the two apart. */
static inline crust_import_slot* crust_slots(void* c) {
  void* p;
  memcpy(&p, c, sizeof p); /* slot 0's function pointer, read as the address it holds */
  return (crust_import_slot*)(p == c ? c : p);
}
)";

// As wasm2c 1.0.32's DEFINE_LOAD / DEFINE_STORE lines list them.
const Wasm2cAccess kLoads[] = {
    {"i32_load", "u32", "u32", "u32"},      {"i64_load", "u64", "u64", "u64"},
    {"f32_load", "f32", "f32", "f32"},      {"f64_load", "f64", "f64", "f64"},
    {"i32_load8_s", "s8", "s32", "u32"},    {"i64_load8_s", "s8", "s64", "u64"},
    {"i32_load8_u", "u8", "u32", "u32"},    {"i64_load8_u", "u8", "u64", "u64"},
    {"i32_load16_s", "s16", "s32", "u32"},  {"i64_load16_s", "s16", "s64", "u64"},
    {"i32_load16_u", "u16", "u32", "u32"},  {"i64_load16_u", "u16", "u64", "u64"},
    {"i64_load32_s", "s32", "s64", "u64"},  {"i64_load32_u", "u32", "u64", "u64"},
};
const Wasm2cAccess kStores[] = {
    {"i32_store", "u32", "u32", nullptr},   {"i64_store", "u64", "u64", nullptr},
    {"f32_store", "f32", "f32", nullptr},   {"f64_store", "f64", "f64", nullptr},
    {"i32_store8", "u8", "u32", nullptr},   {"i32_store16", "u16", "u32", nullptr},
    {"i64_store8", "u8", "u64", nullptr},   {"i64_store16", "u16", "u64", nullptr},
    {"i64_store32", "u32", "u64", nullptr},
};

}  // namespace

std::span<const Wasm2cAccess> Wasm2cLoads() { return kLoads; }
std::span<const Wasm2cAccess> Wasm2cStores() { return kStores; }

bool IsWasm2cInstanceField(std::string_view expr) {
  return expr.starts_with("&instance->") || expr.starts_with("instance->");
}

std::string Wasm2cGlobalAccessorHead(std::string_view export_name) {
  return "Z_mZ_" + std::string(export_name) + "(Z_m_instance_t* instance) {\n  return &";
}

std::string Wasm2cGlobalReadText(std::string_view field) { return "= " + std::string(field) + ";"; }
std::string Wasm2cGlobalWriteText(std::string_view field) { return std::string(field) + " = "; }

bool Wasm2cLineMayCharge(std::string_view line) {
  for (std::string_view call : {"(instance", "CALL_INDIRECT(", "memory_fill(", "memory_copy(", "memory_init("}) {
    if (line.find(call) != std::string_view::npos) return true;
  }
  return false;
}

const char* WabtVersion() { return WABT_VERSION_STRING; }

wabt::Features DecodeFeatures() {
  wabt::Features f;  // defaults: mutable globals, sat, sign-ext, simd, multi-value, bulk memory, ref types
  f.enable_simd();
  f.enable_threads();
  f.enable_exceptions();
  f.enable_tail_call();
  f.enable_memory64();
  f.enable_multi_memory();
  return f;
}

std::span<const Wasm2cPatch> WriteBarrierPatches() { return kWriteBarrierPatches; }

Status ApplyWasm2cPatches(std::span<const Wasm2cPatch> patches, std::string* c) {
  for (const Wasm2cPatch& p : patches) {
    const size_t at = c->find(p.anchor);
    if (at == std::string::npos || c->find(p.anchor, at + 1) != std::string::npos) {
      return Status::NotSupported(std::string("wasm2c output (wabt ") + WabtVersion() +
                                  ") is not what crust's write barrier expects: " +
                                  (at == std::string::npos ? "missing" : "repeated") + " anchor \"" + p.anchor +
                                  "\" (" + p.what + "); see src/engine/prepare/wabt_adapter.h");
    }
    c->insert(at, p.insert);
  }
  return Status::OK();
}

std::string_view ImportContextSlotsC() { return kImportContextSlotsC; }

}  // namespace crust::engine
