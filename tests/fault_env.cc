// Copyright (c) crust authors. Licensed under the MIT license.
#include "tests/fault_env.h"

#include <utility>

#include "src/os/memory_region.h"

namespace crust::testing {
namespace {

class FaultWritableFile final : public os::WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::unique_ptr<os::WritableFile> base)
      : env_(env), base_(std::move(base)) {}
  Status WriteAt(uint64_t offset, ByteView data) override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kWrite, path()));
    return base_->WriteAt(offset, data);
  }
  Status Append(ByteView data) override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kWrite, path()));
    return base_->Append(data);
  }
  Status Truncate(uint64_t length) override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kTruncate, path()));
    return base_->Truncate(length);
  }
  Status Sync() override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kSync, path()));
    return base_->Sync();
  }
  Status Close() override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kClose, path()));
    return base_->Close();
  }
  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv* const env_;
  const std::unique_ptr<os::WritableFile> base_;
};

class FaultRandomAccessFile final : public os::RandomAccessFile {
 public:
  FaultRandomAccessFile(FaultEnv* env, std::unique_ptr<os::RandomAccessFile> base)
      : env_(env), base_(std::move(base)) {}
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) const override {
    RETURN_IF_ERROR(env_->Check(FaultOp::kRead, path()));
    return base_->ReadAt(offset, out);
  }
  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }
  int fd() const override { return base_->fd(); }

 private:
  FaultEnv* const env_;
  const std::unique_ptr<os::RandomAccessFile> base_;
};

}  // namespace

const char* FaultOpName(FaultOp op) {
  static constexpr const char* kNames[] = {
      "create file", "open",  "write",    "truncate", "sync",  "close",         "read",
      "mkdir",       "unlink", "rmdir -r", "rename",   "link",  "fsync dir",     "chmod a-w",
      "list dir",    "stat",  "lock",     "map memory"};
  static_assert(std::size(kNames) == static_cast<size_t>(FaultOp::kNumOps));
  return kNames[static_cast<size_t>(op)];
}

FaultEnv::FaultEnv(os::Env* target) : EnvWrapper(target) {}

void FaultEnv::FailNth(FaultOp op, int n) {
  std::lock_guard<std::mutex> l(mu_);
  countdown_[static_cast<size_t>(op)] = n > 0 ? n : kNever;
}

void FaultEnv::FailAlways(FaultOp op) {
  std::lock_guard<std::mutex> l(mu_);
  countdown_[static_cast<size_t>(op)] = kAlways;
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  countdown_.fill(kNever);
}

int FaultEnv::Count(FaultOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_[static_cast<size_t>(op)];
}

int FaultEnv::Failures(FaultOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  return failures_[static_cast<size_t>(op)];
}

void FaultEnv::ResetCounts() {
  std::lock_guard<std::mutex> l(mu_);
  counts_.fill(0);
  failures_.fill(0);
  last_failure_.clear();
}

Status FaultEnv::Check(FaultOp op, const std::string& what) {
  const size_t i = static_cast<size_t>(op);
  std::lock_guard<std::mutex> l(mu_);
  ++counts_[i];
  int& c = countdown_[i];
  bool fail = false;
  if (c == kAlways) {
    fail = true;
  } else if (c > 0 && --c == 0) {
    fail = true;  // countdown reached: fail once, then stop injecting
  }
  if (!fail) return Status::OK();
  ++failures_[i];
  last_failure_ = std::string("injected fault: ") + FaultOpName(op) + " " + what;
  return Status::IOError(last_failure_);
}

std::string FaultEnv::LastFailure() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_failure_;
}

Result<std::unique_ptr<os::WritableFile>> FaultEnv::NewWritableFile(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kCreateFile, p));
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, target()->NewWritableFile(p));
  return std::unique_ptr<os::WritableFile>(new FaultWritableFile(this, std::move(f)));
}

Result<std::unique_ptr<os::WritableFile>> FaultEnv::NewWritableFileFrom(const std::string& e, const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kCreateFile, e + " -> " + p));
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, target()->NewWritableFileFrom(e, p));
  return std::unique_ptr<os::WritableFile>(new FaultWritableFile(this, std::move(f)));
}

Result<std::unique_ptr<os::RandomAccessFile>> FaultEnv::OpenReadable(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kOpenFile, p));
  ASSIGN_OR_RETURN(std::unique_ptr<os::RandomAccessFile> f, target()->OpenReadable(p));
  return std::unique_ptr<os::RandomAccessFile>(new FaultRandomAccessFile(this, std::move(f)));
}

// Not forwarded: the base implementation goes through OpenReadable and
// ReadAt above, so their faults apply.
Result<Bytes> FaultEnv::ReadFile(const std::string& p, uint64_t max) { return Env::ReadFile(p, max); }

Status FaultEnv::CreateDir(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kCreateDir, p));
  return target()->CreateDir(p);
}
Status FaultEnv::RemoveFile(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kRemoveFile, p));
  return target()->RemoveFile(p);
}
Status FaultEnv::RemoveDirRecursive(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kRemoveDir, p));
  return target()->RemoveDirRecursive(p);
}
Status FaultEnv::Rename(const std::string& f, const std::string& t) {
  RETURN_IF_ERROR(Check(FaultOp::kRename, f + " -> " + t));
  return target()->Rename(f, t);
}
Status FaultEnv::RenameNoReplace(const std::string& f, const std::string& t) {
  RETURN_IF_ERROR(Check(FaultOp::kRename, f + " -> " + t));
  return target()->RenameNoReplace(f, t);
}
Status FaultEnv::LinkFile(const std::string& e, const std::string& l) {
  RETURN_IF_ERROR(Check(FaultOp::kLink, e + " -> " + l));
  return target()->LinkFile(e, l);
}
Status FaultEnv::SyncDir(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kSyncDir, p));
  return target()->SyncDir(p);
}
Status FaultEnv::SetReadOnly(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kSetReadOnly, p));
  return target()->SetReadOnly(p);
}
Result<std::vector<std::string>> FaultEnv::ListDir(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kListDir, p));
  return target()->ListDir(p);
}
Result<os::FileInfo> FaultEnv::Stat(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kStat, p));
  return target()->Stat(p);
}
Result<std::unique_ptr<os::FileLock>> FaultEnv::LockFile(const std::string& p) {
  RETURN_IF_ERROR(Check(FaultOp::kLock, p));
  return target()->LockFile(p);
}
Result<std::unique_ptr<os::MemoryRegion>> FaultEnv::MapMemory(const os::RandomAccessFile* f,
                                                              uint64_t fl, uint64_t l, uint64_t m) {
  RETURN_IF_ERROR(Check(FaultOp::kMapMemory, f != nullptr ? f->path() : std::string("(no file)")));
  return target()->MapMemory(f, fl, l, m);
}

}  // namespace crust::testing
