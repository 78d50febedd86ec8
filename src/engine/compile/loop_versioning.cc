// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/loop_versioning.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <string_view>
#include <vector>

#include "wabt/cast.h"
#include "src/engine/prepare/module_limits.h"
#include "src/engine/prepare/wabt_adapter.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;

// A value within one iteration: inv (a local the body never writes, or -1)
// + iv (an induction local's value at the iteration's start, or -1) + c,
// modulo 2^32 or 2^64. Unknown values have known = false.
struct Sym {
  bool known = false;
  int64_t inv = -1, iv = -1;
  uint64_t c = 0;
};

struct Access {
  Sym addr;
  uint64_t offset = 0, width = 0;
  bool store = false;
};

// A loop this can version: its counter test, accesses and the induction
// steps, in wasm terms.
struct CountedLoop {
  const wabt::LoopExpr* loop = nullptr;
  uint64_t cost = 0;
  bool wide = false;  // the test compares i64 values
  Sym counter, bound;  // continue while counter != bound
  std::vector<Access> accesses;
  std::map<int64_t, uint64_t> steps;  // induction local -> step (modulo its width)
};

bool TrapsOrUnfollowed(const wabt::Expr& e) {
  switch (e.type()) {
    case ExprType::Binary: {
      const Opcode op = wabt::cast<wabt::BinaryExpr>(&e)->opcode;
      return op == Opcode::I32DivS || op == Opcode::I32DivU || op == Opcode::I32RemS || op == Opcode::I32RemU ||
             op == Opcode::I64DivS || op == Opcode::I64DivU || op == Opcode::I64RemS || op == Opcode::I64RemU;
    }
    case ExprType::Convert: {
      const Opcode op = wabt::cast<wabt::ConvertExpr>(&e)->opcode;
      return op == Opcode::I32TruncF32S || op == Opcode::I32TruncF32U || op == Opcode::I32TruncF64S ||
             op == Opcode::I32TruncF64U || op == Opcode::I64TruncF32S || op == Opcode::I64TruncF32U ||
             op == Opcode::I64TruncF64S || op == Opcode::I64TruncF64U;
    }
    case ExprType::Const: case ExprType::LocalGet: case ExprType::LocalSet: case ExprType::LocalTee:
    case ExprType::GlobalGet: case ExprType::Unary: case ExprType::Compare: case ExprType::Select:
    case ExprType::Drop: case ExprType::Nop: case ExprType::MemorySize:
      return false;
    case ExprType::Load: case ExprType::Store: {
      const Opcode op = e.type() == ExprType::Load ? wabt::cast<wabt::LoadExpr>(&e)->opcode
                                                   : wabt::cast<wabt::StoreExpr>(&e)->opcode;
      return op.GetMemorySize() == 0 || op.GetMemorySize() > 8;  // not the scalar accesses
    }
    default:
      return true;  // calls, branches, blocks, global.set, memory.grow, bulk memory, atomics, ...
  }
}

class LoopAnalysis {
 public:
  // Bounds on the work per loop: a loop body longer than this is not
  // versioned (each pass is linear in it), nor one whose induction locals
  // take more passes to settle (each pass drops at least one candidate).
  static constexpr size_t kMaxBodyInstructions = 4096;
  static constexpr int kMaxPasses = 8;

  LoopAnalysis(const wabt::Module& m, const wabt::Func& f, uint32_t gas_global)
      : m_(m), f_(f), gas_(gas_global) {}

  // The loops of `list` (recursively) that qualify, in the order wasm2c
  // writes them.
  void Collect(const wabt::ExprList& list, std::vector<CountedLoop>* out) {
    for (const wabt::Expr& e : list) {
      switch (e.type()) {
        case ExprType::Block: Collect(wabt::cast<wabt::BlockExpr>(&e)->block.exprs, out); break;
        case ExprType::Loop: {
          const auto* l = wabt::cast<wabt::LoopExpr>(&e);
          CountedLoop cl;
          if (Analyse(*l, &cl)) {
            out->push_back(std::move(cl));
          } else {
            Collect(l->block.exprs, out);
          }
          break;
        }
        case ExprType::If: {
          const auto* i = wabt::cast<wabt::IfExpr>(&e);
          Collect(i->true_.exprs, out);
          Collect(i->false_, out);
          break;
        }
        default: break;
      }
    }
  }

 private:
  bool IsGas(const wabt::Expr& e, ExprType t) const {
    if (e.type() != t) return false;
    const wabt::Var& v = t == ExprType::GlobalGet ? wabt::cast<wabt::GlobalGetExpr>(&e)->var
                                                  : wabt::cast<wabt::GlobalSetExpr>(&e)->var;
    return m_.GetGlobalIndex(v) == gas_;
  }
  static bool IsI64Const(const wabt::Expr& e, uint64_t* v) {
    if (e.type() != ExprType::Const) return false;
    const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&e)->const_;
    if (c.type() != wabt::Type::I64) return false;
    *v = c.u64();
    return true;
  }

  // The instrumentation's static charge (instrument.cc, StaticCharge): gas
  // < C traps (an `if` setting the trap global, then unreachable), gas -= C.
  bool ChargePrefix(std::vector<const wabt::Expr*>* body, uint64_t* cost) const {
    if (body->size() < 8) return false;
    const auto& b = *body;
    uint64_t c1 = 0, c2 = 0;
    if (!IsGas(*b[0], ExprType::GlobalGet) || !IsI64Const(*b[1], &c1) || b[2]->type() != ExprType::Compare ||
        wabt::cast<wabt::CompareExpr>(b[2])->opcode != Opcode::I64LtU || b[3]->type() != ExprType::If ||
        !IsGas(*b[4], ExprType::GlobalGet) || !IsI64Const(*b[5], &c2) || c1 != c2 ||
        b[6]->type() != ExprType::Binary || wabt::cast<wabt::BinaryExpr>(b[6])->opcode != Opcode::I64Sub ||
        !IsGas(*b[7], ExprType::GlobalSet)) {
      return false;
    }
    const auto* i = wabt::cast<wabt::IfExpr>(b[3]);
    if (!i->false_.empty() || i->true_.exprs.size() != 3 || i->true_.exprs.back().type() != ExprType::Unreachable) {
      return false;
    }
    *cost = c1;
    body->erase(body->begin(), body->begin() + 8);
    return true;
  }

  bool Wide(int64_t local) const { return f_.GetLocalType(static_cast<wabt::Index>(local)) == wabt::Type::I64; }

  // One pass over the body with `ivs` taken as induction locals (their
  // start value is themselves); other written locals start unknown.
  bool Pass(const std::vector<const wabt::Expr*>& body, const std::set<int64_t>& written, const std::set<int64_t>& ivs,
            CountedLoop* out, std::map<int64_t, Sym>* final_locals, bool* used_unknown) {
    std::map<int64_t, Sym> locals;
    std::vector<Sym> stack;
    out->accesses.clear();
    *used_unknown = false;
    auto local = [&](int64_t i) -> Sym {
      auto it = locals.find(i);
      if (it != locals.end()) return it->second;
      Sym s;
      if (!written.count(i)) {
        s.known = true;
        s.inv = i;
      } else if (ivs.count(i)) {
        s.known = true;
        s.iv = i;
      }
      return s;
    };
    auto pop = [&]() -> Sym {
      if (stack.empty()) return Sym{};
      const Sym s = stack.back();
      stack.pop_back();
      return s;
    };
    Sym cmp_a, cmp_b;
    bool cmp_ne = false;
    for (size_t k = 0; k < body.size(); ++k) {
      const wabt::Expr& e = *body[k];
      cmp_ne = false;
      switch (e.type()) {
        case ExprType::Const: {
          const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&e)->const_;
          Sym s;
          if (c.type() == wabt::Type::I32) {
            s.known = true;
            s.c = c.u32();
          } else if (c.type() == wabt::Type::I64) {
            s.known = true;
            s.c = c.u64();
          }
          stack.push_back(s);
          break;
        }
        case ExprType::LocalGet:
          stack.push_back(local(f_.GetLocalIndex(wabt::cast<wabt::LocalGetExpr>(&e)->var)));
          break;
        case ExprType::LocalSet:
          locals[f_.GetLocalIndex(wabt::cast<wabt::LocalSetExpr>(&e)->var)] = pop();
          break;
        case ExprType::LocalTee: {
          const Sym s = pop();
          locals[f_.GetLocalIndex(wabt::cast<wabt::LocalTeeExpr>(&e)->var)] = s;
          stack.push_back(s);
          break;
        }
        case ExprType::Binary: {
          const Opcode op = wabt::cast<wabt::BinaryExpr>(&e)->opcode;
          const Sym b = pop(), a = pop();
          const bool i32 = op == Opcode::I32Add || op == Opcode::I32Sub;
          const uint64_t mask = i32 ? 0xffffffffull : ~0ull;
          Sym r;
          if ((op == Opcode::I32Add || op == Opcode::I64Add) && a.known && b.known && (a.inv < 0 || b.inv < 0) &&
              (a.iv < 0 || b.iv < 0)) {
            r = {true, a.inv >= 0 ? a.inv : b.inv, a.iv >= 0 ? a.iv : b.iv, (a.c + b.c) & mask};
          } else if ((op == Opcode::I32Sub || op == Opcode::I64Sub) && a.known && b.known && b.inv < 0 && b.iv < 0) {
            r = {true, a.inv, a.iv, (a.c - b.c) & mask};
          }
          stack.push_back(r);
          break;
        }
        case ExprType::Compare: {
          const Opcode op = wabt::cast<wabt::CompareExpr>(&e)->opcode;
          cmp_b = pop();
          cmp_a = pop();
          stack.push_back(Sym{});
          cmp_ne = op == Opcode::I32Ne || op == Opcode::I64Ne;
          out->wide = op == Opcode::I64Ne;
          break;
        }
        case ExprType::Load: {
          const auto* l = wabt::cast<wabt::LoadExpr>(&e);
          out->accesses.push_back({pop(), l->offset, l->opcode.GetMemorySize(), false});
          stack.push_back(Sym{});
          break;
        }
        case ExprType::Store: {
          const auto* s = wabt::cast<wabt::StoreExpr>(&e);
          pop();
          out->accesses.push_back({pop(), s->offset, s->opcode.GetMemorySize(), true});
          break;
        }
        case ExprType::Unary: case ExprType::Convert: pop(); stack.push_back(Sym{}); break;
        case ExprType::Select: pop(); pop(); pop(); stack.push_back(Sym{}); break;
        case ExprType::Drop: pop(); break;
        case ExprType::GlobalGet: case ExprType::MemorySize: stack.push_back(Sym{}); break;
        case ExprType::Nop: break;
        default: return false;
      }
      // The last instruction before the back-edge is the test.
      if (k + 1 == body.size()) {
        if (cmp_ne) {
          out->counter = cmp_a;
          out->bound = cmp_b;
        } else {
          out->counter = stack.empty() ? Sym{} : stack.back();
          out->bound = Sym{true, -1, -1, 0};
          out->wide = false;  // br_if tests an i32
          if (out->counter.known && out->counter.iv >= 0 && Wide(out->counter.iv)) return false;
        }
      }
    }
    for (int64_t w : written) {
      const Sym s = local(w);
      (*final_locals)[w] = s;
    }
    // Unknown starts that reached an address or the test make the pass moot.
    for (const Access& a : out->accesses) {
      if (!a.addr.known) *used_unknown = true;
    }
    return true;
  }

  bool Analyse(const wabt::LoopExpr& l, CountedLoop* out) {
    if (l.block.decl.GetNumParams() != 0 || l.block.decl.GetNumResults() != 0) return false;
    std::vector<const wabt::Expr*> body;
    for (const wabt::Expr& e : l.block.exprs) {
      if (body.size() == kMaxBodyInstructions) return false;
      body.push_back(&e);
    }
    if (!ChargePrefix(&body, &out->cost) || body.empty()) return false;
    // The closing br_if back to this loop.
    const wabt::Expr& last = *body.back();
    if (last.type() != ExprType::BrIf) return false;
    const wabt::Var& target = wabt::cast<wabt::BrIfExpr>(&last)->var;
    if (target.is_name() ? target.name() != l.block.label : target.index() != 0) return false;
    body.pop_back();
    if (body.empty()) return false;
    std::set<int64_t> written;
    for (const wabt::Expr* e : body) {
      if (TrapsOrUnfollowed(*e)) return false;
      if (e->type() == ExprType::LocalSet) written.insert(f_.GetLocalIndex(wabt::cast<wabt::LocalSetExpr>(e)->var));
      if (e->type() == ExprType::LocalTee) written.insert(f_.GetLocalIndex(wabt::cast<wabt::LocalTeeExpr>(e)->var));
    }
    // Induction locals: written locals whose value at the end is their value
    // at the start plus a non-zero constant. Start from all written locals
    // and drop those that are not, until the set is stable.
    std::set<int64_t> ivs = written;
    for (int pass = 0;; ++pass) {
      if (pass == kMaxPasses) return false;
      std::map<int64_t, Sym> fin;
      bool unknown = false;
      if (!Pass(body, written, ivs, out, &fin, &unknown)) return false;
      std::set<int64_t> next;
      for (int64_t w : ivs) {
        const Sym& s = fin[w];
        const uint64_t mask = Wide(w) ? ~0ull : 0xffffffffull;
        if (s.known && s.inv < 0 && s.iv == w && (s.c & mask) != 0) next.insert(w);
      }
      if (next == ivs) {
        out->steps.clear();
        for (int64_t w : ivs) out->steps[w] = fin[w].c;
        break;
      }
      ivs = std::move(next);
    }
    // The test: counter = iv + d, bound = [inv] + e (either order).
    auto is_counter = [&](const Sym& s) { return s.known && s.iv >= 0 && s.inv < 0 && out->steps.count(s.iv); };
    auto is_bound = [&](const Sym& s) { return s.known && s.iv < 0; };
    if (!is_counter(out->counter) || !is_bound(out->bound)) {
      if (is_counter(out->bound) && is_bound(out->counter)) {
        std::swap(out->counter, out->bound);
      } else {
        return false;
      }
    }
    if (Wide(out->counter.iv) != out->wide) return false;
    for (const Access& a : out->accesses) {
      if (!a.addr.known) return false;
      if (a.addr.iv >= 0 && (!out->steps.count(a.addr.iv) || Wide(a.addr.iv))) return false;
      if (a.addr.inv >= 0 && Wide(a.addr.inv)) return false;
      if (a.store && a.addr.iv >= 0) {
        const uint32_t s = static_cast<uint32_t>(out->steps[a.addr.iv]);
        const uint32_t abs = s < 0x80000000u ? s : 0u - s;
        if (abs > 4096) return false;  // the map scan stays below one entry per iteration
      }
    }
    if (out->cost == 0 || out->cost >= (1ull << 31)) return false;
    out->loop = &l;
    return true;
  }

  const wabt::Module& m_;
  const wabt::Func& f_;
  const uint32_t gas_;
};

// wasm2c's C name of local `i` of `f` (GenerateNames: $p<i> for parameters,
// $l<i> for the others), checked against the function's header text.
std::string LocalName(const wabt::Func& f, int64_t i) {
  return (static_cast<wabt::Index>(i) < f.GetNumParams() ? "w2c_p" : "w2c_l") + std::to_string(i);
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llxull", static_cast<unsigned long long>(v));
  return buf;
}

// C of `s` at the loop's entry, as u64 reduced to the value's width.
std::string SymC(const wabt::Func& f, const Sym& s, bool wide) {
  std::string t = "(" + std::string(wide ? "u64" : "u32") + ")(" + Hex(s.c);
  if (s.inv >= 0) t += " + " + LocalName(f, s.inv);
  if (s.iv >= 0) t += " + " + LocalName(f, s.iv);
  return t + ")";
}

// The loop's precondition, in C (crust_n_ is the trip count).
std::string Condition(const wabt::Func& f, const CountedLoop& l, bool write_barrier) {
  const uint64_t mask = l.wide ? ~0ull : 0xffffffffull;
  const uint64_t step = l.steps.at(l.counter.iv) & mask;
  const bool up = l.wide ? step < (1ull << 63) : step < 0x80000000ull;
  const uint64_t abs = up ? step : (0 - step) & mask;
  std::string t = "u64 crust_n_ = crust_loop_trips(" + SymC(f, l.counter, l.wide) + ", " + SymC(f, l.bound, l.wide) +
                  ", " + Hex(abs) + ", " + (up ? "1" : "0") + ", " + Hex(mask) + ");\n";
  std::string cond = "crust_n_ != 0 && crust_n_ - 1 <= 0xffffffffull && crust_gas_ >= crust_n_ * " + Hex(l.cost);
  for (const Access& a : l.accesses) {
    uint64_t s = 0;
    if (a.addr.iv >= 0) s = l.steps.at(a.addr.iv) & 0xffffffffull;
    const bool aup = s < 0x80000000ull;
    const uint64_t aabs = aup ? s : (0 - s) & 0xffffffffull;
    cond += " && crust_loop_span(" + SymC(f, a.addr, false) + ", crust_n_, " + Hex(aabs) + ", " + (aup ? "1" : "0") +
            ", " + Hex(a.offset) + ", " + std::to_string(a.width) + ", (u64)CRUST_MEM->size, " +
            (a.store && write_barrier ? "crust_map_" : "(const u8*)0") + ")";
  }
  return t + "if (" + cond + ") {\n";
}

std::string_view Trim(std::string_view l) {
  const size_t lead = l.find_first_not_of(' ');
  return lead == std::string_view::npos ? std::string_view() : l.substr(lead);
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

bool IsStoreLine(std::string_view trimmed) {
  for (const Wasm2cAccess& a : Wasm2cStores()) {
    const std::string_view n(a.name);
    if (trimmed.size() > n.size() && trimmed.substr(0, n.size()) == n && trimmed[n.size()] == '(') return true;
  }
  return false;
}

// `line` with every load calling its fast variant (CRUST_FL_<name>: no
// empty asm keeping the load, which only matters for a load that may fault;
// the fast copy's loads are all in bounds, so the C compiler may drop,
// merge or vectorise them).
std::string FastLoads(std::string_view line) {
  std::string out(line);
  for (const Wasm2cAccess& a : Wasm2cLoads()) {
    const std::string call = std::string("= ") + a.name + "(";
    for (size_t at = out.find(call); at != std::string::npos; at = out.find(call, at + 1)) {
      out.insert(at + 2, "CRUST_FL_");
    }
  }
  return out;
}

// The versioned text of one loop: `lines` from its label to its back-edge.
// Empty when the C is not in the expected shape.
std::string Rewrite(const std::vector<std::string_view>& lines, const std::string& label, const std::string& cond,
                    uint64_t cost) {
  // Label, the 12 lines of the charge, the body, the back-edge.
  if (lines.size() < 14) return "";
  const std::string_view head = lines[0];
  const std::string indent(head.substr(0, head.find_first_not_of(' ')));
  if (Trim(head) != label + ": ") return "";
  const std::string cost_line = "w2c_j1 = " + std::to_string(cost) + "ull;";
  if (Trim(lines[1]) != "w2c_j0 = crust_gas_;" || Trim(lines[2]) != cost_line ||
      Trim(lines[3]) != "w2c_i0 = w2c_j0 < w2c_j1;" || Trim(lines[4]) != "if (w2c_i0) {" ||
      Trim(lines[7]) != "UNREACHABLE;" || Trim(lines[8]) != "}" || Trim(lines[9]) != "w2c_j0 = crust_gas_;" ||
      Trim(lines[10]) != cost_line || Trim(lines[11]) != "w2c_j0 -= w2c_j1;" ||
      lines[12].find(" = crust_gas_ = w2c_j0;") == std::string_view::npos) {
    return "";
  }
  const std::string gas_write(Trim(lines[12]).substr(0, Trim(lines[12]).find(" = crust_gas_ = ")));
  const std::string_view back = Trim(lines.back());
  const std::string goto_text = "{goto " + label + ";}";
  if (back.size() < goto_text.size() || back.substr(back.size() - goto_text.size()) != goto_text) return "";
  const std::string fast_label = label + "_crust_fast";
  std::string out = indent + "{\n";
  for (const std::string_view c : Lines(cond)) out += indent + std::string(c) + "\n";
  out += indent + "  " + gas_write + " = crust_gas_ = crust_gas_ - crust_n_ * " + Hex(cost) + ";\n";
  out += indent + fast_label + ": \n";
  bool skipping = false;  // in the checked copy of a span group
  for (size_t k = 13; k + 1 < lines.size(); ++k) {
    const std::string_view l = lines[k], t = Trim(l);
    if (l.find("goto ") != std::string_view::npos || l.find("crust_gas_") != std::string_view::npos) return "";
    if (t.substr(0, 24) == "if (CRUST_SPAN_NOTED((u3") continue;
    if (t == "} else {") {
      skipping = true;
      continue;
    }
    if (skipping) {
      if (t == "}") skipping = false;
      continue;
    }
    if (t.find_first_of("{}") != std::string_view::npos) return "";
    out += std::string(l.substr(0, l.size() - t.size()));
    if (IsStoreLine(t)) out += "CRUST_NB_";
    out += FastLoads(t) + "\n";
  }
  if (skipping) return "";
  const std::string_view bl = lines.back();
  out += std::string(bl.substr(0, bl.size() - goto_text.size())) + "{goto " + fast_label + ";}\n";
  out += indent + "} else {\n";
  for (const std::string_view l : lines) out += std::string(l) + "\n";
  out += indent + "}\n" + indent + "}\n";
  return out;
}

}  // namespace

std::string LoopVersioningText() {
  std::string loads;
  for (const Wasm2cAccess& a : Wasm2cLoads()) {
    loads += std::string("static inline ") + a.t3 + " crust_fl_" + a.name + "(const u8* b, u64 a) { " + a.t1 +
             " r; wasm_rt_memcpy(&r, b + a, sizeof(r)); return (" + a.t3 + ")(" + a.t2 + ")r; }\n#define CRUST_FL_" +
             a.name + "(m, a) crust_fl_" + a.name + "(crust_base_, a)\n";
  }
  return "/* ---- crust: counted loops versioned (loop_versioning.h) ---- */\n"
         "/* Loads of a fast copy: every one is in bounds. */\n" + loads +
         "/* Iterations until t (t1, t1 +- s, ...) meets b, modulo mask + 1; 0 if it never meets b exactly\n"
         " * within one turn of the counter or the count does not fit: then the original loop runs. */\n"
         "static inline u64 crust_loop_trips(u64 t1, u64 b, u64 s, int up, u64 mask) {\n"
         "  u64 d = (up ? b - t1 : t1 - b) & mask;\n"
         "  if (d % s != 0) return 0;\n"
         "  return d / s + 1; /* 0 on overflow */\n"
         "}\n"
         "/* An access at first + k*s (up) or first - k*s (k < n, n - 1 < 2^32, s < 2^31, first < 2^32), offset off,\n"
         " * w bytes: in every iteration below size (the memory's current size); with a map, every page it can write\n"
         " * is noted. */\n"
         "static inline int crust_loop_span(u64 first, u64 n, u64 s, int up, u64 off, u64 w, u64 size, const u8* map) {\n"
         "  u64 span = (n - 1) * s, lo, hi;\n"
         "  if (up) { lo = first; hi = first + span; } else { if (first < span) return 0; lo = first - span; hi = first; }\n"
         "  lo += off; hi += off + w;\n"
         "  if (hi > size) return 0;\n"
         "  if (map) { for (u64 p = lo >> 12; p <= (hi - 1) >> 12; ++p) if (!map[p]) return 0; }\n"
         "  return 1;\n"
         "}\n";
}

size_t VersionCountedLoops(const wabt::Module& m, uint32_t gas_global, bool write_barrier, std::string* c) {
  if (m.memories.size() != 1 || m.memories[0]->page_limits.is_64) return 0;
  size_t at = c->find(kWasm2cBodiesAnchor);
  if (at == std::string::npos) return 0;
  struct Edit {
    size_t begin, end;
    std::string text;
  };
  std::vector<Edit> edits;
  for (size_t fi = m.num_func_imports; fi < m.funcs.size(); ++fi) {
    const size_t body = c->find(kWasm2cBodyStart, at);
    if (body == std::string::npos) break;
    const size_t end = c->find(kWasm2cBodyEnd, body);
    if (end == std::string::npos) break;
    // The header: the signature line (the last '{' before the body; the
    // local declarations between hold none) to the body.
    const size_t brace = c->rfind('{', body);
    if (brace == std::string::npos || brace < at) break;
    const size_t header_from = c->rfind('\n', brace) + 1;
    const std::string_view header(c->data() + header_from, body - header_from);
    at = end;
    const wabt::Func& f = *m.funcs[fi];
    std::vector<CountedLoop> loops;
    LoopAnalysis(m, f, gas_global).Collect(f.exprs, &loops);
    if (loops.empty()) continue;
    // One pass over the function's header and body (linear however many
    // loops it holds): the identifiers declared, and each label's line and
    // the lines that jump to it.
    std::unordered_set<std::string_view> declared;
    for (size_t i = 0; i < header.size();) {
      if (std::isalpha(static_cast<unsigned char>(header[i])) || header[i] == '_') {
        size_t j = i;
        while (j < header.size() && (std::isalnum(static_cast<unsigned char>(header[j])) || header[j] == '_')) ++j;
        declared.insert(header.substr(i, j - i));
        i = j;
      } else {
        ++i;
      }
    }
    struct LabelLines {
      size_t labels = 0, line = 0;      // the label's line
      size_t gotos = 0, goto_end = 0;  // the end of the (last) line jumping to it
      bool goto_last = false;          // that line ends with "{goto <label>;}"
    };
    std::unordered_map<std::string_view, LabelLines> lines_of;
    const std::string_view text(*c);
    for (size_t line = body; line < end;) {
      size_t nl = text.find('\n', line);
      if (nl == std::string_view::npos || nl > end) nl = end;
      const std::string_view l = text.substr(line, nl - line), t = Trim(l);
      if (t.size() > 2 && t.substr(t.size() - 2) == ": " && t.find_first_of(" ;:") == t.size() - 2) {
        LabelLines& ll = lines_of[t.substr(0, t.size() - 2)];
        ++ll.labels;
        ll.line = line;
      }
      for (size_t g = l.find("goto "); g != std::string_view::npos; g = l.find("goto ", g + 5)) {
        const size_t semi = l.find(';', g);
        if (semi == std::string_view::npos) break;
        LabelLines& ll = lines_of[l.substr(g + 5, semi - g - 5)];
        ++ll.gotos;
        ll.goto_end = nl + 1;
        ll.goto_last = l.substr(semi) == ";}" && g >= 1 && l[g - 1] == '{';
      }
      line = nl + 1;
    }
    for (const CountedLoop& l : loops) {
      if (l.loop->block.label.empty() || l.loop->block.label[0] != '$') continue;
      const std::string label = "w2c_" + l.loop->block.label.substr(1);
      bool names_ok = true;
      for (const auto& [local, step] : l.steps) names_ok = names_ok && declared.count(LocalName(f, local));
      for (const Sym* s : {&l.counter, &l.bound}) {
        if (s->inv >= 0) names_ok = names_ok && declared.count(LocalName(f, s->inv));
      }
      for (const Access& a : l.accesses) {
        if (a.addr.inv >= 0) names_ok = names_ok && declared.count(LocalName(f, a.addr.inv));
      }
      if (!names_ok) continue;
      // The label's line once in the body, and one jump to it, after it: the
      // back-edge ending the loop.
      auto it = lines_of.find(label);
      if (it == lines_of.end()) continue;
      const LabelLines& ll = it->second;
      if (ll.labels != 1 || ll.gotos != 1 || !ll.goto_last || ll.goto_end <= ll.line || ll.goto_end > end + 1) continue;
      const std::string_view region(c->data() + ll.line, ll.goto_end - 1 - ll.line);
      std::string rewritten = Rewrite(Lines(region), label, Condition(f, l, write_barrier), l.cost);
      if (rewritten.empty()) continue;
      edits.push_back({ll.line, ll.goto_end, std::move(rewritten)});
    }
  }
  if (edits.empty()) return 0;
  size_t extra = 0;
  for (const Edit& e : edits) extra += e.text.size() - (e.end - e.begin);
  if (extra > kMaxTranslatedCBytes - std::min(kMaxTranslatedCBytes, c->size())) return 0;
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(c->size() + extra);
  size_t from = 0;
  for (const Edit& e : edits) {
    out.append(*c, from, e.begin - from);
    out += e.text;
    from = e.end;
  }
  out.append(*c, from, std::string::npos);
  *c = std::move(out);
  return edits.size();
}

}  // namespace crust::engine
