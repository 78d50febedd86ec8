// Copyright (c) crust authors. Licensed under the MIT license.
//
// Small helpers over wabt's IR shared by validate, instrument and prepare:
// type conversion, signature text, constant initialisers and a read-only
// walk over nested expression lists. Internal to the engine layer.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/engine/module_info.h"
#include "wabt/cast.h"
#include "wabt/ir.h"

namespace crust::engine {

std::optional<ValType> ToValType(wabt::Type t);

struct Signature {
  std::vector<ValType> params;
  std::vector<ValType> results;
};
// nullopt when a type is not a number type (v128, references).
std::optional<Signature> ToSignature(const wabt::FuncSignature& sig);
// "(i32, i32) -> (i32)" using wabt's type names.
std::string SignatureText(const wabt::FuncSignature& sig);

// The value of an init expression that is a single i32/i64/f32/f64 const
// (bits; i32/f32 zero-extended), or nullopt.
std::optional<uint64_t> ConstInitValue(const wabt::ExprList& init);

// The opcode of a Unary/Binary/Compare/Convert/Ternary expression.
wabt::Opcode OpcodeOf(const wabt::Expr& e);
// The block declaration of a Block, Loop or If expression.
const wabt::BlockDeclaration& BlockDeclOf(const wabt::Expr& e);

// Calls fn(expr) for every expression in `list`, depth first in order,
// including the bodies of block, loop, if/else and try/catch. Stops when fn
// returns false; returns false if it stopped early.
template <typename Fn>
bool ForEachExpr(const wabt::ExprList& list, Fn&& fn) {
  for (const wabt::Expr& e : list) {
    if (!fn(e)) return false;
    switch (e.type()) {
      case wabt::ExprType::Block:
        if (!ForEachExpr(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, fn)) return false;
        break;
      case wabt::ExprType::Loop:
        if (!ForEachExpr(wabt::cast<wabt::LoopExpr>(&e)->block.exprs, fn)) return false;
        break;
      case wabt::ExprType::If: {
        const auto* i = wabt::cast<wabt::IfExpr>(&e);
        if (!ForEachExpr(i->true_.exprs, fn) || !ForEachExpr(i->false_, fn)) return false;
        break;
      }
      case wabt::ExprType::Try: {
        const auto* t = wabt::cast<wabt::TryExpr>(&e);
        if (!ForEachExpr(t->block.exprs, fn)) return false;
        for (const wabt::Catch& c : t->catches) {
          if (!ForEachExpr(c.exprs, fn)) return false;
        }
        break;
      }
      default:
        break;
    }
  }
  return true;
}

}  // namespace crust::engine
