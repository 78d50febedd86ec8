// Copyright (c) crust authors. Licensed under the MIT license.
//
// StoreImpl: the Store behind store.h. Owns the write lock, the registry of
// pinned commits (sessions pin their bases; deletion waits for pins), and
// recovery at open.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "crust/store.h"
#include "src/os/env.h"
#include "src/store/format.h"
#include "src/store/image_cache.h"
#include "src/store/index.h"
#include "src/store/spare_staging.h"
#include "src/util/task_pool.h"

namespace crust::store {

class StoreImpl final : public Store {
 public:
  // `env` null: os::Env::Default().
  static Result<std::unique_ptr<Store>> OpenImpl(const std::string& dir, const StoreOptions& options,
                                                 os::Env* env);
  ~StoreImpl() override;

  const std::string& dir() const override { return dir_; }
  Result<std::unique_ptr<Session>> StartGenesis(const SessionOptions& options) override;
  Result<std::unique_ptr<Session>> StartSession(const Root& base, const SessionOptions& options) override;
  Result<std::vector<CommitInfo>> ListCommits() override;
  Result<CommitInfo> ShowCommit(const Root& root) override;
  Status VerifyCommit(const Root& root) override;
  Result<PageProof> ProvePage(const Root& root, const ModuleId& module, uint32_t page) override;
  Status DeleteCommit(const Root& root) override;
  Status TryDeleteCommit(const Root& root) override;

  // --- For sessions ---
  os::Env* env() const { return env_; }
  const StoreOptions& options() const { return options_; }
  std::string CommitDir(const Root& root) const { return dir_ + "/" + root.ToHex(); }
  // Pins an existing commit against deletion. NotFound if it does not exist
  // or is being deleted.
  Status Pin(const Root& root);
  void Unpin(const Root& root);
  // Pins a commit that is about to be published (its directory may not exist
  // yet). Busy if a commit with that root is being deleted right now.
  Status PinNew(const Root& root);
  Result<Index> ReadIndex(const Root& root);
  // A fresh, unique path in kPendingDir for a commit being written (not
  // created); published by renaming it to the commit's directory.
  std::string NewStagingPath();
  // Threads that help commits: hashing and encoding beside each other, and
  // the fsyncs of a commit issued together. Shared by all sessions.
  TaskPool& pool() { return pool_; }
  // The next commit's staging directory, made ahead (spare_staging.h).
  SpareStaging& spares() { return spares_; }
  // Memory images kept mapped across sessions (never used by verification).
  ImageCache& images() { return images_; }
  // Committed bytecode files (immutable, hard-linked from commit to commit)
  // this process has read and found matching `hash`, by inode: a commit need
  // not read them again before linking them. Thread-safe.
  bool BytecodeChecked(uint64_t inode, const Hash32& hash);
  void NoteBytecodeChecked(uint64_t inode, const Hash32& hash);
  LayerCache& layers() { return layers_; }

 private:
  StoreImpl(std::string dir, const StoreOptions& options, std::unique_ptr<os::Env> own_env, os::Env* env)
      : dir_(std::move(dir)), options_(options), own_env_(std::move(own_env)), env_(env) {}
  Status Recover();
  std::string NewPendingPath(const char* prefix);  // kPendingDir/<prefix><pid>-<n>-<random>
  Status CheckFormat();
  Status Delete(const Root& root, bool wait);

  // Constant after construction.
  const std::string dir_;
  const StoreOptions options_;
  // The Env for StoreOptions::dirty_tracking / write_audit when they are not
  // the defaults (null otherwise); env_ points to it or to the caller's Env.
  const std::unique_ptr<os::Env> own_env_;
  os::Env* const env_;
  std::unique_ptr<os::FileLock> lock_;
  // Five workers: CPU batches use at most the hardware threads; a commit's
  // fsyncs (which mostly wait) run all at once (two files, three directories).
  TaskPool pool_{5};
  ImageCache images_{64};
  LayerCache layers_{256};

  struct CommitState {
    int pins = 0;
    bool deleting = false;
  };
  // State below is protected by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Root, CommitState> states_;  // only commits pinned or being deleted
  uint64_t staging_counter_ = 0;
  std::set<std::pair<uint64_t, Hash32>> checked_bytecode_;

  // Last: destroyed first, stopping its worker (which calls NewPendingPath)
  // while everything else is still there.
  SpareStaging spares_{env_, [this] { return NewPendingPath(kSparePrefix); }};
};

}  // namespace crust::store
