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

Result<std::unique_ptr<MemoryRegion>> Env::MapLazyMemory(std::shared_ptr<const PageSource>, uint64_t, uint64_t,
                                                         uint64_t) {
  return Status::NotSupported("MapLazyMemory: not supported by this Env");
}

}  // namespace crust::os
