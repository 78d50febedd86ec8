// Copyright (c) crust authors. Licensed under the MIT license.
#include "crust/module_check.h"

#include <algorithm>

#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/validate.h"
#include "wabt/ir.h"

namespace crust {

Result<ModuleCheck> CheckModule(ByteView wasm, uint32_t max_memory_pages) {
  ASSIGN_OR_RETURN(engine::PreparedModule prepared, engine::PrepareModule(wasm));
  ModuleCheck check;
  check.size = wasm.size();
  check.functions = prepared.functions;
  check.has_init = prepared.has_init;
  check.imports = prepared.host_imports;
  check.arg_buffer = prepared.arg_buffer;
  if (prepared.memory) {
    check.initial_pages = prepared.memory->initial_pages;
    check.max_pages = prepared.memory->max_pages;
  }
  if (check.initial_pages > max_memory_pages) {
    return Status::ResourceExhausted("initial memory of " + std::to_string(check.initial_pages) +
                                     " pages exceeds the limit of " + std::to_string(max_memory_pages) + " pages");
  }
  return check;
}

Result<std::vector<std::string>> ModuleFunctions(ByteView stored_bytecode) {
  ASSIGN_OR_RETURN(std::unique_ptr<wabt::Module> m, engine::DecodeModule(stored_bytecode));
  std::vector<std::string> functions;
  for (const wabt::Export* e : m->exports) {
    if (e->kind != wabt::ExternalKind::Func || e->name == "init") continue;
    const uint32_t index = m->GetFuncIndex(e->var);
    if (index >= m->funcs.size()) continue;
    const wabt::FuncSignature& sig = m->funcs[index]->decl.sig;
    if (sig.param_types == wabt::TypeVector{wabt::Type::I32} && sig.result_types == wabt::TypeVector{wabt::Type::I32}) {
      functions.push_back(e->name);
    }
  }
  std::sort(functions.begin(), functions.end());
  return functions;
}

}  // namespace crust
