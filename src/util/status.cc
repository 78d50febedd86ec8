// Copyright (c) crust authors. Licensed under the MIT license.
#include "crust/status.h"

namespace crust {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IOError";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kBusy: return "Busy";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kNotSupported: return "NotSupported";
    case Code::kTrap: return "Trap";
    case Code::kOutOfGas: return "OutOfGas";
    case Code::kPanic: return "Panic";
    case Code::kInvalidModule: return "InvalidModule";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kAborted: return "Aborted";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(rep_->code);
  s += ": ";
  s += rep_->msg;
  return s;
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  std::string msg(prefix);
  msg += ": ";
  msg += rep_->msg;
  return Status(rep_->code, msg);
}

}  // namespace crust
