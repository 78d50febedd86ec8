// Copyright (c) crust authors. Licensed under the MIT license.
//
// The mapped memory of a module in a store session, for the execution engine
// (internal: the public Session names no internal type).
//
// Writes through the region are tracked like Session::WriteMemory (with
// SessionOptions::WriteTracking::kNoted only when announced first with
// os::MemoryRegion::NoteWrite), and growing it (MemoryRegion::Grow) grows the
// module's memory. Valid until the module is removed or the session ends.
// With kKernel tracking the first call for a module hands its tracking to the
// kernel (one scan of its page tables); before it, the session's own notes of
// WriteMemory suffice.
//
// `session` must come from a crust Store (every Session does).
// Errors: NotFound (module), IOError/Corruption (its files could not be
// mapped). Thread-safety: as the session's other methods.
#pragma once

#include "crust/session.h"
#include "src/os/memory_region.h"

namespace crust::store {

Result<os::MemoryRegion*> SessionMemoryRegion(Session& session, const ModuleId& id);

// How many modules have left `session` (RemoveModule, RenameModule) since
// it started: a region handed out earlier may be gone only if this changed.
uint64_t SessionModuleRemovals(const Session& session);

}  // namespace crust::store
