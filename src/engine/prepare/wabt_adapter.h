// Copyright (c) crust authors. Licensed under the MIT license.
//
// What crust assumes about the one wabt release it is built with (wabt
// 1.0.32, Debian 12's package), in one place:
//  * the supported versions: CMake refuses any other at configure time
//    (cmake/Wabt.cmake reads wabt/config.h and names the supported ones),
//    and this file's .cc refuses to compile against another;
//  * the wasm features crust decodes with (DecodeFeatures), a list copied
//    from wabt's Features that a new release may extend;
//  * the exact-text patches crust applies to wasm2c's C output (the write
//    barrier), each anchored on a line wasm2c 1.0.32 emits exactly once;
//    wabt_adapter_test.cc translates a module using every anchor and fails
//    naming any anchor that is missing or repeated;
//  * the shape of wasm2c 1.0.32's function bodies that crust's text passes
//    rely on (compiler_translate.cc: memory locals and the gas local): where
//    the bodies start and each body's first and last line, the names of its
//    load and store helpers, how an access names the memory, the accessor
//    of an exported global, and that every call stands on one line naming
//    `(instance` or `CALL_INDIRECT(`; each with a test in
//    wabt_adapter_test.cc;
//  * the import-context quirk of wasm2c 1.0.32 (the self pointer).
// Porting to another wabt starts here: add the version, run the engine tests
// (the anchor tests say which patches to redo), then the spec tests.
//
// wabt's IR (wabt::Module, wabt::Expr, its binary reader and writer) is also
// crust's deploy-time IR: validate.cc, instrument.cc, lower64.cc,
// module_limits.cc, prepare.cc and compiler_translate.cc use it directly
// (docs/architecture.md, "wabt").
//
// Thread-safety: free functions and constants without shared state.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "crust/status.h"
#include "wabt/feature.h"

namespace crust::engine {

// The wabt releases this adapter is written for (cmake/Wabt.cmake keeps the
// same list). Exactly one today.
inline constexpr std::string_view kSupportedWabtVersions[] = {"1.0.32"};

// The wabt version compiled in (WABT_VERSION_STRING), e.g. "1.0.32".
const char* WabtVersion();

// The features crust's decoder enables: wabt's defaults plus every proposal
// wabt 1.0.32 can decode, so that crust's own checks (validate.h) reject
// unsupported ones by name instead of wabt failing with a parse error.
wabt::Features DecodeFeatures();

// An exact-text edit of wasm2c's output: `insert` goes right before the one
// occurrence of `anchor`.
struct Wasm2cPatch {
  const char* anchor;
  const char* insert;
  const char* what;  // what the anchor is, for error messages and tests
};

// The write barrier (wasm_rt_abi.h): a note before every write to memory in
// the helpers wasm2c 1.0.32 emits at the top of each C file: stores
// (DEFINE_STORE), memory.fill, memory.copy, and memory.init and data segments
// (LOAD_DATA). The texts are matched exactly (little-endian variants).
std::span<const Wasm2cPatch> WriteBarrierPatches();

// Applies `patches` to `c`. NotSupported naming the anchor (and the wabt
// version) when an anchor is missing or occurs more than once: a wasm2c whose
// output differs fails here rather than producing code whose writes go unseen.
// `c` is unspecified after an error.
Status ApplyWasm2cPatches(std::span<const Wasm2cPatch> patches, std::string* c);

// ---- The text of wasm2c 1.0.32's function bodies ----

// The line right after wasm2c's helpers and before the first function body;
// it occurs exactly once (crust inserts its per-module macros after it).
inline constexpr std::string_view kWasm2cBodiesAnchor = "\nstatic bool s_module_initialized = false;\n";
// The first line of every function body (FUNC_PROLOGUE, which crust
// redefines to read its per-function locals), and the text ending the body.
inline constexpr std::string_view kWasm2cBodyStart = "  FUNC_PROLOGUE;\n";
inline constexpr std::string_view kWasm2cBodyEnd = "\n}\n";

// A load or store helper of wasm2c 1.0.32 as its DEFINE_LOAD / DEFINE_STORE
// line lists it: name (also the macro the bodies call, as name(mem, addr) or
// name(mem, addr, value)), memory type, intermediate type, value type.
struct Wasm2cAccess {
  const char* name;
  const char* t1;
  const char* t2;
  const char* t3;  // loads only (nullptr for stores)
};
std::span<const Wasm2cAccess> Wasm2cLoads();
std::span<const Wasm2cAccess> Wasm2cStores();

// Whether `expr`, the first argument of a load or store in a body, is a
// field of the instance (wasm2c 1.0.32: "&instance->w2c_memory", or
// "instance->..." for an imported memory's pointer).
bool IsWasm2cInstanceField(std::string_view expr);

// The text preceding the C lvalue in wasm2c's accessor of an exported
// global named `export_name`: "Z_mZ_<name>(Z_m_instance_t* instance) {\n
// return &" (module name "m"), followed by "instance->w2c_...;\n".
std::string Wasm2cGlobalAccessorHead(std::string_view export_name);

// How a body reads and writes a global whose C lvalue is `field`
// ("instance->w2c_g"): global.get is "w2c_j0 = <field>;", global.set
// "<field> = w2c_j0;", each on its own line. These return the matched parts,
// "= <field>;" and "<field> = ".
std::string Wasm2cGlobalReadText(std::string_view field);
std::string Wasm2cGlobalWriteText(std::string_view field);

// Whether a line of a function body may run code that charges gas: a call
// of a defined function (its first argument is the instance: "(instance"),
// of an imported one ("(instance->Z_..._instance"), through a table
// ("CALL_INDIRECT("), or of a bulk-memory helper whose write barrier may
// charge the page-write gas ("memory_fill(", "memory_copy(", "memory_init(").
// wasm2c 1.0.32 writes each such call as one statement ending its line.
bool Wasm2cLineMayCharge(std::string_view line);

// C text of crust_slots(), which finds the import slots from the context
// wasm2c 1.0.32 passes to an imported function: the context itself on a
// direct call, but the address of the instance field holding it on a call
// through a table (call_indirect). Slot 0 holds its own address, which tells
// the two apart. Part of the glue prelude (compiler_translate.cc).
std::string_view ImportContextSlotsC();

}  // namespace crust::engine
