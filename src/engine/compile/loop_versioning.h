// Copyright (c) crust authors. Licensed under the MIT license.
//
// Loop versioning of counted loops in the C that wasm2c writes (part of the
// translation, compiler_translate.cc; docs/abi.md section 9.2, 9.3).
//
// An innermost wasm `loop` qualifies when its body is one gas segment: the
// instrumentation's charge of cost C first, then only plain non-trapping
// instructions (constants, locals, arithmetic without div/rem or trapping
// conversions, compares, select, loads and stores; no call, branch, block,
// global.set, memory.grow or bulk memory), then its closing `br_if 0`
// back-edge testing `iv + d != bound` (or `iv + d` against zero), where iv
// is an induction local stepped by a constant each iteration and bound a
// constant plus an optional local the body does not write. Every load and
// store address must be affine: an unwritten local (optional) + an i32
// induction local (optional) + a constant; stores step at most 4 KiB. Bodies
// over 4,096 instructions are left alone, and the rewrite is linear in the C
// (one index of each function's labels and jumps), so a hostile module cannot
// make translation superlinear; the duplicated C stays within
// kMaxTranslatedCBytes or nothing is versioned.
//
// Such a loop is written twice. At entry, the generated C computes the
// trip count N in 64-bit unsigned arithmetic (0 when the counter would wrap
// or never meet the bound exactly: then the original runs), and takes the
// copy without gas lines and with barrier-free stores only when
//   (a) the gas counter holds at least N x C, so no iteration's charge
//       could fail,
//   (b) every address range of every access over the N iterations (first +
//       k x step, k < N, without wrapping modulo 2^32, plus the static offset
//       and width) lies below the memory's current size, so no access can
//       fault, and
//   (c) with the write barrier, every 4 KiB page those stores can write is
//       noted already, so each barrier would take its fast path and charge
//       nothing;
// and then subtracts N x C once before the loop. Nothing inside the loop can
// observe the counter (no call, no host function, no trap), so the results,
// memory, the noted map and the gas at the end are those of the original
// loop; when a condition fails the original loop runs unchanged, so gas at
// every trap or OutOfGas is unchanged too.
//
// Thread-safety: stateless; safe to call concurrently.
#pragma once

#include <cstddef>
#include <string>

#include "wabt/ir.h"

namespace crust::engine {

// C helpers the versioned loops call (crust_loop_trips, crust_loop_span);
// inserted once per module after wasm2c's helpers. Part of TranslatorText().
std::string LoopVersioningText();

// Rewrites every qualifying loop of `c` (wasm2c's C for `m`, after the
// memory-locals, span-group and gas-local rewrites: the charge reads and
// writes `crust_gas_`). `gas_global` is the index of the instrumentation's
// gas counter. A loop whose C does not have the expected shape is left as
// it is. Returns how many loops were versioned. Requires one 32-bit memory
// and the memory locals (crust_base_, crust_map_, CRUST_MEM); with
// `write_barrier` false condition (c) is left out.
size_t VersionCountedLoops(const wabt::Module& m, uint32_t gas_global, bool write_barrier, std::string* c);

}  // namespace crust::engine
