// Copyright (c) crust authors. Licensed under the MIT license.

#include "src/store/page_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace crust::store {
namespace {

// Every answer against the page list itself, for every node over sets of
// different densities (including none, one page, the first and the last).
TEST(PageSet, AnswersAsTheListDoesForEveryNode) {
  std::mt19937 rng(5);
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{300}, size_t{5000}}) {
    std::set<uint32_t> held;
    if (count == 1) held.insert(0);
    while (held.size() < count) held.insert(rng() % (count < 100 ? 70000 : (1u << 20)));
    if (count == 300) held.insert((1u << 20) - 1);
    const std::vector<uint32_t> pages(held.begin(), held.end());
    const PageSet set(pages);
    for (int level = 0; level <= 20; level++) {
      const uint32_t nodes = 1u << (20 - level);
      for (uint32_t i = 0; i < nodes; i += std::max<uint32_t>(1, nodes / 4096)) {
        for (uint32_t index : {i, nodes - 1 - i}) {
          const uint64_t first = uint64_t{index} << level, end = first + (uint64_t{1} << level);
          auto it = std::lower_bound(pages.begin(), pages.end(), first);
          const bool want = it != pages.end() && *it < end;
          ASSERT_EQ(set.AnyUnder(level, index), want) << count << " pages, level " << level << " index " << index;
        }
      }
    }
    for (uint32_t p = 0; p < 80000; p++) ASSERT_EQ(set.Contains(p), held.count(p) != 0) << p;
  }
}

}  // namespace
}  // namespace crust::store
