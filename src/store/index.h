// Copyright (c) crust authors. Licensed under the MIT license.
//
// The `index` file of a commit: every module with the hashes the state root
// covers, plus how its memory is laid out on disk. The state root is computed
// from the index alone (root.h). Format: docs/format.md, "index".
#pragma once

#include <cstdint>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::store {

struct IndexEntry {
  ModuleId id;
  Hash32 bytecode_hash;   // SHA-256 of bytecode/<id>
  Hash32 memory_hash;     // MemoryHash(memory_length, page tree root)
  uint64_t memory_length = 0;  // bytes, multiple of 64 KiB
  // Storage layout (not covered by the root): number of delta layers on top
  // of the base image memory/<id> (0: the base image is the memory).
  uint32_t layer_count = 0;
  Bytes metadata;         // opaque to the store (owner, persisted globals...); covered by the root

  bool operator==(const IndexEntry&) const = default;
};

struct Index {
  uint64_t created_unix_ns = 0;     // when the commit was made (not covered by the root)
  std::vector<IndexEntry> entries;  // strictly ascending by id
};

Bytes EncodeIndex(const Index& index);
// Decodes and checks magic, version, checksum, bounds and ordering.
// Corruption naming `path` on any mismatch.
Result<Index> DecodeIndex(ByteView bytes, const std::string& path);

}  // namespace crust::store
