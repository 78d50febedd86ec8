// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/validate.h"

#include <algorithm>
#include <optional>

#include "src/engine/prepare/host_abi.h"
#include "src/engine/prepare/lower64.h"
#include "src/engine/prepare/wabt_util.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/cast.h"
#include "wabt/feature.h"
#include "wabt/ir.h"
#include "wabt/validator.h"

namespace crust::engine {
namespace {

using wabt::ExprType;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status FirstError(const wabt::Errors& errors, std::string_view what) {
  std::string msg(what);
  if (!errors.empty()) {
    msg += ": " + errors.front().message;
    if (errors.front().loc.offset != wabt::kInvalidOffset) {
      msg += " (at byte " + std::to_string(errors.front().loc.offset) + ")";
    }
  }
  return Status::InvalidModule(msg);
}

bool IsV128(wabt::Type t) { return t == wabt::Type::V128; }

bool SigUsesV128(const wabt::FuncSignature& sig) {
  return std::any_of(sig.param_types.begin(), sig.param_types.end(), IsV128) ||
         std::any_of(sig.result_types.begin(), sig.result_types.end(), IsV128);
}

bool OpcodeUsesV128(wabt::Opcode op) {
  return IsV128(op.GetResultType()) || IsV128(op.GetParamType1()) ||
         IsV128(op.GetParamType2()) || IsV128(op.GetParamType3());
}

// The rejected feature an instruction belongs to, or nullptr.
const char* RejectedFeatureOf(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::AtomicLoad: case ExprType::AtomicRmw: case ExprType::AtomicRmwCmpxchg:
    case ExprType::AtomicStore: case ExprType::AtomicNotify: case ExprType::AtomicFence:
    case ExprType::AtomicWait:
      return "threads (atomic instructions)";
    case ExprType::SimdLaneOp: case ExprType::SimdLoadLane: case ExprType::SimdStoreLane:
    case ExprType::SimdShuffleOp: case ExprType::LoadSplat: case ExprType::LoadZero:
      return "SIMD";
    case ExprType::Try: case ExprType::Throw: case ExprType::Rethrow:
      return "exceptions";
    case ExprType::ReturnCall: case ExprType::ReturnCallIndirect:
      return "tail calls";
    case ExprType::CallRef:
      return "typed function references";
    case ExprType::Const:
      return wabt::cast<wabt::ConstExpr>(&e)->const_.type() == wabt::Type::V128 ? "SIMD" : nullptr;
    case ExprType::Unary: case ExprType::Binary: case ExprType::Compare:
    case ExprType::Ternary: case ExprType::Convert:
    case ExprType::Load: case ExprType::Store: {
      wabt::Opcode op = e.type() == ExprType::Load    ? wabt::cast<wabt::LoadExpr>(&e)->opcode
                        : e.type() == ExprType::Store ? wabt::cast<wabt::StoreExpr>(&e)->opcode
                                                      : OpcodeOf(e);
      return op != wabt::Opcode::Invalid && OpcodeUsesV128(op) ? "SIMD" : nullptr;
    }
    case ExprType::Block: case ExprType::Loop: case ExprType::If:
      return SigUsesV128(BlockDeclOf(e).sig) ? "SIMD" : nullptr;
    case ExprType::Select: {
      const auto& types = wabt::cast<wabt::SelectExpr>(&e)->result_type;
      return std::any_of(types.begin(), types.end(), IsV128) ? "SIMD" : nullptr;
    }
    default:
      return nullptr;
  }
}

template <typename T>
std::string OpName(const wabt::Expr& e) {
  return wabt::cast<T>(&e)->opcode.GetName();
}

// The text-format name of an instruction crust rejects.
std::string InstructionName(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::ReturnCall: return "return_call";
    case ExprType::ReturnCallIndirect: return "return_call_indirect";
    case ExprType::Try: return "try";
    case ExprType::Throw: return "throw";
    case ExprType::Rethrow: return "rethrow";
    case ExprType::CallRef: return "call_ref";
    case ExprType::AtomicFence: return "atomic.fence";
    case ExprType::AtomicLoad: return OpName<wabt::AtomicLoadExpr>(e);
    case ExprType::AtomicRmw: return OpName<wabt::AtomicRmwExpr>(e);
    case ExprType::AtomicRmwCmpxchg: return OpName<wabt::AtomicRmwCmpxchgExpr>(e);
    case ExprType::AtomicStore: return OpName<wabt::AtomicStoreExpr>(e);
    case ExprType::AtomicNotify: return OpName<wabt::AtomicNotifyExpr>(e);
    case ExprType::AtomicWait: return OpName<wabt::AtomicWaitExpr>(e);
    case ExprType::LoadSplat: return OpName<wabt::LoadSplatExpr>(e);
    case ExprType::LoadZero: return OpName<wabt::LoadZeroExpr>(e);
    case ExprType::Load: return OpName<wabt::LoadExpr>(e);
    case ExprType::Store: return OpName<wabt::StoreExpr>(e);
    case ExprType::SimdLaneOp: return wabt::cast<wabt::SimdLaneOpExpr>(&e)->opcode.GetName();
    case ExprType::SimdLoadLane: return wabt::cast<wabt::SimdLoadLaneExpr>(&e)->opcode.GetName();
    case ExprType::SimdStoreLane: return wabt::cast<wabt::SimdStoreLaneExpr>(&e)->opcode.GetName();
    case ExprType::SimdShuffleOp: return wabt::cast<wabt::SimdShuffleOpExpr>(&e)->opcode.GetName();
    case ExprType::Const: return "v128.const";
    default: {
      wabt::Opcode op = OpcodeOf(e);
      return op == wabt::Opcode::Invalid ? wabt::GetExprTypeName(e) : op.GetName();
    }
  }
}

// Instructions that change instance state crust does not persist.
const char* InstanceStateChange(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::DataDrop: return "data.drop";
    case ExprType::ElemDrop: return "elem.drop";
    case ExprType::TableSet: return "table.set";
    case ExprType::TableGrow: return "table.grow";
    case ExprType::TableFill: return "table.fill";
    case ExprType::TableCopy: return "table.copy";
    case ExprType::TableInit: return "table.init";
    default: return nullptr;
  }
}

Status CheckModuleLevelFeatures(const wabt::Module& m) {
  if (m.memories.size() > 1) return Status::NotSupported("multi-memory: module has " + std::to_string(m.memories.size()) + " memories");
  for (const wabt::Memory* mem : m.memories) {
    if (mem->page_limits.is_shared) return Status::NotSupported("threads: shared memory");
  }
  if (!m.tags.empty()) return Status::NotSupported("exceptions: module declares tags");
  for (uint32_t i = 0; i < m.globals.size(); ++i) {
    if (IsV128(m.globals[i]->type)) return Status::NotSupported("SIMD: global " + std::to_string(i) + " has type v128");
  }
  for (const wabt::TypeEntry* t : m.types) {
    const auto* ft = wabt::dyn_cast<wabt::FuncType>(t);
    if (ft && SigUsesV128(ft->sig)) return Status::NotSupported("SIMD: a function type uses v128");
  }
  return Status::OK();
}

Status CheckFunctionFeatures(const wabt::Module& m, uint32_t index) {
  const wabt::Func& f = *m.funcs[index];
  for (wabt::Type t : f.local_types) {
    if (IsV128(t)) return Status::NotSupported("SIMD: v128 local in " + DescribeFunction(m, index));
  }
  Status st;
  ForEachExpr(f.exprs, [&](const wabt::Expr& e) {
    if (const char* feature = RejectedFeatureOf(e)) {
      st = Status::NotSupported(std::string(feature) + ": " + InstructionName(e) + " in " +
                                DescribeFunction(m, index));
      return false;
    }
    return true;
  });
  return st;
}

// wabt 1.0.32 accepts an empty offset expression: require one constant
// instruction (t.const or global.get) for every active segment, t being the
// index type (i64 for a 64-bit memory).
bool IsConstExpr(const wabt::ExprList& offset, wabt::Type t) {
  if (offset.size() != 1) return false;
  const wabt::Expr& e = offset.front();
  if (e.type() == ExprType::GlobalGet) return true;  // type checked by wabt
  return e.type() == ExprType::Const && wabt::cast<wabt::ConstExpr>(&e)->const_.type() == t;
}
bool IsI32ConstExpr(const wabt::ExprList& offset) { return IsConstExpr(offset, wabt::Type::I32); }

Status CheckSegmentOffsets(const wabt::Module& m) {
  for (uint32_t i = 0; i < m.data_segments.size(); ++i) {
    const wabt::DataSegment& seg = *m.data_segments[i];
    const bool is64 = m.memories.size() > 0 && m.memories[0]->page_limits.is_64;
    if (seg.kind == wabt::SegmentKind::Active && !IsConstExpr(seg.offset, is64 ? wabt::Type::I64 : wabt::Type::I32)) {
      return Status::InvalidModule("data segment " + std::to_string(i) + ": offset must be one " +
                                   (is64 ? "i64" : "i32") + " constant instruction");
    }
  }
  for (uint32_t i = 0; i < m.elem_segments.size(); ++i) {
    const wabt::ElemSegment& seg = *m.elem_segments[i];
    if (seg.kind == wabt::SegmentKind::Active && !IsI32ConstExpr(seg.offset)) {
      return Status::InvalidModule("element segment " + std::to_string(i) + ": offset must be one i32 constant instruction");
    }
  }
  for (uint32_t i = m.num_global_imports; i < m.globals.size(); ++i) {
    if (m.globals[i]->init_expr.size() != 1) {
      return Status::InvalidModule("global " + std::to_string(i) + ": initialiser must be one constant instruction");
    }
  }
  return Status::OK();
}

Status CheckImports(const wabt::Module& m, ContractFacts* facts) {
  for (const wabt::Import* imp : m.imports) {
    std::string label = "import " + Quote(imp->module_name) + "." + Quote(imp->field_name);
    if (imp->module_name != kHostModule) {
      return Status::InvalidModule(label + ": only module \"env\" may be imported from");
    }
    const auto* fi = wabt::dyn_cast<wabt::FuncImport>(imp);
    if (!fi) return Status::InvalidModule(label + ": only functions may be imported");
    const HostFunctionSpec* spec = FindHostFunction(imp->field_name);
    if (!spec) return Status::InvalidModule(label + ": no such host function");
    std::optional<Signature> sig = ToSignature(fi->func.decl.sig);
    const std::span<const ValType> params = HostParams(*spec, HasMemory64(m));
    if (!sig || !std::equal(sig->params.begin(), sig->params.end(), params.begin(), params.end()) ||
        !std::equal(sig->results.begin(), sig->results.end(), spec->results.begin(), spec->results.end())) {
      return Status::InvalidModule(label + ": signature " + SignatureText(fi->func.decl.sig) +
                                   " does not match the host function's " +
                                   SignatureString(params, spec->results) +
                                   (HasMemory64(m) ? " (64-bit form: the module's memory is 64-bit)" : ""));
    }
    facts->host_imports.push_back(imp->field_name);
  }
  return Status::OK();
}

Status CheckMemory(const wabt::Module& m) {
  if (m.memories.empty()) return Status::InvalidModule("module has no memory (must define and export \"memory\")");
  const wabt::Export* e = m.GetExport("memory");
  if (!e || e->kind != wabt::ExternalKind::Memory) {
    return Status::InvalidModule("memory must be exported as \"memory\"");
  }
  return Status::OK();
}

Status CheckArgBuffer(const wabt::Module& m, ContractFacts* facts) {
  const wabt::Export* e = m.GetExport("A");
  // i64 when the memory is 64-bit (memory64), as piecrust reads it.
  const bool is64 = HasMemory64(m);
  const char* type = is64 ? "i64" : "i32";
  if (!e || e->kind != wabt::ExternalKind::Global) {
    return Status::InvalidModule(std::string("missing export \"A\" (") + type +
                                 " global: address of the 64 KiB argument buffer)");
  }
  const wabt::Global* g = m.GetGlobal(e->var);
  if (g->type != (is64 ? wabt::Type::I64 : wabt::Type::I32) || g->mutable_) {
    return Status::InvalidModule(std::string("export \"A\" must be an immutable ") + type + " global" +
                                 (is64 ? " (the module's memory is 64-bit)" : ""));
  }
  std::optional<uint64_t> value = ConstInitValue(g->init_expr);
  if (!value) return Status::InvalidModule("export \"A\" must have a constant initialiser");
  const uint64_t memory_bytes = m.memories[0]->page_limits.initial * kWasmPageSize;
  if (*value + kArgBufferSize > memory_bytes) {
    return Status::InvalidModule("argument buffer A=" + std::to_string(*value) +
                                 " (64 KiB) does not fit in the initial memory of " +
                                 std::to_string(memory_bytes) + " bytes");
  }
  facts->arg_buffer = static_cast<uint32_t>(*value);
  return Status::OK();
}

Status CheckFunctionExports(const wabt::Module& m, ContractFacts* facts) {
  for (const wabt::Export* e : m.exports) {
    if (e->kind != wabt::ExternalKind::Func) continue;
    const uint32_t index = m.GetFuncIndex(e->var);
    if (index < m.num_func_imports) {
      return Status::InvalidModule("export " + Quote(e->name) + " re-exports an imported function");
    }
    const wabt::FuncSignature& sig = m.funcs[index]->decl.sig;
    if (sig.param_types != wabt::TypeVector{wabt::Type::I32} ||
        sig.result_types != wabt::TypeVector{wabt::Type::I32}) {
      return Status::InvalidModule("export " + Quote(e->name) + " has type " + SignatureText(sig) +
                                   "; exported functions must be (i32) -> (i32)");
    }
    if (e->name == "init") {
      facts->has_init = true;
    } else {
      facts->functions.push_back(e->name);
    }
  }
  std::sort(facts->functions.begin(), facts->functions.end());
  return Status::OK();
}

Status CheckInstanceState(const wabt::Module& m) {
  if (!m.starts.empty()) {
    return Status::NotSupported("start function (it would run on every instantiation; export \"init\" instead)");
  }
  for (uint32_t i = 0; i < m.globals.size(); ++i) {
    const wabt::Global& g = *m.globals[i];
    if (g.mutable_ && !ToValType(g.type)) {
      return Status::NotSupported("mutable global " + std::to_string(i) + " of reference type cannot be persisted");
    }
  }
  for (uint32_t i = m.num_func_imports; i < m.funcs.size(); ++i) {
    Status st;
    ForEachExpr(m.funcs[i]->exprs, [&](const wabt::Expr& e) {
      if (const char* what = InstanceStateChange(e)) {
        st = Status::NotSupported(std::string(what) + " in " + DescribeFunction(m, i) +
                                  ": changes instance state that crust does not persist");
        return false;
      }
      return true;
    });
    RETURN_IF_ERROR(st);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<wabt::Module>> DecodeModule(ByteView wasm) {
  auto module = std::make_unique<wabt::Module>();
  wabt::Errors errors;
  // wabt 1.0.32 cannot decode 64-bit tables: lowered to 32-bit (lower64.h).
  ASSIGN_OR_RETURN(std::optional<Table64Rewrite> table64, RewriteTable64Limits(wasm));
  if (table64) wasm = table64->wasm;
  wabt::ReadBinaryOptions options(DecodeFeatures(), nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true,
                                  /*fail_on_custom_section_error=*/true);
  if (wabt::Failed(wabt::ReadBinaryIr("module.wasm", wasm.data(), wasm.size(), options, &errors,
                                      module.get()))) {
    return FirstError(errors, "malformed module");
  }
  if (table64) RETURN_IF_ERROR(LowerTable64(module.get(), table64->tables));
  wabt::ValidateOptions validate(DecodeFeatures());
  if (wabt::Failed(wabt::ValidateModule(module.get(), &errors, validate))) {
    return FirstError(errors, "invalid module");
  }
  return module;
}

Status CheckFeatures(const wabt::Module& m) {
  RETURN_IF_ERROR(CheckSegmentOffsets(m));
  RETURN_IF_ERROR(CheckModuleLevelFeatures(m));
  for (const wabt::Import* imp : m.imports) {
    if (imp->kind() == wabt::ExternalKind::Tag) return Status::NotSupported("exceptions: imported tag");
    if (const auto* fi = wabt::dyn_cast<wabt::FuncImport>(imp); fi && SigUsesV128(fi->func.decl.sig)) {
      return Status::NotSupported("SIMD: imported function uses v128");
    }
  }
  for (uint32_t i = m.num_func_imports; i < m.funcs.size(); ++i) {
    RETURN_IF_ERROR(CheckFunctionFeatures(m, i));
  }
  for (const wabt::Export* e : m.exports) {
    if (e->name.starts_with(kReservedExportPrefix)) {
      return Status::InvalidModule("export " + Quote(e->name) + ": names starting with \"__crust_\" are reserved");
    }
  }
  return Status::OK();
}

Result<ContractFacts> CheckContractAbi(const wabt::Module& m) {
  ContractFacts facts;
  RETURN_IF_ERROR(CheckImports(m, &facts));
  RETURN_IF_ERROR(CheckMemory(m));
  RETURN_IF_ERROR(CheckArgBuffer(m, &facts));
  RETURN_IF_ERROR(CheckFunctionExports(m, &facts));
  RETURN_IF_ERROR(CheckInstanceState(m));
  return facts;
}

std::string DescribeFunction(const wabt::Module& m, uint32_t func_index) {
  std::string s = "function " + std::to_string(func_index);
  if (func_index < m.num_func_imports) {
    for (const wabt::Import* imp : m.imports) {
      if (imp->kind() == wabt::ExternalKind::Func &&
          &wabt::cast<wabt::FuncImport>(imp)->func == m.funcs[func_index]) {
        return s + " (import " + Quote(imp->module_name) + "." + Quote(imp->field_name) + ")";
      }
    }
    return s;
  }
  for (const wabt::Export* e : m.exports) {
    if (e->kind == wabt::ExternalKind::Func && m.GetFuncIndex(e->var) == func_index) {
      return s + " (export " + Quote(e->name) + ")";
    }
  }
  return s;
}

}  // namespace crust::engine
