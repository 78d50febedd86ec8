// Copyright (c) crust authors. Licensed under the MIT license.
//
// The two write-tracking mechanisms behind MemoryRegion, as free functions
// over address ranges. Private to src/os.
//
// Exact: one process-wide userfaultfd (async write-protect mode) and one
// /proc/self/pagemap descriptor, created on first use and never closed.
// Fallback: reads /proc/self/pagemap entries (one descriptor likewise).
// Both are per process (per_process.h): a child made by fork() opens its own
// on first use, as the parent's act on the parent's address space.
//
// Thread-safety: every function may be called concurrently (the shared
// descriptors are only used with ioctl and pread, which keep no file
// position); concurrent calls must concern disjoint ranges.
// All addresses and lengths are multiples of kPageSize.
#pragma once

#include <cstdint>
#include <vector>

#include "crust/status.h"
#include "src/os/dirty_tracking.h"

namespace crust::os {

// The mode a region created now with `wanted` should use: kExact or
// kPagemap. NotSupported when exact tracking is forced but unavailable.
Result<TrackingMode> ChooseTrackingMode(TrackingMode wanted);

// OK when exact tracking works here; otherwise why not (cached).
Status ExactTrackingStatus();

// Exact mode. REQUIRES: ExactTrackingStatus().ok().
// Registers [addr, addr+len) for async write-protect tracking.
Status UffdRegister(uint8_t* addr, uint64_t len);
// Unregisters; errors are ignored (the range is about to be unmapped).
void UffdUnregister(uint8_t* addr, uint64_t len);
// Write-protects [addr, addr+len): later first writes are recorded.
Status UffdWriteProtect(uint8_t* addr, uint64_t len);
// Appends to *pages the indices (relative to base) of the pages of
// [addr, addr+len) written since they were last write-protected, in
// ascending order. With rearm, write-protects them again atomically.
Status ScanWrittenPages(uint8_t* base, uint8_t* addr, uint64_t len, bool rearm,
                        std::vector<uint32_t>* pages);

// Fallback. Appends to *pages the indices (relative to base) of the pages of
// [addr, addr+len) that are present and not file-backed (private copies,
// including zero-page mappings of anonymous memory), in ascending order.
Status ScanPrivatePages(uint8_t* base, uint8_t* addr, uint64_t len, std::vector<uint32_t>* pages);

}  // namespace crust::os
