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

// C text of crust_slots(), which finds the import slots from the context
// wasm2c 1.0.32 passes to an imported function: the context itself on a
// direct call, but the address of the instance field holding it on a call
// through a table (call_indirect). Slot 0 holds its own address, which tells
// the two apart. Part of the glue prelude (compiler_translate.cc).
std::string_view ImportContextSlotsC();

}  // namespace crust::engine
