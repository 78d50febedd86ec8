// Copyright (c) crust authors. Licensed under the MIT license.
//
// The state root: a merkle root over the index entries (docs/format.md,
// "State root"). Computed from the index alone, never from memories.
//
// leaf(e) = SHA-256(0x00 || id || bytecode_hash || memory_hash || SHA-256(metadata))
// Leaves are ordered by module id. The tree is RFC 6962's: for n > 1 leaves,
// root = SHA-256(0x01 || root(first k) || root(rest)) with k the largest power
// of two below n; one leaf is its own root; the empty state's root is
// SHA-256 of the empty string.
#pragma once

#include <vector>

#include "crust/types.h"
#include "src/store/index.h"

namespace crust::store {

Hash32 StateLeaf(const IndexEntry& e);
// The same leaf from the hashes alone (metadata_hash = SHA-256(metadata)).
Hash32 StateLeafOfHashes(const ModuleId& id, const Hash32& bytecode_hash, const Hash32& memory_hash,
                         const Hash32& metadata_hash);
// RFC 6962's hash of leaves[begin, end). REQUIRES: begin < end.
Hash32 StateSubtreeHash(const std::vector<Hash32>& leaves, size_t begin, size_t end);
// REQUIRES: entries sorted by id.
Root ComputeRoot(const std::vector<IndexEntry>& entries);

}  // namespace crust::store
