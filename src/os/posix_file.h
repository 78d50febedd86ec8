// Copyright (c) crust authors. Licensed under the MIT license.
//
// POSIX implementations of WritableFile, RandomAccessFile and FileLock, used
// by PosixEnv. Private to src/os.
#pragma once

#include <memory>
#include <string>

#include "crust/status.h"
#include "src/os/env.h"

namespace crust::os {

// Creates `path` exclusively (O_EXCL): AlreadyExists if it exists.
Result<std::unique_ptr<WritableFile>> NewPosixWritableFile(const std::string& path);
// Env::NewWritableFileFrom.
Result<std::unique_ptr<WritableFile>> NewPosixWritableFileFrom(const std::string& empty_file, const std::string& path);
// Opens `path` read-only: NotFound if absent.
Result<std::unique_ptr<RandomAccessFile>> NewPosixRandomAccessFile(const std::string& path);
// Takes an open-file-description lock on `path` (see Env::LockFile).
Result<std::unique_ptr<FileLock>> LockPosixFile(const std::string& path);

}  // namespace crust::os
