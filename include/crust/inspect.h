// Copyright (c) crust authors. Licensed under the MIT license.
//
// Read-only inspection of a store for people and tools (the `crust` tool's
// diff, stat and ui commands): what changed between two commits, and what
// each commit costs on disk.
//
// Everything here only reads: it works on a store opened read-only, beside a
// writer. A commit deleted while it is inspected gives NotFound (DiffCommits)
// or is left out (MeasureDiskUsage).
//
// Thread-safety: the functions may run concurrently; they share nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/store.h"
#include "crust/types.h"

namespace crust {

// The granularity of page differences: the store's page (4 KiB), the unit of
// delta layers and of the page tree.
inline constexpr uint64_t kInspectPageSize = 4096;

struct ModuleChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  ModuleId id;
  Kind kind = Kind::kChanged;
  bool bytecode_changed = false;
  bool memory_changed = false;
  bool metadata_changed = false;
  uint64_t old_memory_length = 0;  // bytes; 0 when added
  uint64_t new_memory_length = 0;  // bytes; 0 when removed
  uint64_t old_bytecode_size = 0;
  uint64_t new_bytecode_size = 0;
  // kChanged with memory_changed: the 4 KiB pages whose bytes differ,
  // ascending. Past the shorter memory's end, pages are compared with zeros.
  std::vector<uint32_t> changed_pages;
};

struct CommitDiff {
  Root from, to;
  std::vector<ModuleChange> modules;  // ascending by id; unchanged modules left out
  uint64_t changed_page_bytes = 0;    // sum of changed_pages × 4096
};

// Compares commit `from` with commit `to` module by module (by index hashes)
// and, for memories whose hash differs, page by page. Cost: reads both
// versions of every changed memory (unchanged modules cost nothing).
// Errors: NotFound (no such commit), Corruption, IOError.
Result<CommitDiff> DiffCommits(Store* store, const Root& from, const Root& to);

struct MemoryLayers {
  ModuleId id;
  uint32_t delta_layers = 0;
};

// One commit's files on disk. Bytes are allocated bytes (st_blocks × 512):
// what the files really take, holes excluded.
struct CommitUsage {
  Root root;
  uint64_t created_unix_ns = 0;
  uint64_t files = 0;
  uint64_t bytes = 0;         // every file of the commit
  uint64_t new_bytes = 0;     // files whose inode no older commit has: what this commit wrote
  uint64_t shared_bytes = 0;  // files hard-linked with another commit (link count > 1)
  // The older commit sharing the most files (inodes) with this one: the
  // commit it was most likely based on (commits do not record their base).
  std::optional<Root> parent;
  std::vector<MemoryLayers> memories;  // from the index, ascending by id
};

struct StoreUsage {
  std::vector<CommitUsage> commits;  // oldest first, as ListCommits
  uint64_t apparent_bytes = 0;       // sum of every commit's bytes (as if nothing were shared)
  uint64_t unique_bytes = 0;         // each inode counted once: what the commits take on disk
};

// Measures every commit of `store` (oldest first). Commits deleted meanwhile
// are left out. Errors: IOError, Corruption (an unreadable index).
Result<StoreUsage> MeasureDiskUsage(Store* store);

}  // namespace crust
