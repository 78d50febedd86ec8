// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/page_tree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <map>

#include "src/store/format.h"
#include "src/util/coding.h"
#include "src/util/blake3.h"

namespace crust::store {
namespace {

const Blake3Context& LeafContext() {
  static const Blake3Context c(kPageLeafContext);
  return c;
}
const Blake3Context& NodeContext() {
  static const Blake3Context c(kPageNodeContext);
  return c;
}

std::array<Hash32, kTreeDepth + 1> MakeZeroHashes() {
  std::array<Hash32, kTreeDepth + 1> z;
  static const uint8_t zero[kPageSize] = {};
  z[0] = LeafContext().Hash(zero, kPageSize);
  for (int k = 1; k <= kTreeDepth; k++) z[k] = TreeNodeHash(z[k - 1], z[k - 1]);
  return z;
}

// Hashes node inputs in batches: Add() the two children of each node, in
// order; every kBatch nodes (and at Flush) they are hashed together.
class NodeBatch {
 public:
  explicit NodeBatch(Hash32* out) : out_(out) {}
  void Add(const Hash32& left, const Hash32& right) {
    std::memcpy(blocks_[n_], left.bytes.data(), 32);
    std::memcpy(blocks_[n_] + 32, right.bytes.data(), 32);
    if (++n_ == kBatch) Flush();
  }
  void Flush() {
    if (n_ == 0) return;
    const uint8_t* in[kBatch];
    for (size_t i = 0; i < n_; i++) in[i] = blocks_[i];
    NodeContext().Hash64Many(in, n_, out_);
    out_ += n_;
    n_ = 0;
  }

 private:
  static constexpr size_t kBatch = 32;
  alignas(64) uint8_t blocks_[kBatch][64];
  size_t n_ = 0;
  Hash32* out_;
};

}  // namespace

const Hash32& ZeroHash(int level) {
  static const std::array<Hash32, kTreeDepth + 1> z = MakeZeroHashes();
  return z[level];
}

bool IsZeroPage(const uint8_t* page) {
  // 64 bytes at a time, stopping at the first non-zero line: most pages
  // that are not zero say so in their first line.
  // (memcpy: `page` need not be 8-byte aligned; compilers emit plain loads.)
  for (size_t off = 0; off < kPageSize; off += 64) {
    uint64_t w[8];
    std::memcpy(w, page + off, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0) return false;
  }
  return true;
}

Hash32 PageLeafHash(const uint8_t* page) {
  if (IsZeroPage(page)) return ZeroHash(0);
  return LeafContext().Hash(page, kPageSize);
}

void PageLeafHashes(const uint8_t* const* pages, size_t n, Hash32* out) {
  // Zero pages (common in fresh memories) take the precomputed hash; the
  // others are hashed in batches across SIMD lanes.
  constexpr size_t kBatch = 16;
  const uint8_t* batch[kBatch];
  size_t where[kBatch];
  Hash32 hashed[kBatch];
  size_t m = 0;
  auto flush = [&] {
    LeafContext().Hash4KMany(batch, m, hashed);
    for (size_t j = 0; j < m; j++) out[where[j]] = hashed[j];
    m = 0;
  };
  for (size_t i = 0; i < n; i++) {
    if (IsZeroPage(pages[i])) {
      out[i] = ZeroHash(0);
      continue;
    }
    batch[m] = pages[i];
    where[m++] = i;
    if (m == kBatch) flush();
  }
  if (m) flush();
}

void PageLeafHashes(const uint8_t* memory, const uint32_t* pages, size_t first, size_t n, Hash32* out) {
  constexpr size_t kStep = 64;
  const uint8_t* ptrs[kStep];
  for (size_t done = 0; done < n; done += kStep) {
    const size_t m = std::min(kStep, n - done);
    for (size_t j = 0; j < m; j++) {
      const size_t i = first + done + j;
      ptrs[j] = memory + uint64_t{pages ? pages[i] : i} * kPageSize;
    }
    PageLeafHashes(ptrs, m, out + done);
  }
}

Hash32 TreeNodeHash(const Hash32& left, const Hash32& right) {
  uint8_t buf[64];
  std::memcpy(buf, left.bytes.data(), 32);
  std::memcpy(buf + 32, right.bytes.data(), 32);
  return NodeContext().Hash(buf, sizeof(buf));
}

Hash32 MemoryHash(uint64_t length, const Hash32& tree_root) {
  static const Blake3Context context(kMemoryHashContext);
  uint8_t buf[8 + 32];
  EncodeFixed64(buf, length);
  std::memcpy(buf + 8, tree_root.bytes.data(), 32);
  return context.Hash(buf, sizeof(buf));
}

namespace {

// The changed nodes one level up from `cur` (level `level`).
LevelNodes ParentLevel(int level, const LevelNodes& cur, const NodeLookup& lookup) {
  LevelNodes next;
  next.reserve(cur.size());
  std::vector<Hash32> hashes(cur.size());
  NodeBatch batch(hashes.data());
  for (size_t i = 0; i < cur.size(); i++) {
    const uint32_t idx = cur[i].first;
    if ((idx & 1) == 0) {
      if (i + 1 < cur.size() && cur[i + 1].first == idx + 1) {
        batch.Add(cur[i].second, cur[i + 1].second);
        i++;
      } else {
        batch.Add(cur[i].second, lookup(MakeNodeKey(level, idx + 1)));
      }
    } else {
      batch.Add(lookup(MakeNodeKey(level, idx - 1)), cur[i].second);
    }
    next.push_back({idx >> 1, Hash32()});
  }
  batch.Flush();
  for (size_t i = 0; i < next.size(); i++) next[i].second = hashes[i];
  return next;
}

void Append(int level, const LevelNodes& nodes, std::vector<TreeNode>* out) {
  for (const auto& [idx, h] : nodes) out->push_back({MakeNodeKey(level, idx), h});
}

}  // namespace

std::vector<TreeNode> UpdatePaths(const LevelNodes& leaves, const NodeLookup& lookup) {
  std::vector<uint32_t> pages(leaves.size());
  std::vector<Hash32> hashes(leaves.size());
  for (size_t i = 0; i < leaves.size(); i++) pages[i] = leaves[i].first, hashes[i] = leaves[i].second;
  ChunkedPathUpdate update(pages, ChunkedPathUpdate::OneChunk(pages.size()), lookup);
  for (size_t c = 0; c < update.chunks(); c++) update.RunChunk(c, hashes.data() + update.first(c));
  return update.Finish();
}

std::vector<size_t> ChunkedPathUpdate::OneChunk(size_t n) {
  if (n == 0) return {0};
  return {0, n};
}

std::vector<size_t> ChunkedPathUpdate::ChooseCuts(const std::vector<uint32_t>& pages, size_t target) {
  target = std::max<size_t>(target, 2);
  const size_t n = pages.size();
  std::vector<size_t> cuts{0};
  size_t s = 0;
  while (n - s > target + target / 2) {
    // Cut before pages[m] for m in [s + target/2, s + 3*target/2]: where the
    // two sides meet highest; on ties, nearest to s + target.
    const size_t lo = s + target / 2, hi = std::min(n - 1, s + target + target / 2), want = s + target;
    size_t best_m = want;
    int best = -1;
    for (size_t m = lo; m <= hi; m++) {
      const int k = std::bit_width(pages[m - 1] ^ pages[m]);
      const size_t d = m > want ? m - want : want - m, best_d = best_m > want ? best_m - want : want - best_m;
      if (k > best || (k == best && d < best_d)) best = k, best_m = m;
    }
    cuts.push_back(best_m);
    s = best_m;
  }
  if (n > 0) cuts.push_back(n);
  return cuts;
}

ChunkedPathUpdate::ChunkedPathUpdate(const std::vector<uint32_t>& pages, std::vector<size_t> cuts, NodeLookup lookup)
    : pages_(pages), cuts_(std::move(cuts)), lookup_(std::move(lookup)) {
  if (cuts_.empty()) cuts_.push_back(0);
  const size_t n = chunks();
  tops_.resize(n);
  levels_.resize(n);
  for (size_t c = 0; c < n; c++) {
    int top = kTreeDepth + 1;
    if (c > 0) top = std::min(top, static_cast<int>(std::bit_width(pages_[cuts_[c] - 1] ^ pages_[cuts_[c]])));
    if (c + 1 < n) top = std::min(top, static_cast<int>(std::bit_width(pages_[cuts_[c + 1] - 1] ^ pages_[cuts_[c + 1]])));
    tops_[c] = top;
    min_top_ = std::min(min_top_, top);
  }
}

uint32_t CountAncestors(const uint32_t* pages, size_t n, int level) {
  uint32_t count = 0;
  for (size_t i = 0; i < n; i++) count += (i == 0 || (pages[i] >> level) != (pages[i - 1] >> level));
  return count;
}

uint32_t ChunkedPathUpdate::count(size_t c, int level) const {
  return CountAncestors(pages_.data() + cuts_[c], cuts_[c + 1] - cuts_[c], level);
}

void ChunkedPathUpdate::RunChunk(size_t c, const Hash32* leaves) {
  std::vector<LevelNodes>& levels = levels_[c];
  levels.assign(static_cast<size_t>(std::min(tops_[c], kTreeDepth + 1)), {});
  LevelNodes& l0 = levels[0];
  l0.reserve(cuts_[c + 1] - cuts_[c]);
  for (size_t i = cuts_[c]; i < cuts_[c + 1]; i++) l0.push_back({pages_[i], leaves[i - cuts_[c]]});
  for (size_t k = 0; k + 1 < levels.size(); k++) levels[k + 1] = ParentLevel(static_cast<int>(k), levels[k], lookup_);
}

std::vector<TreeNode> ChunkedPathUpdate::Finish() {
  auto by_index = [](const std::pair<uint32_t, Hash32>& a, const std::pair<uint32_t, Hash32>& b) {
    return a.first < b.first;
  };
  // Levels at and above each chunk's top, computed here from the chunks'
  // frontiers (their nodes at top - 1) and this loop's own nodes one level
  // down. Those never share an index with a chunk's nodes: a node computed
  // here has pages of two chunks beneath it, which no chunk computes.
  std::vector<LevelNodes> mine(kTreeDepth + 1);
  for (int k = 0; k < kTreeDepth; k++) {
    LevelNodes in = mine[k];
    for (size_t c = 0; c < chunks(); c++) {
      if (tops_[c] - 1 != k) continue;
      const LevelNodes& f = levels_[c][k];
      LevelNodes merged;
      merged.reserve(in.size() + f.size());
      std::merge(in.begin(), in.end(), f.begin(), f.end(), std::back_inserter(merged), by_index);
      in = std::move(merged);
    }
    if (!in.empty()) mine[k + 1] = ParentLevel(k, in, lookup_);
  }
  // Output: per level, the chunks' nodes (in chunk order, which is index
  // order) merged with this loop's.
  size_t total = 0;
  for (int k = 0; k <= kTreeDepth; k++) {
    total += mine[k].size();
    for (size_t c = 0; c < chunks(); c++) total += k < tops_[c] ? levels_[c][k].size() : 0;
  }
  std::vector<TreeNode> out;
  out.reserve(total);
  for (int k = 0; k <= kTreeDepth; k++) {
    if (mine[k].empty()) {  // only the chunks' nodes (every level of a single chunk): no merge
      for (size_t c = 0; c < chunks(); c++) {
        if (k < tops_[c]) Append(k, levels_[c][k], &out);
      }
      continue;
    }
    LevelNodes level;
    for (size_t c = 0; c < chunks(); c++) {
      if (k < tops_[c]) level.insert(level.end(), levels_[c][k].begin(), levels_[c][k].end());
    }
    if (!mine[k].empty()) {
      LevelNodes merged;
      merged.reserve(level.size() + mine[k].size());
      std::merge(level.begin(), level.end(), mine[k].begin(), mine[k].end(), std::back_inserter(merged), by_index);
      level = std::move(merged);
    }
    Append(k, level, &out);
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
    NodeBatch batch(levels[k].data());
    for (size_t i = 0; i < width; i++) {
      batch.Add(below[2 * i], 2 * i + 1 < below.size() ? below[2 * i + 1] : ZeroHash(k - 1));
    }
    batch.Flush();
  }
  return levels;
}

}  // namespace crust::store
