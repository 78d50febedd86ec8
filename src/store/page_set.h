// Copyright (c) crust authors. Licensed under the MIT license.
//
// PageSet: which pages a delta layer holds, as a bitmap with two summary
// levels, answering "is page p held?" and "is any page under tree node
// (level, index) held?" in O(1) word reads. A layer's page list answers both
// by binary search (delta.h); a layer that is searched often builds a PageSet
// from its list once (DeltaLayer::FindPage, HoldsPagesUnder) and skips the
// search when the answer is no, which is most of the time: a tree update
// asks every layer for the siblings on its paths, and few layers hold pages
// under a low node.
//
// Size: one bit per page up to the highest page held, plus 1/64 and 1/4096
// of that (128 KiB and change for a 4 GiB memory's layer).
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace crust::store {

class PageSet {
 public:
  // REQUIRES: every page < 2^20 (format.h kMaxPages).
  explicit PageSet(std::span<const uint32_t> pages);

  bool Contains(uint32_t page) const;
  // Whether a page in [index << level, (index + 1) << level) is held: the
  // pages under tree node (level, index). REQUIRES: level <= 20.
  bool AnyUnder(int level, uint32_t index) const;

 private:
  // bits_[k] has bit u set iff a page in [u << 6k, (u + 1) << 6k) is held.
  std::vector<uint64_t> bits_[3];
};

}  // namespace crust::store
