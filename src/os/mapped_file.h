// Copyright (c) crust authors. Licensed under the MIT license.
//
// A read-only mapping of part of a file (PROT_READ, MAP_PRIVATE). Used for
// memory images: the base pages a commit XORs its dirty pages with, and the
// page-tree trailer, read a few nodes at a time.
//
// For a range whose reads are scattered, the mapping turns off the kernel's
// fault-around (which maps up to 16 neighbouring pages on every fault): when
// exact write tracking works here, that range is registered with the
// process's userfaultfd in asynchronous write-protect mode, which makes the
// kernel skip fault-around and changes nothing else for a read-only mapping.
// Measured on 10,000 scattered pages of a 1 GiB image: 0.9 instead of 1.9 us
// per page read, and 1.3 instead of 8-9 ms to unmap.
//
// Thread-safety: immutable after creation; safe to read concurrently.
#pragma once

#include <cstdint>
#include <memory>

#include "crust/status.h"
#include "src/os/env.h"

namespace crust::os {

class MappedView {
 public:
  // Maps [offset, offset+length) of `file`. length 0 gives an empty view.
  // Reads of the first `scattered` bytes are expected to be scattered (no
  // fault-around there); the rest keeps the kernel's fault-around, which
  // suits clustered reads. Errors: IOError naming the file.
  static Result<std::unique_ptr<MappedView>> Map(const RandomAccessFile& file, uint64_t offset,
                                                 uint64_t length, uint64_t scattered = 0);
  ~MappedView();
  MappedView(const MappedView&) = delete;
  MappedView& operator=(const MappedView&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  MappedView(void* base, uint64_t map_len, const uint8_t* data, uint64_t size, uint64_t registered)
      : base_(base), map_len_(map_len), data_(data), size_(size), registered_(registered) {}
  void* const base_;
  const uint64_t map_len_;
  const uint8_t* const data_;
  const uint64_t size_;
  const uint64_t registered_;  // bytes from base_ registered with the userfaultfd (no fault-around)
};

}  // namespace crust::os
