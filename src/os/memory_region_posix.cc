// Copyright (c) crust authors. Licensed under the MIT license.
//
// Invariants of a PosixMemoryRegion:
//  * base_ .. base_+kReservation is one reservation owned by the region.
//  * [0, file_length_) maps the file MAP_PRIVATE read-write,
//    [file_length_, length_) is anonymous read-write, the rest PROT_NONE.
//  * In exact mode all of [0, max_length_) is registered with the shared
//    userfaultfd from the start, so growth only needs mprotect (the
//    registration survives VMA splits); while armed, every page of
//    [0, length_) is write-protected unless written since.
//  * noted_map_[p] != 0 exactly for the pages p in noted_list_ (unordered,
//    no duplicates), all < length_ / kPageSize.
//  * In noted mode the kernel tracks the region only when auditing
//    (audit_), as in exact mode.
//  * A lazy region (source_ set) maps [0, file_length_) anonymous instead of
//    from a file, registered with the lazy-fill userfaultfd (lazy_fill.h),
//    which also carries its write protection in exact mode; it stays
//    registered until destroyed (registered_ then only says whether the
//    kernel tracks writes).
#include "src/os/memory_region_posix.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>

#include "src/os/dirty_tracking.h"
#include "src/os/lazy_fill.h"
#include "src/os/posix_error.h"
#include "src/os/write_tracker.h"

namespace crust::os {
namespace {

std::atomic<int> live_regions{0};

std::string Num(uint64_t v) { return std::to_string(v); }

Status CheckLengths(uint64_t file_length, uint64_t length, uint64_t max_length) {
  if (file_length % kWasmPageSize != 0 || length % kWasmPageSize != 0 ||
      max_length % kWasmPageSize != 0) {
    return Status::InvalidArgument("MapMemory: lengths must be multiples of 64 KiB (file " +
                                   Num(file_length) + ", length " + Num(length) + ", max " +
                                   Num(max_length) + ")");
  }
  if (file_length > length || length > max_length || max_length > kMaxMemory) {
    return Status::InvalidArgument("MapMemory: need file_length <= length <= max_length <= 4 GiB (file " +
                                   Num(file_length) + ", length " + Num(length) + ", max " +
                                   Num(max_length) + ")");
  }
  return Status::OK();
}

class PosixMemoryRegion final : public MemoryRegion {
 public:
  PosixMemoryRegion(uint64_t file_length, uint64_t max_length, bool exact, bool write_audit,
                    std::shared_ptr<const PageSource> source = nullptr)
      : file_length_(file_length),
        max_length_(max_length),
        kernel_exact_(exact),
        write_audit_(write_audit),
        source_(std::move(source)) {}
  ~PosixMemoryRegion() override;

  // Reserves and maps; called once, right after construction.
  Status Init(int fd, const std::string& path, uint64_t length);

  uint8_t* data() const override { return base_; }
  uint64_t length() const override { return length_; }
  uint64_t max_length() const override { return max_length_; }
  Status Grow(uint64_t new_length) override;
  Status Shrink(uint64_t new_length) override;
  Status Arm() override;
  Status CollectWritten(bool rearm, std::vector<uint32_t>* pages) override;
  Status CollectNoted(bool rearm, std::vector<uint32_t>* pages) override;
  bool exact() const override { return noted_ || kernel_exact_; }
  Status DiscardPages(uint64_t offset, uint64_t len) override;
  void NoteWrite(uint64_t offset, uint64_t len) override;
  const uint8_t* noted_map() const override { return noted_map_; }
  Status UseNotedWrites() override;
  bool noted() const override { return noted_; }
  Status Prefill(uint64_t offset, uint64_t len) override {
    if (lazy_ && len != 0 && offset < file_length_) {
      const uint64_t end = std::min(file_length_, offset + std::min(len, file_length_));
      LazyFillNow(*lazy_, offset / kPageSize, (end + kPageSize - 1) / kPageSize);
    }
    return FaultStatus();
  }
  Status FaultStatus() const override {
    if (!fill_error_ || !fill_error_->failed.load(std::memory_order_acquire)) return Status::OK();
    std::lock_guard<std::mutex> l(fill_error_->mu);
    return fill_error_->status;
  }

 private:
  Status MakeWritable(uint64_t from, uint64_t to);
  // Forgets noted pages at or past `from_page`.
  void ForgetNoted(uint64_t from_page);
  // Audit: every page the kernel saw written must have been noted.
  Status CheckAudit(const std::vector<uint32_t>& kernel_pages) const;

  // Constant after Init.
  const uint64_t file_length_;
  const uint64_t max_length_;
  const bool kernel_exact_;  // kernel tracking is exact (uffd) rather than the pagemap fallback
  const bool write_audit_;   // TrackingOptions::write_audit of the Env that mapped it
  const std::shared_ptr<const PageSource> source_;  // lazy regions only
  std::shared_ptr<LazyFillError> fill_error_;       // lazy regions only
  std::shared_ptr<LazyEntry> lazy_;                 // lazy regions only, once registered
  uint8_t* base_ = nullptr;
  uint8_t* noted_map_ = nullptr;  // kNotedMapEntries bytes, own mapping
  bool registered_ = false;

  // Changed by the owning thread only.
  uint64_t length_ = 0;
  bool armed_ = false;
  bool noted_ = false;
  bool audit_ = false;  // noted mode with exact kernel tracking alongside
  std::vector<uint32_t> noted_list_;
};

Status PosixMemoryRegion::Init(int fd, const std::string& path, uint64_t length) {
  void* p = ::mmap(nullptr, kReservation, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return PosixError("mmap reservation of", Num(kReservation) + " bytes", errno);
  base_ = static_cast<uint8_t*>(p);
  p = ::mmap(nullptr, kNotedMapEntries, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return PosixError("mmap noted-page map of", Num(kNotedMapEntries) + " bytes", errno);
  noted_map_ = static_cast<uint8_t*>(p);
  if (source_) {
    RETURN_IF_ERROR(MakeWritable(0, length));
    length_ = length;
    fill_error_ = std::make_shared<LazyFillError>();
    ASSIGN_OR_RETURN(lazy_, LazyRegister(base_, file_length_, max_length_, kernel_exact_, source_, fill_error_));
    registered_ = kernel_exact_;
    return Status::OK();
  }
  if (file_length_ > 0) {
    p = ::mmap(base_, file_length_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) return PosixError("mmap", path, errno);
  }
  RETURN_IF_ERROR(MakeWritable(file_length_, length));
  length_ = length;
  if (kernel_exact_ && max_length_ > 0) {
    RETURN_IF_ERROR(UffdRegister(base_, max_length_));
    registered_ = true;
  }
  return Status::OK();
}

PosixMemoryRegion::~PosixMemoryRegion() {
  if (fill_error_) {
    LazyUnregister(base_, max_length_);
  } else if (registered_) {
    UffdUnregister(base_, max_length_);
  }
  if (base_ != nullptr) ::munmap(base_, kReservation);
  if (noted_map_ != nullptr) ::munmap(noted_map_, kNotedMapEntries);
  live_regions.fetch_sub(1, std::memory_order_relaxed);
}

Status PosixMemoryRegion::MakeWritable(uint64_t from, uint64_t to) {
  if (from == to) return Status::OK();
  if (::mprotect(base_ + from, to - from, PROT_READ | PROT_WRITE) != 0) {
    return PosixError("mprotect read-write", "memory [" + Num(from) + ", " + Num(to) + ")", errno);
  }
  return Status::OK();
}

Status PosixMemoryRegion::Grow(uint64_t new_length) {
  if (new_length < length_ || new_length % kWasmPageSize != 0 || new_length > max_length_) {
    return Status::InvalidArgument("Grow memory from " + Num(length_) + " to " + Num(new_length) +
                                   " bytes (max " + Num(max_length_) + ")");
  }
  RETURN_IF_ERROR(MakeWritable(length_, new_length));
  // New pages were never accessible, hence are unpopulated: a first write
  // creates an anonymous page without the write-protect bit, which the scan
  // reports (uffd_tracker.cc). Nothing to protect.
  length_ = new_length;
  return Status::OK();
}

Status PosixMemoryRegion::Shrink(uint64_t new_length) {
  if (new_length > length_ || new_length % kWasmPageSize != 0 || new_length < file_length_) {
    return Status::InvalidArgument("Shrink memory from " + Num(length_) + " to " + Num(new_length) +
                                   " bytes (file part " + Num(file_length_) + ")");
  }
  if (new_length == length_) return Status::OK();
  const uint64_t len = length_ - new_length;
  if (::madvise(base_ + new_length, len, MADV_DONTNEED) != 0) {
    return PosixError("madvise(MADV_DONTNEED)", "memory [" + Num(new_length) + ", " + Num(length_) + ")", errno);
  }
  if (::mprotect(base_ + new_length, len, PROT_NONE) != 0) {
    return PosixError("mprotect none", "memory [" + Num(new_length) + ", " + Num(length_) + ")", errno);
  }
  length_ = new_length;
  ForgetNoted(new_length / kPageSize);  // their contents are gone; growing again must note anew
  return Status::OK();
}

void PosixMemoryRegion::ForgetNoted(uint64_t from_page) {
  if (from_page == 0) {  // every note (each collection): no partition
    for (uint32_t p : noted_list_) noted_map_[p] = 0;
    noted_list_.clear();
    return;
  }
  auto gone = std::partition(noted_list_.begin(), noted_list_.end(),
                             [from_page](uint32_t p) { return p < from_page; });
  for (auto it = gone; it != noted_list_.end(); ++it) noted_map_[*it] = 0;
  noted_list_.erase(gone, noted_list_.end());
}

void PosixMemoryRegion::NoteWrite(uint64_t offset, uint64_t len) {
  if (len == 0 || offset >= length_) return;  // out of bounds: the write itself traps
  const uint64_t end = std::min(length_, offset + std::min(len, length_));
  for (uint64_t p = offset / kPageSize; p <= (end - 1) / kPageSize; ++p) {
    if (noted_map_[p] != 0) continue;
    noted_map_[p] = 1;
    noted_list_.push_back(static_cast<uint32_t>(p));
  }
}

Status PosixMemoryRegion::UseNotedWrites() {
  audit_ = kernel_exact_ && write_audit_;
  if (registered_ && !audit_) {
    if (!fill_error_) UffdUnregister(base_, max_length_);  // a lazy region keeps filling (write faults stay async)
    registered_ = false;
  }
  noted_ = true;
  return Arm();
}

Status PosixMemoryRegion::CheckAudit(const std::vector<uint32_t>& kernel_pages) const {
  std::vector<uint32_t> noted = noted_list_;
  std::sort(noted.begin(), noted.end());
  for (uint32_t p : kernel_pages) {
    if (!std::binary_search(noted.begin(), noted.end(), p)) {
      return Status::Corruption("write audit: page " + std::to_string(p) + " (offset " +
                              Num(uint64_t{p} * kPageSize) +
                              ") was written but not noted; its change would be lost to commits and rollbacks");
    }
  }
  return Status::OK();
}

Status PosixMemoryRegion::Arm() {
  RETURN_IF_ERROR(FaultStatus());
  // Re-protect the pages written so far (cost follows populated pages);
  // untouched pages need nothing (see uffd_tracker.cc).
  if (registered_ && length_ > 0) {
    std::vector<uint32_t> ignored;
    RETURN_IF_ERROR(ScanWrittenPages(base_, base_, length_, /*rearm=*/true, &ignored));
  }
  ForgetNoted(0);
  armed_ = true;
  return Status::OK();
}

Status PosixMemoryRegion::CollectNoted(bool rearm, std::vector<uint32_t>* pages) {
  if (!armed_) return Status::InvalidArgument("CollectNoted before Arm");
  RETURN_IF_ERROR(FaultStatus());
  // The audit needs the kernel's exact view: registered and exact tracking.
  if (registered_ && kernel_exact_ && length_ > 0 && (noted_ ? audit_ : write_audit_)) {
    std::vector<uint32_t> kernel_pages;
    RETURN_IF_ERROR(ScanWrittenPages(base_, base_, length_, rearm, &kernel_pages));
    RETURN_IF_ERROR(CheckAudit(kernel_pages));
  }
  const size_t first = pages->size();
  pages->insert(pages->end(), noted_list_.begin(), noted_list_.end());
  if (noted_list_.size() > 1) std::sort(pages->begin() + static_cast<std::ptrdiff_t>(first), pages->end());
  if (rearm) ForgetNoted(0);
  return Status::OK();
}

Status PosixMemoryRegion::CollectWritten(bool rearm, std::vector<uint32_t>* pages) {
  if (!armed_) return Status::InvalidArgument("CollectWritten before Arm");
  RETURN_IF_ERROR(FaultStatus());
  if (noted_) return CollectNoted(rearm, pages);
  if (rearm) ForgetNoted(0);  // notes only quieten the engine's inline checks here
  if (length_ == 0) return Status::OK();
  if (kernel_exact_) return ScanWrittenPages(base_, base_, length_, rearm, pages);
  return ScanPrivatePages(base_, base_, length_, pages);
}

Status PosixMemoryRegion::DiscardPages(uint64_t offset, uint64_t len) {
  if (offset % kPageSize != 0 || len % kPageSize != 0 || offset > length_ ||
      len > length_ - offset) {
    return Status::InvalidArgument("DiscardPages [" + Num(offset) + ", +" + Num(len) +
                                   "): not page aligned or beyond length " + Num(length_));
  }
  if (len == 0) return Status::OK();
  if (::madvise(base_ + offset, len, MADV_DONTNEED) != 0) {
    return PosixError("madvise(MADV_DONTNEED)", "memory [" + Num(offset) + ", +" + Num(len) + ")",
                      errno);
  }
  // Dropped pages are unpopulated again: not reported until written (and a
  // lazy region's are filled again when next touched).
  if (lazy_) LazyForget(*lazy_, offset / kPageSize, (offset + len) / kPageSize);
  if (noted_) {
    const uint64_t first = offset / kPageSize, end = (offset + len) / kPageSize;
    auto gone = std::partition(noted_list_.begin(), noted_list_.end(),
                               [first, end](uint32_t p) { return p < first || p >= end; });
    for (auto it = gone; it != noted_list_.end(); ++it) noted_map_[*it] = 0;
    noted_list_.erase(gone, noted_list_.end());
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<MemoryRegion>> NewPosixMemoryRegion(int fd, const std::string& path,
                                                           uint64_t file_length, uint64_t length,
                                                           uint64_t max_length, const TrackingOptions& tracking) {
  RETURN_IF_ERROR(CheckLengths(file_length, length, max_length));
  ASSIGN_OR_RETURN(TrackingMode mode, ChooseTrackingMode(tracking.mode));
  if (live_regions.fetch_add(1, std::memory_order_relaxed) >= kMaxLiveRegions) {
    live_regions.fetch_sub(1, std::memory_order_relaxed);
    return Status::ResourceExhausted("MapMemory: more than " + Num(kMaxLiveRegions) +
                                     " memory regions are live");
  }
  // From here the region owns the count; its destructor releases it.
  auto region = std::make_unique<PosixMemoryRegion>(file_length, max_length, mode == TrackingMode::kExact,
                                                    tracking.write_audit);
  RETURN_IF_ERROR(region->Init(fd, path, length));
  return std::unique_ptr<MemoryRegion>(std::move(region));
}

Result<std::unique_ptr<MemoryRegion>> NewLazyMemoryRegion(std::shared_ptr<const PageSource> source,
                                                          uint64_t source_length, uint64_t length,
                                                          uint64_t max_length, const TrackingOptions& tracking) {
  RETURN_IF_ERROR(CheckLengths(source_length, length, max_length));
  if (source == nullptr) return Status::InvalidArgument("MapLazyMemory: no page source");
  RETURN_IF_ERROR(LazyFillStatus());
  ASSIGN_OR_RETURN(TrackingMode mode, ChooseTrackingMode(tracking.mode));
  const bool exact = mode == TrackingMode::kExact;
  if (exact && !LazyFillTracksWrites()) {
    return Status::NotSupported("MapLazyMemory: exact write tracking is not available with lazy filling");
  }
  if (live_regions.fetch_add(1, std::memory_order_relaxed) >= kMaxLiveRegions) {
    live_regions.fetch_sub(1, std::memory_order_relaxed);
    return Status::ResourceExhausted("MapLazyMemory: more than " + Num(kMaxLiveRegions) +
                                     " memory regions are live");
  }
  auto region = std::make_unique<PosixMemoryRegion>(source_length, max_length, exact, tracking.write_audit,
                                                    std::move(source));
  RETURN_IF_ERROR(region->Init(-1, std::string(), length));
  return std::unique_ptr<MemoryRegion>(std::move(region));
}

int LiveMemoryRegions() { return live_regions.load(std::memory_order_relaxed); }

}  // namespace crust::os
