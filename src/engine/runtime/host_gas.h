// Copyright (c) crust authors. Licensed under the MIT license.
//
// What the host functions charge, on top of the instrumented code's own
// costs (docs/abi.md §9.1); used by the VM (src/vm/vm_host.cc) and the
// interpreter oracle's host (src/testing/interp_oracle.cc). Consensus: every node must use these exact values, and a
// charge depends only on the operation and its operands, never on timing or
// on host state (what is cached, loaded or already written).
#pragma once

#include <cstdint>

namespace crust::engine {

// piecrust's rules (piecrust/src/imports.rs, config.rs).
// Share of the caller's remaining gas a `c` callee gets when it asks for 0
// or for at least what is left: left / 100 * 93 + left % 100 * 93 / 100.
inline constexpr uint64_t kGasPassPercent = 93;
// Per byte of an event's topic and data (piecrust's BYTE_STORE_COST).
inline constexpr uint64_t kEventByteGas = 4;

// crust's resource charges (docs/abi.md §9.2), which piecrust does not have.
// Each `c` pays this before the callee starts (its checkpoint, call-tree
// node, instance setup and rollback bookkeeping), whether or not the callee
// exists or succeeds.
inline constexpr uint64_t kCallGas = 2000;
// Per 4 KiB page of a module's memory that a store (or memory.fill, .copy,
// .init) writes for the first time since the last checkpoint operation of
// the session: the start and the end of every call, top-level or through
// `c`, whatever its outcome. Pages overlapping the module's argument buffer
// (which the host writes) are free. Charged after the instruction's bounds
// checks and before it writes; too little gas ends the call with OutOfGas.
// 1 gas per byte: it pays for the 4 KiB copy (a shadow copy the first time,
// then a checkpoint journal entry) plus bookkeeping each such page costs the
// session, and for hashing it at commit. 10^9 gas buys at most 244,140 such
// pages: < 1 GiB of copies (docs/abi.md §9.2, docs/benchmarks.md).
inline constexpr uint64_t kPageWriteGas = 4096;
inline constexpr uint64_t kPageWriteUnit = 4096;  // the page of that rule, in bytes
// Per byte of an `hdebug` message (kept in the receipt like event bytes).
inline constexpr uint64_t kDebugByteGas = 4;

// The callee limit of `c(…, gas)`: `gas` when 0 < gas < left, otherwise 93 %
// of `left` (piecrust's exact rule; `gas` is read as unsigned).
inline uint64_t CalleeLimit(uint64_t requested, uint64_t left) {
  if (requested > 0 && requested < left) return requested;
  return left / 100 * kGasPassPercent + left % 100 * kGasPassPercent / 100;
}

}  // namespace crust::engine
