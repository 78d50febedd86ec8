// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/store_impl.h"

#include "src/store/page_proof.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "src/store/format.h"
#include "src/store/open_env.h"
#include "src/store/page_proof.h"
#include "src/store/session_impl.h"
#include "src/store/verify.h"
#include "src/util/coding.h"

namespace crust {

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const StoreOptions& options) {
  return store::StoreImpl::OpenImpl(dir, options, nullptr);
}

namespace store {
namespace {

bool IsRootName(const std::string& name) {
  if (name.size() != 64) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status CreateDirs(os::Env* env, const std::string& dir) {
  if (env->Exists(dir)) return Status::OK();
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(CreateDirs(env, dir.substr(0, slash)));
  Status s = env->CreateDir(dir);
  if (s.code() == Status::Code::kAlreadyExists) return Status::OK();
  return s;
}

os::TrackingOptions TrackingOptionsOf(const StoreOptions& options) {
  os::TrackingOptions t;
  switch (options.dirty_tracking) {
    case DirtyTracking::kAuto: t.mode = os::TrackingMode::kAuto; break;
    case DirtyTracking::kExact: t.mode = os::TrackingMode::kExact; break;
    case DirtyTracking::kPagemap: t.mode = os::TrackingMode::kPagemap; break;
  }
  t.write_audit = options.write_audit;
  return t;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenWithEnv(const std::string& dir, const StoreOptions& options, os::Env* env) {
  return StoreImpl::OpenImpl(dir, options, env);
}

void WaitForBackgroundWork(Store* store) { static_cast<StoreImpl*>(store)->spares().WaitIdle(); }

Result<std::unique_ptr<Store>> StoreImpl::OpenImpl(const std::string& dir_in, const StoreOptions& options,
                                                   os::Env* env) {
  const os::TrackingOptions tracking = TrackingOptionsOf(options);
  const bool default_tracking = tracking.mode == os::TrackingMode::kAuto && !tracking.write_audit;
  std::unique_ptr<os::Env> own_env;
  if (env != nullptr && !default_tracking) {
    return Status::InvalidArgument("store " + dir_in + ": dirty_tracking and write_audit apply to the default OS "
                                   "interface; a caller's Env carries its own (os::NewPosixEnv)");
  }
  if (env == nullptr && !default_tracking) {
    own_env = os::NewPosixEnv(tracking);
    env = own_env.get();
  }
  if (env == nullptr) env = os::Env::Default();
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return Status::InvalidArgument("store directory name is empty");
  auto info = env->Stat(dir);
  if (!info.ok()) {
    if (!info.status().IsNotFound()) return info.status();
    if (!options.create_if_missing || options.read_only) {
      return Status::NotFound("store " + dir + " does not exist");
    }
    RETURN_IF_ERROR(CreateDirs(env, dir));
  } else if (!info->is_dir) {
    return Status::InvalidArgument("store " + dir + " is not a directory");
  }
  std::unique_ptr<StoreImpl> store(new StoreImpl(dir, options, std::move(own_env), env));
  if (!options.read_only) {
    ASSIGN_OR_RETURN(store->lock_, env->LockFile(dir + "/" + kLockName));
  }
  RETURN_IF_ERROR(store->CheckFormat());
  if (!options.read_only) RETURN_IF_ERROR(store->Recover());
  return std::unique_ptr<Store>(std::move(store));
}

StoreImpl::~StoreImpl() = default;

// FORMAT holds "crust-store <version>\n". Missing means a store created by
// this version (written now, when writable).
Status StoreImpl::CheckFormat() {
  const std::string path = dir_ + "/" + kFormatName;
  auto bytes = env_->ReadFile(path, 4096);
  if (!bytes.ok()) {
    if (!bytes.status().IsNotFound()) return bytes.status();
    if (options_.read_only) return Status::OK();
    std::string text = "crust-store " + std::to_string(kStoreFormatVersion) + "\n";
    return os::WriteFileAtomically(env_, path, ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                                   {.temp_path = "", .sync = options_.sync});
  }
  std::string text(bytes->begin(), bytes->end());
  const std::string expected = "crust-store " + std::to_string(kStoreFormatVersion) + "\n";
  if (text == "crust-store 1\n") {
    return Status::NotSupported(path + ": store format 1 (page tree hashed with SHA-256, crust before 2026-11-24); "
                                "this crust reads format " + std::to_string(kStoreFormatVersion) +
                                " only (BLAKE3 page tree: every memory hash and root differs). Rebuild the state "
                                "in a new store, or open this one with the crust that wrote it");
  }
  if (text != expected) {
    return Status::Corruption(path + ": unsupported store format \"" + text.substr(0, 40) + "\" (expected \"crust-store " +
                              std::to_string(kStoreFormatVersion) + "\")");
  }
  return Status::OK();
}

// Leftovers of interrupted commits and deletions are never visible as
// commits; remove them. They are all in kPendingDir, so this lists that
// (usually empty) directory, not the store's commits. A store without
// kPendingDir was last written by a crust that kept them in the store
// directory itself: that one scan is done once, then kPendingDir created.
Status StoreImpl::Recover() {
  const std::string format_tmp = dir_ + "/" + kFormatName + ".tmp";
  if (env_->Exists(format_tmp)) RETURN_IF_ERROR(env_->RemoveFile(format_tmp));
  const std::string pending = dir_ + "/" + kPendingDir;
  if (env_->Exists(pending)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(pending));
    for (const std::string& name : names) RETURN_IF_ERROR(env_->RemoveDirRecursive(pending + "/" + name));
    return Status::OK();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  for (const std::string& name : names) {
    if (name.rfind(kLegacyStagingPrefix, 0) == 0 || name.rfind(kLegacyDeletingPrefix, 0) == 0) {
      RETURN_IF_ERROR(env_->RemoveDirRecursive(dir_ + "/" + name));
    }
  }
  RETURN_IF_ERROR(env_->CreateDir(pending));
  return options_.sync ? env_->SyncDir(dir_) : Status::OK();
}

std::string StoreImpl::NewPendingPath(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t n;
  {
    std::lock_guard<std::mutex> l(mu_);
    n = ++staging_counter_;
  }
  return dir_ + "/" + kPendingDir + "/" + prefix + std::to_string(getpid()) + "-" + std::to_string(n) + "-" +
         std::to_string(rng() % 1000000000);
}

std::string StoreImpl::NewStagingPath() { return NewPendingPath(kStagingPrefix); }

bool StoreImpl::BytecodeChecked(uint64_t inode, const Hash32& hash) {
  std::lock_guard<std::mutex> l(mu_);
  return checked_bytecode_.count({inode, hash}) != 0;
}

void StoreImpl::NoteBytecodeChecked(uint64_t inode, const Hash32& hash) {
  std::lock_guard<std::mutex> l(mu_);
  checked_bytecode_.insert({inode, hash});
}

Status StoreImpl::Pin(const Root& root) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = states_.find(root);
  if (it != states_.end() && it->second.deleting) {
    return Status::NotFound("commit " + root.ToHex() + " is being deleted");
  }
  auto info = env_->Stat(CommitDir(root));
  if (!info.ok()) {
    if (info.status().IsNotFound()) return Status::NotFound("no commit " + root.ToHex() + " in store " + dir_);
    return info.status();
  }
  states_[root].pins++;
  return Status::OK();
}

Status StoreImpl::PinNew(const Root& root) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = states_.find(root);
  if (it != states_.end() && it->second.deleting) {
    return Status::Busy("commit " + root.ToHex() + " is being deleted concurrently; commit again");
  }
  states_[root].pins++;
  return Status::OK();
}

void StoreImpl::Unpin(const Root& root) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = states_.find(root);
  if (it == states_.end()) return;
  if (--it->second.pins == 0 && !it->second.deleting) states_.erase(it);
  cv_.notify_all();
}

Result<Index> StoreImpl::ReadIndex(const Root& root) {
  const std::string path = CommitDir(root) + "/index";
  auto bytes = env_->ReadFile(path, 1ull << 32);
  if (!bytes.ok()) {
    if (bytes.status().IsNotFound() && !env_->Exists(CommitDir(root))) {
      return Status::NotFound("no commit " + root.ToHex() + " in store " + dir_);
    }
    return bytes.status();
  }
  return DecodeIndex(*bytes, path);
}

Result<std::unique_ptr<Session>> StoreImpl::StartGenesis(const SessionOptions& options) {
  return std::unique_ptr<Session>(new SessionImpl(this, std::nullopt, Index{}, options));
}

Result<std::unique_ptr<Session>> StoreImpl::StartSession(const Root& base, const SessionOptions& options) {
  RETURN_IF_ERROR(Pin(base));
  auto index = ReadIndex(base);
  if (!index.ok()) {
    Unpin(base);
    return index.status();
  }
  return std::unique_ptr<Session>(new SessionImpl(this, base, std::move(index).value(), options));
}

Result<std::vector<CommitInfo>> StoreImpl::ListCommits() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
  std::vector<CommitInfo> out;
  for (const std::string& name : names) {
    if (!IsRootName(name)) continue;
    // Only directories are commits: a stray file with a root-like name is
    // not one (and must not make listing, or a default base, fail).
    auto st = env_->Stat(dir_ + "/" + name);
    if (!st.ok() || !st->is_dir) continue;
    CommitInfo info;
    info.root = Hash32::FromHex(name).value();
    // Only the header is needed for the creation time.
    auto f = env_->OpenReadable(dir_ + "/" + name + "/index");
    if (!f.ok()) {
      if (!f.status().IsNotFound()) return f.status();
      // Deleted meanwhile: skip. A directory still there without its index
      // is a damaged commit: list it (creation time 0) so verify reports it.
      if (!env_->Exists(dir_ + "/" + name)) continue;
      out.push_back(std::move(info));
      continue;
    }
    uint8_t header[24];
    if ((*f)->ReadAt(0, header).ok()) info.created_unix_ns = DecodeFixed64(header + 16);
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const CommitInfo& a, const CommitInfo& b) {
    return a.created_unix_ns != b.created_unix_ns ? a.created_unix_ns < b.created_unix_ns : a.root < b.root;
  });
  return out;
}

Result<CommitInfo> StoreImpl::ShowCommit(const Root& root) {
  ASSIGN_OR_RETURN(Index index, ReadIndex(root));
  CommitInfo info;
  info.root = root;
  info.created_unix_ns = index.created_unix_ns;
  for (const IndexEntry& e : index.entries) {
    ModuleInfo m;
    m.id = e.id;
    m.bytecode_hash = e.bytecode_hash;
    m.memory_hash = e.memory_hash;
    m.memory_length = e.memory_length;
    m.delta_layers = e.layer_count;
    m.metadata = e.metadata;
    auto st = env_->Stat(CommitDir(root) + "/" + BytecodeName(e.id));
    if (st.ok()) m.bytecode_size = st->size;
    info.modules.push_back(std::move(m));
  }
  return info;
}

Result<PageProof> StoreImpl::ProvePage(const Root& root, const ModuleId& module, uint32_t page) {
  RETURN_IF_ERROR(Pin(root));
  Result<PageProof> proof = [&]() -> Result<PageProof> {
    ASSIGN_OR_RETURN(Index index, ReadIndex(root));
    return ProvePageInCommit(env_, CommitDir(root), index, root, module, page, &images_);
  }();
  Unpin(root);
  return proof;
}

Status StoreImpl::VerifyCommit(const Root& root) {
  RETURN_IF_ERROR(Pin(root));
  Status s = VerifyCommitDir(env_, CommitDir(root), root);
  Unpin(root);
  // A read-only store does not share pins with the writer: the commit may be
  // deleted while it is read, which is NotFound, not corruption.
  if (!s.ok() && !s.IsNotFound() && !env_->Exists(CommitDir(root))) {
    return Status::NotFound("commit " + root.ToHex() + " was deleted while being verified (" + s.ToString() + ")");
  }
  return s;
}

Status StoreImpl::DeleteCommit(const Root& root) { return Delete(root, /*wait=*/true); }
Status StoreImpl::TryDeleteCommit(const Root& root) { return Delete(root, /*wait=*/false); }

Status StoreImpl::Delete(const Root& root, bool wait) {
  if (options_.read_only) return Status::Aborted("store " + dir_ + " is open read-only; cannot delete " + root.ToHex());
  const std::string path = CommitDir(root);
  {
    std::unique_lock<std::mutex> l(mu_);
    if (!env_->Exists(path)) return Status::NotFound("no commit " + root.ToHex() + " in store " + dir_);
    CommitState& st = states_[root];
    if (st.deleting) return Status::NotFound("commit " + root.ToHex() + " is already being deleted");
    if (st.pins > 0 && !wait) {
      int pins = st.pins;
      return Status::Busy("commit " + root.ToHex() + " is in use by " + std::to_string(pins) + " session(s)");
    }
    st.deleting = true;
    cv_.wait(l, [&] { return states_[root].pins == 0; });
  }
  // Rename first so the commit disappears atomically, then remove its files.
  const std::string doomed = NewPendingPath(kDeletingPrefix);
  Status s = env_->Rename(path, doomed);
  if (s.ok() && options_.sync) s = env_->SyncDir(dir_);
  if (s.ok()) s = env_->RemoveDirRecursive(doomed);
  images_.DropDeleted(env_);  // its images must not keep their disk space
  layers_.DropDeleted(env_);
  {
    std::lock_guard<std::mutex> l(mu_);
    states_.erase(root);
    cv_.notify_all();
  }
  return s;
}

}  // namespace store
}  // namespace crust
