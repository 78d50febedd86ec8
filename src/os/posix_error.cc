// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/posix_error.h"

#include <cerrno>
#include <cstring>

namespace crust::os {
namespace {

Status Make(const std::string& msg, int err) {
  switch (err) {
    case ENOENT:
      return Status::NotFound(msg);
    case EEXIST:
      return Status::AlreadyExists(msg);
    default:
      return Status::IOError(msg);
  }
}

std::string ErrorText(int err) {
  char buf[128];
  // GNU strerror_r: returns a pointer that may or may not be buf.
  return strerror_r(err, buf, sizeof(buf));
}

}  // namespace

Status PosixError(std::string_view op, std::string_view path, int err) {
  std::string msg;
  msg.append(op).append(" ").append(path).append(": ").append(ErrorText(err));
  return Make(msg, err);
}

Status PosixError2(std::string_view op, std::string_view from, std::string_view to, int err) {
  std::string msg;
  msg.append(op).append(" ").append(from).append(" -> ").append(to).append(": ").append(ErrorText(err));
  return Make(msg, err);
}

}  // namespace crust::os
