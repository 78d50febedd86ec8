// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/wabt_util.h"

namespace crust::engine {

std::optional<ValType> ToValType(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32: return ValType::kI32;
    case wabt::Type::I64: return ValType::kI64;
    case wabt::Type::F32: return ValType::kF32;
    case wabt::Type::F64: return ValType::kF64;
    default: return std::nullopt;
  }
}

std::optional<Signature> ToSignature(const wabt::FuncSignature& sig) {
  Signature out;
  for (wabt::Type t : sig.param_types) {
    std::optional<ValType> v = ToValType(t);
    if (!v) return std::nullopt;
    out.params.push_back(*v);
  }
  for (wabt::Type t : sig.result_types) {
    std::optional<ValType> v = ToValType(t);
    if (!v) return std::nullopt;
    out.results.push_back(*v);
  }
  return out;
}

std::string SignatureText(const wabt::FuncSignature& sig) {
  auto list = [](const wabt::TypeVector& types) {
    std::string s = "(";
    for (size_t i = 0; i < types.size(); ++i) {
      if (i) s += ", ";
      s += types[i].GetName();
    }
    return s + ")";
  };
  return list(sig.param_types) + " -> " + list(sig.result_types);
}

std::optional<uint64_t> ConstInitValue(const wabt::ExprList& init) {
  if (init.size() != 1 || init.front().type() != wabt::ExprType::Const) return std::nullopt;
  const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&init.front())->const_;
  switch (c.type()) {
    case wabt::Type::I32: return c.u32();
    case wabt::Type::I64: return c.u64();
    case wabt::Type::F32: return c.f32_bits();
    case wabt::Type::F64: return c.f64_bits();
    default: return std::nullopt;
  }
}

wabt::Opcode OpcodeOf(const wabt::Expr& e) {
  switch (e.type()) {
    case wabt::ExprType::Unary: return wabt::cast<wabt::UnaryExpr>(&e)->opcode;
    case wabt::ExprType::Binary: return wabt::cast<wabt::BinaryExpr>(&e)->opcode;
    case wabt::ExprType::Compare: return wabt::cast<wabt::CompareExpr>(&e)->opcode;
    case wabt::ExprType::Convert: return wabt::cast<wabt::ConvertExpr>(&e)->opcode;
    case wabt::ExprType::Ternary: return wabt::cast<wabt::TernaryExpr>(&e)->opcode;
    default: return wabt::Opcode::Invalid;
  }
}

const wabt::BlockDeclaration& BlockDeclOf(const wabt::Expr& e) {
  switch (e.type()) {
    case wabt::ExprType::Loop: return wabt::cast<wabt::LoopExpr>(&e)->block.decl;
    case wabt::ExprType::If: return wabt::cast<wabt::IfExpr>(&e)->true_.decl;
    default: return wabt::cast<wabt::BlockExpr>(&e)->block.decl;
  }
}

}  // namespace crust::engine
