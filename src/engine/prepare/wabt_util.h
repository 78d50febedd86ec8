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

#include "src/engine/prepare/module_info.h"
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
// returns false; returns false if it stopped early. Iterative: the module
// controls the nesting depth, so the walk keeps its own stack on the heap.
template <typename Fn>
bool ForEachExpr(const wabt::ExprList& list, Fn&& fn) {
  struct Frame {
    wabt::ExprList::const_iterator it, end;
  };
  std::vector<Frame> stack{{list.begin(), list.end()}};
  while (!stack.empty()) {
    if (stack.back().it == stack.back().end) {
      stack.pop_back();
      continue;
    }
    const wabt::Expr& e = *stack.back().it++;
    if (!fn(e)) return false;
    // Children are pushed last-first so the first list is walked first.
    auto push = [&](const wabt::ExprList& l) { stack.push_back({l.begin(), l.end()}); };
    switch (e.type()) {
      case wabt::ExprType::Block:
        push(wabt::cast<wabt::BlockExpr>(&e)->block.exprs);
        break;
      case wabt::ExprType::Loop:
        push(wabt::cast<wabt::LoopExpr>(&e)->block.exprs);
        break;
      case wabt::ExprType::If: {
        const auto* i = wabt::cast<wabt::IfExpr>(&e);
        push(i->false_);
        push(i->true_.exprs);
        break;
      }
      case wabt::ExprType::Try: {
        const auto* t = wabt::cast<wabt::TryExpr>(&e);
        for (auto c = t->catches.rbegin(); c != t->catches.rend(); ++c) push(c->exprs);
        push(t->block.exprs);
        break;
      }
      default:
        break;
    }
  }
  return true;
}

}  // namespace crust::engine
