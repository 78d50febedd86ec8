// Copyright (c) crust authors. Licensed under the MIT license.
//
// The page tree: how a memory's hash is defined and updated in time
// proportional to the pages that changed.
//
// A memory of `length` bytes (a multiple of 64 KiB, at most 4 GiB) is split
// into 4 KiB pages. The hash is BLAKE3 in derive-key mode with one context
// per use (format.h: kPage*Context): page i's leaf is
// B(leaf, page bytes). The tree has fixed depth 20 over 2^20 page slots;
// slots past the memory's end hold the all-zero page, so all-zero subtrees
// have precomputed hashes (ZeroHash) and cost nothing.
// Node (level k+1, i) = B(node, node(k,2i) || node(k,2i+1)).
// The memory hash is B(memory hash, u64le length || node(20, 0)).
// docs/format.md is the exact specification.
//
// A node is named by (level, index) with index < 2^(20-level), packed as
// NodeKey = level << 24 | index (index < 2^24). Keys sort level-major.
//
// Thread-safety: all functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "crust/types.h"

namespace crust::store {

using NodeKey = uint32_t;
inline NodeKey MakeNodeKey(int level, uint32_t index) { return static_cast<uint32_t>(level) << 24 | index; }
inline int NodeLevel(NodeKey k) { return static_cast<int>(k >> 24); }
inline uint32_t NodeIndex(NodeKey k) { return k & 0xFFFFFF; }
inline constexpr NodeKey kRootKey = 20u << 24;

struct TreeNode {
  NodeKey key;
  Hash32 hash;
};

// Hash of an all-zero subtree at `level` (level 0 = the zero page's leaf).
const Hash32& ZeroHash(int level);
Hash32 PageLeafHash(const uint8_t* page);  // 4 KiB
// out[i] = PageLeafHash(pages[i]) for i < n, hashed in SIMD batches (several
// times faster per page than one at a time).
void PageLeafHashes(const uint8_t* const* pages, size_t n, Hash32* out);
// out[i] = the leaf of page pages[first + i] of `memory` for i < n (pages ==
// nullptr: of page first + i).
void PageLeafHashes(const uint8_t* memory, const uint32_t* pages, size_t first, size_t n, Hash32* out);
// The node function: hash of the node whose children are `left` and `right`.
Hash32 TreeNodeHash(const Hash32& left, const Hash32& right);
bool IsZeroPage(const uint8_t* page);
Hash32 MemoryHash(uint64_t length, const Hash32& tree_root);

// Number of nodes stored for a memory of n pages at `level`: ceil(n / 2^level).
// Nodes beyond that are zero subtrees.
inline uint64_t LevelWidth(uint64_t pages, int level) {
  return (pages + (1ull << level) - 1) >> level;
}

// Reads the current value of a node (level >= 1 is only asked for nodes the
// update does not itself recompute).
using NodeLookup = std::function<Hash32(NodeKey)>;

// Changed nodes of one level: (index, hash), strictly ascending by index.
using LevelNodes = std::vector<std::pair<uint32_t, Hash32>>;

// Number of distinct ancestors at `level` of pages[0..n) (sorted, unique):
// the changed nodes at that level when those pages change.
uint32_t CountAncestors(const uint32_t* pages, size_t n, int level);

// Path updates: given new leaf hashes for some pages (sorted by page,
// unique), recompute every node on their paths to the root. One mechanism,
// parameterised by how the pages are cut into chunks of consecutive pages:
//   one chunk            UpdatePaths (small updates, one thread);
//   two halves           a large update on two threads (session_hash.cc);
//   chunks of ~128 pages a streamed layer, whose chunks' nodes are written
//                        while later chunks are hashed (layer_stream.h).
// Chunk c computes every node of its pages' paths below level top(c), the
// level where its paths meet a neighbouring chunk's (the lowest common
// ancestor of the pages on either side of a cut), so no node a chunk computes
// has a dirty page of another chunk beneath it. Finish() computes the rest
// (the nodes above the cuts). Every cutting gives the same nodes. Cost:
// O(pages * 20) hashes at most (of 64 bytes, batched level by level); shared
// path prefixes are hashed once.
//
// Thread-safety: RunChunk may run concurrently for distinct chunks; `lookup`
// must then be thread-safe. Finish runs once, after every chunk.
class ChunkedPathUpdate {
 public:
  // Cuts `pages` (sorted, unique) into chunks of about `target` pages, each
  // cut placed where the pages on its two sides meet highest in the tree.
  // (target = pages.size() / 2: two halves.)
  static std::vector<size_t> ChooseCuts(const std::vector<uint32_t>& pages, size_t target);
  // One chunk of all n pages (no cut).
  static std::vector<size_t> OneChunk(size_t n);

  // `cuts`: chunk c is pages[cuts[c], cuts[c+1]); cuts.front() == 0,
  // cuts.back() == pages.size(), strictly ascending.
  ChunkedPathUpdate(const std::vector<uint32_t>& pages, std::vector<size_t> cuts, NodeLookup lookup);

  size_t chunks() const { return cuts_.size() - 1; }
  size_t first(size_t c) const { return cuts_[c]; }
  size_t end(size_t c) const { return cuts_[c + 1]; }
  // Chunk c computes levels [0, top(c)); 1 <= top(c) <= kTreeDepth + 1.
  int top(size_t c) const { return tops_[c]; }
  // The lowest top(c): every chunk computes levels below it.
  int min_top() const { return min_top_; }
  // Number of nodes chunk c computes at `level` (< top(c)), known before it
  // runs: the distinct ancestors of its pages there.
  uint32_t count(size_t c, int level) const;

  // Computes chunk c's nodes from its pages' leaves (leaves[i] for
  // pages[first(c) + i]).
  void RunChunk(size_t c, const Hash32* leaves);
  // Chunk c's nodes at `level` (< top(c)), ascending by index. After RunChunk(c).
  const LevelNodes& nodes(size_t c, int level) const { return levels_[c][level]; }
  // After every chunk: every changed node, leaves included, sorted by key.
  std::vector<TreeNode> Finish();

 private:
  const std::vector<uint32_t>& pages_;
  std::vector<size_t> cuts_;
  NodeLookup lookup_;
  std::vector<int> tops_;
  int min_top_ = kTreeDepthLevels;
  std::vector<std::vector<LevelNodes>> levels_;  // [chunk][level < top]
  static constexpr int kTreeDepthLevels = 21;
};

// The whole path update in one chunk, on the calling thread: every changed
// node, leaves included, sorted by key.
std::vector<TreeNode> UpdatePaths(const LevelNodes& leaves, const NodeLookup& lookup);

// Computes every stored node of a full tree from all leaves of a memory of
// `leaves.size()` pages: result[level] has LevelWidth(n, level) hashes.
std::vector<std::vector<Hash32>> BuildTree(std::vector<Hash32> leaves);

}  // namespace crust::store
