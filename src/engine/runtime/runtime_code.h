// Copyright (c) crust authors. Licensed under the MIT license.
//
// Code: one compiled module loaded into the process (a dlopen'ed shared
// object and its crust_module_desc). Instances share it; it is unloaded when
// the last reference goes. CodeCache (code_cache.h) is the usual way to get
// one: it loads each code hash once.
//
// Thread-safety: immutable after Load; share freely.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crust/status.h"
#include "src/engine/compile/compiler_process.h"
#include "src/engine/runtime/wasm_rt_abi.h"

namespace crust::engine {

class Code {
 public:
  // Loads the object at `path`, checks its ABI version, installs the runtime
  // services and runs the module's one-time init. Corruption if the file is
  // not a loadable crust object.
  static Result<std::shared_ptr<const Code>> Load(const std::string& path);

  Code(const Code&) = delete;
  Code& operator=(const Code&) = delete;

  const crust_module_desc& desc() const { return *desc_; }
  // The export named `name`, or nullptr.
  const crust_export_desc* FindExport(std::string_view name) const;

 private:
  Code(std::unique_ptr<SharedObject> so, const crust_module_desc* desc);

  const std::unique_ptr<SharedObject> so_;
  const crust_module_desc* const desc_;
  std::unordered_map<std::string_view, const crust_export_desc*> exports_;
};

}  // namespace crust::engine
