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
// REQUIRES: entries sorted by id.
Root ComputeRoot(const std::vector<IndexEntry>& entries);

}  // namespace crust::store
