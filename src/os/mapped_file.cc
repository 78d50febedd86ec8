// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace crust::os {

Result<std::unique_ptr<MappedView>> MappedView::Map(const RandomAccessFile& file, uint64_t offset,
                                                    uint64_t length) {
  if (length == 0) return std::unique_ptr<MappedView>(new MappedView(nullptr, 0, nullptr, 0));
  if (file.fd() < 0) return Status::InvalidArgument("cannot map " + file.path() + ": no descriptor");
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t aligned = offset / page * page;
  uint64_t map_len = length + (offset - aligned);
  void* p = mmap(nullptr, map_len, PROT_READ, MAP_SHARED, file.fd(), static_cast<off_t>(aligned));
  if (p == MAP_FAILED) {
    return Status::IOError("mmap " + file.path() + " at " + std::to_string(offset) + ": " + strerror(errno));
  }
  const uint8_t* data = static_cast<const uint8_t*>(p) + (offset - aligned);
  return std::unique_ptr<MappedView>(new MappedView(p, map_len, data, length));
}

MappedView::~MappedView() {
  if (base_ != nullptr) munmap(base_, map_len_);
}

}  // namespace crust::os
