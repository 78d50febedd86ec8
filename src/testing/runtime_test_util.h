// Copyright (c) crust authors. Licensed under the MIT license.
//
// Test helpers of the execution half: WAT -> wasm through libwabt, a shared
// code cache per test binary, and fresh memory regions.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/compile/code_cache.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"

namespace crust::engine::testing {

// Parses WAT text (features: wabt defaults) into binary wasm.
Result<Bytes> WatToWasm(std::string_view wat);

// A memory of `pages` wasm pages (max `max_pages`), zero-filled, no file,
// write-audited (os::TrackingOptions::write_audit).
Result<std::unique_ptr<os::MemoryRegion>> NewMemory(uint32_t pages, uint32_t max_pages = 65536);

// A code cache in a per-process temporary directory, -O0 unless asked.
CodeCache* SharedCache(OptLevel opt = OptLevel::kO0);
// The same for the fast tier's compiler (tcc) as the cache's only compiler;
// null when tcc cannot be run.
CodeCache* SharedTccCache();

}  // namespace crust::engine::testing
