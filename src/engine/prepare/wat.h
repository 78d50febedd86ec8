// Copyright (c) crust authors. Licensed under the MIT license.
//
// WebAssembly text format to binary, with wabt's parser (no external tool).
// Meant for tests and tools that build small modules inline.
//
// Thread-safety: free function without shared state.
#pragma once

#include <string_view>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::engine {

// Parses a single `(module ...)` in text format and encodes it. Accepts the
// features crust decodes (including those it rejects later, so tests can
// build such modules). InvalidArgument with wabt's first message on error.
Result<Bytes> WatToWasm(std::string_view wat);

}  // namespace crust::engine
