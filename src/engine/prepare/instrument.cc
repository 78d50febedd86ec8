// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/instrument.h"

#include <memory>
#include <string>

#include "src/engine/prepare/lower64.h"
#include "src/engine/prepare/wabt_util.h"
#include "wabt/cast.h"
#include "wabt/ir.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;
using ExprPtr = std::unique_ptr<wabt::Expr>;

constexpr uint32_t kCanonicalNan32 = 0x7fc00000u;
constexpr uint64_t kCanonicalNan64 = 0x7ff8000000000000ull;

wabt::Var V(uint32_t index) { return wabt::Var(index, wabt::Location()); }

// A short straight sequence of new instructions.
class Seq {
 public:
  Seq& GlobalGet(uint32_t g) { return Add(std::make_unique<wabt::GlobalGetExpr>(V(g))); }
  Seq& GlobalSet(uint32_t g) { return Add(std::make_unique<wabt::GlobalSetExpr>(V(g))); }
  Seq& LocalGet(uint32_t l) { return Add(std::make_unique<wabt::LocalGetExpr>(V(l))); }
  Seq& LocalSet(uint32_t l) { return Add(std::make_unique<wabt::LocalSetExpr>(V(l))); }
  Seq& LocalTee(uint32_t l) { return Add(std::make_unique<wabt::LocalTeeExpr>(V(l))); }
  Seq& I32(uint32_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(v))); }
  Seq& I64(uint64_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::I64(v))); }
  Seq& F32Bits(uint32_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::F32(v))); }
  Seq& F64Bits(uint64_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::F64(v))); }
  Seq& Binary(Opcode op) { return Add(std::make_unique<wabt::BinaryExpr>(op)); }
  Seq& Compare(Opcode op) { return Add(std::make_unique<wabt::CompareExpr>(op)); }
  Seq& Convert(Opcode op) { return Add(std::make_unique<wabt::ConvertExpr>(op)); }
  Seq& Select() { return Add(std::make_unique<wabt::SelectExpr>(wabt::TypeVector{})); }
  Seq& Call(uint32_t f) { return Add(std::make_unique<wabt::CallExpr>(V(f))); }
  // if (cond) { trap_global = kind; unreachable }
  Seq& TrapIf(uint32_t trap_global, InjectedTrap kind) {
    auto e = std::make_unique<wabt::IfExpr>();
    e->true_.exprs.push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(static_cast<uint32_t>(kind))));
    e->true_.exprs.push_back(std::make_unique<wabt::GlobalSetExpr>(V(trap_global)));
    e->true_.exprs.push_back(std::make_unique<wabt::UnreachableExpr>());
    return Add(std::move(e));
  }
  wabt::ExprList Take() { return std::move(list_); }

 private:
  Seq& Add(ExprPtr e) {
    list_.push_back(std::move(e));
    return *this;
  }
  wabt::ExprList list_;
};

bool MayProduceArithmeticNan(Opcode op) {
  switch (op) {
    case Opcode::F32Add: case Opcode::F32Sub: case Opcode::F32Mul: case Opcode::F32Div:
    case Opcode::F32Sqrt: case Opcode::F32Min: case Opcode::F32Max: case Opcode::F32Ceil:
    case Opcode::F32Floor: case Opcode::F32Trunc: case Opcode::F32Nearest:
    case Opcode::F32DemoteF64:
    case Opcode::F64Add: case Opcode::F64Sub: case Opcode::F64Mul: case Opcode::F64Div:
    case Opcode::F64Sqrt: case Opcode::F64Min: case Opcode::F64Max: case Opcode::F64Ceil:
    case Opcode::F64Floor: case Opcode::F64Trunc: case Opcode::F64Nearest:
    case Opcode::F64PromoteF32:
      return true;
    default:
      return false;
  }
}

bool IsSegmentEnd(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::Br: case ExprType::BrIf: case ExprType::BrTable: case ExprType::Return:
    case ExprType::Unreachable: case ExprType::Block: case ExprType::Loop: case ExprType::If:
      return true;
    default:
      return false;
  }
}

// (multiplier, shift) of the dynamic cost of an instruction whose length
// operand is on top of the stack, or multiplier 0 if it has none.
std::pair<uint64_t, uint32_t> DynamicCost(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::MemoryGrow: return {kCostMemoryGrowPerPage, 0};
    case ExprType::MemoryFill: case ExprType::MemoryCopy: case ExprType::MemoryInit:
      return {1, kCostBulkByteShift};
    case ExprType::TableGrow: case ExprType::TableFill: case ExprType::TableCopy:
    case ExprType::TableInit:
      return {1, 0};
    default:
      return {0, 0};
  }
}

uint32_t FindOrAddFuncType(wabt::Module* m, const wabt::TypeVector& params, const wabt::TypeVector& results) {
  for (uint32_t i = 0; i < m->types.size(); ++i) {
    const auto* ft = wabt::dyn_cast<wabt::FuncType>(m->types[i]);
    if (ft && ft->sig.param_types == params && ft->sig.result_types == results) return i;
  }
  auto field = std::make_unique<wabt::TypeModuleField>();
  auto type = std::make_unique<wabt::FuncType>();
  type->sig.param_types = params;
  type->sig.result_types = results;
  field->type = std::move(type);
  m->AppendField(std::move(field));
  return static_cast<uint32_t>(m->types.size() - 1);
}

uint32_t AddGlobal(wabt::Module* m, wabt::Type type, std::string_view export_name) {
  auto field = std::make_unique<wabt::GlobalModuleField>();
  field->global.type = type;
  field->global.mutable_ = true;
  field->global.init_expr.push_back(std::make_unique<wabt::ConstExpr>(
      type == wabt::Type::I64 ? wabt::Const::I64(0) : wabt::Const::I32(0)));
  m->AppendField(std::move(field));
  const uint32_t index = static_cast<uint32_t>(m->globals.size() - 1);
  auto exp = std::make_unique<wabt::ExportModuleField>();
  exp->export_.name = std::string(export_name);
  exp->export_.kind = wabt::ExternalKind::Global;
  exp->export_.var = V(index);
  m->AppendField(std::move(exp));
  return index;
}

class Instrumenter {
 public:
  explicit Instrumenter(wabt::Module* m) : m_(m) {}

  Status Run() {
    const uint32_t first = m_->num_func_imports;
    const uint32_t end = static_cast<uint32_t>(m_->funcs.size());
    gas_ = AddGlobal(m_, wabt::Type::I64, kGasGlobal);
    depth_ = AddGlobal(m_, wabt::Type::I32, kDepthGlobal);
    trap_ = AddGlobal(m_, wabt::Type::I32, kTrapGlobal);
    charge_n_ = AddChargeHelper();
    if (HasMemory64(*m_)) charge_n64_ = AddChargeHelper64();
    for (uint32_t i = first; i < end; ++i) InstrumentFunction(m_->funcs[i]);
    return Status::OK();
  }

 private:
  // (n: i32, mul: i64, shift: i32) -> i32: charges (n * mul) >> shift, returns n.
  uint32_t AddChargeHelper() {
    Seq s;
    s.LocalGet(0).Convert(Opcode::I64ExtendI32U).LocalGet(1).Binary(Opcode::I64Mul);
    return AddChargeFunction(wabt::Type::I32, std::move(s));
  }

  // (n: i64, mul: i64, shift: i32) -> i64, for the i64 lengths of a 64-bit
  // memory: charges like the i32 helper for min(n, 2^32-1) (the length
  // LowerMemory64 passes on), returns n.
  uint32_t AddChargeHelper64() {
    Seq s;
    s.LocalGet(0).I64(0xffffffffu).LocalGet(0).I64(0xffffffffu).Compare(Opcode::I64LeU).Select();
    s.LocalGet(1).Binary(Opcode::I64Mul);
    return AddChargeFunction(wabt::Type::I64, std::move(s));
  }

  // The helper (n: len_type, mul: i64, shift: i32) -> len_type whose body is
  // `product` (leaving n' * mul as an i64), then: cost = product >> shift;
  // out of gas if gas < cost; gas -= cost; return n.
  uint32_t AddChargeFunction(wabt::Type len_type, Seq product) {
    using T = wabt::Type;
    const uint32_t type = FindOrAddFuncType(m_, {len_type, T::I64, T::I32}, {len_type});
    auto field = std::make_unique<wabt::FuncModuleField>();
    wabt::Func& f = field->func;
    f.decl.has_func_type = true;
    f.decl.type_var = V(type);
    f.decl.sig = wabt::cast<wabt::FuncType>(m_->types[type])->sig;
    f.local_types.AppendDecl(T::I64, 1);  // local 3: the cost
    Seq& s = product;
    s.LocalGet(2).Convert(Opcode::I64ExtendI32U).Binary(Opcode::I64ShrU).LocalSet(3);
    s.GlobalGet(gas_).LocalGet(3).Compare(Opcode::I64LtU).TrapIf(trap_, InjectedTrap::kOutOfGas);
    s.GlobalGet(gas_).LocalGet(3).Binary(Opcode::I64Sub).GlobalSet(gas_);
    s.LocalGet(0);
    f.exprs = s.Take();
    m_->AppendField(std::move(field));
    return static_cast<uint32_t>(m_->funcs.size() - 1);
  }

  void InstrumentFunction(wabt::Func* f) {
    func_ = f;
    nan_local_f32_ = nan_local_f64_ = kNone;
    ProcessList(&f->exprs, false);
    WrapBody(f);
  }

  // Entry check, body wrapped in a block of the function's result type (so
  // branches to the function label land before the exit bookkeeping), exit.
  void WrapBody(wabt::Func* f) {
    auto wrapper = std::make_unique<wabt::BlockExpr>();
    const wabt::TypeVector& results = f->decl.sig.result_types;
    if (results.size() > 1) {
      const uint32_t type = FindOrAddFuncType(m_, {}, results);
      wrapper->block.decl.has_func_type = true;
      wrapper->block.decl.type_var = V(type);
    }
    wrapper->block.decl.sig.result_types = results;
    wrapper->block.exprs = std::move(f->exprs);

    Seq s;
    s.GlobalGet(depth_).Convert(Opcode::I32Eqz).TrapIf(trap_, InjectedTrap::kCallDepth);
    s.GlobalGet(depth_).I32(1).Binary(Opcode::I32Sub).GlobalSet(depth_);
    wabt::ExprList body = s.Take();
    body.push_back(std::move(wrapper));
    wabt::ExprList exit = DepthRelease();
    body.splice(body.end(), exit);
    f->exprs = std::move(body);
  }

  wabt::ExprList DepthRelease() {
    Seq s;
    s.GlobalGet(depth_).I32(1).Binary(Opcode::I32Add).GlobalSet(depth_);
    return s.Take();
  }

  wabt::ExprList StaticCharge(uint64_t cost) {
    Seq s;
    s.GlobalGet(gas_).I64(cost).Compare(Opcode::I64LtU).TrapIf(trap_, InjectedTrap::kOutOfGas);
    s.GlobalGet(gas_).I64(cost).Binary(Opcode::I64Sub).GlobalSet(gas_);
    return s.Take();
  }

  uint32_t ScratchLocal(wabt::Type type) {
    uint32_t& slot = type == wabt::Type::F32 ? nan_local_f32_ : nan_local_f64_;
    if (slot == kNone) {
      slot = func_->GetNumParamsAndLocals();
      func_->local_types.AppendDecl(type, 1);
    }
    return slot;
  }

  // x -> select(x, canonical NaN, x == x)
  wabt::ExprList Canonicalize(wabt::Type type) {
    const uint32_t t = ScratchLocal(type);
    Seq s;
    s.LocalTee(t);
    if (type == wabt::Type::F32) {
      s.F32Bits(kCanonicalNan32).LocalGet(t).LocalGet(t).Compare(Opcode::F32Eq);
    } else {
      s.F64Bits(kCanonicalNan64).LocalGet(t).LocalGet(t).Compare(Opcode::F64Eq);
    }
    s.Select();
    return s.Take();
  }

  // Instruments one expression list; recurses into nested bodies. With
  // `head_to_caller` (the body of a `block`, entered straight from the
  // enclosing segment) the first segment gets no charge of its own: its cost
  // is returned and the caller adds it to the segment that holds the
  // `block`. Returns 0 otherwise.
  uint64_t ProcessList(wabt::ExprList* list, bool head_to_caller) {
    auto segment_start = list->begin();
    uint64_t cost = 0, head = 0;
    bool fresh = true;   // no original instruction in the current segment yet
    bool first = true;   // still in the list's first segment
    for (auto it = list->begin(); it != list->end();) {
      wabt::Expr& e = *it;
      if (!IsLoweringArtifact(e)) cost += CostOf(e);
      cost += ProcessNested(&e);
      auto first_inserted = InsertBefore(list, it, &e);
      if (fresh) segment_start = first_inserted;
      fresh = false;
      auto next = std::next(it);
      InsertAfter(list, next, e);
      if (IsSegmentEnd(e)) {
        if (first && head_to_caller) {
          head = cost;
        } else {
          InsertCharge(list, segment_start, cost);
        }
        first = false;
        segment_start = next;
        cost = 0;
        fresh = true;
      }
      it = next;
    }
    if (first && head_to_caller) return cost;
    InsertCharge(list, segment_start, cost);
    return head;
  }

  // Instruments the bodies nested in `e`; returns the cost of the first
  // segment of a `block`'s body, which belongs to the enclosing segment.
  uint64_t ProcessNested(wabt::Expr* e) {
    switch (e->type()) {
      case ExprType::Block: return ProcessList(&wabt::cast<wabt::BlockExpr>(e)->block.exprs, true);
      case ExprType::Loop: ProcessList(&wabt::cast<wabt::LoopExpr>(e)->block.exprs, false); return 0;
      case ExprType::If: {
        auto* i = wabt::cast<wabt::IfExpr>(e);
        ProcessList(&i->true_.exprs, false);
        ProcessList(&i->false_, false);
        return 0;
      }
      default:
        return 0;
    }
  }

  // Inserts what must run before `e` (dynamic charge, depth release before
  // return); returns an iterator to the first instruction now preceding-or-at e.
  wabt::ExprList::iterator InsertBefore(wabt::ExprList* list, wabt::ExprList::iterator it, wabt::Expr* e) {
    wabt::ExprList pre;
    if (e->type() == ExprType::Return) pre = DepthRelease();
    auto [mul, shift] = DynamicCost(*e);
    if (mul != 0) {
      Seq s;
      // memory.grow/fill/copy take an i64 length on a 64-bit memory.
      const bool len64 = charge_n64_ != kNone && (e->type() == ExprType::MemoryGrow ||
                                                  e->type() == ExprType::MemoryFill ||
                                                  e->type() == ExprType::MemoryCopy);
      s.I64(mul).I32(shift).Call(len64 ? charge_n64_ : charge_n_);
      pre = s.Take();
    }
    if (pre.empty()) return it;
    wabt::ExprList::iterator first = list->insert(it, pre.extract_front());
    list->splice(it, pre);
    return first;
  }

  void InsertAfter(wabt::ExprList* list, wabt::ExprList::iterator next, const wabt::Expr& e) {
    wabt::Opcode op = OpcodeOf(e);
    if (op == Opcode::Invalid || !MayProduceArithmeticNan(op)) return;
    wabt::ExprList canon = Canonicalize(op.GetResultType());
    list->splice(next, canon);
  }

  void InsertCharge(wabt::ExprList* list, wabt::ExprList::iterator pos, uint64_t cost) {
    if (cost == 0) return;
    wabt::ExprList charge = StaticCharge(cost);
    list->splice(pos, charge);
  }

  static constexpr uint32_t kNone = ~0u;
  wabt::Module* const m_;
  uint32_t gas_ = 0, depth_ = 0, trap_ = 0, charge_n_ = 0, charge_n64_ = kNone;
  wabt::Func* func_ = nullptr;
  uint32_t nan_local_f32_ = kNone, nan_local_f64_ = kNone;
};

}  // namespace

uint64_t CostOf(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::Load: case ExprType::Store:
      return kCostMemoryAccess;
    case ExprType::Call:
      return kCostCall;
    case ExprType::CallIndirect:
      return kCostCallIndirect;
    case ExprType::MemoryGrow:
      return kCostMemoryGrow;
    case ExprType::MemoryFill: case ExprType::MemoryCopy: case ExprType::MemoryInit:
      return kCostBulk;
    case ExprType::TableGrow: case ExprType::TableFill: case ExprType::TableCopy:
    case ExprType::TableInit:
      return kCostTableBulk;
    case ExprType::Binary:
      switch (OpcodeOf(e)) {
        case Opcode::I32DivS: case Opcode::I32DivU: case Opcode::I32RemS: case Opcode::I32RemU:
        case Opcode::I64DivS: case Opcode::I64DivU: case Opcode::I64RemS: case Opcode::I64RemU:
        case Opcode::F32Div: case Opcode::F64Div:
          return kCostDivide;
        default:
          return kCostDefault;
      }
    case ExprType::Unary:
      switch (OpcodeOf(e)) {
        case Opcode::F32Sqrt: case Opcode::F64Sqrt: return kCostDivide;
        default: return kCostDefault;
      }
    default:
      return kCostDefault;
  }
}

std::vector<StateGlobal> ExportStateGlobals(wabt::Module* m) {
  std::vector<StateGlobal> out;
  for (uint32_t i = m->num_global_imports; i < m->globals.size(); ++i) {
    const wabt::Global& g = *m->globals[i];
    std::optional<ValType> type = ToValType(g.type);
    if (!g.mutable_ || !type) continue;
    StateGlobal sg;
    sg.index = i;
    sg.type = *type;
    std::optional<uint64_t> initial = ConstInitValue(g.init_expr);
    sg.initial = initial.value_or(0);
    sg.initial_known = initial.has_value();
    sg.export_name = std::string(kStateGlobalPrefix) + std::to_string(i);
    out.push_back(sg);
  }
  for (const StateGlobal& sg : out) {
    auto exp = std::make_unique<wabt::ExportModuleField>();
    exp->export_.name = sg.export_name;
    exp->export_.kind = wabt::ExternalKind::Global;
    exp->export_.var = V(sg.index);
    m->AppendField(std::move(exp));
  }
  return out;
}

Status InstrumentModule(wabt::Module* module) { return Instrumenter(module).Run(); }

}  // namespace crust::engine
