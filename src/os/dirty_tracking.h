// Copyright (c) crust authors. Licensed under the MIT license.
//
// Selection of the write-tracking mechanism used by MemoryRegion (see
// memory_region.h): exact (userfaultfd async write-protect + PAGEMAP_SCAN,
// Linux >= 6.7) or the /proc/self/pagemap fallback.
//
// The mode is an option of the Env that maps the region (NewPosixEnv in
// env.h; Env::Default() uses the defaults below), chosen when a region is
// created. Stores take it from StoreOptions::dirty_tracking and
// StoreOptions::write_audit (include/crust/options.h).
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

namespace crust::os {

// kAuto: exact when available, else the fallback. kExact forces exact
// tracking (mapping fails with NotSupported where it is unavailable);
// kPagemap forces the fallback.
enum class TrackingMode { kAuto, kExact, kPagemap };

struct TrackingOptions {
  TrackingMode mode = TrackingMode::kAuto;
  // Write auditing, for tests of code that notes its writes (memory_region.h,
  // "noted"): regions switched to noted tracking also keep exact kernel
  // tracking, and CollectNoted/CollectWritten fail with Corruption when the
  // kernel saw a write to a page nobody noted. Without exact tracking on this
  // kernel, auditing does nothing. Costs a page-table scan per collection.
  bool write_audit = false;
};

// True when this kernel supports exact tracking (probed once, then cached).
bool ExactTrackingAvailable();

}  // namespace crust::os
