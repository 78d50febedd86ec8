// Copyright (c) crust authors. Licensed under the MIT license.
//
// The plan, in the terms of docs/abi.md section 9 (version 3):
//
// `pending` is the static cost of the original instructions run since the
// last charge on the way to a point (negative: already charged ahead, for
// the rest of a version-2 segment). Branch targets join paths whose
// pending differs: the join takes the largest, and each edge arriving with
// less adds the difference to a per-function `credit` local (no check: it
// only lowers the next charge). A charge takes `pending - credit` and
// clears the credit, so the gas taken on every path is exactly the cost of
// the instructions it ran.
//
// Charges stand (0) at the function's entry, for its first version-2
// segment (charged ahead); (1) at the head of every loop that is branched to: the
// largest pending of its back edges plus its first version-2 segment, so a
// loop without inner control flow keeps its one charge of its body's cost;
// (2) before every call, call_indirect and dynamically charged instruction,
// taking the pending plus the rest of the version-2 segment, so the callee,
// the host and the dynamic charge see the counter exactly as version 2
// leaves it; (3) before `return` and at the function's exit; (4) before a
// loop entered with more pending than its back edges bring.
#include "src/engine/prepare/gas_deferral.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "src/engine/prepare/expr_seq.h"
#include "src/engine/prepare/instrument.h"
#include "src/engine/prepare/lower64.h"
#include "wabt/cast.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;
using It = wabt::ExprList::iterator;

constexpr int64_t kDead = std::numeric_limits<int64_t>::min();

int64_t Cost(const wabt::Expr& e) { return IsLoweringArtifact(e) ? 0 : static_cast<int64_t>(CostOf(e)); }

bool IsDynamicallyCharged(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::MemoryGrow: case ExprType::MemoryFill: case ExprType::MemoryCopy:
    case ExprType::MemoryInit: case ExprType::TableGrow: case ExprType::TableFill:
    case ExprType::TableCopy: case ExprType::TableInit:
      return true;
    default:
      return false;
  }
}

// Cost of the version-2 segment from `it` to its end (the first segment end,
// a block counting with its body's first segment, or the end of the list).
int64_t SegmentRest(const wabt::ExprList& list, wabt::ExprList::const_iterator it) {
  int64_t sum = 0;
  for (; it != list.end(); ++it) {
    sum += Cost(*it);
    if (it->type() == ExprType::Block) {
      const wabt::ExprList& body = wabt::cast<wabt::BlockExpr>(&*it)->block.exprs;
      sum += SegmentRest(body, body.begin());
    }
    if (IsSegmentEnd(*it)) break;
  }
  return sum;
}

// Whether `list` (at label depth `depth` of the target) branches to it.
bool BranchesTo(const wabt::ExprList& list, uint32_t depth) {
  auto hits = [depth](const wabt::Var& v) { return v.is_index() && v.index() == depth; };
  for (const wabt::Expr& e : list) {
    switch (e.type()) {
      case ExprType::Br: if (hits(wabt::cast<wabt::BrExpr>(&e)->var)) return true; break;
      case ExprType::BrIf: if (hits(wabt::cast<wabt::BrIfExpr>(&e)->var)) return true; break;
      case ExprType::BrTable: {
        const auto* t = wabt::cast<wabt::BrTableExpr>(&e);
        if (hits(t->default_target)) return true;
        for (const wabt::Var& v : t->targets) if (hits(v)) return true;
        break;
      }
      case ExprType::Block:
        if (BranchesTo(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, depth + 1)) return true;
        break;
      case ExprType::Loop:
        if (BranchesTo(wabt::cast<wabt::LoopExpr>(&e)->block.exprs, depth + 1)) return true;
        break;
      case ExprType::If: {
        const auto* i = wabt::cast<wabt::IfExpr>(&e);
        if (BranchesTo(i->true_.exprs, depth + 1) || BranchesTo(i->false_, depth + 1)) return true;
        break;
      }
      default:
        break;
    }
  }
  return false;
}

class Planner {
 public:
  Planner(wabt::Func* f, GasGlobals g) : f_(f), g_(g) {}

  std::optional<wabt::ExprList> Run() {
    labels_.push_back({});  // the function's label: its exit
    // The body's first version-2 segment is charged at entry, as before: a
    // call that traps has paid at least that.
    const int64_t head = SegmentRest(f_->exprs, f_->exprs.begin());
    edits_.push_back({Edit::kCharge, &f_->exprs, f_->exprs.begin(), head, false});
    State end = Walk(&f_->exprs, {-head, false});
    if (end.pending != kDead) labels_.back().edges.push_back({end, Edge::kFall, &f_->exprs, f_->exprs.end()});
    State exit = Join(labels_.back());
    labels_.pop_back();
    if (unsupported_) return std::nullopt;
    for (const TableCredit& t : table_credits_) {
      if (t.amount > 0) edits_.push_back({Edit::kCredit, t.list, t.at, t.amount, t.add});
    }
    Apply();
    wabt::ExprList exit_charge;
    if (exit.pending != kDead) exit_charge = Charge(exit);
    return exit_charge;
  }

 private:
  struct State {
    int64_t pending;
    bool credit;  // the credit local may be non-zero
  };
  struct Edge {
    State state;
    enum Kind { kFall, kBr, kBrIf, kBrTable } kind;
    wabt::ExprList* list;
    It at;  // the branch; list->end() for a fall-through edge
  };
  struct Label {
    std::vector<Edge> edges;
  };
  struct Edit {
    enum Kind { kCharge, kCredit, kCreditIfTaken } kind;
    wabt::ExprList* list;
    It at;           // inserted before
    int64_t amount;  // kCharge: pending to charge; credits: the amount
    bool flag;       // kCharge: a credit may be outstanding; kCredit: add to it (else set)
  };
  struct TableCredit {  // one credit before a br_table serves all its edges
    wabt::ExprList* list;
    It at;
    int64_t amount;
    bool add;
  };

  State Walk(wabt::ExprList* list, State s) {
    for (It it = list->begin(); it != list->end() && s.pending != kDead; ++it) {
      wabt::Expr& e = *it;
      s.pending += Cost(e);
      switch (e.type()) {
        case ExprType::Block: {
          labels_.push_back({});
          wabt::ExprList* body = &wabt::cast<wabt::BlockExpr>(&e)->block.exprs;
          State q = Walk(body, s);
          if (q.pending != kDead) labels_.back().edges.push_back({q, Edge::kFall, body, body->end()});
          s = Join(labels_.back());
          labels_.pop_back();
          break;
        }
        case ExprType::If: {
          auto* i = wabt::cast<wabt::IfExpr>(&e);
          labels_.push_back({});
          for (wabt::ExprList* arm : {&i->true_.exprs, &i->false_}) {
            State q = Walk(arm, s);
            if (q.pending != kDead) labels_.back().edges.push_back({q, Edge::kFall, arm, arm->end()});
          }
          s = Join(labels_.back());
          labels_.pop_back();
          break;
        }
        case ExprType::Loop:
          s = WalkLoop(list, it, s);
          break;
        case ExprType::Br:
          AddEdge(wabt::cast<wabt::BrExpr>(&e)->var, {s, Edge::kBr, list, it});
          s.pending = kDead;
          break;
        case ExprType::BrIf:
          AddEdge(wabt::cast<wabt::BrIfExpr>(&e)->var, {s, Edge::kBrIf, list, it});
          break;
        case ExprType::BrTable: {
          auto* t = wabt::cast<wabt::BrTableExpr>(&e);
          std::vector<wabt::Var> targets(t->targets.begin(), t->targets.end());
          targets.push_back(t->default_target);
          std::vector<uint32_t> seen;
          for (const wabt::Var& v : targets) {
            if (!v.is_index()) { unsupported_ = true; break; }
            if (std::find(seen.begin(), seen.end(), v.index()) != seen.end()) continue;
            seen.push_back(v.index());
            AddEdge(v, {s, Edge::kBrTable, list, it});
          }
          s.pending = kDead;
          break;
        }
        case ExprType::Return:
          edits_.push_back({Edit::kCharge, list, it, s.pending, s.credit});
          s.pending = kDead;
          break;
        case ExprType::Unreachable:
          s.pending = kDead;
          break;
        case ExprType::Call: case ExprType::CallIndirect: {
          const int64_t rest = SegmentRest(*list, std::next(it));
          edits_.push_back({Edit::kCharge, list, it, s.pending + rest, s.credit});
          s = {-rest, false};
          break;
        }
        case ExprType::ReturnCall: case ExprType::ReturnCallIndirect: case ExprType::CallRef:
        case ExprType::Try: case ExprType::Throw:
        case ExprType::Rethrow:
          unsupported_ = true;
          s.pending = kDead;
          break;
        default:
          if (IsDynamicallyCharged(e)) {
            const int64_t rest = SegmentRest(*list, std::next(it));
            edits_.push_back({Edit::kCharge, list, it, s.pending + rest, s.credit});
            s = {-rest, false};
          }
          break;
      }
    }
    return s;
  }

  // `s` includes the `loop` instruction's own cost.
  State WalkLoop(wabt::ExprList* list, It it, State s) {
    wabt::ExprList* body = &wabt::cast<wabt::LoopExpr>(&*it)->block.exprs;
    labels_.push_back({});
    if (!BranchesTo(*body, 0)) {  // runs once: a block whose label nothing uses
      State q = Walk(body, s);
      labels_.pop_back();
      return q;
    }
    const int64_t head = SegmentRest(*body, body->begin());
    const size_t head_edit = edits_.size();
    edits_.push_back({Edit::kCharge, body, body->begin(), 0, false});
    State end = Walk(body, {-head, false});
    // Back edges: equal them up to the largest.
    int64_t back = 0;
    bool credit = false;
    for (const Edge& e : labels_.back().edges) back = std::max(back, e.state.pending);
    for (const Edge& e : labels_.back().edges) credit |= Equalize(e, back);
    labels_.pop_back();
    // The entry edge must bring `back` too.
    if (s.credit || s.pending > back) {
      if (s.credit) {
        edits_.push_back({Edit::kCharge, list, it, s.pending, true});
        s.pending = 0;
      } else {
        edits_.push_back({Edit::kCharge, list, it, s.pending - back, false});
        s.pending = back;
      }
    }
    if (s.pending < back) {
      edits_.push_back({Edit::kCredit, list, it, back - s.pending, false});
      credit = true;
    }
    edits_[head_edit].amount = back + head;
    edits_[head_edit].flag = credit;
    return end;
  }

  void AddEdge(const wabt::Var& v, const Edge& e) {
    if (!v.is_index() || v.index() >= labels_.size()) {
      unsupported_ = true;
      return;
    }
    labels_[labels_.size() - 1 - v.index()].edges.push_back(e);
  }

  // The state after a block-like label: the largest pending of its edges.
  State Join(const Label& label) {
    if (label.edges.empty()) return {kDead, false};
    State s{0, false};
    for (const Edge& e : label.edges) s.pending = std::max(s.pending, e.state.pending);
    for (const Edge& e : label.edges) s.credit |= Equalize(e, s.pending);
    return s;
  }

  // Adds what edge `e` lacks of `target` to the credit; true if the credit
  // may be non-zero after it.
  bool Equalize(const Edge& e, int64_t target) {
    const int64_t d = target - e.state.pending;
    switch (e.kind) {
      case Edge::kFall:
      case Edge::kBr:
        if (d > 0) edits_.push_back({Edit::kCredit, e.list, e.at, d, e.state.credit});
        break;
      case Edge::kBrIf:
        if (d > 0) edits_.push_back({Edit::kCreditIfTaken, e.list, e.at, d, true});
        break;
      case Edge::kBrTable: {
        auto same = [&e](const TableCredit& t) { return t.at == e.at; };
        auto pos = std::find_if(table_credits_.begin(), table_credits_.end(), same);
        if (pos == table_credits_.end()) {
          table_credits_.push_back({e.list, e.at, d, e.state.credit});
        } else if (pos->amount != d) {
          unsupported_ = true;
        }
        break;
      }
    }
    return e.state.credit || d > 0;
  }

  void Apply() {
    for (const Edit& e : edits_) {
      wabt::ExprList code;
      switch (e.kind) {
        case Edit::kCharge: code = Charge({e.amount, e.flag}); break;
        case Edit::kCredit: {
          Seq s;
          if (e.flag) s.LocalGet(Credit());
          s.I64(static_cast<uint64_t>(e.amount));
          if (e.flag) s.Binary(Opcode::I64Add);
          code = s.LocalSet(Credit()).Take();
          break;
        }
        case Edit::kCreditIfTaken: {  // credit += cond ? amount : 0, cond left for the br_if
          Seq s;
          s.LocalTee(Cond()).LocalGet(Credit()).I64(static_cast<uint64_t>(e.amount)).I64(0).LocalGet(Cond());
          code = s.Select().Binary(Opcode::I64Add).LocalSet(Credit()).Take();
          break;
        }
      }
      e.list->splice(e.at, code);
    }
  }

  // Takes `pending - credit` (or `pending` when no credit can be
  // outstanding) and clears the credit.
  wabt::ExprList Charge(State s) {
    if (s.pending <= 0 && !s.credit) return {};
    if (!s.credit) return StaticCharge(g_.gas, g_.trap, static_cast<uint64_t>(s.pending));
    Seq q;
    q.GlobalGet(g_.gas).I64(static_cast<uint64_t>(s.pending)).LocalGet(Credit()).Binary(Opcode::I64Sub);
    q.LocalTee(Amount()).Compare(Opcode::I64LtU).TrapIf(g_.trap, InjectedTrap::kOutOfGas);
    q.GlobalGet(g_.gas).LocalGet(Amount()).Binary(Opcode::I64Sub).GlobalSet(g_.gas);
    q.I64(0).LocalSet(Credit());
    return q.Take();
  }

  uint32_t Local(uint32_t* slot, wabt::Type type) {
    if (*slot == kNone) {
      *slot = f_->GetNumParamsAndLocals();
      f_->local_types.AppendDecl(type, 1);
    }
    return *slot;
  }
  uint32_t Credit() { return Local(&credit_, wabt::Type::I64); }
  uint32_t Amount() { return Local(&amount_, wabt::Type::I64); }
  uint32_t Cond() { return Local(&cond_, wabt::Type::I32); }

  static constexpr uint32_t kNone = ~0u;
  wabt::Func* const f_;
  const GasGlobals g_;
  std::vector<Label> labels_;
  std::vector<Edit> edits_;
  std::vector<TableCredit> table_credits_;
  bool unsupported_ = false;
  uint32_t credit_ = kNone, amount_ = kNone, cond_ = kNone;
};

}  // namespace

std::optional<wabt::ExprList> PlanDeferredGas(wabt::Func* f, GasGlobals globals) {
  return Planner(f, globals).Run();
}

}  // namespace crust::engine
