// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/code_cache.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <unordered_set>
#include <vector>

#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"
#include "src/util/sha256.h"

namespace crust::engine {
namespace {

constexpr char kMagic[8] = {'C', 'R', 'U', 'S', 'T', 'S', 'O', 1};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kFooterSize = 64;
std::atomic<uint64_t> g_counter{0};

std::string Unique(const Hash32& key) {
  return key.ToHex().substr(0, 16) + "." + std::to_string(::getpid()) + "." + std::to_string(g_counter.fetch_add(1));
}

Bytes Footer(const Hash32& key, ByteView object) {
  Bytes f(kMagic, kMagic + 8);
  PutFixed32(&f, kFormatVersion);
  PutFixed32(&f, 0);
  PutFixed64(&f, object.size());
  PutHash(&f, key);
  PutFixed32(&f, Crc32c(object.data(), object.size()));
  PutFixed32(&f, Crc32c(f.data(), f.size()));
  return f;
}

}  // namespace

Result<std::unique_ptr<CodeCache>> CodeCache::Open(const CodeCacheOptions& options) {
  os::Env* env = options.env != nullptr ? options.env : os::Env::Default();
  // Best effort: a read-only cache still serves the objects it holds (a
  // build then fails with the error of writing under tmp/).
  env->CreateDirs(options.dir + "/tmp").IgnoreError();
  auto cancel = std::make_unique<std::atomic<bool>>(false);
  CompilerOptions optimised = options.compiler;
  optimised.limits.cancel = cancel.get();
  ASSIGN_OR_RETURN(std::unique_ptr<Compiler> compiler, Compiler::Create(env, optimised));
  std::unique_ptr<Compiler> fast;
  Status fast_status = Status::NotFound("no fast tier configured");
  if (options.fast_compiler) {
    auto f = Compiler::Create(env, *options.fast_compiler);
    if (f.ok()) {
      fast = std::move(f).value();
      fast_status = Status::OK();
    } else {
      fast_status = f.status();
    }
  }
  PreparedCacheOptions po;
  po.dir = options.dir + "/prepared";
  po.env = env;
  ASSIGN_OR_RETURN(std::unique_ptr<PreparedCache> prepared, PreparedCache::Open(po));
  return std::unique_ptr<CodeCache>(new CodeCache(env, options.dir, std::move(cancel), std::move(compiler),
                                                  std::move(fast), std::move(fast_status), std::move(prepared),
                                                  options.background_builds, options.max_loaded_objects));
}

CodeCache::CodeCache(os::Env* env, std::string dir, std::unique_ptr<std::atomic<bool>> cancel,
                     std::unique_ptr<Compiler> compiler, std::unique_ptr<Compiler> fast, Status fast_status,
                     std::unique_ptr<PreparedCache> prepared, bool background, size_t max_loaded)
    : env_(env),
      dir_(std::move(dir)),
      cancel_(std::move(cancel)),
      compiler_(std::move(compiler)),
      fast_(std::move(fast)),
      fast_status_(std::move(fast_status)),
      prepared_(std::move(prepared)),
      background_(background),
      max_loaded_(max_loaded) {}

CodeCache::~CodeCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cancel_->store(true);
  work_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Hash32 CodeCache::KeyWith(const Compiler& c, ByteView wasm) const { return KeyWithDigest(c, Sha256Of(wasm)); }

Hash32 CodeCache::KeyWithDigest(const Compiler& c, const Hash32& wasm_sha256) const {
  Sha256 h;
  h.Update(c.fingerprint().bytes.data(), 32);
  h.Update(wasm_sha256.bytes.data(), 32);
  return h.Finish();
}

Hash32 CodeCache::KeyFor(ByteView wasm, Tier tier) const {
  return KeyWith(tier == Tier::kFast ? *fast_ : *compiler_, wasm);
}

std::string CodeCache::PathFor(const Hash32& key) const { return dir_ + "/" + key.ToHex() + ".so"; }

Result<std::shared_ptr<const Code>> CodeCache::Get(ByteView wasm) {
  return Acquire(*compiler_, KeyWith(*compiler_, wasm), wasm, Mode::kBuild);
}

Result<TieredCode> CodeCache::GetTiered(ByteView wasm) {
  TieredCode out;
  out.optimised_key = KeyWith(*compiler_, wasm);
  if (fast_ == nullptr) {
    ASSIGN_OR_RETURN(out.code, Acquire(*compiler_, out.optimised_key, wasm, Mode::kBuild));
    return out;
  }
  auto optimised = Acquire(*compiler_, out.optimised_key, wasm, Mode::kLoadOnly);
  if (optimised.ok()) {
    out.code = std::move(optimised).value();
    return out;
  }
  auto fast = Acquire(*fast_, KeyWith(*fast_, wasm), wasm, Mode::kBuild);
  if (!fast.ok()) {
    // Translation errors are the optimised tier's too; anything else (a
    // limit or defect of the fast compiler) falls back to waiting for it.
    const Status::Code code = fast.status().code();
    if (code == Status::Code::kInvalidModule || code == Status::Code::kNotSupported) return fast.status();
    ASSIGN_OR_RETURN(out.code, Acquire(*compiler_, out.optimised_key, wasm, Mode::kBuild));
    return out;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(out.optimised_key);
    if (it != entries_.end() && it->second.code != nullptr) {  // built meanwhile
      out.code = it->second.code;
      return out;
    }
    out.code = std::move(fast).value();
    out.tier = Tier::kFast;
    if (!background_ || failed_.count(out.optimised_key) != 0) return out;  // final
  }
  out.final = false;
  Enqueue(out.optimised_key, wasm);
  return out;
}

bool CodeCache::Settled(const Hash32& optimised_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (failed_.count(optimised_key) != 0 || built_.count(optimised_key) != 0) return true;
  auto it = entries_.find(optimised_key);
  return it != entries_.end() && it->second.code != nullptr;
}

void CodeCache::Enqueue(const Hash32& key, ByteView wasm) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_ || !queued_.insert(key).second) return;
  queue_.push_back({key, Bytes(wasm.begin(), wasm.end())});
  if (!worker_.joinable()) worker_ = std::thread([this] { BackgroundLoop(); });
  work_cv_.notify_one();
}

void CodeCache::BackgroundLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    running_++;
    lock.unlock();
    const bool was_loaded = Settled(job.key);
    auto r = Acquire(*compiler_, job.key, job.wasm, Mode::kBuild);
    lock.lock();
    running_--;
    queued_.erase(job.key);
    if (!r.ok()) {
      if (!stop_) {
        failed_[job.key] = r.status();
        stats_.background_failed++;
      }
    } else {
      built_.insert(job.key);
      if (!was_loaded) stats_.background_built++;
    }
    background_done_.fetch_add(1, std::memory_order_release);
    cv_.notify_all();
  }
}

void CodeCache::WaitForBackground() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stop_ || (queue_.empty() && running_ == 0); });
}

Result<std::shared_ptr<const Code>> CodeCache::Acquire(const Compiler& c, const Hash32& key, ByteView wasm,
                                                       Mode mode) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Entry& e = entries_[key];
      if (e.code != nullptr) {
        stats_.memory_hits++;
        e.last_use = ++use_tick_;
        return e.code;
      }
      if (!e.busy) {
        e.busy = true;
        break;
      }
      if (mode == Mode::kLoadOnly) return Status::NotFound("being built");
      cv_.wait(lock);
    }
  }
  auto result = LoadOrBuild(c, key, wasm, mode);
  std::vector<std::shared_ptr<const Code>> dropped;  // unloaded after the lock is released
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[key];
  e.busy = false;
  if (result.ok()) {
    e.code = result.value();
    e.last_use = ++use_tick_;
    UnloadBeyondLimitLocked(&dropped);
  }
  cv_.notify_all();
  return result;
}

void CodeCache::UnloadBeyondLimitLocked(std::vector<std::shared_ptr<const Code>>* dropped) {
  if (entries_.size() <= max_loaded_) return;
  // Entries without code (lookups that found nothing) carry nothing: dropped.
  // Of the loaded, those held only here, least recently used first.
  std::vector<std::pair<uint64_t, Hash32>> idle;
  size_t loaded = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.busy) {
      ++it;
    } else if (it->second.code == nullptr) {
      it = entries_.erase(it);
    } else {
      loaded++;
      if (it->second.code.use_count() == 1) idle.push_back({it->second.last_use, it->first});
      ++it;
    }
  }
  if (loaded <= max_loaded_) return;
  const size_t excess = std::min(loaded - max_loaded_, idle.size());
  std::partial_sort(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(excess), idle.end());
  for (size_t i = 0; i < excess; i++) {
    auto it = entries_.find(idle[i].second);
    dropped->push_back(std::move(it->second.code));
    entries_.erase(it);
    stats_.unloaded++;
  }
}

Result<std::shared_ptr<const Code>> CodeCache::LoadOrBuild(const Compiler& c, const Hash32& key, ByteView wasm,
                                                           Mode mode) {
  const std::string path = PathFor(key);
  Status v = Verify(path, key);
  if (v.ok()) {
    auto code = Code::Load(path);
    if (code.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.disk_hits++;
      return code;
    }
    v = code.status();
    // Not the file's fault (a file system that refuses to run code): a
    // rebuild would write the same bytes and fail the same way.
    if (v.code() == Status::Code::kNotSupported) return v;
  }
  if (mode == Mode::kLoadOnly) return Status::NotFound(path + ": " + v.ToString());
  if (!v.IsNotFound()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.rebuilt++;
  }
  RETURN_IF_ERROR(BuildOnOwnThread(c, key, wasm, path));
  return Code::Load(path);
}

// Translation recurses over the module, and a nested call (`c`) may get here
// on the dedicated call stack (runtime_call.h), whose headroom is meant for
// host frames: build on a thread with a stack of its own, of a fixed size
// (the same whatever the caller's thread and `ulimit -s`).
Status CodeCache::BuildOnOwnThread(const Compiler& c, const Hash32& key, ByteView wasm, const std::string& path) {
  struct Job {
    CodeCache* self;
    const Compiler* compiler;
    const Hash32* key;
    ByteView wasm;
    const std::string* path;
    Status status;
  } job{this, &c, &key, wasm, &path, Status::OK()};
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return Status::ResourceExhausted("cannot start a compile thread");
  pthread_attr_setstacksize(&attr, kBuildThreadStack);
  pthread_t thread;
  const int err = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        auto* j = static_cast<Job*>(p);
        j->status = j->self->Build(*j->compiler, *j->key, j->wasm, *j->path);
        return nullptr;
      },
      &job);
  pthread_attr_destroy(&attr);
  if (err != 0) return Status::ResourceExhausted("cannot start a compile thread: error " + std::to_string(err));
  pthread_join(thread, nullptr);
  return job.status;
}

Status CodeCache::Verify(const std::string& path, const Hash32& key) const {
  if (!env_->Exists(path)) return Status::NotFound(path);
  ASSIGN_OR_RETURN(Bytes b, env_->ReadFile(path, 1ull << 31));
  if (b.size() < kFooterSize) return Status::Corruption(path + ": truncated");
  const uint8_t* f = b.data() + b.size() - kFooterSize;
  if (std::memcmp(f, kMagic, 8) != 0) return Status::Corruption(path + ": no footer");
  if (DecodeFixed32(f + 60) != Crc32c(f, 60)) return Status::Corruption(path + ": footer checksum");
  if (DecodeFixed32(f + 8) != kFormatVersion) return Status::Corruption(path + ": unknown version");
  const uint64_t len = DecodeFixed64(f + 16);
  if (len != b.size() - kFooterSize) return Status::Corruption(path + ": length mismatch");
  if (std::memcmp(f + 24, key.bytes.data(), 32) != 0) return Status::Corruption(path + ": key mismatch");
  if (DecodeFixed32(f + 56) != Crc32c(b.data(), len)) return Status::Corruption(path + ": object checksum");
  return Status::OK();
}

Status CodeCache::Build(const Compiler& c, const Hash32& key, ByteView wasm, const std::string& path) {
  const std::string base = dir_ + "/tmp/" + Unique(key);
  const std::string raw = base + ".raw.so", tmp = base + ".obj";
  auto build = [&]() -> Status {
    RETURN_IF_ERROR(c.Compile(wasm, base + ".work", raw));
    ASSIGN_OR_RETURN(Bytes object, env_->ReadFile(raw, 1ull << 31));
    const Bytes footer = Footer(key, object);
    const ByteView parts[] = {object, footer};
    return os::WriteFileAtomically(env_, path, parts, {.temp_path = tmp});
  };
  Status s = build();
  env_->RemoveFile(raw).IgnoreError();
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.compiled++;
    if (&c == fast_.get()) stats_.fast_compiled++;
  }
  return s;
}

void CodeCache::ForgetLoaded() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.busy) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

Status CodeCache::Sweep(const std::unordered_set<Hash32, Hash32Hasher>& needed, bool dry_run, SweepCounts* objects,
                        SweepCounts* prepared) {
  std::unordered_set<Hash32, Hash32Hasher> keep;
  for (const Hash32& digest : needed) {
    keep.insert(KeyWithDigest(*compiler_, digest));
    if (fast_ != nullptr) keep.insert(KeyWithDigest(*fast_, digest));
  }
  auto stays = [&](const Hash32& key, const std::string&) {
    if (keep.count(key) != 0) return true;
    // Loaded, being built or queued here? (A Get() that starts after this
    // check finds no object and builds it again.)
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.count(key) != 0 || queued_.count(key) != 0;
  };
  RETURN_IF_ERROR(SweepCacheEntries(env_, dir_, ".so", dry_run, stays, objects));
  RETURN_IF_ERROR(RemoveCacheLeftovers(env_, dir_ + "/tmp", dry_run, &objects->leftovers));
  return prepared_->Sweep(needed, dry_run, prepared);
}

CodeCache::Stats CodeCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace crust::engine
