// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/root.h"

#include "src/store/format.h"
#include "src/util/sha256.h"

namespace crust::store {
namespace {

Hash32 Subtree(const std::vector<Hash32>& leaves, size_t begin, size_t end) {
  size_t n = end - begin;
  if (n == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return HashNode(kTagNode, Subtree(leaves, begin, begin + k), Subtree(leaves, begin + k, end));
}

}  // namespace

Hash32 StateLeaf(const IndexEntry& e) {
  Hash32 meta = Sha256Of(e.metadata);
  Sha256 s;
  s.Update(&kTagLeaf, 1);
  s.Update(e.id.bytes.data(), 32);
  s.Update(e.bytecode_hash.bytes.data(), 32);
  s.Update(e.memory_hash.bytes.data(), 32);
  s.Update(meta.bytes.data(), 32);
  return s.Finish();
}

Root ComputeRoot(const std::vector<IndexEntry>& entries) {
  if (entries.empty()) return Sha256Of({});
  std::vector<Hash32> leaves;
  leaves.reserve(entries.size());
  for (const IndexEntry& e : entries) leaves.push_back(StateLeaf(e));
  return Subtree(leaves, 0, leaves.size());
}

}  // namespace crust::store
