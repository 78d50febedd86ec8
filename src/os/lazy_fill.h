// Copyright (c) crust authors. Licensed under the MIT license.
//
// Lazy filling of memory regions (Env::MapLazyMemory): one process-wide
// userfaultfd registered in missing-page mode over the part of each lazy
// region that has committed contents, and one handler thread that resolves
// each first touch of a page there with UFFDIO_COPY from the region's
// PageSource. Private to src/os.
//
// The region's own thread can fill pages itself before it touches them
// (LazyFillNow: what host code does before copying into or out of the
// memory, MemoryRegion::Prefill), so that a host access never waits for the
// handler thread to be scheduled. Both record the pages they installed in a
// per-region bit map (a hint: a page missing from it is filled and copied,
// and the kernel refuses it with EEXIST when it was there after all; a page
// in it that is missing again only costs a fault), so that filling from the
// caller costs one bit test per page already filled.
//
// The userfaultfd is opened so that faults taken by the kernel itself (a
// system call reading or writing region memory) are delivered too. Where
// that is not allowed (no privilege and vm.unprivileged_userfaultfd = 0,
// Debian's default) it takes user-mode faults only (LazyFillUserModeOnly):
// a system call given a page not filled yet then fails with EFAULT instead
// of waiting, so host code fills (Prefill) or touches what it hands to the
// kernel — as the store does (it writes memory images from pages it has
// just read in user mode). Where userfaultfd is blocked altogether (a
// seccomp filter) lazy filling is unavailable and callers map eagerly.
// When exact write tracking is available (write_tracker.h) the same
// userfaultfd also carries asynchronous write protection: filled pages are
// installed write-protected (UFFDIO_COPY_MODE_WP), so a page only read is not
// reported written; the rest of the region up to its maximum length is
// registered for write protection alone, exactly as a MapMemory region.
//
// fork(): a child process gets its own descriptor and thread for regions it
// maps; regions inherited from the parent are not filled in the child (their
// untouched pages read as zero), so a child must not use its parent's
// sessions (exec, or start its own).
//
// Sequential faults in one region fill a growing window of following pages
// (up to 64) with one copy; a random fault fills one page. The handler
// thread asks for nice -10 (ignored without the privilege), so that a fault
// does not wait for a busy machine's scheduler to get round to it.
//
// Thread-safety: every function may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "crust/status.h"
#include "src/os/memory_region.h"

namespace crust::os {

// The first fill error of a region; shared between the region and the
// handler thread.
struct LazyFillError {
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status status;  // guarded by mu; set once
};

// OK when lazy filling works here (cached). NotSupported, saying why, when
// this kernel or its policy lets the process open no userfaultfd (e.g. a
// seccomp filter): callers map eagerly.
Status LazyFillStatus();
// True when the lazy userfaultfd also does asynchronous write protection.
bool LazyFillTracksWrites();
// True when the lazy userfaultfd takes user-mode faults only (above).
bool LazyFillUserModeOnly();

// One registered region (opaque).
struct LazyEntry;

// Registers [base, base + fill_length) for missing-page filling from `source`
// (page 0 at base) and, with `track_writes`, [base, base + max_length) for
// write protection. REQUIRES: LazyFillStatus().ok(); track_writes only if
// LazyFillTracksWrites(); the range is mapped anonymous.
Result<std::shared_ptr<LazyEntry>> LazyRegister(uint8_t* base, uint64_t fill_length, uint64_t max_length,
                                                bool track_writes, std::shared_ptr<const PageSource> source,
                                                std::shared_ptr<LazyFillError> error);
// Fills, on the calling thread, every page of [first_page, end_page) (clamped
// to the filled part) not filled yet: from the source, checked as the source
// checks, installed with UFFDIO_COPY (write-protected as the handler does).
// A source error fills that page with zeros and records the error, as a
// fault would. REQUIRES: called by the region's user (not concurrently with
// LazyForget or LazyUnregister of the same region).
void LazyFillNow(LazyEntry& entry, uint64_t first_page, uint64_t end_page);
// Pages of [first_page, end_page) are missing again (MADV_DONTNEED): forget
// that they were filled. Same REQUIRES as LazyFillNow.
void LazyForget(LazyEntry& entry, uint64_t first_page, uint64_t end_page);
// Undoes LazyRegister (before the range is unmapped).
void LazyUnregister(uint8_t* base, uint64_t max_length);

}  // namespace crust::os
