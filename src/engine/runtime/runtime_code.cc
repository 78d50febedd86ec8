// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/runtime_code.h"

#include "src/engine/runtime/runtime_api.h"

namespace crust::engine {

Result<std::shared_ptr<const Code>> Code::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SharedObject> so, SharedObject::Open(path));
  auto entry = so->Symbol(CRUST_MODULE_ENTRY);
  if (!entry.ok()) return Status::Corruption(path + ": not a crust module (no " CRUST_MODULE_ENTRY ")");
  const crust_module_desc* desc = reinterpret_cast<crust_module_entry_fn>(entry.value())();
  if (desc == nullptr || desc->abi_version != CRUST_RT_ABI_VERSION) {
    return Status::Corruption(path + ": runtime ABI version mismatch");
  }
  // Each object has its own service slot and init; one Load per object.
  *desc->rt = rt::RuntimeApi();
  desc->init_module();
  return std::shared_ptr<const Code>(new Code(std::move(so), desc));
}

Code::Code(std::unique_ptr<SharedObject> so, const crust_module_desc* desc) : so_(std::move(so)), desc_(desc) {
  for (uint32_t i = 0; i < desc_->num_exports; ++i) {
    const crust_export_desc& e = desc_->exports[i];
    exports_.emplace(std::string_view(e.name, e.name_len), &e);
  }
}

const crust_export_desc* Code::FindExport(std::string_view name) const {
  auto it = exports_.find(name);
  return it == exports_.end() ? nullptr : it->second;
}

}  // namespace crust::engine
