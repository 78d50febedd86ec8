// Copyright (c) crust authors. Licensed under the MIT license.
//
// SpareStaging: a staging directory made ahead of the commit that uses it.
//
// A commit writes into a new staging directory (kPendingDir/staging-*, with
// bytecode/ and memory/), a new delta layer and a new index file: the five
// inodes a one-module commit allocates. Allocating an inode is not free: journal-less
// ext4 scans past every inode freed in the last minutes on each allocation
// (docs/benchmarks.md, "Staging made ahead"), which made a one-page durable
// commit 1.5-2x slower right after a deletion. So a committing session makes
// the *next* commit's directories and index file while its own fsyncs wait
// (Refill in the same task batch), and the next commit takes them (Take).
//
// A spare is kPendingDir/spare-<pid>-<n>-<random>/ holding empty bytecode/
// and memory/ directories, an empty `index` file kept open for writing and
// an empty `layer.spare` file that the commit's first new delta layer is
// made from (Env::NewWritableFileFrom; removed before publishing if the
// commit writes no layer).
// Nothing in it is durable or visible as a commit: Store::Open removes every
// leftover of kPendingDir, spares included, and the store removes its spares
// when it closes. A spare that fails to be made is removed and not offered:
// the next commit then makes its directories itself, as without spares.
//
// Thread-safe: sessions committing concurrently may Take and Refill at once.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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
  ~SpareStaging() { RemoveAll(); }

  // A ready spare, or nullopt when none is ready.
  std::optional<Dir> Take();
  // Makes one spare unless one is ready or being made. Its failures are not
  // the caller's: a half-made spare is removed and nothing is offered.
  void Refill();
  // Removes every ready spare (a store closing).
  void RemoveAll();

 private:
  static constexpr size_t kMax = 1;

  os::Env* const env_;
  const std::function<std::string()> new_path_;
  std::mutex mu_;
  std::vector<Dir> ready_;  // guarded by mu_
  size_t making_ = 0;       // guarded by mu_: Refill calls under way
};

}  // namespace crust::store
