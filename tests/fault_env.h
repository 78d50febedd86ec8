// Copyright (c) crust authors. Licensed under the MIT license.
//
// FaultEnv: an Env for tests that fails chosen operations with IOError and
// counts every operation. It forwards to a target Env (Env::Default() by
// default); files it returns are wrapped so that writes, syncs and reads
// are counted and can fail too.
//
//   FaultEnv env;
//   env.FailNth(FaultOp::kLink, 3);   // the 3rd link from now fails
//   ... run the code under test with &env ...
//   EXPECT_EQ(env.Count(FaultOp::kSyncDir), 2);
//
// An injected failure does not reach the target (nothing happens on disk)
// and returns IOError("injected fault: <op> <path(s)>").
//
// Thread-safety: safe for concurrent use, like any Env. Files it returns
// must not outlive it.
#pragma once

#include <array>
#include <mutex>
#include <string>

#include "src/os/env.h"

namespace crust::testing {

enum class FaultOp {
  kCreateFile,   // NewWritableFile, NewWritableFileFrom
  kOpenFile,     // OpenReadable (also inside ReadFile)
  kWrite,        // WritableFile::WriteAt / Append
  kTruncate,     // WritableFile::Truncate
  kSync,         // WritableFile::Sync
  kClose,        // WritableFile::Close (explicit calls only)
  kRead,         // RandomAccessFile::ReadAt (also inside ReadFile)
  kCreateDir,
  kRemoveFile,
  kRemoveDir,    // RemoveDirRecursive
  kRename,       // Rename and RenameNoReplace
  kLink,
  kSyncDir,
  kSetReadOnly,
  kListDir,
  kStat,         // Stat and Exists
  kLock,
  kMapMemory,
  kNumOps,
};

const char* FaultOpName(FaultOp op);

class FaultEnv : public os::EnvWrapper {
 public:
  explicit FaultEnv(os::Env* target = os::Env::Default());

  // The n-th call of `op` from now (n = 1: the next one) fails. Replaces any
  // earlier FailNth/FailAlways for op.
  void FailNth(FaultOp op, int n);
  // Every call of `op` fails until ClearFaults().
  void FailAlways(FaultOp op);
  void ClearFaults();

  // Calls of `op` (failed ones included) since construction or ResetCounts.
  int Count(FaultOp op) const;
  // Injected failures of `op` since construction or ResetCounts.
  int Failures(FaultOp op) const;
  void ResetCounts();
  // The error text (op and path) of the last injected failure; empty if none.
  std::string LastFailure() const;

  // Counts the call and returns the injected error if this call must fail.
  // Used by the file wrappers; also handy for tests subclassing FaultEnv.
  Status Check(FaultOp op, const std::string& what);

  Result<std::unique_ptr<os::WritableFile>> NewWritableFile(const std::string& p) override;
  // Counted and failed as kCreateFile.
  Result<std::unique_ptr<os::WritableFile>> NewWritableFileFrom(const std::string& e, const std::string& p) override;
  Result<std::unique_ptr<os::RandomAccessFile>> OpenReadable(const std::string& p) override;
  Result<Bytes> ReadFile(const std::string& p, uint64_t max = 1ull << 32) override;
  Status CreateDir(const std::string& p) override;
  Status RemoveFile(const std::string& p) override;
  Status RemoveDirRecursive(const std::string& p) override;
  Status Rename(const std::string& f, const std::string& t) override;
  Status RenameNoReplace(const std::string& f, const std::string& t) override;
  Status LinkFile(const std::string& e, const std::string& l) override;
  Status SyncDir(const std::string& p) override;
  Status SetReadOnly(const std::string& p) override;
  Result<std::vector<std::string>> ListDir(const std::string& p) override;
  Result<os::FileInfo> Stat(const std::string& p) override;
  Result<std::unique_ptr<os::FileLock>> LockFile(const std::string& p) override;
  Result<std::unique_ptr<os::MemoryRegion>> MapMemory(const os::RandomAccessFile* f, uint64_t fl,
                                                      uint64_t l, uint64_t m) override;

 private:
  static constexpr size_t kN = static_cast<size_t>(FaultOp::kNumOps);
  static constexpr int kNever = 0;
  static constexpr int kAlways = -1;

  mutable std::mutex mu_;
  std::array<int, kN> counts_{};    // guarded by mu_
  std::array<int, kN> failures_{};  // guarded by mu_
  // Per op: kNever, kAlways, or the number of calls left before the failing one.
  std::array<int, kN> countdown_{};  // guarded by mu_
  std::string last_failure_;          // guarded by mu_
};

}  // namespace crust::testing
