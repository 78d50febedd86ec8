// Copyright (c) crust authors. Licensed under the MIT license.
//
// Translation of a WebAssembly module to C: wasm2c (wabt 1.0.32, as a
// library) plus crust's glue, which makes the result self-describing (a
// crust_module_desc, see wasm_rt_abi.h) and self-contained (the wasm_rt_*
// functions forward to a table the runtime installs).
//
// Before wasm2c runs, imports are renamed to module "i", fields "k<n>", and
// exports to "e<n>" (plus "crust_g<n>" for every defined global, "crust_mem"
// for a defined memory and "crust_start" for the start function, which is
// removed from instantiation: the runtime calls it), so that every C symbol name is predictable whatever the
// original names; the original names live in the descriptor.
//
// Thread-safety: TranslateToC is safe to call concurrently.
#pragma once

#include <string>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::engine {

// Name of the header wasm2c generates; the C file includes it.
inline constexpr char kGeneratedHeaderName[] = "module.h";
// Name under which wasm_rt_abi.h must be placed next to them.
inline constexpr char kRuntimeHeaderName[] = "wasm-rt.h";

struct CSource {
  std::string c;  // generated code followed by crust's glue
  std::string h;  // kGeneratedHeaderName's contents
};

// Translates `wasm` (a valid module). InvalidModule if wabt cannot read or
// validate it; NotSupported for constructs the glue cannot express (v128 in
// an import or export signature, more than one memory). Without
// `write_barrier` writes to memory are not noted (see CompilerOptions).
Result<CSource> TranslateToC(ByteView wasm, bool write_barrier = true);

// Version of the glue this file generates: part of the cache fingerprint.
// Bump on every change of the generated text that TranslatorText() does not
// show (the per-module glue written by code).
inline constexpr int kTranslatorVersion = 11;  // 5 twice on two branches (no __auto_type; frames on the heap): 6 covers both; 7 memory locals; 8 the gas local reloaded after a barrier slow path (page-write charge); 9 no barrier on constant-address stores to pages an earlier store of the same run wrote; 10 one check per span group of stores from one base (SkipNotedStores); 11 counted loops versioned (loop_versioning.h)

// The fixed parts of the generated C (glue prelude, write-barrier patches):
// part of the cache fingerprint, so editing them rebuilds cached objects.
const std::string& TranslatorText();

// "1.0.32": the wabt version compiled in (part of the cache fingerprint).
const char* Wasm2cVersion();

// The text of wasm_rt_abi.h (generated at configure time from the file).
const std::string& RuntimeHeaderText();

}  // namespace crust::engine
