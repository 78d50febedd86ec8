// Copyright (c) crust authors. Licensed under the MIT license.
//
// BLAKE3 in derive-key mode: the hash of the page tree (docs/format.md,
// "Page tree and memory hash"). Every hash here equals
// `b3sum --derive-key CONTEXT` of the same bytes; the batched forms only
// spread many independent inputs over the CPU's SIMD lanes (8 at a time with
// AVX2), which is what makes hashing thousands of dirty pages cheap.
//
// The implementation is the BLAKE3 team's C library (cmake/Blake3.cmake);
// its SIMD kernels are picked at run time and all give the same bytes.
//
// Thread-safety: a Blake3Context is immutable after construction; any number
// of threads may hash with one at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crust/types.h"

namespace crust {

class Blake3Context {
 public:
  // `context` is the derive-key context string (hard-coded, globally unique).
  explicit Blake3Context(const char* context);

  // derive_key(context, data), any length.
  Hash32 Hash(const void* data, size_t len) const;
  Hash32 Hash(ByteView data) const { return Hash(data.data(), data.size()); }

  // out[i] = Hash(blocks[i], 64) for i < n: the inputs of binary merkle nodes.
  void Hash64Many(const uint8_t* const* blocks, size_t n, Hash32* out) const;

  // out[i] = Hash(pages[i], 4096) for i < n.
  void Hash4KMany(const uint8_t* const* pages, size_t n, Hash32* out) const;

 private:
  uint32_t key_[8];
};

}  // namespace crust
