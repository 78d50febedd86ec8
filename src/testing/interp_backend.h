// Copyright (c) crust authors. Licensed under the MIT license.
//
// A narrow C++17 facade over wabt's interpreter (wabt::interp), used only by
// interp_oracle.cc. It exists because wabt 1.0.32's interp-inl.h does not
// compile as C++20 with g++ 12 (template-id destructors), so the one file
// that includes it, interp_backend.cc, is compiled with -std=c++17 and this
// header must stay valid C++17 (no crust headers, no std::span).
//
// Thread-safety: an InterpBackend is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace crust::engine::internal {

enum class BackendType : uint8_t { kI32, kI64, kF32, kF64, kOther };

struct BackendImport {
  std::string module;
  std::string name;
  bool is_func = false;
  std::vector<BackendType> params;   // functions only
  std::vector<BackendType> results;  // functions only
};

// Handles a call to import `index`. Returns false to make the call trap (the
// callee records why). `args` are raw bits (i32/f32 zero-extended).
using BackendHostFn = std::function<bool(size_t index, const std::vector<uint64_t>& args,
                                         std::vector<uint64_t>* results)>;

class InterpBackend {
 public:
  // Decodes `wasm` (all features crust decodes). nullptr and *error on failure.
  static std::unique_ptr<InterpBackend> Load(const uint8_t* wasm, size_t size, std::string* error);
  virtual ~InterpBackend() = default;

  virtual const std::vector<BackendImport>& imports() const = 0;
  // Instantiates with every import a host function calling `host`.
  // REQUIRES: every import is a function. False and *error on a failure.
  virtual bool Instantiate(BackendHostFn host, std::string* error) = 0;

  // True if export `name` is a function of type (i32) -> i32.
  virtual bool HasI32Func(const std::string& name) const = 0;
  // Calls it. True with *ret on success; false with wabt's trap message.
  virtual bool CallI32(const std::string& name, uint32_t arg, uint32_t* ret, std::string* trap) = 0;

  // Exported global access by name (raw bits). False if absent.
  virtual bool GetGlobal(const std::string& name, uint64_t* bits) const = 0;
  virtual bool SetGlobal(const std::string& name, uint64_t bits) = 0;

  // The instance's first memory (null / 0 if none).
  virtual uint8_t* memory_data() = 0;
  virtual uint64_t memory_size() const = 0;
  virtual bool GrowMemory(uint64_t pages) = 0;
};

}  // namespace crust::engine::internal
