// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "src/os/write_tracker.h"

namespace crust::os {

Result<std::unique_ptr<MappedView>> MappedView::Map(const RandomAccessFile& file, uint64_t offset,
                                                    uint64_t length, uint64_t scattered) {
  if (length == 0) return std::unique_ptr<MappedView>(new MappedView(nullptr, 0, nullptr, 0, 0));
  if (file.fd() < 0) return Status::InvalidArgument("cannot map " + file.path() + ": no descriptor");
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t aligned = offset / page * page;
  uint64_t map_len = length + (offset - aligned);
  // MAP_PRIVATE (never written: the same pages as MAP_SHARED) lets a range
  // be registered with the userfaultfd, which a shared read-only mapping
  // cannot (EPERM without VM_MAYWRITE).
  void* p = mmap(nullptr, map_len, PROT_READ, MAP_PRIVATE, file.fd(), static_cast<off_t>(aligned));
  if (p == MAP_FAILED) {
    return Status::IOError("mmap " + file.path() + " at " + std::to_string(offset) + ": " + strerror(errno));
  }
  const uint8_t* data = static_cast<const uint8_t*>(p) + (offset - aligned);
  // A hint only: without it the view works the same, just reads slower.
  uint64_t registered = std::min(map_len, scattered + (offset - aligned)) / page * page;
  if (registered > 0 &&
      !(ExactTrackingStatus().ok() && UffdRegister(static_cast<uint8_t*>(p), registered).ok())) {
    registered = 0;
  }
  return std::unique_ptr<MappedView>(new MappedView(p, map_len, data, length, registered));
}

MappedView::~MappedView() {
  if (base_ == nullptr) return;
  if (registered_ > 0) UffdUnregister(static_cast<uint8_t*>(base_), registered_);
  munmap(base_, map_len_);
}

}  // namespace crust::os
