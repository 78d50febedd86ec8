// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepared_cache.h"

#include <unistd.h>

#include <atomic>
#include <optional>
#include <vector>

#include "src/engine/prepare/prepared_format.h"
#include "src/os/env.h"
#include "src/util/sha256.h"

namespace crust::engine {
namespace {

std::atomic<uint64_t> g_counter{0};

std::string Unique(const Hash32& key) {
  return key.ToHex().substr(0, 16) + "." + std::to_string(::getpid()) + "." + std::to_string(g_counter.fetch_add(1));
}

// What an in-memory module costs, roughly (the budget's unit).
size_t Footprint(const PreparedModule& m) {
  size_t n = sizeof(PreparedModule) + m.wasm.size();
  if (m.memory) {
    for (const MemoryImage::Chunk& c : m.memory->chunks) n += sizeof(c) + c.data.size();
  }
  for (const std::string& f : m.functions) n += sizeof(f) + f.size();
  for (const StateGlobal& g : m.state_globals) n += sizeof(g) + g.export_name.size();
  for (const std::string& h : m.host_imports) n += sizeof(h) + h.size();
  return n;
}

}  // namespace

Result<std::unique_ptr<PreparedCache>> PreparedCache::Open(const PreparedCacheOptions& options) {
  os::Env* env = options.env != nullptr ? options.env : os::Env::Default();
  env->CreateDirs(options.dir + "/tmp").IgnoreError();  // best effort: a read-only cache still serves hits
  return std::unique_ptr<PreparedCache>(
      new PreparedCache(env, options.dir, options.memory_budget_bytes, options.versions));
}

PreparedCache::PreparedCache(os::Env* env, std::string dir, size_t budget, PreparationVersions versions)
    : env_(env), dir_(std::move(dir)), budget_(budget), versions_(versions) {}

Hash32 PreparedCache::KeyFor(ByteView wasm, const PrepareOptions& options) const {
  const Hash32 fingerprint = PreparationFingerprint(options, versions_);
  const Hash32 code_hash = Sha256Of(wasm);
  Sha256 h;
  h.Update(fingerprint.bytes.data(), 32);
  h.Update(code_hash.bytes.data(), 32);
  return h.Finish();
}

std::string PreparedCache::PathFor(const Hash32& key) const { return dir_ + "/" + key.ToHex() + ".prep"; }

Result<std::shared_ptr<const PreparedModule>> PreparedCache::Get(ByteView wasm, const PrepareOptions& options) {
  const Hash32 key = KeyFor(wasm, options);
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      auto it = loaded_.find(key);
      if (it != loaded_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        stats_.memory_hits++;
        return it->second.module;
      }
      auto rejected = rejections_.find(key);
      if (rejected != rejections_.end()) {
        rejections_lru_.splice(rejections_lru_.begin(), rejections_lru_, rejected->second.lru);
        stats_.rejection_hits++;
        return rejected->second.status;
      }
      if (busy_.insert(key).second) break;
      cv_.wait(lock);
    }
  }
  auto result = LoadOrPrepare(key, wasm, options);
  std::lock_guard<std::mutex> lock(mu_);
  busy_.erase(key);
  if (result.ok()) {
    Keep(key, result.value());
  } else {
    RememberRejection(key, result.status());
  }
  cv_.notify_all();
  return result;
}

Result<std::shared_ptr<const PreparedModule>> PreparedCache::LoadOrPrepare(const Hash32& key, ByteView wasm,
                                                                           const PrepareOptions& options) {
  const std::string path = PathFor(key);
  Result<PreparedModule> loaded = Load(path, key);
  if (loaded.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.disk_hits++;
    return std::make_shared<const PreparedModule>(std::move(loaded).value());
  }
  Result<PreparedModule> prepared = PrepareModule(wasm, options);
  if (!prepared.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.rejected++;
    return prepared.status();
  }
  auto module = std::make_shared<const PreparedModule>(std::move(prepared).value());
  const Status published = Publish(key, *module, path);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.prepared++;
  if (!loaded.status().IsNotFound()) stats_.rebuilt++;
  if (!published.ok()) stats_.publish_errors++;
  return module;
}

Result<PreparedModule> PreparedCache::Load(const std::string& path, const Hash32& key) const {
  if (!env_->Exists(path)) return Status::NotFound(path);
  ASSIGN_OR_RETURN(Bytes entry, env_->ReadFile(path, 1ull << 31));
  return DecodePreparedEntry(entry, key, path);
}

Status PreparedCache::Publish(const Hash32& key, const PreparedModule& module, const std::string& path) const {
  const std::string tmp = dir_ + "/tmp/" + Unique(key) + ".prep";
  return os::WriteFileAtomically(env_, path, EncodePreparedEntry(key, module), {.temp_path = tmp});
}

void PreparedCache::Keep(const Hash32& key, std::shared_ptr<const PreparedModule> module) {
  const size_t bytes = Footprint(*module);
  if (bytes > budget_) return;
  while (loaded_bytes_ + bytes > budget_ && !lru_.empty()) {
    auto victim = loaded_.find(lru_.back());
    loaded_bytes_ -= victim->second.bytes;
    loaded_.erase(victim);
    lru_.pop_back();
  }
  lru_.push_front(key);
  loaded_.emplace(key, Loaded{std::move(module), bytes, lru_.begin()});
  loaded_bytes_ += bytes;
}

void PreparedCache::RememberRejection(const Hash32& key, const Status& status) {
  // Only what the bytes alone decide: the same bytes are rejected the same
  // way on every machine (a failed disk read or an allocation failure is not).
  const bool deterministic =
      status.code() == Status::Code::kInvalidModule || status.code() == Status::Code::kNotSupported ||
      (status.code() == Status::Code::kResourceExhausted &&
       status.message().starts_with("deploy limit exceeded"));
  if (!deterministic || rejections_.count(key) != 0) return;
  if (rejections_.size() >= kRememberedRejections) {
    rejections_.erase(rejections_lru_.back());
    rejections_lru_.pop_back();
  }
  rejections_lru_.push_front(key);
  rejections_.emplace(key, Rejection{status, rejections_lru_.begin()});
}

void PreparedCache::ForgetLoaded() {
  std::lock_guard<std::mutex> lock(mu_);
  loaded_.clear();
  lru_.clear();
  loaded_bytes_ = 0;
}

Status PreparedCache::Sweep(const std::unordered_set<Hash32, Hash32Hasher>& needed, bool dry_run,
                            SweepCounts* counts) {
  auto keep = [&](const Hash32& key, const std::string& path) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (loaded_.count(key) != 0 || busy_.count(key) != 0) return true;
    }
    // Unreadable or damaged entries go: Get() would prepare them again anyway.
    auto module = Load(path, key);
    return module.ok() && needed.count(Sha256Of(module->wasm)) != 0;
  };
  RETURN_IF_ERROR(SweepCacheEntries(env_, dir_, ".prep", dry_run, keep, counts));
  return RemoveCacheLeftovers(env_, dir_ + "/tmp", dry_run, &counts->leftovers);
}

PreparedCache::Stats PreparedCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.memory_bytes = loaded_bytes_;
  return s;
}

}  // namespace crust::engine
