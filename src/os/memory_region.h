// Copyright (c) crust authors. Licensed under the MIT license.
//
// MemoryRegion: one WebAssembly linear memory placed in a private reservation
// of address space, with exact tracking of the 4 KiB pages written to it.
//
// Layout: kReservation bytes are reserved PROT_NONE. The first file_length
// bytes map the committed memory file MAP_PRIVATE (copy-on-write: writes never
// reach the file); [file_length, length) is anonymous zero memory; the rest is
// an inaccessible guard, so that any wasm32 address plus offset (< 8 GiB)
// lands inside the reservation and faults (SIGSEGV) when out of bounds.
//
// Write tracking: after Arm(), CollectWritten() returns every 4 KiB page
// written since the previous Arm()/CollectWritten(rearm=true), in ascending
// order. Two mechanisms, chosen at run time:
//  * exact: userfaultfd in asynchronous write-protect mode plus the
//    PAGEMAP_SCAN ioctl (Linux >= 6.7): cost per first write is the
//    copy-on-write fault plus ~0.3 us; Arm and CollectWritten cost follows
//    the populated pages of the region, not its length (uffd_tracker.cc).
//  * fallback (older kernels, or TrackingMode::kPagemap): reads
//    /proc/self/pagemap and reports every private (anonymous) page. This is a
//    superset of the pages written since Arm() (it includes pages written
//    before), so exact() is false and the caller must compare contents.
//  * noted (after UseNotedWrites()): no kernel help at all. Every writer
//    through data() announces the range with NoteWrite() before writing (the
//    engine's compiled code does so with an inline check of noted_map() per
//    store, see src/engine/runtime/wasm_rt_abi.h); CollectWritten reports exactly the
//    noted pages. Arm and CollectWritten cost O(pages noted), no system call.
//    A write that is not noted is lost to commits and rollbacks: with
//    write auditing on (dirty_tracking.h) the kernel tracks the region too and
//    CollectWritten fails naming any page written but not noted.
//
// Thread-safety: a region is used by one thread at a time (its session's).
// Different regions may be used concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "crust/status.h"

namespace crust::os {

inline constexpr uint64_t kPageSize = 4096;           // tracking and delta granularity
inline constexpr uint64_t kWasmPageSize = 65536;
inline constexpr uint64_t kMaxMemory = 1ull << 32;    // 4 GiB: wasm32 limit
inline constexpr uint64_t kReservation = (8ull << 30) + kWasmPageSize;
// Entries of noted_map(): one per 4 KiB page of the reservation, so that any
// address a wasm32 store can form (base + offset + size <= 8 GiB) indexes it.
inline constexpr uint64_t kNotedMapEntries = kReservation / kPageSize + 1;

// The committed contents of a lazily filled region (Env::MapLazyMemory).
class PageSource {
 public:
  virtual ~PageSource() = default;
  // Writes the contents of page `page` (4 KiB) into out. Called the first
  // time the page is touched, on the process's fault-handling thread
  // (possibly concurrently with the region's user) or on the user's thread
  // (MemoryRegion::Prefill); it must not touch any
  // MemoryRegion's memory and must be thread-safe. An error leaves the page
  // zero and poisons the region (MemoryRegion::FaultStatus).
  virtual Status FillPage(uint32_t page, uint8_t* out) const = 0;
};

class MemoryRegion {
 public:
  virtual ~MemoryRegion() = default;
  MemoryRegion() = default;
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;

  // Base address of the memory. Valid for the region's lifetime (growth never moves it).
  virtual uint8_t* data() const = 0;
  // Current accessible length in bytes (multiple of 64 KiB).
  virtual uint64_t length() const = 0;
  virtual uint64_t max_length() const = 0;
  // Makes [length(), new_length) accessible (zero-filled) and tracked.
  // InvalidArgument if new_length < length(), not 64 KiB aligned, or > max_length().
  virtual Status Grow(uint64_t new_length) = 0;

  // Makes [new_length, length()) inaccessible again and drops its contents
  // (rolling back a Grow). REQUIRES: the range lies past the file part.
  // InvalidArgument otherwise, or if new_length is not 64 KiB aligned.
  virtual Status Shrink(uint64_t new_length) = 0;

  // Starts (or restarts) write tracking over [0, length()).
  virtual Status Arm() = 0;
  // Appends to *pages the indices of 4 KiB pages written since the last
  // arm (see exact()). With rearm, tracking restarts from now.
  virtual Status CollectWritten(bool rearm, std::vector<uint32_t>* pages) = 0;
  // True when CollectWritten reports exactly the pages written since the last
  // arm; false when it may also report pages written earlier.
  virtual bool exact() const = 0;
  // Appends to *pages the pages noted (NoteWrite) since the last arm or
  // collection, sorted, without asking the kernel: O(pages noted), no system
  // call. Exact when every write since then was noted (in noted mode that is
  // the contract; the store's sessions also use it in the other modes while
  // nobody else writes through the raw pointer). With rearm the notes are
  // forgotten; in the kernel modes the kernel's tracking is not restarted
  // (Arm() does that, before writes that are not noted). Under the write
  // audit (TrackingOptions::write_audit, dirty_tracking.h) the kernel is
  // asked too, and a page written but not noted is Corruption.
  virtual Status CollectNoted(bool rearm, std::vector<uint32_t>* pages) = 0;

  // Noted writes. In every mode, NoteWrite records the 4 KiB pages of
  // [offset, offset+len) that lie within [0, length()); page p is recorded
  // iff noted_map()[p] != 0, until the next Arm() or CollectWritten(rearm).
  // Costs O(1) per page already recorded, a little more per new one.
  virtual void NoteWrite(uint64_t offset, uint64_t len) = 0;
  // kNotedMapEntries bytes, valid for the region's lifetime.
  virtual const uint8_t* noted_map() const = 0;
  // Switches to noted tracking (see above) and restarts tracking as Arm()
  // does. Irreversible.
  virtual Status UseNotedWrites() = 0;
  virtual bool noted() const = 0;

  // Restores [offset, offset+len) (page aligned, within the file part) to the
  // file's contents, dropping private copies (MADV_DONTNEED). Used to undo
  // writes; pages past the file part become zero. (A lazy region's pages are
  // filled from its PageSource again when next touched.)
  virtual Status DiscardPages(uint64_t offset, uint64_t len) = 0;

  // Lazy regions (Env::MapLazyMemory): fills the pages of [offset,
  // offset+len) (clamped to the region's filled part) that are not filled
  // yet, on the calling thread, so that touching them next does not wait for
  // the process's fault-handling thread (host code copying into or out of
  // the memory calls it first). Pages outside the range are not filled. A
  // PageSource error poisons the region as a fault would; returns
  // FaultStatus(). Other regions: nothing to do, OK. Cost: one bit test per
  // page already filled; PageSource work plus one UFFDIO_COPY per run of up
  // to 16 pages otherwise.
  virtual Status Prefill(uint64_t offset, uint64_t len) {
    (void)offset;
    (void)len;
    return Status::OK();
  }

  // Lazy regions (Env::MapLazyMemory): OK, or the first error a PageSource
  // returned (that page reads as zero). Once not OK it stays so, and Arm,
  // CollectWritten and CollectNoted return it. Always OK for other regions.
  virtual Status FaultStatus() const { return Status::OK(); }
};

// Process-wide: grows whenever some region's FaultStatus turns from OK to an
// error (after it has). While it keeps a value, no region's FaultStatus
// changed, so a caller that found every region it uses OK at one value need
// not ask them again until it changes (one atomic load instead of a virtual
// call per region). Thread-safe.
uint64_t RegionFaultEpoch();

}  // namespace crust::os
