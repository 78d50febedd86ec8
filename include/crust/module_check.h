// Copyright (c) crust authors. Licensed under the MIT license.
//
// Checking a WebAssembly module against crust's contract ABI without a store
// and without compiling it (the `crust check` and `crust functions`
// commands).
//
// Thread-safety: both functions may run concurrently on distinct inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust {

struct ModuleCheck {
  uint64_t size = 0;                   // bytes of the module given
  std::vector<std::string> functions;  // callable exports ((i32) -> i32), sorted, without init
  bool has_init = false;               // exports `init` (run once at deploy)
  std::vector<std::string> imports;    // host functions imported from `env`, in import order
  uint32_t arg_buffer = 0;             // the value of the exported global A
  uint32_t initial_pages = 0;          // 64 KiB pages
  std::optional<uint32_t> max_pages;   // the module's declared maximum
};

// Runs every check deploy runs before compiling (decoding, validation, the
// features crust rejects, the contract ABI, the initial memory image, the
// instrumentation), with deploy's default limits; compiles nothing.
// Errors: as VmSession::Deploy's checks: InvalidModule, NotSupported,
// ResourceExhausted (initial memory above `max_memory_pages`).
Result<ModuleCheck> CheckModule(ByteView wasm, uint32_t max_memory_pages = 65536);

// The callable functions ((i32) -> i32 exports except init), sorted, of a
// module's bytecode as stored in a commit (Session::Bytecode).
// Errors: InvalidModule (the bytes do not decode).
Result<std::vector<std::string>> ModuleFunctions(ByteView stored_bytecode);

}  // namespace crust
