// Copyright (c) crust authors. Licensed under the MIT license.
//
// SpareStaging: a staging directory made ahead of the commit that uses it.
//
// A commit writes into a new staging directory (kPendingDir/staging-*, with
// bytecode/ and memory/), a new delta layer and a new index file: the five
// inodes a one-module commit allocates. Allocating an inode is not free: journal-less
// ext4 scans past every inode freed in the last minutes on each allocation
// (docs/benchmarks.md, "Staging made ahead"), which made a one-page durable
// commit 1.5-2x slower right after a deletion. So a committing session asks
// for the *next* commit's directory and files when its own fsyncs start
// (Request); a worker thread makes them while the commit finishes and the
// caller goes on, and the next commit takes them (Take).
//
// A spare is kPendingDir/spare-<pid>-<n>-<random>/ holding empty bytecode/
// and memory/ directories, an empty `index` file kept open for writing and
// an empty `layer.spare` file that the commit's first new delta layer is
// made from (Env::NewWritableFileFrom; removed before publishing if the
// commit writes no layer). Nothing in it is durable or visible as a commit:
// Store::Open removes every leftover of kPendingDir, spares included, and
// the store removes its spares when it closes. A spare that fails to be made
// is removed and not offered: the next commit then makes its directories
// itself, as without spares.
//
// Thread-safe: sessions committing concurrently may Take and Request at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/os/env.h"

namespace crust::store {

class SpareStaging {
 public:
  struct Dir {
    std::string path;                          // the directory; the commit's staging directory
    std::unique_ptr<os::WritableFile> index;  // path + "/index", empty, open for writing
    std::string layer_file;                   // path + "/layer.spare", empty, closed: the first new layer
  };

  // `new_path` returns a fresh unique path for a spare (not created).
  SpareStaging(os::Env* env, std::function<std::string()> new_path) : env_(env), new_path_(std::move(new_path)) {}
  SpareStaging(const SpareStaging&) = delete;
  SpareStaging& operator=(const SpareStaging&) = delete;
  // Stops the worker (after the spare it is making) and removes ready spares.
  ~SpareStaging();

  // A ready spare, waiting for one being made; nullopt when none is ready,
  // asked for or being made (or making it failed).
  std::optional<Dir> Take();
  // Asks the worker for a spare unless one is ready, asked for or being
  // made; returns at once. Making it can fail: that is not the caller's
  // failure (a half-made spare is removed and nothing is offered).
  void Request();
  // Returns when no spare is asked for or being made (tests count the
  // operations a commit made).
  void WaitIdle();
  // Removes every ready spare.
  void RemoveAll();

 private:
  static constexpr size_t kMax = 1;
  Result<Dir> Make();
  void WorkerLoop();

  os::Env* const env_;
  const std::function<std::string()> new_path_;
  std::mutex mu_;
  std::condition_variable cv_;  // wanted_, making_ or stop_ changed
  std::vector<Dir> ready_;      // guarded by mu_
  bool wanted_ = false;         // guarded by mu_: Request()ed, not yet being made
  bool making_ = false;         // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::thread worker_;          // started by the first Request()
};

}  // namespace crust::store
