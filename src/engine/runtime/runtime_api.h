// Copyright (c) crust authors. Licensed under the MIT license.
//
// Internal: crust's implementation of the wasm-rt services compiled modules
// call (the crust_rt_api table of wasm_rt_abi.h): traps, the process-wide
// function-type registry, memories placed on os::MemoryRegion, and tables.
//
// Thread-safety: the table's functions are safe to call from any thread; a
// memory or table is used by one thread at a time (its instance's).
#pragma once

#include <cstdint>

#include "src/engine/runtime/wasm_rt_abi.h"

namespace crust::os {
class MemoryRegion;
}

namespace crust::engine::rt {

const crust_rt_api* RuntimeApi();

// The region the next wasm_rt_allocate_memory on this thread binds to (the
// instantiation in progress). Null: the module must not define a memory.
void SetPendingMemory(os::MemoryRegion* region, uint32_t max_pages = 65536);

// Upper bound on table sizes (table.grow beyond fails with -1).
inline constexpr uint32_t kMaxTableElements = 10'000'000;

}  // namespace crust::engine::rt
