// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/code_cache.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

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
  ASSIGN_OR_RETURN(std::unique_ptr<Compiler> compiler, Compiler::Create(env, options.compiler));
  PreparedCacheOptions po;
  po.dir = options.dir + "/prepared";
  po.env = env;
  ASSIGN_OR_RETURN(std::unique_ptr<PreparedCache> prepared, PreparedCache::Open(po));
  return std::unique_ptr<CodeCache>(new CodeCache(env, options.dir, std::move(compiler), std::move(prepared)));
}

CodeCache::CodeCache(os::Env* env, std::string dir, std::unique_ptr<Compiler> compiler,
                     std::unique_ptr<PreparedCache> prepared)
    : env_(env), dir_(std::move(dir)), compiler_(std::move(compiler)), prepared_(std::move(prepared)) {}

Hash32 CodeCache::KeyFor(ByteView wasm) const {
  const Hash32 code_hash = Sha256Of(wasm);
  Sha256 h;
  h.Update(compiler_->fingerprint().bytes.data(), 32);
  h.Update(code_hash.bytes.data(), 32);
  return h.Finish();
}

std::string CodeCache::PathFor(const Hash32& key) const { return dir_ + "/" + key.ToHex() + ".so"; }

Result<std::shared_ptr<const Code>> CodeCache::Get(ByteView wasm) {
  const Hash32 key = KeyFor(wasm);
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Entry& e = entries_[key];
      if (e.code != nullptr) {
        stats_.memory_hits++;
        return e.code;
      }
      if (!e.busy) {
        e.busy = true;
        break;
      }
      cv_.wait(lock);
    }
  }
  auto result = LoadOrBuild(key, wasm);
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[key];
  e.busy = false;
  if (result.ok()) e.code = result.value();
  cv_.notify_all();
  return result;
}

Result<std::shared_ptr<const Code>> CodeCache::LoadOrBuild(const Hash32& key, ByteView wasm) {
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
  }
  if (!v.IsNotFound()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.rebuilt++;
  }
  RETURN_IF_ERROR(BuildOnOwnThread(key, wasm, path));
  return Code::Load(path);
}

// Translation recurses over the module, and a nested call (`c`) may get here
// on the dedicated call stack (runtime_call.h), whose headroom is meant for
// host frames: build on a thread with a stack of its own, of a fixed size
// (the same whatever the caller's thread and `ulimit -s`).
Status CodeCache::BuildOnOwnThread(const Hash32& key, ByteView wasm, const std::string& path) {
  struct Job {
    CodeCache* self;
    const Hash32* key;
    ByteView wasm;
    const std::string* path;
    Status status;
  } job{this, &key, wasm, &path, Status::OK()};
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return Status::ResourceExhausted("cannot start a compile thread");
  pthread_attr_setstacksize(&attr, kBuildThreadStack);
  pthread_t thread;
  const int err = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        auto* j = static_cast<Job*>(p);
        j->status = j->self->Build(*j->key, j->wasm, *j->path);
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

Status CodeCache::Build(const Hash32& key, ByteView wasm, const std::string& path) {
  const std::string base = dir_ + "/tmp/" + Unique(key);
  const std::string raw = base + ".raw.so", tmp = base + ".obj";
  auto build = [&]() -> Status {
    RETURN_IF_ERROR(compiler_->Compile(wasm, base + ".work", raw));
    ASSIGN_OR_RETURN(Bytes object, env_->ReadFile(raw, 1ull << 31));
    ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env_->NewWritableFile(tmp));
    RETURN_IF_ERROR(f->Append(object));
    RETURN_IF_ERROR(f->Append(Footer(key, object)));
    RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
    RETURN_IF_ERROR(env_->Rename(tmp, path));
    return env_->SyncDir(dir_);
  };
  Status s = build();
  env_->RemoveFile(raw).IgnoreError();
  if (!s.ok()) env_->RemoveFile(tmp).IgnoreError();
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.compiled++;
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

CodeCache::Stats CodeCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace crust::engine
