// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/page_tree.h"

#include <array>
#include <cstring>
#include <map>

#include "src/store/format.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"

namespace crust::store {
namespace {

std::array<Hash32, kTreeDepth + 1> MakeZeroHashes() {
  std::array<Hash32, kTreeDepth + 1> z;
  static const uint8_t zero[kPageSize] = {};
  Sha256 s;
  s.Update(&kTagLeaf, 1);
  s.Update(zero, kPageSize);
  z[0] = s.Finish();
  for (int k = 1; k <= kTreeDepth; k++) z[k] = HashNode(kTagNode, z[k - 1], z[k - 1]);
  return z;
}

}  // namespace

const Hash32& ZeroHash(int level) {
  static const std::array<Hash32, kTreeDepth + 1> z = MakeZeroHashes();
  return z[level];
}

bool IsZeroPage(const uint8_t* page) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(page);
  uint64_t acc = 0;
  for (size_t i = 0; i < kPageSize / 8; i++) acc |= w[i];
  return acc == 0;
}

Hash32 PageLeafHash(const uint8_t* page) {
  if (IsZeroPage(page)) return ZeroHash(0);
  Sha256 s;
  s.Update(&kTagLeaf, 1);
  s.Update(page, kPageSize);
  return s.Finish();
}

Hash32 MemoryHash(uint64_t length, const Hash32& tree_root) {
  uint8_t buf[1 + 8 + 32];
  buf[0] = kTagMemory;
  EncodeFixed64(buf + 1, length);
  std::memcpy(buf + 9, tree_root.bytes.data(), 32);
  return Sha256Of(buf);
}

std::vector<TreeNode> UpdatePaths(const std::vector<std::pair<uint32_t, Hash32>>& leaves,
                                  const NodeLookup& lookup) {
  std::vector<TreeNode> out;
  // Current level's changed nodes, sorted by index.
  std::vector<std::pair<uint32_t, Hash32>> cur = leaves;
  for (auto& [idx, h] : cur) out.push_back({MakeNodeKey(0, idx), h});
  for (int level = 0; level < kTreeDepth; level++) {
    std::vector<std::pair<uint32_t, Hash32>> next;
    for (size_t i = 0; i < cur.size(); i++) {
      uint32_t idx = cur[i].first;
      uint32_t parent = idx >> 1;
      Hash32 left, right;
      if ((idx & 1) == 0) {
        left = cur[i].second;
        if (i + 1 < cur.size() && cur[i + 1].first == idx + 1) {
          right = cur[++i].second;
        } else {
          right = lookup(MakeNodeKey(level, idx + 1));
        }
      } else {
        left = lookup(MakeNodeKey(level, idx - 1));
        right = cur[i].second;
      }
      next.push_back({parent, HashNode(kTagNode, left, right)});
    }
    for (auto& [idx, h] : next) out.push_back({MakeNodeKey(level + 1, idx), h});
    cur = std::move(next);
  }
  return out;  // level-major and index-ascending within a level: sorted by key
}

std::vector<std::vector<Hash32>> BuildTree(std::vector<Hash32> leaves) {
  std::vector<std::vector<Hash32>> levels(kTreeDepth + 1);
  levels[0] = std::move(leaves);
  for (int k = 1; k <= kTreeDepth; k++) {
    const auto& below = levels[k - 1];
    size_t width = (below.size() + 1) / 2;
    levels[k].resize(width);
    for (size_t i = 0; i < width; i++) {
      const Hash32& l = below[2 * i];
      const Hash32& r = 2 * i + 1 < below.size() ? below[2 * i + 1] : ZeroHash(k - 1);
      levels[k][i] = HashNode(kTagNode, l, r);
    }
  }
  return levels;
}

}  // namespace crust::store
