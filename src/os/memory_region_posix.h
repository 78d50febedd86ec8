// Copyright (c) crust authors. Licensed under the MIT license.
//
// The MemoryRegion behind PosixEnv::MapMemory. Private to src/os.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "crust/status.h"
#include "src/os/dirty_tracking.h"
#include "src/os/memory_region.h"

namespace crust::os {

// At most this many regions live at once in a process. Each reserves
// kReservation (8 GiB + 64 KiB) of address space, so 10,000 take ~80 TiB of
// the 128 TiB user address space, and up to 5 VMAs (file part, zero part,
// registered guard, unregistered guard, noted-page map): ~50,000 against the
// default vm.max_map_count of 65530.
inline constexpr int kMaxLiveRegions = 10000;

// Maps a region (see Env::MapMemory): [0, file_length) copy-on-write from
// `fd` (ignored when file_length is 0; `path` only names it in errors),
// [file_length, length) zero, the rest of kReservation PROT_NONE.
// InvalidArgument for unaligned or inconsistent lengths; ResourceExhausted
// past kMaxLiveRegions; NotSupported when exact tracking is forced but
// unavailable (`tracking`, see dirty_tracking.h); IOError when a system call fails.
Result<std::unique_ptr<MemoryRegion>> NewPosixMemoryRegion(int fd, const std::string& path,
                                                           uint64_t file_length, uint64_t length,
                                                           uint64_t max_length, const TrackingOptions& tracking);

// Maps a lazy region (see Env::MapLazyMemory and lazy_fill.h). As above,
// plus NotSupported when lazy filling is unavailable here.
Result<std::unique_ptr<MemoryRegion>> NewLazyMemoryRegion(std::shared_ptr<const PageSource> source,
                                                          uint64_t source_length, uint64_t length,
                                                          uint64_t max_length, const TrackingOptions& tracking);

// Number of regions currently alive in this process.
int LiveMemoryRegions();

}  // namespace crust::os
