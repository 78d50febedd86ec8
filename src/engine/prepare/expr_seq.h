// Copyright (c) crust authors. Licensed under the MIT license.
//
// Seq: builds a short straight sequence of new wabt instructions for the
// instrumentation passes (instrument.cc, gas_deferral.cc), and the static gas
// charge every pass inserts. Header-only; no state beyond the list it builds.
#pragma once

#include <cstdint>
#include <memory>

#include "src/engine/prepare/module_info.h"
#include "wabt/ir.h"

namespace crust::engine {

inline wabt::Var VarAt(uint32_t index) { return wabt::Var(index, wabt::Location()); }

class Seq {
 public:
  using Opcode = wabt::Opcode;
  Seq& GlobalGet(uint32_t g) { return Add(std::make_unique<wabt::GlobalGetExpr>(VarAt(g))); }
  Seq& GlobalSet(uint32_t g) { return Add(std::make_unique<wabt::GlobalSetExpr>(VarAt(g))); }
  Seq& LocalGet(uint32_t l) { return Add(std::make_unique<wabt::LocalGetExpr>(VarAt(l))); }
  Seq& LocalSet(uint32_t l) { return Add(std::make_unique<wabt::LocalSetExpr>(VarAt(l))); }
  Seq& LocalTee(uint32_t l) { return Add(std::make_unique<wabt::LocalTeeExpr>(VarAt(l))); }
  Seq& I32(uint32_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(v))); }
  Seq& I64(uint64_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::I64(v))); }
  Seq& F32Bits(uint32_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::F32(v))); }
  Seq& F64Bits(uint64_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::F64(v))); }
  Seq& Binary(Opcode op) { return Add(std::make_unique<wabt::BinaryExpr>(op)); }
  Seq& Compare(Opcode op) { return Add(std::make_unique<wabt::CompareExpr>(op)); }
  Seq& Convert(Opcode op) { return Add(std::make_unique<wabt::ConvertExpr>(op)); }
  Seq& Select() { return Add(std::make_unique<wabt::SelectExpr>(wabt::TypeVector{})); }
  Seq& Call(uint32_t f) { return Add(std::make_unique<wabt::CallExpr>(VarAt(f))); }
  // if (cond) { trap_global = kind; unreachable }
  Seq& TrapIf(uint32_t trap_global, InjectedTrap kind) {
    auto e = std::make_unique<wabt::IfExpr>();
    e->true_.exprs.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(static_cast<uint32_t>(kind))));
    e->true_.exprs.push_back(std::make_unique<wabt::GlobalSetExpr>(VarAt(trap_global)));
    e->true_.exprs.push_back(std::make_unique<wabt::UnreachableExpr>());
    return Add(std::move(e));
  }
  wabt::ExprList Take() { return std::move(list_); }

 private:
  Seq& Add(std::unique_ptr<wabt::Expr> e) {
    list_.push_back(std::move(e));
    return *this;
  }
  wabt::ExprList list_;
};

// if (gas < cost) { trap = kOutOfGas; unreachable } gas -= cost
inline wabt::ExprList StaticCharge(uint32_t gas, uint32_t trap, uint64_t cost) {
  Seq s;
  s.GlobalGet(gas).I64(cost).Compare(wabt::Opcode::I64LtU).TrapIf(trap, InjectedTrap::kOutOfGas);
  s.GlobalGet(gas).I64(cost).Binary(wabt::Opcode::I64Sub).GlobalSet(gas);
  return s.Take();
}

}  // namespace crust::engine
