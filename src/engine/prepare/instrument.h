// Copyright (c) crust authors. Licensed under the MIT license.
//
// Injects crust's execution limits into the WebAssembly itself, so that gas,
// the call-depth limit and float results are the same in every engine (the
// wabt interpreter, wasm2c + any C compiler at any optimisation level).
//
// Why wabt's IR and not binaryen: wabt's C++ IR (ReadBinaryIr -> edit
// Func::exprs -> WriteBinaryModule) keeps the module's structure exactly
// (block nesting, index spaces, instruction order), so the cost of every
// original instruction and the position of every charge are fully under our
// control and independent of any optimiser; it is also the library we
// already link for validation, wasm2c and the interpreter, so one decoder
// defines what crust accepts. binaryen's metering and denan passes rewrite
// through its own IR (re-stackifying, possibly changing block structure
// between releases) and are only reachable through a shared library whose
// exact output we would have to pin separately.
//
// What is injected (globals are appended after the module's own and exported
// under the names in module_info.h, so existing indices never move):
//
// Gas (i64 global kGasGlobal, unsigned "remaining"). Each function body and
// each body of block, loop, if and else is cut into straight-line segments;
// a segment ends after br, br_if, br_table, return, unreachable, loop or if,
// and at the end of a block (branches may land there). A `block` does not
// end its segment: its body is entered unconditionally, so the segment runs
// on into the body up to the body's first segment end (the body's first
// segment is charged with the segment holding the `block`, and nested
// blocks likewise). At the start of every segment the total static cost of
// its original instructions is charged: if remaining < cost the module sets
// kTrapGlobal to InjectedTrap::kOutOfGas and executes `unreachable`
// (remaining is left unchanged); otherwise remaining -= cost. A segment is
// charged in full on entry, even when a trap or a call that runs out of gas
// stops it midway.
// Static costs (CostOf below):
//    1  every instruction not listed (const, local/global access, arithmetic,
//       compare, convert, select, drop, nop, block, loop, if, br*, return,
//       unreachable, memory.size, table.get/size, ref.*)
//    2  load, store
//    4  integer div/rem, float div and sqrt
//    5  call
//   10  call_indirect
//   10  memory.grow          + 4096 per requested page (dynamic)
//    5  memory.fill/copy/init + 1 per 64 bytes (length >> 6, dynamic)
//    5  table.grow/fill/copy/init + 1 per element (dynamic)
// Dynamic parts are charged just before the instruction from its length
// operand (through an added helper function), whether or not it then
// succeeds. Injected instructions themselves cost nothing. Block/loop/if
// `end` and `else` are not instructions and cost nothing. Calls into the
// host cost the `call` only; the host charges its own work by lowering
// kGasGlobal during the import call.
//
// Call depth (i32 global kDepthGlobal, unsigned "calls still allowed"). At
// entry every defined function traps with InjectedTrap::kCallDepth when the
// counter is 0, else decrements it; every exit (end of body, `return`, a
// branch out of the body: the body is wrapped in a block of the function's
// result type so those branches reach one exit) increments it again. A trap
// leaves the counter wherever it was: the host sets it before every call.
//
// NaN: after every instruction that may produce a NaN from arithmetic (f32
// and f64 add, sub, mul, div, sqrt, min, max, ceil, floor, trunc, nearest,
// f32.demote_f64, f64.promote_f32) the result is replaced by the canonical
// positive quiet NaN (0x7fc00000 / 0x7ff8000000000000) if it is any NaN.
// Bit-exact operations (neg, abs, copysign, reinterpret, load, store, const,
// select, locals, globals) keep their bits, as the spec requires.
//
// Thread-safety: free functions; a wabt::Module must not be shared.
#pragma once

#include <cstdint>
#include <vector>

#include "crust/status.h"
#include "src/engine/prepare/module_info.h"

namespace wabt {
struct Module;
class Expr;
}  // namespace wabt

namespace crust::engine {

// Cost constants of the table above (part of consensus: do not change
// without versioning the instrumentation).
inline constexpr uint64_t kCostDefault = 1;
inline constexpr uint64_t kCostMemoryAccess = 2;
inline constexpr uint64_t kCostDivide = 4;
inline constexpr uint64_t kCostCall = 5;
inline constexpr uint64_t kCostCallIndirect = 10;
inline constexpr uint64_t kCostMemoryGrow = 10;
inline constexpr uint64_t kCostMemoryGrowPerPage = 4096;
inline constexpr uint64_t kCostBulk = 5;
inline constexpr uint32_t kCostBulkByteShift = 6;  // 1 per 64 bytes
inline constexpr uint64_t kCostTableBulk = 5;      // + 1 per element
// Bump when anything in this file changes the produced bytes. Compiled-code
// caches key on the instrumented bytes, but prepared-module caches key on the
// original bytes and this version (prepared_cache.h): an unbumped change
// would let them return the old instrumentation.
// 2: a block's body continues the enclosing segment (was: `block` ended it).
inline constexpr uint32_t kInstrumentationVersion = 2;

// The static cost of one original instruction.
uint64_t CostOf(const wabt::Expr& e);

// Exports each mutable number-typed global the module defines (not imports)
// as kStateGlobalPrefix + index and returns them in index order. Call before
// InstrumentModule (whose own globals are not state).
std::vector<StateGlobal> ExportStateGlobals(wabt::Module* module);

// Injects gas metering, the call-depth limit and NaN canonicalisation into
// every function the module defines, and adds/exports the three globals.
// REQUIRES: module decoded by DecodeModule and accepted by CheckFeatures.
// Deterministic: the same module gives the same edits.
Status InstrumentModule(wabt::Module* module);

}  // namespace crust::engine
