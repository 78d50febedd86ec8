// Copyright (c) crust authors. Licensed under the MIT license.
//
// Decoding and validating module bytes, then checking crust's own rules:
//   * Features (every ABI): SIMD, threads/atomics/shared memory, exceptions,
//     tail calls and multi-memory are rejected with NotSupported. memory64
//     (64-bit memories and tables) is accepted: DecodeModule lowers 64-bit
//     tables (lower64.h), the contract rules then want an i64 "A" and the
//     64-bit-pointer host import forms (host_abi.h HostParams64).
//     Accepted beyond the MVP: mutable-global import/export, sign extension,
//     saturating float-to-int, multi-value, bulk memory, reference types.
//     Export names starting with "__crust_" are reserved (InvalidModule).
//   * Contract ABI (Abi::kContract), each violation InvalidModule unless noted:
//     imports only functions from "env" listed in host_abi.h with the exact
//     signature; exactly one memory, defined by the module and exported as
//     "memory"; an exported immutable i32 global "A" (constant initialiser)
//     whose 64 KiB buffer lies inside the initial memory; every function
//     export is a function defined by the module of type (i32) -> i32; an
//     optional "init" export of that type. NotSupported: a start function
//     (it would re-run on every instantiation; use "init"), mutable globals of
//     reference type, and instructions that change instance state crust does
//     not persist (data.drop, elem.drop, table.set/grow/fill/copy/init).
// Messages name the offending function, import or export.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/wabt_adapter.h"

namespace wabt {
struct Module;
class Features;
}  // namespace wabt

namespace crust::engine {

// Which rules a module must follow.
enum class Abi {
  kContract,  // crust contracts: everything above
  kNone,      // foreign modules (e.g. the spec tests): feature rules only
};

// DecodeFeatures(), the wabt features crust decodes with, is in
// wabt_adapter.h (included here).

// Decodes and validates (wabt). InvalidModule with wabt's first message and
// byte offset on failure. Custom sections and debug names are ignored.
Result<std::unique_ptr<wabt::Module>> DecodeModule(ByteView wasm);

// NotSupported naming the first rejected feature and where it is used;
// InvalidModule for a reserved export name or a segment offset / global
// initialiser that is not exactly one constant instruction (wabt 1.0.32's
// validator lets an empty offset through).
Status CheckFeatures(const wabt::Module& module);

// Facts established by CheckContractAbi.
struct ContractFacts {
  uint32_t arg_buffer = 0;             // value of global A
  std::vector<std::string> functions;  // callable exports except init, sorted
  bool has_init = false;
  std::vector<std::string> host_imports;  // imported function names, in order
};
Result<ContractFacts> CheckContractAbi(const wabt::Module& module);

// "function 3" plus ` ("name")` when exported or imported: used in messages.
std::string DescribeFunction(const wabt::Module& module, uint32_t func_index);

}  // namespace crust::engine
