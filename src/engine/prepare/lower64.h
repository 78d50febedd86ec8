// Copyright (c) crust authors. Licensed under the MIT license.
//
// 64-bit tables and memories (the memory64 proposal) lowered to the 32-bit
// forms wabt 1.0.32's wasm2c can translate, without changing what a valid
// module computes:
//
//   * RewriteTable64Limits (bytes, before wabt decodes): wabt 1.0.32 cannot
//     decode a table64 type ("tables may not be 64-bit"). Table types whose
//     limits carry the 64-bit flag, in the import and table sections, are
//     re-encoded as 32-bit limits (values above 2^32-1: NotSupported). The
//     indices of those tables are returned.
//   * LowerTable64 (IR, after decoding, before validation): every i64 index
//     operand of call_indirect and table.get on such a table is clamped to
//     i32 (min(index, 0xffffffff), which is out of bounds of every table, so
//     an index >= 2^32 still traps); table.size's result is zero-extended;
//     active element segment offsets become i32.const. table.set/grow/fill/
//     copy/init and return_call_indirect on a 64-bit table: NotSupported.
//   * LowerMemory64 (IR, after instrumentation): a 64-bit memory becomes a
//     32-bit one of at most kMaxLoweredPages pages. Every address and length
//     operand (loads, stores, memory.fill/copy/init, memory.grow) is clamped
//     to 0xffffffff, so an address >= 2^32 lands beyond the memory and traps
//     out of bounds (guard pages, as for 32-bit memories); offsets above
//     2^32-1 become 0xffffffff (the access always traps). memory.size's
//     result is zero-extended, memory.grow's sign-extended (-1 on failure).
//     Host imports keep their 64-bit pointer parameters (host_abi.h).
//
// Instructions these passes insert are marked (IsLoweringArtifact) so the
// gas instrumentation does not charge for them: a wasm64 contract pays the
// same per original instruction as a wasm32 one.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace wabt {
struct Module;
class Expr;
}  // namespace wabt

namespace crust::engine {

// A lowered memory has at most this many pages (< 4 GiB), so an address
// clamped to 0xffffffff is out of bounds for every access size.
inline constexpr uint64_t kMaxLoweredPages = 65535;

struct Table64Rewrite {
  Bytes wasm;                   // the module with 32-bit table limits
  std::vector<uint32_t> tables;  // table indices that were 64-bit, ascending
};

// nullopt when the module declares no 64-bit table (nothing to do) or when
// its sections cannot be read (then wabt's decoder reports the error).
// NotSupported for 64-bit table limits above 2^32-1.
Result<std::optional<Table64Rewrite>> RewriteTable64Limits(ByteView wasm);

Status LowerTable64(wabt::Module* module, const std::vector<uint32_t>& tables);

// True if the module's own (first) memory is 64-bit.
bool HasMemory64(const wabt::Module& module);

// No-op for modules without a 64-bit memory. NotSupported for an imported
// 64-bit memory, an initial size above kMaxLoweredPages, or memory
// instructions of rejected features (they never reach here after
// CheckFeatures).
Status LowerMemory64(wabt::Module* module);

bool IsLoweringArtifact(const wabt::Expr& e);

}  // namespace crust::engine
