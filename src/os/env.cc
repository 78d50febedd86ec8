// Copyright (c) crust authors. Licensed under the MIT license.
//
// Env methods with a default built on the abstract ones.
#include "src/os/env.h"

#include <string>

namespace crust::os {

Result<Bytes> Env::ReadFile(const std::string& path, uint64_t max_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, OpenReadable(path));
  const uint64_t size = file->Size();
  if (size > max_size) {
    return Status::ResourceExhausted("read " + path + ": file has " + std::to_string(size) +
                                     " bytes, more than the limit of " + std::to_string(max_size));
  }
  Bytes data(size);
  RETURN_IF_ERROR(file->ReadAt(0, data));
  return data;
}

Status Env::CreateDirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    Status s = CreateDir(path.substr(0, pos));
    if (!s.ok() && s.code() != Status::Code::kAlreadyExists) return s;
  }
  return Status::OK();
}

namespace {

// The directory holding `path` ("." for a bare name).
std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Status WriteFileAtomically(Env* env, const std::string& path, std::span<const ByteView> parts,
                           const AtomicWriteOptions& options) {
  const std::string tmp = options.temp_path.empty() ? path + ".tmp" : options.temp_path;
  // The default temp name is fixed: remove a crashed publish's leftover.
  // Callers naming their own temporary make it unique.
  if (options.temp_path.empty()) env->RemoveFile(tmp).IgnoreError();
  auto write = [&]() -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(tmp));
    for (ByteView part : parts) RETURN_IF_ERROR(f->Append(part));
    if (options.sync) RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
    return env->Rename(tmp, path);
  };
  Status s = write();
  if (!s.ok()) {
    env->RemoveFile(tmp).IgnoreError();
    return s.WithContext("publish " + path);
  }
  if (options.sync) RETURN_IF_ERROR(env->SyncDir(DirOf(path)).WithContext("publish " + path));
  return Status::OK();
}

Status WriteFileAtomically(Env* env, const std::string& path, ByteView data, const AtomicWriteOptions& options) {
  return WriteFileAtomically(env, path, std::span<const ByteView>(&data, 1), options);
}

Result<std::unique_ptr<MemoryRegion>> Env::MapLazyMemory(std::shared_ptr<const PageSource>, uint64_t, uint64_t,
                                                         uint64_t) {
  return Status::NotSupported("MapLazyMemory: not supported by this Env");
}

}  // namespace crust::os
