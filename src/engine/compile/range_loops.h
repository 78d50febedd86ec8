// Copyright (c) crust authors. Licensed under the MIT license.
//
// Loops whose stores stay in bounded ranges (part of loop versioning,
// loop_versioning.h; docs/abi.md section 9.4): the wasm side. This finds
// them; loop_versioning.cc writes their barrier-free copy into the C.
//
// A wasm `loop` qualifies when
//   * it has no parameters or results and its last instruction is a `br` or
//     `br_if` to itself (so its C runs from its label to the last jump to it);
//   * nothing in it (nested blocks, ifs and loops included) calls (`call`,
//     `call_indirect`, tail calls), grows memory, or is bulk memory, an
//     atomic, a vector access, an exception or a table instruction: only
//     constants, locals, globals, arithmetic, compares, conversions, select,
//     scalar loads and stores, memory.size and structured control (block,
//     loop, if, br, br_if, br_table, return, unreachable);
//   * every store's address is B + r, where B is an i32 local the loop never
//     writes (or 0) and r an offset in a range [lo, hi] < 2^32 known from
//     the code: a range analysis over the operand stack, forward through the
//     loop's control flow, with the locals the loop writes unknown at every
//     loop head (the analysed loop's and nested loops': a back-edge may bring
//     any value) and joined where branches meet. It follows i32 constants,
//     i32.load8_u / i32.load16_u ([0, 255] / [0, 65535], whatever their
//     address), i32.and with a constant ([0, mask], whatever the other side),
//     i32.shl / i32.mul by a constant and i32.shr_u / i32.rem_u by one (on an
//     offset without base), i32.add of ranges (at most one with a base) and
//     i32.sub of a constant; any result whose range could pass 2^32 - 1 is
//     unknown, so no tracked value ever wraps modulo 2^32 (relative to B);
//   * the stores' bytes, [B + lo + offset, B + hi + offset + width) joined per
//     base ("spans" [B + lo, B + end)), cover at most kMaxRangePages pages in
//     all (the entry check reads at most that many map entries).
// Loops in `counted` (versioned as counted loops) and loops containing one
// are left out; of nested qualifying loops only the outermost is returned.
//
// Why the copy is exact (loop_versioning.cc writes it): at entry the
// generated C computes, for each base's span, B + lo and B + end in 64 bits
// from the u32 value of B (nothing wraps); if B + end passes the memory's
// size or the page of B + lo is not noted, the original loop runs. Else e =
// the end of the noted pages from B + lo (at most B + end), and the copy
// runs: the original's C with its labels renamed, where each store with a
// barrier becomes "if its bytes end at or below e, the store without
// barrier, else jump to a label right before the same store in the
// original loop". The copy executes the original's statements on the same C
// variables (wasm2c's locals and stack slots are the function's), so:
//   * a store whose bytes end at or below e: its address operand is
//     (B + r) mod 2^32 with r in [lo, hi] (B is not written in the loop, so
//     it has its entry value), and B + r + offset + width <= B + end <= size
//     <= 2^32, so there is no wrap and its bytes lie in [B + lo, e): pages
//     noted at entry and still noted (a page is un-noted only at checkpoint
//     operations, inside calls; the loop has none). The original's barrier
//     would take its fast path, or for a store crossing into the next
//     (noted) page the slow path, which charges only pages not yet noted
//     (none) and notes nothing new; the store is in bounds in both;
//   * any other store: control goes on at the same statement of the
//     original loop, in the same state, and the original runs from there.
// Everything else (gas lines, loads, traps, branches, their targets outside
// the loop) is the original's text. So results, traps, memory, the noted set
// and the gas are those of the original at every point.
//
// Cost: each analysis is linear in the loop (joins are linear in the locals
// set on the paths joined); `budget` bounds the total work for a module
// (nested loops are analysed once per level until one qualifies), and a loop
// of more than kMaxRangeLoopInstructions instructions is not analysed.
//
// Thread-safety: stateless apart from `budget`; safe to call concurrently
// with distinct budgets.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "wabt/ir.h"

namespace crust::engine {

inline constexpr uint64_t kMaxRangePages = 16;
inline constexpr size_t kMaxRangeLoopInstructions = 16384;
// Work units (instructions and join entries) for the analyses of one module.
inline constexpr uint64_t kRangeAnalysisBudget = uint64_t{1} << 22;

struct RangeLoop {
  const wabt::LoopExpr* loop = nullptr;
  struct Span {
    int64_t base = -1;  // the local B, or -1: addresses from 0
    uint64_t lo = 0, end = 0;  // bytes [B + lo, B + end)
  };
  std::vector<Span> spans;
  size_t stores = 0;  // store instructions in the loop
  std::vector<size_t> store_span;  // each store's span (index in spans), in the order of the C
};

// The qualifying loops of `f` in the order their labels appear in the C.
// `budget` is decremented by the work done; at 0 nothing more qualifies.
std::vector<RangeLoop> FindRangeLoops(const wabt::Func& f, const std::unordered_set<const wabt::LoopExpr*>& counted,
                                      uint64_t* budget);

}  // namespace crust::engine
