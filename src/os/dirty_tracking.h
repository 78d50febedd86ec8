// Copyright (c) crust authors. Licensed under the MIT license.
//
// Selection of the write-tracking mechanism used by MemoryRegion (see
// memory_region.h): exact (userfaultfd async write-protect + PAGEMAP_SCAN,
// Linux >= 6.7) or the /proc/self/pagemap fallback.
//
// The mode is chosen when a region is created, in this order:
//  1. the mode set by SetTrackingModeForTesting(), if any;
//  2. the environment variable CRUST_DIRTY_TRACKING, read once per process:
//     "uffd" forces exact (MapMemory fails with NotSupported if unavailable),
//     "pagemap" forces the fallback, "auto" or unset chooses;
//  3. kAuto: exact when available, else the fallback.
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

namespace crust::os {

enum class TrackingMode { kAuto, kExact, kPagemap };

// Overrides CRUST_DIRTY_TRACKING for regions created afterwards (existing
// regions keep their mode). For tests exercising both paths in one process.
void SetTrackingModeForTesting(TrackingMode mode);

// True when this kernel supports exact tracking (probed once, then cached).
bool ExactTrackingAvailable();

// Write auditing, for tests of code that notes its writes (memory_region.h,
// "noted"): regions switched to noted tracking while auditing is on also keep
// exact kernel tracking, and CollectWritten fails with Corruption when the
// kernel saw a write to a page nobody noted. Off unless
// CRUST_WRITE_AUDIT=1 (read once per process) or set here; without exact
// tracking on this kernel, auditing does nothing.
void SetWriteAuditForTesting(bool on);
bool WriteAuditEnabled();

}  // namespace crust::os
