// Copyright (c) crust authors. Licensed under the MIT license.
//
// CodeCache: compiled objects on disk, outside commit directories (they are
// machine-specific and rebuildable), loaded into the process once each.
//
// Key: SHA-256(compiler fingerprint || SHA-256(wasm)); the object lives at
// <dir>/<key hex>.so. Its format is the shared object followed by a 64-byte
// footer (the ELF loader ignores trailing bytes):
//   magic "CRUSTSO\1" | u32 version=1 | u32 flags=0 | u64 object length |
//   32-byte key | u32 CRC-32C(object) | u32 CRC-32C(footer's first 60 bytes)
// (little-endian). Publishing writes <dir>/tmp/<unique>, fsyncs it, renames
// it into place and fsyncs <dir>: a reader sees a whole object or none. A
// missing object is compiled; a truncated or corrupt one (bad footer or CRC,
// wrong key, not loadable) is compiled again and replaced. Concurrent Get()s
// of one key in this process compile once; separate processes may both
// compile, and the last rename wins (both objects are valid).
//
// Never loads objects from elsewhere: only what this cache compiled (keys
// include this build's fingerprint).
//
// Tiers (docs/architecture.md, "Code tiers"). With a fast compiler
// (options.fast_compiler, normally tcc), GetTiered() answers a module that has
// no optimised object with fast-tier code (built in well under a second for a
// large contract) and queues the optimised build for a background thread;
// the caller swaps to the optimised code at a call boundary once Settled().
// Both tiers run the same instrumented wasm, so results and gas are the same
// whichever runs; each tier's objects are cached under keys of its own
// compiler fingerprint (the flavor, flags and prelude are part of it).
//
// On disk the cache only grows; Sweep() removes what a given set of modules
// does not need (Vm::SweepCodeCache, `crust prune-code`).
//
// The cache also owns the prepared-module cache of its directory
// (<dir>/prepared, prepared_cache.h): deploy looks up the original bytes
// there first, then the prepared bytes here.
//
// Compilation never runs under the cache's lock: concurrent Get()s of other
// modules proceed, and callers of one module wait only for that module.
//
// Thread-safety: safe for concurrent use. The destructor cancels a running
// background build (kills the compiler) and joins the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/compile/compiler.h"
#include "src/engine/prepare/prepared_cache.h"
#include "src/engine/runtime/runtime_code.h"

namespace crust::os {
class Env;
}

namespace crust::engine {

struct CodeCacheOptions {
  std::string dir;          // created (with parents) if missing
  os::Env* env = nullptr;   // null: os::Env::Default()
  CompilerOptions compiler;  // the optimised tier (Get)
  // The fast tier of GetTiered(), e.g. {.cc = "tcc", .flavor =
  // CompilerFlavor::kTcc}. Unset: none. A fast compiler that cannot be run
  // is left out (fast_tier_status() says why): GetTiered() then is Get().
  std::optional<CompilerOptions> fast_compiler;
  // GetTiered() queues the optimised build of every module it answers with
  // fast code, for one background thread. False: it never does, and fast
  // code is final (tests of the fast tier; one-shot tools).
  bool background_builds = true;
  // Loaded objects kept beyond this many are unloaded, least recently used
  // first, when nothing else holds them (a module of a live session does):
  // each loaded object costs mappings (about four: vm.max_map_count is
  // 65530) and memory, and a node runs ever more contracts over its life.
  // An unloaded object is loaded (and verified) from disk again when asked.
  size_t max_loaded_objects = 1024;
};

enum class Tier : uint8_t { kOptimised = 0, kFast = 1 };

// What GetTiered() returns.
struct TieredCode {
  std::shared_ptr<const Code> code;
  Tier tier = Tier::kOptimised;
  // False while an optimised build of this module is queued or running:
  // check Settled(optimised_key) at a call boundary and get it again.
  bool final = true;
  Hash32 optimised_key;  // KeyFor(wasm, Tier::kOptimised)
};

class CodeCache {
 public:
  // IOError if the directory cannot be created or the compiler not run.
  static Result<std::unique_ptr<CodeCache>> Open(const CodeCacheOptions& options);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  // The loaded code for `wasm` (a prepared module), compiling and publishing
  // it first if needed. Errors: those of Compiler::Compile; IOError when the
  // object cannot be written.
  Result<std::shared_ptr<const Code>> Get(ByteView wasm);

  // The best code available without waiting for an optimised build: the
  // optimised object if it is loaded or on disk, else the fast tier's
  // (compiled now if needed; the optimised build is queued). Without a fast
  // tier, or when the fast compiler fails on the module, the same as Get.
  // Errors: those of Get.
  Result<TieredCode> GetTiered(ByteView wasm);

  // True when GetTiered() would now return final code for the module whose
  // optimised key this is: its optimised code is loaded, or its build failed
  // (the fast code then stays). Cheap: one lookup under the lock.
  bool Settled(const Hash32& optimised_key) const;
  // Number of background builds finished so far (success or failure): a
  // caller holding non-final code need only ask Settled() when it changed.
  uint64_t background_done() const { return background_done_.load(std::memory_order_acquire); }
  // Blocks until every background build queued so far has finished.
  void WaitForBackground();

  // OK, or why options.fast_compiler was left out.
  const Status& fast_tier_status() const { return fast_status_; }
  bool has_fast_tier() const { return fast_ != nullptr; }

  // The key and path Get() uses for `wasm` (tests corrupt or delete them).
  // Tier::kFast: the fast tier's key (REQUIRES: has_fast_tier()).
  Hash32 KeyFor(ByteView wasm, Tier tier = Tier::kOptimised) const;
  std::string PathFor(const Hash32& key) const;

  // Drops this process's loaded copies (codes still referenced stay alive);
  // the next Get() verifies the disk object again.
  void ForgetLoaded();

  // Removes (unless dry_run) the compiled objects on disk that no module in
  // `needed` uses under this cache's compilers (both tiers' keys of each
  // SHA-256 digest of prepared wasm, the bytes a store keeps as bytecode):
  // objects of modules no longer in any kept state, and every object built
  // under another fingerprint (an earlier crust, compiler or flags). Objects
  // loaded, being built or queued in this process stay. Then the tmp/
  // leftovers of processes that are gone, and the prepared cache's sweep
  // (PreparedCache::Sweep, same `needed`). What is removed is only rebuilt
  // when asked for again: nothing a store holds depends on it. Adds to
  // *objects and *prepared. Errors: IOError (what was removed before stays
  // removed). Thread-safe; Get()s may run meanwhile.
  Status Sweep(const std::unordered_set<Hash32, Hash32Hasher>& needed, bool dry_run, SweepCounts* objects,
               SweepCounts* prepared);

  struct Stats {
    uint64_t compiled = 0;      // objects built
    uint64_t disk_hits = 0;     // verified objects loaded from disk
    uint64_t memory_hits = 0;   // already loaded in this process
    uint64_t rebuilt = 0;       // corrupt or unloadable objects replaced
    uint64_t unloaded = 0;      // dropped beyond max_loaded_objects
    uint64_t fast_compiled = 0;       // of `compiled`: fast-tier objects
    uint64_t background_built = 0;    // of `compiled`: optimised objects built in the background
    uint64_t background_failed = 0;   // background builds that failed (the fast code stays)
  };
  Stats stats() const;

  const Compiler& compiler() const { return *compiler_; }
  // REQUIRES: has_fast_tier().
  const Compiler& fast_compiler() const { return *fast_; }

  // The prepared-module cache under <dir>/prepared (same env). Thread-safe.
  PreparedCache& prepared() { return *prepared_; }

 private:
  enum class Mode { kBuild, kLoadOnly };
  CodeCache(os::Env* env, std::string dir, std::unique_ptr<std::atomic<bool>> cancel,
            std::unique_ptr<Compiler> compiler, std::unique_ptr<Compiler> fast, Status fast_status,
            std::unique_ptr<PreparedCache> prepared, bool background, size_t max_loaded);
  // The code of `key` built by `c`: from memory, disk, or (kBuild) compiled;
  // kLoadOnly returns NotFound when it is neither loaded nor on disk, or
  // someone is loading or building it now.
  Result<std::shared_ptr<const Code>> Acquire(const Compiler& c, const Hash32& key, ByteView wasm, Mode mode);
  Result<std::shared_ptr<const Code>> LoadOrBuild(const Compiler& c, const Hash32& key, ByteView wasm, Mode mode);
  Status Verify(const std::string& path, const Hash32& key) const;
  static constexpr size_t kBuildThreadStack = 64 << 20;
  Status BuildOnOwnThread(const Compiler& c, const Hash32& key, ByteView wasm, const std::string& path);
  Status Build(const Compiler& c, const Hash32& key, ByteView wasm, const std::string& path);
  Hash32 KeyWith(const Compiler& c, ByteView wasm) const;
  Hash32 KeyWithDigest(const Compiler& c, const Hash32& wasm_sha256) const;
  void Enqueue(const Hash32& key, ByteView wasm);
  void BackgroundLoop();

  os::Env* const env_;
  const std::string dir_;
  const std::unique_ptr<std::atomic<bool>> cancel_;  // set by the destructor; read by compiles
  const std::unique_ptr<Compiler> compiler_;
  const std::unique_ptr<Compiler> fast_;  // null: no fast tier
  const Status fast_status_;
  const std::unique_ptr<PreparedCache> prepared_;
  const bool background_;
  const size_t max_loaded_;

  struct Entry {
    bool busy = false;
    std::shared_ptr<const Code> code;
    uint64_t last_use = 0;  // use_tick_ when last handed out
  };
  // Moves the least recently used loaded objects nobody else holds beyond
  // max_loaded_objects out of entries_ into *dropped (destroyed, and so
  // unloaded, by the caller after it unlocks). REQUIRES: mu_ held.
  void UnloadBeyondLimitLocked(std::vector<std::shared_ptr<const Code>>* dropped);
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Hash32, Entry, Hash32Hasher> entries_;  // guarded by mu_ (keys of both tiers)
  Stats stats_;                                             // guarded by mu_
  uint64_t use_tick_ = 0;                                   // guarded by mu_

  // Background builds of optimised code (GetTiered).
  struct Job {
    Hash32 key;
    Bytes wasm;
  };
  std::deque<Job> queue_;                                      // guarded by mu_
  std::unordered_set<Hash32, Hash32Hasher> queued_;            // guarded by mu_; queued or running
  std::unordered_map<Hash32, Status, Hash32Hasher> failed_;    // guarded by mu_
  // Optimised builds finished here (Settled() stays true if one is unloaded
  // before its module picks it up: GetTiered() loads it from disk).
  std::unordered_set<Hash32, Hash32Hasher> built_;             // guarded by mu_
  int running_ = 0;                                            // guarded by mu_
  bool stop_ = false;                                          // guarded by mu_
  std::condition_variable work_cv_;
  std::atomic<uint64_t> background_done_{0};
  std::thread worker_;  // started by the first Enqueue
};

}  // namespace crust::engine
