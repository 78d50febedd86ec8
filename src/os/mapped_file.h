// Copyright (c) crust authors. Licensed under the MIT license.
//
// A read-only mapping of part of a file (PROT_READ, MAP_SHARED). Used for
// the page-tree trailer of memory images, read a few nodes at a time.
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
  // Errors: IOError naming the file.
  static Result<std::unique_ptr<MappedView>> Map(const RandomAccessFile& file, uint64_t offset,
                                                 uint64_t length);
  ~MappedView();
  MappedView(const MappedView&) = delete;
  MappedView& operator=(const MappedView&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  MappedView(void* base, uint64_t map_len, const uint8_t* data, uint64_t size)
      : base_(base), map_len_(map_len), data_(data), size_(size) {}
  void* const base_;
  const uint64_t map_len_;
  const uint8_t* const data_;
  const uint64_t size_;
};

}  // namespace crust::os
