// Copyright (c) crust authors. Licensed under the MIT license.
//
// PreparedCache: the results of PrepareModule, in memory and on disk, so that
// deploying bytes prepared before costs a hash and a small file read instead
// of decoding, validating and instrumenting them again.
//
// Key: SHA-256(PreparationFingerprint(options) || SHA-256(original wasm))
// (prepare_fingerprint.h: versions, wabt, host table, options, canary); the
// entry lives at <dir>/<key hex>.prep in the format of prepared_format.h.
// Publishing writes <dir>/tmp/<unique>, fsyncs it, renames it into place and
// fsyncs <dir>: a reader sees a whole entry or none. A missing entry is
// prepared; a truncated or corrupt one (any Corruption from
// DecodePreparedEntry, or a read error) is prepared again and replaced.
// Cache trouble never fails a Get: a failed publish is counted
// (stats().publish_errors) and the prepared module still returned.
//
// Rejections are remembered in memory only (never on disk): the last
// kRememberedRejections keys PrepareModule rejected deterministically
// (InvalidModule, NotSupported, a deploy budget) are answered with the same
// error without preparing again, so resubmitting a hostile module costs a
// hash. Host trouble (e.g. running out of memory) is never remembered.
//
// In memory, entries are kept up to options.memory_budget_bytes (least
// recently used dropped first; they stay on disk). Concurrent Get()s of one
// key in this process prepare once; separate processes may both prepare,
// and the last rename wins (both entries are identical).
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/cache_sweep.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/prepare_fingerprint.h"

namespace crust::os {
class Env;
}

namespace crust::engine {

// How many rejected keys a PreparedCache remembers (least recent forgotten).
inline constexpr size_t kRememberedRejections = 1024;

struct PreparedCacheOptions {
  std::string dir;          // created (with parents) if missing
  os::Env* env = nullptr;   // null: os::Env::Default()
  // Approximate bytes of prepared modules kept in memory (wasm + data).
  size_t memory_budget_bytes = size_t{256} << 20;
  // Keys use these versions; only tests change them.
  PreparationVersions versions;
};

class PreparedCache {
 public:
  // IOError if the directory cannot be created.
  static Result<std::unique_ptr<PreparedCache>> Open(const PreparedCacheOptions& options);

  // PrepareModule(wasm, options), from memory or disk when these bytes were
  // prepared with an equal fingerprint before. Errors: exactly those of
  // PrepareModule.
  Result<std::shared_ptr<const PreparedModule>> Get(ByteView wasm, const PrepareOptions& options = {});

  // The key and path Get() uses (tests corrupt or delete entries).
  Hash32 KeyFor(ByteView wasm, const PrepareOptions& options = {}) const;
  std::string PathFor(const Hash32& key) const;

  // Drops the modules kept in memory; the next Get() reads the disk again.
  void ForgetLoaded();

  // Removes (unless dry_run) every entry on disk whose prepared module is
  // not one of `needed` (SHA-256 digests of prepared wasm, as a store keeps
  // it as bytecode), every entry that cannot be read or decoded, and the
  // tmp/ leftovers of processes that are gone (cache_sweep.h). Entries held
  // in memory or being prepared now stay. Adds what it kept and removed to
  // *counts. Errors: IOError (listing or removing failed; what was removed
  // before stays removed).
  Status Sweep(const std::unordered_set<Hash32, Hash32Hasher>& needed, bool dry_run, SweepCounts* counts);

  struct Stats {
    uint64_t prepared = 0;        // PrepareModule runs that succeeded
    uint64_t rejected = 0;        // PrepareModule runs that failed
    uint64_t rejection_hits = 0;  // Gets answered from the remembered rejections
    uint64_t disk_hits = 0;       // verified entries read from disk
    uint64_t memory_hits = 0;     // already in memory
    uint64_t rebuilt = 0;         // truncated, corrupt or unreadable entries replaced
    uint64_t publish_errors = 0;  // entries that could not be written (Get still succeeded)
    uint64_t memory_bytes = 0;    // approximate size of the modules in memory now
  };
  Stats stats() const;

 private:
  PreparedCache(os::Env* env, std::string dir, size_t budget, PreparationVersions versions);
  Result<std::shared_ptr<const PreparedModule>> LoadOrPrepare(const Hash32& key, ByteView wasm,
                                                              const PrepareOptions& options);
  Result<PreparedModule> Load(const std::string& path, const Hash32& key) const;
  Status Publish(const Hash32& key, const PreparedModule& module, const std::string& path) const;
  void Keep(const Hash32& key, std::shared_ptr<const PreparedModule> module);  // REQUIRES: mu_ held
  void RememberRejection(const Hash32& key, const Status& status);             // REQUIRES: mu_ held

  os::Env* const env_;
  const std::string dir_;
  const size_t budget_;
  const PreparationVersions versions_;

  struct Loaded {
    std::shared_ptr<const PreparedModule> module;
    size_t bytes = 0;
    std::list<Hash32>::iterator lru;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Hash32, Loaded, Hash32Hasher> loaded_;  // guarded by mu_
  std::list<Hash32> lru_;                                    // guarded by mu_; most recent first
  size_t loaded_bytes_ = 0;                                  // guarded by mu_
  std::unordered_set<Hash32, Hash32Hasher> busy_;            // guarded by mu_; being loaded or prepared
  Stats stats_;                                              // guarded by mu_
  struct Rejection {
    Status status;
    std::list<Hash32>::iterator lru;
  };
  std::unordered_map<Hash32, Rejection, Hash32Hasher> rejections_;  // guarded by mu_
  std::list<Hash32> rejections_lru_;                                // guarded by mu_; most recent first
};

}  // namespace crust::engine
