// Copyright (c) crust authors. Licensed under the MIT license.

#include "src/store/page_set.h"

namespace crust::store {

PageSet::PageSet(std::span<const uint32_t> pages) {
  uint32_t top = 0;
  for (uint32_t p : pages) top = p > top ? p : top;
  for (int k = 0; k < 3; k++) {
    bits_[k].assign(pages.empty() ? 0 : ((top >> (6 * k)) >> 6) + 1, 0);
    for (uint32_t p : pages) {
      const uint32_t u = p >> (6 * k);
      bits_[k][u >> 6] |= uint64_t{1} << (u & 63);
    }
  }
}

bool PageSet::Contains(uint32_t page) const { return AnyUnder(0, page); }

bool PageSet::AnyUnder(int level, uint32_t index) const {
  // The node covers 2^level pages starting at index << level: in the
  // summary of granularity 2^(6k) with 6k <= level < 6k + 6 (the finest that
  // fits, the top one above that), n = 2^(level - 6k) consecutive bits,
  // aligned to n, so within one word when n <= 64.
  const int k = level < 12 ? level / 6 : 2;
  const uint64_t first = (uint64_t{index} << level) >> (6 * k);
  const uint64_t n = uint64_t{1} << (level - 6 * k);
  const std::vector<uint64_t>& bits = bits_[k];
  if (n >= 64) {
    for (uint64_t w = first >> 6; w < (first + n) >> 6 && w < bits.size(); w++) {
      if (bits[w] != 0) return true;
    }
    return false;
  }
  if ((first >> 6) >= bits.size()) return false;
  const uint64_t mask = ((uint64_t{1} << n) - 1) << (first & 63);
  return (bits[first >> 6] & mask) != 0;
}

}  // namespace crust::store
