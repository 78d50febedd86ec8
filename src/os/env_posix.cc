// Copyright (c) crust authors. Licensed under the MIT license.
//
// PosixEnv: the Env returned by Env::Default(). Every method is a thin layer
// over one or two system calls; errors name the operation, the path(s) and
// strerror (see posix_error.h).
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/os/memory_region_posix.h"
#include "src/os/posix_error.h"
#include "src/os/posix_file.h"

namespace crust::os {
namespace {

// Sorted entry names of an open directory stream, excluding "." and "..".
// Closes dir.
Result<std::vector<std::string>> ReadNames(DIR* dir, const std::string& path) {
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const struct dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return PosixError("readdir", path, err);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::string>> ListNames(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return PosixError("opendir", path, errno);
  return ReadNames(dir, path);
}

// Removes path and everything below it, without following symlinks. Files
// need not be writable (unlink only needs a writable directory).
Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::OK();
    return PosixError("stat", path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("unlink", path, errno);
    return Status::OK();
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(path));
  for (const std::string& name : names) RETURN_IF_ERROR(RemoveTree(path + "/" + name));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return PosixError("rmdir", path, errno);
  return Status::OK();
}

class PosixEnv final : public Env {
 public:
  explicit PosixEnv(const TrackingOptions& tracking) : tracking_(tracking) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return NewPosixWritableFile(path);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFileFrom(const std::string& empty_file,
                                                            const std::string& path) override {
    return NewPosixWritableFileFrom(empty_file, path);
  }
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) override {
    return NewPosixRandomAccessFile(path);
  }
  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) return PosixError("mkdir", path, errno);
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return Status::OK();
  }
  Status RemoveDirRecursive(const std::string& path) override { return RemoveTree(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError2("rename", from, to, errno);
    return Status::OK();
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
      return PosixError2("rename (no replace)", from, to, errno);
    }
    return Status::OK();
  }
  Status LinkFile(const std::string& existing, const std::string& link) override {
    if (::link(existing.c_str(), link.c_str()) != 0) return PosixError2("link", existing, link, errno);
    return Status::OK();
  }
  Status SyncDir(const std::string& path) override;
  Status SetReadOnly(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return ListNames(path);
  }
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return LockPosixFile(path);
  }
  Result<std::unique_ptr<MemoryRegion>> MapMemory(const RandomAccessFile* file,
                                                  uint64_t file_length, uint64_t length,
                                                  uint64_t max_length) override;
  Result<std::unique_ptr<MemoryRegion>> MapLazyMemory(std::shared_ptr<const PageSource> source,
                                                      uint64_t source_length, uint64_t length,
                                                      uint64_t max_length) override {
    return NewLazyMemoryRegion(std::move(source), source_length, length, max_length, tracking_);
  }

 private:
  const TrackingOptions tracking_;
};

Status PosixEnv::SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("open directory", path, errno);
  Status s;
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      s = PosixError("fsync directory", path, errno);
      break;
    }
  }
  ::close(fd);
  return s;
}

Status PosixEnv::SetReadOnly(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
  if (::chmod(path.c_str(), st.st_mode & 07555) != 0) return PosixError("chmod a-w", path, errno);
  return Status::OK();
}

Result<FileInfo> PosixEnv::Stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
  FileInfo info;
  info.inode = st.st_ino;
  info.nlink = st.st_nlink;
  info.size = static_cast<uint64_t>(st.st_size);
  info.allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  info.is_dir = S_ISDIR(st.st_mode);
  info.writable = (st.st_mode & 0222) != 0;
  info.mtime_unix_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return info;
}

Result<std::unique_ptr<MemoryRegion>> PosixEnv::MapMemory(const RandomAccessFile* file,
                                                          uint64_t file_length, uint64_t length,
                                                          uint64_t max_length) {
  if (file_length > 0) {
    if (file == nullptr || file->fd() < 0) {
      return Status::InvalidArgument("MapMemory: file_length > 0 needs a file with a descriptor");
    }
    if (file->Size() < file_length) {
      return Status::Corruption("map " + file->path() + ": file has " +
                                std::to_string(file->Size()) + " bytes, expected at least " +
                                std::to_string(file_length));
    }
  }
  return NewPosixMemoryRegion(file_length > 0 ? file->fd() : -1,
                              file_length > 0 ? file->path() : std::string(), file_length, length,
                              max_length, tracking_);
}

}  // namespace

Env* Env::Default() {
  static PosixEnv* const env = new PosixEnv(TrackingOptions{});  // never destroyed
  return env;
}

std::unique_ptr<Env> NewPosixEnv(const TrackingOptions& tracking) { return std::make_unique<PosixEnv>(tracking); }

}  // namespace crust::os
