// Copyright (c) crust authors. Licensed under the MIT license.
//
// Status and Result<T>: how every crust function reports errors. The library
// never throws; a function that can fail returns a Status, or a Result<T>
// holding either a T or a non-OK Status.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from distinct threads freely, and const methods may be called concurrently.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace crust {

class [[nodiscard]] Status {
 public:
  // Codes are part of the tool's JSON output: do not renumber.
  enum class Code : int {
    kOk = 0,
    kNotFound = 1,         // a root, module, function or file does not exist
    kCorruption = 2,       // bytes on disk do not match what the format or index says
    kIOError = 3,          // the operating system refused an operation
    kInvalidArgument = 4,  // the caller passed something malformed
    kBusy = 5,             // a commit is in use / a store is locked by another process
    kAlreadyExists = 6,    // e.g. a module id deployed twice in one session
    kNotSupported = 7,     // a feature crust deliberately rejects
    kTrap = 8,             // WebAssembly trap (the message names the kind)
    kOutOfGas = 9,         // a call exhausted its gas limit
    kPanic = 10,           // a contract panicked (the message is the contract's)
    kInvalidModule = 11,   // bytecode failed validation at deploy
    kResourceExhausted = 12,  // a limit protecting the host was hit
    kAborted = 13,         // the object is unusable after an earlier error
    kInternal = 14,        // the host failed (e.g. native stack overflow): never a contract outcome
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status InvalidArgument(std::string_view msg) { return Status(Code::kInvalidArgument, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status AlreadyExists(std::string_view msg) { return Status(Code::kAlreadyExists, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status Trap(std::string_view msg) { return Status(Code::kTrap, msg); }
  static Status OutOfGas(std::string_view msg) { return Status(Code::kOutOfGas, msg); }
  static Status Panic(std::string_view msg) { return Status(Code::kPanic, msg); }
  static Status InvalidModule(std::string_view msg) { return Status(Code::kInvalidModule, msg); }
  static Status ResourceExhausted(std::string_view msg) { return Status(Code::kResourceExhausted, msg); }
  static Status Aborted(std::string_view msg) { return Status(Code::kAborted, msg); }
  static Status Internal(std::string_view msg) { return Status(Code::kInternal, msg); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsBusy() const { return code() == Code::kBusy; }
  // The message alone (empty for OK).
  std::string_view message() const { return rep_ ? std::string_view(rep_->msg) : std::string_view(); }
  // "Corruption: <message>", or "OK".
  std::string ToString() const;
  static const char* CodeName(Code code);

  // Returns a copy whose message is "<prefix>: <message>" (OK stays OK).
  Status WithContext(std::string_view prefix) const;

  // Marks a deliberately ignored status (greppable).
  void IgnoreError() const {}

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  Status(Code code, std::string_view msg)
      : rep_(std::make_shared<const Rep>(Rep{code, std::string(msg)})) {}
  std::shared_ptr<const Rep> rep_;  // null means OK; shared so copies are cheap
};

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result constructed from an OK status");
    if (status_.ok()) status_ = Status::Aborted("Result built from OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace crust

// Propagation helpers. RETURN_IF_ERROR works on Status; ASSIGN_OR_RETURN on Result.
#define CRUST_CONCAT_INNER(a, b) a##b
#define CRUST_CONCAT(a, b) CRUST_CONCAT_INNER(a, b)
#define RETURN_IF_ERROR(expr)                     \
  do {                                            \
    ::crust::Status _crust_st = (expr);           \
    if (!_crust_st.ok()) return _crust_st;        \
  } while (0)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)     \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CRUST_CONCAT(_crust_res_, __LINE__), lhs, expr)
