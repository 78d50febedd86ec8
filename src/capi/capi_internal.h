// Copyright (c) crust authors. Licensed under the MIT license.
//
// The C API's handle types and the conversions every src/capi file shares.
// The C API is a thin layer: each function checks its pointers, converts
// arguments to the C++ types, calls the C++ library and converts the result;
// Guard() turns any exception that would otherwise escape into CRUST_ABORTED.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "crust/crust.h"
#include "crust/status.h"
#include "crust/store.h"
#include "crust/types.h"
#include "crust/vm.h"

struct crust_error {
  crust_code code;
  std::string message;
};

struct crust_bytes {
  crust::Bytes data;
};

struct crust_query_result {
  crust::Bytes data;
  bool has_message = false;
  std::string message;
};

struct crust_vm_options {
  crust::VmOptions options;
};

struct crust_store {
  std::unique_ptr<crust::Store> owned;  // null when borrowed from a VM
  crust::Store* store = nullptr;
};

struct crust_vm {
  std::unique_ptr<crust::Vm> vm;
  crust_store store_view;  // borrowed view handed out by crust_vm_store
};

struct crust_session {
  std::unique_ptr<crust::VmSession> session;
};

namespace crust::capi {

// Stores a new error in *err (when err is not null) and returns its code.
crust_code Fail(crust_error** err, crust_code code, std::string message);
crust_code Fail(crust_error** err, const Status& status);
// CRUST_OK for OK, otherwise Fail(err, status).
crust_code Check(crust_error** err, const Status& status);
crust_code CodeOf(const Status& status);

// The 32 bytes at `p` as a Hash32 (p must not be null).
Hash32 ToHash(const uint8_t* p);
void FromHash(const Hash32& h, uint8_t* out);
// (data, len) as a view; data may be null only when len is 0.
inline ByteView View(const uint8_t* data, size_t len) { return len == 0 ? ByteView() : ByteView(data, len); }

// Runs `body` (returning crust_code); exceptions become CRUST_ABORTED.
template <typename F>
crust_code Guard(crust_error** err, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    try {
      return Fail(err, CRUST_ABORTED, std::string("internal error: ") + e.what());
    } catch (...) {
      return CRUST_ABORTED;
    }
  } catch (...) {
    try {
      return Fail(err, CRUST_ABORTED, "internal error: unknown exception");
    } catch (...) {
      return CRUST_ABORTED;
    }
  }
}

// For functions without an error out-parameter.
template <typename F>
void GuardVoid(F&& body) noexcept {
  try {
    body();
  } catch (...) {
  }
}

}  // namespace crust::capi

#define CRUST_CAPI_REQUIRE(cond, err, what) \
  do {                                      \
    if (!(cond)) return ::crust::capi::Fail(err, CRUST_INVALID_ARGUMENT, what); \
  } while (0)
