// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/range_loops.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "wabt/cast.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;

constexpr uint64_t kU32Max = 0xffffffffull;

// An i32 value: known = false, or congruent modulo 2^32 to B + r with r in
// [lo, hi] (hi <= 2^32 - 1), B the entry value of local `base` (or 0 when
// base < 0: then the value is r exactly).
struct RVal {
  bool known = false;
  int64_t base = -1;
  uint64_t lo = 0, hi = 0;
};

RVal Range(uint64_t lo, uint64_t hi) { return {true, -1, lo, hi}; }
bool IsConst(const RVal& v) { return v.known && v.base < 0 && v.lo == v.hi; }
bool Plain(const RVal& v) { return v.known && v.base < 0; }

RVal Join(const RVal& a, const RVal& b) {
  if (!a.known || !b.known || a.base != b.base) return {};
  return {true, a.base, std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
}

RVal BinaryOf(Opcode op, const RVal& a, const RVal& b) {
  switch (op) {
    case Opcode::I32Add:
      if (a.known && b.known && (a.base < 0 || b.base < 0) && a.hi + b.hi <= kU32Max) {
        return {true, a.base >= 0 ? a.base : b.base, a.lo + b.lo, a.hi + b.hi};
      }
      return {};
    case Opcode::I32Sub:
      if (a.known && IsConst(b) && a.lo >= b.lo) return {true, a.base, a.lo - b.lo, a.hi - b.lo};
      return {};
    case Opcode::I32And: {
      // x & m <= m whatever x is.
      uint64_t m = kU32Max;
      bool any = false;
      for (const RVal* v : {&a, &b}) {
        if (Plain(*v)) {
          m = std::min(m, v->hi);
          any = true;
        }
      }
      return any ? Range(0, m) : RVal{};
    }
    case Opcode::I32Shl:
      if (IsConst(b) && Plain(a) && (a.hi << (b.lo & 31)) <= kU32Max) {
        return Range(a.lo << (b.lo & 31), a.hi << (b.lo & 31));
      }
      return {};
    case Opcode::I32Mul: {
      const RVal* c = IsConst(b) ? &b : IsConst(a) ? &a : nullptr;
      const RVal* x = c == &b ? &a : &b;
      if (c != nullptr && Plain(*x) && x->hi * c->lo <= kU32Max) return Range(x->lo * c->lo, x->hi * c->lo);
      return {};
    }
    case Opcode::I32ShrU:
      if (!IsConst(b)) return {};
      if (Plain(a)) return Range(a.lo >> (b.lo & 31), a.hi >> (b.lo & 31));
      return Range(0, kU32Max >> (b.lo & 31));
    case Opcode::I32RemU:
      if (!IsConst(b) || b.lo == 0) return {};
      return Range(0, Plain(a) ? std::min(a.hi, b.lo - 1) : b.lo - 1);
    default:
      return {};
  }
}

// Locals the analysed loop writes, with what is known of them on the
// current path; absent: unknown.
using State = std::map<wabt::Index, RVal>;

class Analysis {
 public:
  Analysis(const wabt::Func& f, const std::unordered_set<const wabt::LoopExpr*>& counted, uint64_t* budget)
      : f_(f), counted_(counted), budget_(budget) {}

  bool Analyse(const wabt::LoopExpr& l, RangeLoop* out) {
    if (l.block.decl.GetNumParams() != 0 || l.block.decl.GetNumResults() != 0 || l.block.exprs.empty()) return false;
    const wabt::Expr& last = l.block.exprs.back();
    const wabt::Var* back = last.type() == ExprType::Br     ? &wabt::cast<wabt::BrExpr>(&last)->var
                            : last.type() == ExprType::BrIf ? &wabt::cast<wabt::BrIfExpr>(&last)->var
                                                            : nullptr;
    if (back == nullptr || (back->is_name() ? back->name() != l.block.label : back->index() != 0)) return false;
    size_t instructions = 0;
    std::set<wabt::Index> written;
    if (!Writes(l.block.exprs, &written, &instructions)) return false;
    written_ = std::move(written);
    ok_ = true;
    reachable_ = true;
    state_.clear();
    stack_.clear();
    labels_.clear();
    spans_.clear();
    store_bases_.clear();
    stores_ = 0;
    labels_.push_back({l.block.label, true, {}, false});
    List(l.block.exprs);
    if (!ok_ || stores_ == 0) return false;
    uint64_t pages = 0;
    for (const auto& [base, span] : spans_) pages += (span.second - span.first + 4095) / 4096 + 1;
    if (pages > kMaxRangePages) return false;
    out->loop = &l;
    out->stores = stores_;
    out->spans.clear();
    std::map<int64_t, size_t> index;
    for (const auto& [base, span] : spans_) {
      index[base] = out->spans.size();
      out->spans.push_back({base, span.first, span.second});
    }
    out->store_span.clear();
    for (int64_t base : store_bases_) out->store_span.push_back(index[base]);
    return true;
  }

 private:
  struct Label {
    std::string name;
    bool loop;
    State joined;  // of the branches to it (blocks and ifs)
    bool any;      // some branch reached it
  };

  bool Spend(uint64_t n) {
    if (*budget_ < n) {
      *budget_ = 0;
      return false;
    }
    *budget_ -= n;
    return true;
  }

  // The locals `list` writes (into `w`, and per nested loop into
  // loop_writes_), checking every instruction is one the analysis follows.
  bool Writes(const wabt::ExprList& list, std::set<wabt::Index>* w, size_t* count) {
    for (const wabt::Expr& e : list) {
      if (++*count > kMaxRangeLoopInstructions || !Spend(1)) return false;
      switch (e.type()) {
        case ExprType::LocalSet: w->insert(f_.GetLocalIndex(wabt::cast<wabt::LocalSetExpr>(&e)->var)); break;
        case ExprType::LocalTee: w->insert(f_.GetLocalIndex(wabt::cast<wabt::LocalTeeExpr>(&e)->var)); break;
        case ExprType::Block:
          if (!Writes(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, w, count)) return false;
          break;
        case ExprType::If: {
          const auto* i = wabt::cast<wabt::IfExpr>(&e);
          if (!Writes(i->true_.exprs, w, count) || !Writes(i->false_, w, count)) return false;
          break;
        }
        case ExprType::Loop: {
          const auto* l = wabt::cast<wabt::LoopExpr>(&e);
          if (counted_.count(l)) return false;
          std::set<wabt::Index> inner;
          if (!Writes(l->block.exprs, &inner, count) || !Spend(inner.size())) return false;
          loop_writes_[l] = std::vector<wabt::Index>(inner.begin(), inner.end());
          w->insert(inner.begin(), inner.end());
          break;
        }
        case ExprType::Load: case ExprType::Store: {
          const Opcode op = e.type() == ExprType::Load ? wabt::cast<wabt::LoadExpr>(&e)->opcode
                                                       : wabt::cast<wabt::StoreExpr>(&e)->opcode;
          if (op.GetMemorySize() == 0 || op.GetMemorySize() > 8) return false;  // scalar accesses only
          break;
        }
        case ExprType::Const: case ExprType::LocalGet: case ExprType::GlobalGet: case ExprType::GlobalSet:
        case ExprType::Unary: case ExprType::Binary: case ExprType::Compare: case ExprType::Convert:
        case ExprType::Select: case ExprType::Drop: case ExprType::Nop: case ExprType::MemorySize:
        case ExprType::Br: case ExprType::BrIf: case ExprType::BrTable: case ExprType::Return:
        case ExprType::Unreachable:
          break;
        default:
          return false;  // calls, memory.grow, bulk memory, atomics, tables, exceptions, ...
      }
    }
    return true;
  }

  RVal Pop() {
    if (stack_.empty()) return {};  // pushed before the loop or in unreachable code
    const RVal v = stack_.back();
    stack_.pop_back();
    return v;
  }

  void Set(wabt::Index i, const RVal& v) {
    if (v.known) {
      state_[i] = v;
    } else {
      state_.erase(i);
    }
  }

  static State JoinStates(const State& a, const State& b) {
    State out;
    for (const auto& [i, v] : a) {
      auto it = b.find(i);
      if (it == b.end()) continue;
      const RVal j = Join(v, it->second);
      if (j.known) out[i] = j;
    }
    return out;
  }

  // A branch from here to `var` (blocks and ifs inside the loop collect the
  // state; loops' heads take their written locals as unknown anyway; a
  // target outside the analysed loop is an exit).
  void Branch(const wabt::Var& var) {
    if (!reachable_) return;
    size_t at = labels_.size();
    if (var.is_index()) {
      if (var.index() < labels_.size()) at = labels_.size() - 1 - var.index();
    } else {
      for (size_t k = labels_.size(); k-- > 0;) {
        if (labels_[k].name == var.name()) {
          at = k;
          break;
        }
      }
    }
    if (at == labels_.size() || labels_[at].loop) return;
    Label& l = labels_[at];
    if (!Spend(state_.size() + 1)) {
      ok_ = false;
      return;
    }
    l.joined = l.any ? JoinStates(l.joined, state_) : state_;
    l.any = true;
  }

  void Dead() {
    reachable_ = false;
    stack_.clear();
  }

  // The state after a block or if whose fallthrough state is state_
  // (reachable_) and whose branches collected into `l`.
  void Merge(const Label& l) {
    if (!l.any) return;
    state_ = reachable_ ? JoinStates(state_, l.joined) : l.joined;
    reachable_ = true;
  }

  void Nested(const wabt::Block& b, bool loop) {
    const wabt::Index params = b.decl.GetNumParams(), results = b.decl.GetNumResults();
    for (wabt::Index k = 0; k < params; ++k) Pop();
    std::vector<RVal> outer = std::move(stack_);
    stack_.assign(params, RVal{});
    labels_.push_back({b.label, loop, {}, false});
    List(b.exprs);
    Label l = std::move(labels_.back());
    labels_.pop_back();
    Merge(l);
    stack_ = std::move(outer);
    stack_.resize(stack_.size() + results);
  }

  void List(const wabt::ExprList& list) {
    for (const wabt::Expr& e : list) {
      if (!ok_ || !Spend(1)) {
        ok_ = false;
        return;
      }
      switch (e.type()) {
        case ExprType::Const: {
          const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&e)->const_;
          stack_.push_back(c.type() == wabt::Type::I32 ? Range(c.u32(), c.u32()) : RVal{});
          break;
        }
        case ExprType::LocalGet: {
          const wabt::Index i = f_.GetLocalIndex(wabt::cast<wabt::LocalGetExpr>(&e)->var);
          RVal v;
          if (written_.count(i)) {
            auto it = state_.find(i);
            if (it != state_.end()) v = it->second;
          } else if (f_.GetLocalType(i) == wabt::Type::I32) {
            v = {true, static_cast<int64_t>(i), 0, 0};
          }
          stack_.push_back(v);
          break;
        }
        case ExprType::LocalSet: Set(f_.GetLocalIndex(wabt::cast<wabt::LocalSetExpr>(&e)->var), Pop()); break;
        case ExprType::LocalTee: {
          const RVal v = Pop();
          Set(f_.GetLocalIndex(wabt::cast<wabt::LocalTeeExpr>(&e)->var), v);
          stack_.push_back(v);
          break;
        }
        case ExprType::GlobalGet: case ExprType::MemorySize: stack_.push_back({}); break;
        case ExprType::GlobalSet: case ExprType::Drop: Pop(); break;
        case ExprType::Nop: break;
        case ExprType::Unary: case ExprType::Convert: Pop(); stack_.push_back({}); break;
        case ExprType::Compare: Pop(); Pop(); stack_.push_back({}); break;
        case ExprType::Binary: {
          const RVal b = Pop(), a = Pop();
          stack_.push_back(BinaryOf(wabt::cast<wabt::BinaryExpr>(&e)->opcode, a, b));
          break;
        }
        case ExprType::Select: {
          Pop();
          const RVal b = Pop(), a = Pop();
          stack_.push_back(Join(a, b));
          break;
        }
        case ExprType::Load: {
          Pop();
          const Opcode op = wabt::cast<wabt::LoadExpr>(&e)->opcode;
          stack_.push_back(op == Opcode::I32Load8U ? Range(0, 0xff) : op == Opcode::I32Load16U ? Range(0, 0xffff) : RVal{});
          break;
        }
        case ExprType::Store: {
          const auto* s = wabt::cast<wabt::StoreExpr>(&e);
          Pop();
          const RVal a = Pop();
          if (!a.known) {
            ok_ = false;
            return;
          }
          const uint64_t lo = a.lo + s->offset, end = a.hi + s->offset + s->opcode.GetMemorySize();
          auto [it, fresh] = spans_.emplace(a.base, std::make_pair(lo, end));
          if (!fresh) it->second = {std::min(it->second.first, lo), std::max(it->second.second, end)};
          ++stores_;
          store_bases_.push_back(a.base);
          break;
        }
        case ExprType::Block: Nested(wabt::cast<wabt::BlockExpr>(&e)->block, false); break;
        case ExprType::Loop: {
          const auto* l = wabt::cast<wabt::LoopExpr>(&e);
          // A back-edge may bring any value of the locals the loop writes.
          for (wabt::Index i : loop_writes_[l]) state_.erase(i);
          Nested(l->block, true);
          break;
        }
        case ExprType::If: {
          const auto* i = wabt::cast<wabt::IfExpr>(&e);
          Pop();
          const wabt::Index params = i->true_.decl.GetNumParams(), results = i->true_.decl.GetNumResults();
          for (wabt::Index k = 0; k < params; ++k) Pop();
          std::vector<RVal> outer = std::move(stack_);
          const State before = state_;
          const bool reach = reachable_;
          labels_.push_back({i->true_.label, false, {}, false});
          stack_.assign(params, RVal{});
          List(i->true_.exprs);
          const State then_state = std::move(state_);
          const bool then_reach = reachable_;
          state_ = before;
          reachable_ = reach;
          stack_.assign(params, RVal{});
          List(i->false_);
          if (then_reach) {
            state_ = reachable_ ? JoinStates(state_, then_state) : then_state;
            reachable_ = true;
          }
          Label l = std::move(labels_.back());
          labels_.pop_back();
          Merge(l);
          stack_ = std::move(outer);
          stack_.resize(stack_.size() + results);
          break;
        }
        case ExprType::Br: Branch(wabt::cast<wabt::BrExpr>(&e)->var); Dead(); break;
        case ExprType::BrIf: Pop(); Branch(wabt::cast<wabt::BrIfExpr>(&e)->var); break;
        case ExprType::BrTable: {
          const auto* t = wabt::cast<wabt::BrTableExpr>(&e);
          Pop();
          for (const wabt::Var& v : t->targets) Branch(v);
          Branch(t->default_target);
          Dead();
          break;
        }
        case ExprType::Return: case ExprType::Unreachable: Dead(); break;
        default: ok_ = false; return;
      }
    }
  }

  const wabt::Func& f_;
  const std::unordered_set<const wabt::LoopExpr*>& counted_;
  uint64_t* budget_;
  std::unordered_map<const wabt::LoopExpr*, std::vector<wabt::Index>> loop_writes_;
  std::set<wabt::Index> written_;
  bool ok_ = true, reachable_ = true;
  State state_;
  std::vector<RVal> stack_;
  std::vector<Label> labels_;
  std::map<int64_t, std::pair<uint64_t, uint64_t>> spans_;  // base -> [lo, end)
  std::vector<int64_t> store_bases_;  // each store's base, in order
  size_t stores_ = 0;
};

void Collect(const wabt::ExprList& list, Analysis* a, const std::unordered_set<const wabt::LoopExpr*>& counted,
             std::vector<RangeLoop>* out) {
  for (const wabt::Expr& e : list) {
    switch (e.type()) {
      case ExprType::Block: Collect(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, a, counted, out); break;
      case ExprType::Loop: {
        const auto* l = wabt::cast<wabt::LoopExpr>(&e);
        if (counted.count(l)) break;
        RangeLoop rl;
        if (a->Analyse(*l, &rl)) {
          out->push_back(std::move(rl));
        } else {
          Collect(l->block.exprs, a, counted, out);
        }
        break;
      }
      case ExprType::If: {
        const auto* i = wabt::cast<wabt::IfExpr>(&e);
        Collect(i->true_.exprs, a, counted, out);
        Collect(i->false_, a, counted, out);
        break;
      }
      default: break;
    }
  }
}

}  // namespace

std::vector<RangeLoop> FindRangeLoops(const wabt::Func& f, const std::unordered_set<const wabt::LoopExpr*>& counted,
                                      uint64_t* budget) {
  std::vector<RangeLoop> out;
  Analysis a(f, counted, budget);
  Collect(f.exprs, &a, counted, &out);
  return out;
}

}  // namespace crust::engine
