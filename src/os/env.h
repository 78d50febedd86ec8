// Copyright (c) crust authors. Licensed under the MIT license.
//
// Env: the only door to the operating system. Files, directories, hard links,
// fsync, locks and memory mappings are reached through an Env, so tests can
// substitute one that fails on demand (see FaultEnv in tests/fault_env.h).
//
// Thread-safety: Env implementations are safe for concurrent use. File
// objects are not: each is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/os/dirty_tracking.h"
#include "src/os/memory_region.h"  // complete type needed by EnvWrapper's inline MapMemory

namespace crust::os {

class MemoryRegion;

// A file being written. Created exclusively (fails if the path exists).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes data at offset (pwrite). Writing past the end extends the file;
  // untouched ranges stay holes (no disk space for all-zero pages).
  virtual Status WriteAt(uint64_t offset, ByteView data) = 0;
  // Appends at the current end (the largest offset written so far).
  virtual Status Append(ByteView data) = 0;
  // Sets the file length (ftruncate); extending leaves a hole.
  virtual Status Truncate(uint64_t length) = 0;
  virtual Status Sync() = 0;   // fdatasync
  virtual Status Close() = 0;  // idempotent; the destructor closes too
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// A file opened for reading at arbitrary offsets.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads exactly out.size() bytes at offset; Corruption if the file is
  // shorter (naming the path), IOError on a system error.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> out) const = 0;
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
  // The file descriptor, for MapMemory. -1 for files that have none.
  virtual int fd() const = 0;
};

// Held while a store is open for writing; releasing it unlocks.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct FileInfo {
  uint64_t inode = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;          // logical length
  uint64_t allocated = 0;     // bytes of disk actually allocated (st_blocks*512)
  bool is_dir = false;
  bool writable = false;      // any write permission bit set
  int64_t mtime_unix_ns = 0;  // last modification, wall clock
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env (default TrackingOptions). Never destroyed.
  static Env* Default();

  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // A new file at `path` (AlreadyExists if present) made from `empty_file`,
  // an empty regular file created earlier by NewWritableFile on the same file
  // system: renamed to `path` and opened for writing, so no inode is
  // allocated now (store commits make their files ahead this way).
  // InvalidArgument if `empty_file` is not an empty regular file.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFileFrom(const std::string& empty_file,
                                                                    const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& path) = 0;
  // Reads a whole file (bounded by max_size; ResourceExhausted beyond it).
  virtual Result<Bytes> ReadFile(const std::string& path, uint64_t max_size = 1ull << 32);

  virtual Status CreateDir(const std::string& path) = 0;          // AlreadyExists if present
  // Creates `path` and any missing parents (like mkdir -p): OK when present.
  Status CreateDirs(const std::string& path);
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveDirRecursive(const std::string& path) = 0;  // OK if absent
  virtual Status Rename(const std::string& from, const std::string& to) = 0;  // rename(2)
  // rename(2) with RENAME_NOREPLACE: AlreadyExists if `to` exists.
  virtual Status RenameNoReplace(const std::string& from, const std::string& to) = 0;
  virtual Status LinkFile(const std::string& existing, const std::string& link) = 0;  // link(2)
  virtual Status SyncDir(const std::string& path) = 0;           // fsync a directory
  virtual Status SetReadOnly(const std::string& path) = 0;       // chmod a-w
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;  // names, sorted
  virtual Result<FileInfo> Stat(const std::string& path) = 0;    // NotFound if absent
  bool Exists(const std::string& path) { return Stat(path).ok(); }

  // Takes an exclusive advisory lock on `path` (created if missing) and writes
  // this process's pid into it. Busy naming the holder's pid when another
  // process holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Maps a WebAssembly linear memory (see memory_region.h): the first
  // `file_length` bytes come copy-on-write from `file` (may be null when
  // file_length is 0), the rest up to `length` are zero. Both lengths are
  // multiples of 64 KiB; length <= max_length <= 4 GiB.
  virtual Result<std::unique_ptr<MemoryRegion>> MapMemory(const RandomAccessFile* file,
                                                          uint64_t file_length, uint64_t length,
                                                          uint64_t max_length) = 0;

  // Maps a memory like MapMemory, but whose first `source_length` bytes are
  // filled from `source` page by page when first touched (userfaultfd
  // missing-page handling): mapping costs nothing per page, and a page never
  // touched is never filled. Write tracking is as for MapMemory. NotSupported
  // where the kernel or its settings do not allow it (the caller then maps
  // eagerly); the default implementation always says so.
  virtual Result<std::unique_ptr<MemoryRegion>> MapLazyMemory(std::shared_ptr<const PageSource> source,
                                                              uint64_t source_length, uint64_t length,
                                                              uint64_t max_length);
};

// A POSIX Env like Env::Default() whose memory regions use `tracking`
// (dirty_tracking.h). It holds no other state: any number may coexist.
std::unique_ptr<Env> NewPosixEnv(const TrackingOptions& tracking);

// Options of WriteFileAtomically.
struct AtomicWriteOptions {
  // Where the data is written before the rename; "" means `path` + ".tmp".
  // Must be on the same file system as `path`. The default name is removed
  // first if present (a crashed publish's leftover); a caller's own name must
  // be unique to this publish.
  std::string temp_path;
  // fsync the file before the rename and the directory of `path` after it.
  // Off only for stores opened without sync (StoreOptions::sync).
  bool sync = true;
};

// Publishes `parts` (concatenated) as the file `path`, all or nothing: writes
// a temporary file, fsyncs it, renames it over `path` and fsyncs the directory
// of `path`. Every temp-and-rename publish in crust goes through here.
// On error (naming the step and path) the temporary is removed, and `path`
// holds either its old contents (or is absent) or, if only the final
// directory fsync failed, the new contents not yet known to be durable.
// Thread-safety: as the Env's; concurrent publishes of one `path` need
// distinct temp paths (the last rename wins).
Status WriteFileAtomically(Env* env, const std::string& path, std::span<const ByteView> parts,
                           const AtomicWriteOptions& options = {});
Status WriteFileAtomically(Env* env, const std::string& path, ByteView data,
                           const AtomicWriteOptions& options = {});

// Forwards every call to a target Env; tests override what they need.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override { return target_->NewWritableFile(p); }
  Result<std::unique_ptr<WritableFile>> NewWritableFileFrom(const std::string& e, const std::string& p) override {
    return target_->NewWritableFileFrom(e, p);
  }
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& p) override { return target_->OpenReadable(p); }
  Result<Bytes> ReadFile(const std::string& p, uint64_t max = 1ull << 32) override { return target_->ReadFile(p, max); }
  Status CreateDir(const std::string& p) override { return target_->CreateDir(p); }
  Status RemoveFile(const std::string& p) override { return target_->RemoveFile(p); }
  Status RemoveDirRecursive(const std::string& p) override { return target_->RemoveDirRecursive(p); }
  Status Rename(const std::string& f, const std::string& t) override { return target_->Rename(f, t); }
  Status RenameNoReplace(const std::string& f, const std::string& t) override { return target_->RenameNoReplace(f, t); }
  Status LinkFile(const std::string& e, const std::string& l) override { return target_->LinkFile(e, l); }
  Status SyncDir(const std::string& p) override { return target_->SyncDir(p); }
  Status SetReadOnly(const std::string& p) override { return target_->SetReadOnly(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override { return target_->ListDir(p); }
  Result<FileInfo> Stat(const std::string& p) override { return target_->Stat(p); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override { return target_->LockFile(p); }
  Result<std::unique_ptr<MemoryRegion>> MapMemory(const RandomAccessFile* f, uint64_t fl, uint64_t l,
                                                  uint64_t m) override {
    return target_->MapMemory(f, fl, l, m);
  }
  Result<std::unique_ptr<MemoryRegion>> MapLazyMemory(std::shared_ptr<const PageSource> s, uint64_t sl, uint64_t l,
                                                      uint64_t m) override {
    return target_->MapLazyMemory(std::move(s), sl, l, m);
  }

 private:
  Env* const target_;
};

}  // namespace crust::os
