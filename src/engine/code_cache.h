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
// The cache also owns the prepared-module cache of its directory
// (<dir>/prepared, prepared_cache.h): deploy looks up the original bytes
// there first, then the prepared bytes here.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/compiler.h"
#include "src/engine/prepared_cache.h"
#include "src/engine/runtime_code.h"

namespace crust::os {
class Env;
}

namespace crust::engine {

struct CodeCacheOptions {
  std::string dir;          // created (with parents) if missing
  os::Env* env = nullptr;   // null: os::Env::Default()
  CompilerOptions compiler;
};

class CodeCache {
 public:
  // IOError if the directory cannot be created or the compiler not run.
  static Result<std::unique_ptr<CodeCache>> Open(const CodeCacheOptions& options);

  // The loaded code for `wasm` (a prepared module), compiling and publishing
  // it first if needed. Errors: those of Compiler::Compile; IOError when the
  // object cannot be written.
  Result<std::shared_ptr<const Code>> Get(ByteView wasm);

  // The key and path Get() uses for `wasm` (tests corrupt or delete them).
  Hash32 KeyFor(ByteView wasm) const;
  std::string PathFor(const Hash32& key) const;

  // Drops this process's loaded copies (codes still referenced stay alive);
  // the next Get() verifies the disk object again.
  void ForgetLoaded();

  struct Stats {
    uint64_t compiled = 0;      // objects built
    uint64_t disk_hits = 0;     // verified objects loaded from disk
    uint64_t memory_hits = 0;   // already loaded in this process
    uint64_t rebuilt = 0;       // corrupt or unloadable objects replaced
  };
  Stats stats() const;

  const Compiler& compiler() const { return *compiler_; }

  // The prepared-module cache under <dir>/prepared (same env). Thread-safe.
  PreparedCache& prepared() { return *prepared_; }

 private:
  CodeCache(os::Env* env, std::string dir, std::unique_ptr<Compiler> compiler,
            std::unique_ptr<PreparedCache> prepared);
  Result<std::shared_ptr<const Code>> LoadOrBuild(const Hash32& key, ByteView wasm);
  Status Verify(const std::string& path, const Hash32& key) const;
  static constexpr size_t kBuildThreadStack = 64 << 20;
  Status BuildOnOwnThread(const Hash32& key, ByteView wasm, const std::string& path);
  Status Build(const Hash32& key, ByteView wasm, const std::string& path);

  os::Env* const env_;
  const std::string dir_;
  const std::unique_ptr<Compiler> compiler_;
  const std::unique_ptr<PreparedCache> prepared_;

  struct Entry {
    bool busy = false;
    std::shared_ptr<const Code> code;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Hash32, Entry, Hash32Hasher> entries_;  // guarded by mu_
  Stats stats_;                                             // guarded by mu_
};

}  // namespace crust::engine
