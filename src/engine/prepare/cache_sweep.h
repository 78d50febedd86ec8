// Copyright (c) crust authors. Licensed under the MIT license.
//
// Helpers shared by the sweeps of the code cache and the prepared-module
// cache (CodeCache::Sweep, PreparedCache::Sweep): which directory entries are
// theirs, and the leftovers of their tmp/ directories.
//
// Both caches name an entry <64 hex digits of its key><suffix> and a
// temporary <16 hex digits>.<pid>.<counter><anything> under tmp/ (a file, or
// a compiler's work directory). A sweep touches nothing else.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::os {
class Env;
}

namespace crust::engine {

// What a sweep kept and removed (with dry_run: would remove) in one cache
// directory. Bytes are the entries' file sizes.
struct SweepCounts {
  uint64_t kept = 0;
  uint64_t kept_bytes = 0;
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
  uint64_t leftovers = 0;  // tmp/ entries of processes that are gone
};

// The key of an entry named <64 hex><suffix>; nullopt for any other name.
std::optional<Hash32> CacheEntryKey(std::string_view name, std::string_view suffix);

// Sweeps the entries of `dir` (regular files named <64 hex><suffix>):
// keep(key, path) says whether one stays; the others are removed (unless
// dry_run). Counts both in *counts. Errors: IOError (listing, removing).
Status SweepCacheEntries(os::Env* env, const std::string& dir, std::string_view suffix, bool dry_run,
                         const std::function<bool(const Hash32& key, const std::string& path)>& keep,
                         SweepCounts* counts);

// A temporary younger than this may belong to a build under way in a
// process this one cannot see (another PID namespace sharing the cache): a
// build's compiler is killed after 10 minutes (CompilerLimits::wall_seconds)
// and publishing follows at once.
inline constexpr int64_t kLeftoverMinAgeSeconds = 3600;

// Removes (unless dry_run) the entries of `tmp_dir` left by processes that
// are gone: their name's pid is not this process's, no process of that pid
// exists, and the entry was last modified over kLeftoverMinAgeSeconds ago
// (by the wall clock; one from the future stays). Other entries, and names of
// any other form, are left alone. Adds their number to *removed. A missing
// directory is not an error. Errors: IOError when an entry cannot be removed.
Status RemoveCacheLeftovers(os::Env* env, const std::string& tmp_dir, bool dry_run, uint64_t* removed);

}  // namespace crust::engine
