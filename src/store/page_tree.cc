// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/page_tree.h"

#include <algorithm>
#include <array>
#include <bit>
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
  // 64 bytes at a time, stopping at the first non-zero line: most pages
  // that are not zero say so in their first line.
  const uint64_t* w = reinterpret_cast<const uint64_t*>(page);
  for (size_t i = 0; i < kPageSize / 8; i += 8) {
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) != 0) return false;
  }
  return true;
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

namespace {

// The changed nodes one level up from `cur` (level `level`).
LevelNodes ParentLevel(int level, const LevelNodes& cur, const NodeLookup& lookup) {
  LevelNodes next;
  next.reserve(cur.size());
  for (size_t i = 0; i < cur.size(); i++) {
    const uint32_t idx = cur[i].first;
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
    next.push_back({idx >> 1, HashNode(kTagNode, left, right)});
  }
  return next;
}

void Append(int level, const LevelNodes& nodes, std::vector<TreeNode>* out) {
  for (const auto& [idx, h] : nodes) out->push_back({MakeNodeKey(level, idx), h});
}

}  // namespace

std::vector<TreeNode> UpdatePaths(const LevelNodes& leaves, const NodeLookup& lookup) {
  std::vector<TreeNode> out;
  out.reserve(leaves.size() * 3 + kTreeDepth);
  Append(0, leaves, &out);
  LevelNodes cur = leaves;
  for (int level = 0; level < kTreeDepth; level++) {
    cur = ParentLevel(level, cur, lookup);
    Append(level + 1, cur, &out);
  }
  return out;  // level-major and index-ascending within a level: sorted by key
}

SplitPathUpdate::SplitPathUpdate(LevelNodes leaves, NodeLookup lookup) : lookup_(std::move(lookup)) {
  const size_t n = leaves.size();
  size_t cut = n / 2;
  if (n >= 2) {
    // Leaves a = leaves[m-1] and b = leaves[m] share their ancestors from
    // level bit_width(a ^ b) on; below it the two sides' paths (and the
    // siblings they read) are disjoint. Look near the middle for the cut
    // whose paths stay apart the longest.
    const size_t window = std::max<size_t>(1, n / 8);
    const size_t lo = std::max<size_t>(1, cut > window ? cut - window : 1);
    const size_t hi = std::min(n - 1, cut + window);
    int best = -1;
    for (size_t m = lo; m <= hi; m++) {
      const int k = std::bit_width(leaves[m - 1].first ^ leaves[m].first);
      if (k > best) best = k, cut = m;
    }
    split_level_ = best;
  }
  for (int p = 0; p < 2; p++) parts_[p].resize(std::max(split_level_, 1));
  parts_[0][0].assign(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(cut));
  parts_[1][0].assign(leaves.begin() + static_cast<std::ptrdiff_t>(cut), leaves.end());
}

void SplitPathUpdate::RunPart(int part) {
  std::vector<LevelNodes>& levels = parts_[part];
  for (int level = 0; level + 1 < split_level_; level++) levels[level + 1] = ParentLevel(level, levels[level], lookup_);
}

std::vector<TreeNode> SplitPathUpdate::Finish() {
  std::vector<TreeNode> out;
  const int below = std::max(split_level_, 1);  // levels computed by the parts
  size_t total = 0;
  for (const auto& part : parts_)
    for (const auto& l : part) total += l.size();
  out.reserve(total + total / 4 + kTreeDepth);
  for (int level = 0; level < below; level++) {
    Append(level, parts_[0][level], &out);
    Append(level, parts_[1][level], &out);
  }
  LevelNodes cur = std::move(parts_[0][below - 1]);
  const LevelNodes& right = parts_[1][below - 1];
  cur.insert(cur.end(), right.begin(), right.end());
  for (int level = below - 1; level < kTreeDepth; level++) {
    cur = ParentLevel(level, cur, lookup_);
    Append(level + 1, cur, &out);
  }
  return out;
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
