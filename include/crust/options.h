// Copyright (c) crust authors. Licensed under the MIT license.
//
// Options for opening a store and starting sessions. Every field has a
// default; behaviour knobs come first, performance knobs after.
#pragma once

#include <cstdint>

namespace crust {

// How sessions learn which pages of a memory were written (docs/architecture.md,
// "Dirty tracking"). kAuto: exact kernel tracking (userfaultfd +
// PAGEMAP_SCAN, Linux >= 6.7) when available, else reading
// /proc/self/pagemap. kExact: exact or fail (NotSupported when a memory is
// mapped). kPagemap: always the fallback. Roots never depend on it.
enum class DirtyTracking : uint8_t { kAuto, kExact, kPagemap };

struct StoreOptions {
  // --- Behaviour ---
  // Create the store directory (and its parents) when missing. Default: true.
  bool create_if_missing = true;
  // Open without the write lock: listing, showing and verifying only. Sessions
  // can be started (to read) but not committed; deletion is refused.
  // Default: false.
  bool read_only = false;
  // fsync every new file and directory before a commit becomes visible, and
  // the store directory after. Turning this off voids crash safety; only for
  // tests and benchmarks that measure something else. Default: true.
  bool sync = true;
  // (Tests substitute the OS interface through src/store/open_env.h.)

  // --- Performance ---
  // A changed memory gets a new delta layer of its dirty pages. The newest
  // layer is merged into the one below it while that one holds at most
  // `layer_merge_ratio` times as many pages and is not sealed (large layers
  // are sealed, which bounds the pages a single commit rewrites; geometric
  // merging keeps at most 16 sealed + ~log2(seal size) layers; see
  // docs/format.md). Default: 2.
  uint32_t layer_merge_ratio = 2;
  // When the pages held in a memory's delta layers exceed this fraction of the
  // memory's pages, the commit writes a fresh base image instead (bounding
  // disk use and session-start reads). Default: 0.25.
  double rebase_fraction = 0.25;
  // zstd level for delta layers whose pages are not sparse. Sparse pages
  // (XOR-ed with the base: a few changed bytes among zeros, the usual case)
  // are stored as zstd raw and RLE blocks without compressing, which is
  // faster and nearly as small (docs/format.md). Default: 1.
  int compression_level = 1;
  // A commit with at least this many pages to hash stages its directory and
  // encodes its delta layers beside the hashing, on the store's threads
  // (smaller ones do it all on the caller's thread). Roots and files are the
  // same either way; tests lower it to exercise that path. Default: 256.
  uint64_t parallel_commit_pages = 256;
  // Fill a session's committed memory page by page when first touched
  // (userfaultfd; only the pages touched are decoded, each checked against
  // its leaf hash), where this kernel allows it. false maps eagerly: every
  // page held in delta layers applied when the memory is first used, O(pages
  // in layers) (docs/architecture.md, "Lazy layers"); for comparing the two
  // and for tests of the eager path. Roots never depend on it. Default: true.
  bool lazy_layers = true;

  // --- Memory write tracking ---
  // Which kernel mechanism finds written pages (see DirtyTracking).
  // Default: kAuto.
  DirtyTracking dirty_tracking = DirtyTracking::kAuto;
  // Write audit, for tests of engines that note their writes (the VM's
  // sessions do): such sessions also keep exact kernel tracking and fail a
  // collection with Corruption naming any page written without being noted.
  // Costs a page-table scan per collection; does nothing without exact
  // tracking on this kernel. Default: false.
  bool write_audit = false;
};

}  // namespace crust
