// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/posix_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "src/os/posix_error.h"

namespace crust::os {
namespace {

// Writes all of data at offset, retrying on EINTR and short writes.
Status PwriteAll(int fd, const std::string& path, uint64_t offset, ByteView data) {
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::pwrite(fd, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", path, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

// Reads up to out.size() bytes at offset, retrying on EINTR and short reads;
// stops at end of file. *got receives the number of bytes read.
Status PreadAll(int fd, const std::string& path, uint64_t offset, std::span<uint8_t> out,
                size_t* got) {
  *got = 0;
  while (*got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + *got, out.size() - *got,
                              static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", path, errno);
    }
    if (n == 0) break;  // end of file
    *got += static_cast<size_t>(n);
  }
  return Status::OK();
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { Close().IgnoreError(); }

  Status WriteAt(uint64_t offset, ByteView data) override {
    RETURN_IF_ERROR(CheckOpen("write"));
    RETURN_IF_ERROR(PwriteAll(fd_, path_, offset, data));
    size_ = std::max(size_, offset + data.size());
    return Status::OK();
  }
  Status Append(ByteView data) override { return WriteAt(size_, data); }
  Status Truncate(uint64_t length) override {
    RETURN_IF_ERROR(CheckOpen("truncate"));
    while (::ftruncate(fd_, static_cast<off_t>(length)) != 0) {
      if (errno != EINTR) return PosixError("truncate", path_, errno);
    }
    size_ = length;
    return Status::OK();
  }
  Status Sync() override {
    RETURN_IF_ERROR(CheckOpen("fdatasync"));
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return PosixError("fdatasync", path_, errno);
    }
    return Status::OK();
  }
  Status Close() override {
    if (fd_ < 0) return Status::OK();
    const int fd = fd_;
    fd_ = -1;
    // Linux always releases the descriptor, even on EINTR: never retry.
    if (::close(fd) != 0 && errno != EINTR) return PosixError("close", path_, errno);
    return Status::OK();
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  Status CheckOpen(const char* op) const {
    if (fd_ >= 0) return Status::OK();
    return Status::IOError(std::string(op) + " " + path_ + ": file is closed");
  }

  const std::string path_;
  int fd_;
  uint64_t size_ = 0;  // largest offset written, or the last Truncate length
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status ReadAt(uint64_t offset, std::span<uint8_t> out) const override {
    size_t got = 0;
    RETURN_IF_ERROR(PreadAll(fd_, path_, offset, out, &got));
    if (got < out.size()) {
      return Status::Corruption("read " + path_ + ": short file: expected " +
                                std::to_string(out.size()) + " bytes at offset " +
                                std::to_string(offset) + ", got " + std::to_string(got));
    }
    return Status::OK();
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }
  int fd() const override { return fd_; }

 private:
  const std::string path_;
  const int fd_;
  const uint64_t size_;  // at open time
};

// The lock is an open-file-description lock (F_OFD_SETLK): it belongs to the
// descriptor, so it conflicts with other descriptors of this same process
// too, and closing the descriptor releases it.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }

 private:
  const int fd_;
};

// Best effort: the pid recorded by the current holder, or "unknown".
std::string ReadHolderPid(int fd) {
  char buf[32];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid.push_back(buf[i]);
  return pid.empty() ? "unknown" : pid;
}

}  // namespace

Result<std::unique_ptr<WritableFile>> NewPosixWritableFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("create", path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
}

Result<std::unique_ptr<WritableFile>> NewPosixWritableFileFrom(const std::string& empty_file, const std::string& path) {
  // Checked before the rename, so that a wrong file is never moved; the
  // store's directories are private to the process holding its lock.
  struct stat st;
  if (::lstat(empty_file.c_str(), &st) != 0) return PosixError("stat", empty_file, errno);
  if (!S_ISREG(st.st_mode) || st.st_size != 0) {
    return Status::InvalidArgument(empty_file + ": expected an empty regular file to create " + path + " from");
  }
  if (::renameat2(AT_FDCWD, empty_file.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    return PosixError2("rename (no replace)", empty_file, path, errno);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError("open", path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
}

Result<std::unique_ptr<RandomAccessFile>> NewPosixRandomAccessFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return PosixError("stat", path, err);
  }
  return std::unique_ptr<RandomAccessFile>(
      new PosixRandomAccessFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

Result<std::unique_ptr<FileLock>> LockPosixFile(const std::string& path) {
  // Never through a symlink (we truncate and write the file), and only a
  // regular file.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0 && errno == ELOOP) {
    return Status::InvalidArgument("lock file " + path + " is a symbolic link; refusing to open it");
  }
  if (fd < 0) return PosixError("open lock file", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("lock file " + path + " is not a regular file; refusing to use it");
  }
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file; l_pid must be 0
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    const int err = errno;
    Status s = (err == EAGAIN || err == EACCES)
                   ? Status::Busy("store " + path + " is locked by process " + ReadHolderPid(fd))
                   : PosixError("lock", path, err);
    ::close(fd);
    return s;
  }
  // The file's content becomes exactly the pid and a newline. Truncating
  // costs a journal transaction (measured 0.2-6 ms on a loaded ext4: most of
  // a reopen), so the file is left alone when it already says so (this
  // process opened the store before) and truncated only when longer.
  const std::string pid = std::to_string(::getpid()) + "\n";
  char old[32];
  const ssize_t had = ::pread(fd, old, sizeof(old), 0);
  Status s;
  if (had != static_cast<ssize_t>(pid.size()) || std::memcmp(old, pid.data(), pid.size()) != 0) {
    s = PwriteAll(fd, path, 0, ByteView(reinterpret_cast<const uint8_t*>(pid.data()), pid.size()));
    if (s.ok() && static_cast<uint64_t>(st.st_size) > pid.size() && ::ftruncate(fd, static_cast<off_t>(pid.size())) != 0) {
      s = PosixError("truncate lock file", path, errno);
    }
  }
  if (!s.ok()) {
    ::close(fd);
    return s;
  }
  return std::unique_ptr<FileLock>(new PosixFileLock(fd));
}

}  // namespace crust::os
