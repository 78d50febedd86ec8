// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/root.h"

#include "src/store/format.h"
#include "src/util/sha256.h"

namespace crust::store {

Hash32 StateSubtreeHash(const std::vector<Hash32>& leaves, size_t begin, size_t end) {
  size_t n = end - begin;
  if (n == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return HashNode(kTagNode, StateSubtreeHash(leaves, begin, begin + k), StateSubtreeHash(leaves, begin + k, end));
}

Hash32 StateLeafOfHashes(const ModuleId& id, const Hash32& bytecode_hash, const Hash32& memory_hash,
                         const Hash32& metadata_hash) {
  Sha256 s;
  s.Update(&kTagLeaf, 1);
  s.Update(id.bytes.data(), 32);
  s.Update(bytecode_hash.bytes.data(), 32);
  s.Update(memory_hash.bytes.data(), 32);
  s.Update(metadata_hash.bytes.data(), 32);
  return s.Finish();
}

Hash32 StateLeaf(const IndexEntry& e) {
  return StateLeafOfHashes(e.id, e.bytecode_hash, e.memory_hash, Sha256Of(e.metadata));
}

Root ComputeRoot(const std::vector<IndexEntry>& entries) {
  if (entries.empty()) return Sha256Of({});
  std::vector<Hash32> leaves;
  leaves.reserve(entries.size());
  for (const IndexEntry& e : entries) leaves.push_back(StateLeaf(e));
  return StateSubtreeHash(leaves, 0, leaves.size());
}

}  // namespace crust::store
