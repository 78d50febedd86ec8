// Copyright (c) crust authors. Licensed under the MIT license.
//
// Deploy-time preparation: bytes in, a module ready for any engine out.
//
//   1. decode and validate (wabt), reject unsupported features (validate.h);
//   2. Abi::kContract: check the contract ABI (imports by name and signature,
//      memory, A, export types, no start function, ...);
//   3. apply the active data segments once to build the initial memory image,
//      then remove them from the module, so instantiation never re-applies
//      them over persisted memory. If the module also has passive segments
//      (memory.init), the removed active ones are replaced by empty passive
//      segments so segment indices stay the same; an emptied segment behaves
//      as the spec's dropped one;
//   4. export the module's mutable globals (state, see module_info.h);
//   5. instrument (instrument.h: gas, call depth, NaN);
//   6. encode, and decode + validate the result again.
//
// Passive data segments stay in the module; with Abi::kContract data.drop is
// rejected, so their contents are immutable and need no persisting. Element
// segments stay in the module (tables are rebuilt on every instantiation and
// cannot be changed by contract code).
//
// Thread-safety: PrepareModule may run concurrently on distinct inputs.
#pragma once

#include <cstdint>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/validate.h"

namespace crust::engine {

// Version of what preparation does apart from the instrumentation
// (kInstrumentationVersion): decoding and feature rules, the contract ABI
// checks, the memory image, the state-global exports, the encoding. Bump it
// whenever any module's result changes (accepted or rejected, bytes or
// facts): prepared-module caches are keyed on it (prepared_cache.h), and an
// unbumped change would let them return the old result.
// 2: deploy limits (module_limits.h); memory64 and table64 accepted (lower64.h)
// instead of rejected.
// 3: the wasm frame budget (module_limits.h max_frame_bytes).
inline constexpr uint32_t kPrepareVersion = 3;

struct PrepareOptions {
  // Which rules apply. kContract for everything deployed through crust;
  // kNone for foreign modules such as the official spec tests (any imports,
  // no required exports, start functions and table/segment mutation allowed;
  // the same feature rules and the same instrumentation).
  Abi abi = Abi::kContract;
  // Largest initial memory accepted, in 64 KiB pages (protects the host; the
  // module's memory may still grow up to its maximum at run time).
  // Default: 16384 pages = 1 GiB.
  uint32_t max_initial_pages = 16384;
  // Largest module accepted, in bytes. Default: 8 MiB.
  size_t max_module_bytes = 8u << 20;
};

// Returns the prepared module, or:
//   InvalidModule  malformed or invalid bytes, an ABI violation, a data
//                  segment outside the initial memory, a memory or table too
//                  large, (kContract) an element segment outside its table;
//   NotSupported   a feature crust deliberately rejects (named);
//   ResourceExhausted  a deploy budget exceeded (module_limits.h), checked
//                  before the work it bounds.
// Deterministic: the same bytes and options give byte-identical output.
Result<PreparedModule> PrepareModule(ByteView wasm, const PrepareOptions& options = {});

}  // namespace crust::engine
