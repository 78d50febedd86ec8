// Copyright (c) crust authors. Licensed under the MIT license.
//
// Per-module budgets that bound the work and memory of every deploy step
// (decode, validate, instrument, translate to C, compile), whatever the
// module. They are checked by a streaming pre-scan of the binary
// (CheckModuleLimits) BEFORE the bytes reach wabt's IR reader, validator,
// the instrumenter or wasm2c: the scan itself does work proportional to the
// module's bytes only (wabt's BinaryReader with a counting delegate; every
// count it reads is bounded by the bytes that remain), allocates O(types +
// functions) after those counts passed their budgets, and never recurses.
//
// The budgets (numbers in docs/abi.md, "Deploy limits"):
//   types, functions (imported + defined), imports, exports, globals, tables,
//   element segments, element entries (sum), data segments, params + results
//   of one function type, locals of one function (params + declared),
//   locals of all functions, block nesting depth (block/loop/if/try inside
//   one function body), instructions (all bodies), the wasm frame of one
//   function (below), and the size of the C that wasm2c may produce
//   (kMaxTranslatedCBytes, enforced while writing).
// An exceeded budget is ResourceExhausted naming the budget, its limit and
// the module's value, e.g. "deploy limit exceeded: function 3 has at least
// 268435455 locals; the limit is 10000 (locals per function)".
//
// Besides budgets the pre-scan rejects, with InvalidModule, what would make
// every instantiation fail: a table whose initial size exceeds
// kMaxTableEntries, and a data-count section announcing segments when the
// module has no data section. (Element segments past their table are checked
// on the decoded module: CheckElementSegmentsFit.)
//
// Why depth matters: wabt's IR is a tree whose destruction, encoding
// (binary writer) and translation (c-writer) recurse once per nesting level,
// as does crust's instrumenter; bounding the depth bounds their native stack
// (kMaxNestingDepth levels use well under 1 MiB of stack in each).
//
// The wasm frame of a function, in bytes, is 8 × (params + declared locals +
// the highest its operand stack can get), every value counted as 8 bytes
// whatever its type. The height is computed by the scan from each
// instruction's stack effect (calls and blocks through their types); in code
// that validation treats as unreachable (after br, return, unreachable) it
// may over-count, never under-count. It is a function of the wasm alone, so
// which modules deploy never depends on the C compiler; the native stack is
// sized from it (runtime_call.h NativeFrameBound, docs/abi.md "Native stack").
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>

#include "crust/status.h"
#include "crust/types.h"

namespace wabt {
struct Module;
}

namespace crust::engine {

struct ModuleLimits {
  uint32_t max_types = 2000;
  uint32_t max_functions = 5000;   // imported + defined
  uint32_t max_imports = 1000;
  uint32_t max_exports = 1000;
  uint32_t max_globals = 1000;     // imported + defined
  uint32_t max_tables = 100;
  uint32_t max_table_entries = 100000;  // initial size of one table (InvalidModule)
  uint32_t max_element_segments = 10000;
  uint32_t max_element_entries = 100000;  // over all element segments
  uint32_t max_data_segments = 10000;
  uint32_t max_type_arity = 1000;  // params + results of one function type
  uint32_t max_function_locals = 10000;  // params + declared locals of one function
  uint64_t max_total_locals = 200000;    // over all defined functions
  uint32_t max_nesting_depth = 1024;     // nested block/loop/if/try in one body
  uint64_t max_instructions = 2000000;   // over all function bodies
  uint32_t max_frame_bytes = 96 * 1024;  // wasm frame of one function (above)

  // The budgets a module produced by PrepareModule from a module within
  // `*this` stays within (instrumentation adds a function, three globals,
  // exports, two scratch locals per function, one nesting level, and a
  // bounded number of instructions per original one). The translator checks
  // prepared bytes against these.
  ModuleLimits Prepared() const;
};

// What instrumentation may add to a function's wasm frame: two scratch
// locals and a few operand slots for gas, depth and NaN sequences.
inline constexpr uint32_t kInstrumentationFrameBytes = 8 * 16;

// The budgets of every deploy (PrepareModule). Changing them changes which
// modules are accepted: bump kPrepareVersion (prepare.h).
inline constexpr ModuleLimits kDeployLimits{};

// Largest C source (generated file plus glue) TranslateToC produces before
// it stops with ResourceExhausted. The real contracts produce well below a
// tenth of it (docs/abi.md).
inline constexpr uint64_t kMaxTranslatedCBytes = uint64_t{256} << 20;

// What the pre-scan measured (meaningful when it returned OK).
struct ModuleStats {
  uint64_t max_frame_bytes = 0;  // the largest wasm frame of a defined function
  uint32_t max_frame_function = 0;  // its function index (imports first)
  uint64_t max_body_instructions = 0;  // the most instructions in one function body
  uint64_t instructions = 0;           // in all function bodies
};

// The streaming pre-scan described above. OK if the module is within
// `limits` (or is malformed in a way the scan does not judge: the full
// decoder reports that). ResourceExhausted for a budget, InvalidModule for
// the instantiation failures listed above. Fills `*stats` when not null.
Status CheckModuleLimits(ByteView wasm, const ModuleLimits& limits = kDeployLimits, ModuleStats* stats = nullptr);

// InvalidModule naming the first active element segment with a constant
// offset whose entries do not fit in its table's initial size (instantiation
// would fail, so every call would trap). Segments whose offset is not a
// constant (global.get of an import) are left to instantiation.
Status CheckElementSegmentsFit(const wabt::Module& module);

}  // namespace crust::engine
