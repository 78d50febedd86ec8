// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/lower64.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

#include "src/engine/prepare/validate.h"
#include "src/engine/prepare/wabt_util.h"
#include "wabt/cast.h"
#include "wabt/ir.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;
using wabt::Type;
using ExprPtr = std::unique_ptr<wabt::Expr>;

constexpr uint64_t kU32Max = 0xffffffffull;

// ---- table64 limits in the binary ----------------------------------------

class Reader {
 public:
  Reader(ByteView b, size_t pos, size_t end) : b_(b), pos_(pos), end_(end) {}
  bool Byte(uint8_t* out) {
    if (pos_ >= end_) return false;
    *out = b_[pos_++];
    return true;
  }
  bool Leb(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint8_t byte;
      if (!Byte(&byte)) return false;
      if (shift == 63 && byte > 1) return false;
      v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return false;
  }
  bool Skip(uint64_t n) {
    if (n > end_ - pos_) return false;
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  ByteView b_;
  size_t pos_, end_;
};

void PutLeb(Bytes* out, uint64_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out->push_back(byte);
  } while (v != 0);
}

// A section this scan cannot read: leave the bytes to wabt, which reports it.
Status Malformed(const std::string& what) { return Status::InvalidModule("malformed module: " + what); }
bool IsMalformed(const Status& s) { return s.code() == Status::Code::kInvalidModule; }

// Copies one limits encoding from `r` to `out`, as 32-bit limits if it was
// 64-bit (sets *was64).
Status CopyTableLimits(Reader* r, Bytes* out, uint32_t table, bool* was64) {
  uint8_t flags;
  uint64_t initial, max = 0;
  if (!r->Byte(&flags) || !r->Leb(&initial)) return Malformed("table " + std::to_string(table) + " limits");
  const bool has_max = flags & 1;
  if (has_max && !r->Leb(&max)) return Malformed("table " + std::to_string(table) + " limits");
  *was64 = flags & 4;
  if (*was64 && (initial > kU32Max || max > kU32Max)) {
    return Status::NotSupported("table64: table " + std::to_string(table) + " limits above 2^32-1");
  }
  out->push_back(*was64 ? static_cast<uint8_t>(flags & ~4) : flags);
  PutLeb(out, initial);
  if (has_max) PutLeb(out, max);
  return Status::OK();
}

bool SkipName(Reader* r) {
  uint64_t n;
  return r->Leb(&n) && r->Skip(n);
}

}  // namespace

namespace {
Result<std::optional<Table64Rewrite>> Rewrite64(ByteView wasm);
}  // namespace

Result<std::optional<Table64Rewrite>> RewriteTable64Limits(ByteView wasm) {
  Result<std::optional<Table64Rewrite>> r = Rewrite64(wasm);
  if (!r.ok() && IsMalformed(r.status())) return std::optional<Table64Rewrite>();  // wabt's error instead
  return r;
}

namespace {
Result<std::optional<Table64Rewrite>> Rewrite64(ByteView wasm) {
  if (wasm.size() < 8) return std::optional<Table64Rewrite>();  // wabt reports it
  Table64Rewrite rw;
  uint32_t table = 0;  // next table index
  size_t copied = 0;   // wasm[0, copied) is already in rw.wasm
  Reader top(wasm, 8, wasm.size());
  while (top.pos() < wasm.size()) {
    const size_t section_start = top.pos();
    uint8_t id;
    uint64_t size;
    if (!top.Byte(&id) || !top.Leb(&size)) return Malformed("section header at byte " + std::to_string(section_start));
    const size_t body = top.pos();
    if (!top.Skip(size)) return Malformed("section " + std::to_string(id) + " runs past the end");
    if (id != 2 && id != 4) continue;
    // Rebuild the import (2) or table (4) section's body.
    Reader r(wasm, body, body + size);
    Bytes out;
    uint64_t count;
    if (!r.Leb(&count)) return Malformed("section " + std::to_string(id) + " count");
    PutLeb(&out, count);
    bool changed = false;
    for (uint64_t i = 0; i < count; ++i) {
      size_t from = r.pos();
      if (id == 2) {
        uint8_t kind;
        if (!SkipName(&r) || !SkipName(&r) || !r.Byte(&kind)) return Malformed("import " + std::to_string(i));
        if (kind != 1) {  // only table imports matter: copy the rest of the entry
          bool ok = true;
          uint64_t v;
          uint8_t b;
          switch (kind) {
            case 0: ok = r.Leb(&v); break;                      // function: type index
            case 2: {                                         // memory: limits
              ok = r.Byte(&b) && r.Leb(&v) && (!(b & 1) || r.Leb(&v));
              break;
            }
            case 3: ok = r.Byte(&b) && r.Byte(&b); break;     // global: type, mutability
            case 4: ok = r.Byte(&b) && r.Leb(&v); break;      // tag
            default: ok = false;
          }
          if (!ok) return Malformed("import " + std::to_string(i));
          out.insert(out.end(), wasm.begin() + from, wasm.begin() + r.pos());
          continue;
        }
        uint8_t reftype;
        if (!r.Byte(&reftype)) return Malformed("import " + std::to_string(i));
        out.insert(out.end(), wasm.begin() + from, wasm.begin() + r.pos());
      } else {
        uint8_t reftype;
        if (!r.Byte(&reftype)) return Malformed("table " + std::to_string(table));
        if (reftype == 0x40) return Malformed("table " + std::to_string(table) + " with an initialiser");
        out.push_back(reftype);
      }
      bool was64 = false;
      RETURN_IF_ERROR(CopyTableLimits(&r, &out, table, &was64));
      if (was64) {
        rw.tables.push_back(table);
        changed = true;
      }
      ++table;
    }
    if (r.pos() != body + size) return Malformed("section " + std::to_string(id) + " has trailing bytes");
    if (!changed) continue;
    rw.wasm.insert(rw.wasm.end(), wasm.begin() + copied, wasm.begin() + section_start);
    rw.wasm.push_back(id);
    PutLeb(&rw.wasm, out.size());
    rw.wasm.insert(rw.wasm.end(), out.begin(), out.end());
    copied = body + size;
  }
  if (rw.tables.empty()) return std::optional<Table64Rewrite>();
  rw.wasm.insert(rw.wasm.end(), wasm.begin() + copied, wasm.end());
  return std::optional<Table64Rewrite>(std::move(rw));
}
}  // namespace

// ---- IR lowering -----------------------------------------------------------

namespace {

constexpr std::string_view kArtifact = "<crust memory64/table64 lowering>";

wabt::Var V(uint32_t index) { return wabt::Var(index, wabt::Location()); }

// New instructions, marked as lowering artefacts.
class Seq {
 public:
  Seq& LocalGet(uint32_t l) { return Add(std::make_unique<wabt::LocalGetExpr>(V(l))); }
  Seq& LocalSet(uint32_t l) { return Add(std::make_unique<wabt::LocalSetExpr>(V(l))); }
  Seq& I64(uint64_t v) { return Add(std::make_unique<wabt::ConstExpr>(wabt::Const::I64(v))); }
  Seq& Convert(Opcode op) { return Add(std::make_unique<wabt::ConvertExpr>(op)); }
  Seq& Compare(Opcode op) { return Add(std::make_unique<wabt::CompareExpr>(op)); }
  Seq& Select() { return Add(std::make_unique<wabt::SelectExpr>(wabt::TypeVector{})); }
  // i64 in local l -> i32 min(l, 0xffffffff)
  Seq& ClampLocal(uint32_t l) {
    return LocalGet(l).I64(kU32Max).LocalGet(l).I64(kU32Max).Compare(Opcode::I64LeU).Select().Convert(
        Opcode::I32WrapI64);
  }
  wabt::ExprList Take() { return std::move(list_); }

 private:
  Seq& Add(ExprPtr e) {
    e->loc.filename = kArtifact;
    list_.push_back(std::move(e));
    return *this;
  }
  wabt::ExprList list_;
};

// Scratch locals of one function, added on first use: slot k of type t.
class Scratch {
 public:
  explicit Scratch(wabt::Func* f) : f_(f) {}
  uint32_t Get(Type t, int k) {
    const int i = Index(t) * 4 + k;
    if (slots_[i] == kNone) {
      slots_[i] = f_->GetNumParamsAndLocals();
      f_->local_types.AppendDecl(t, 1);
    }
    return slots_[i];
  }

 private:
  static int Index(Type t) {
    switch (t) {
      case Type::I32: return 0;
      case Type::I64: return 1;
      case Type::F32: return 2;
      default: return 3;
    }
  }
  static constexpr uint32_t kNone = ~0u;
  wabt::Func* f_;
  uint32_t slots_[16] = {kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
                         kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone};
};

// Calls fn(list, iterator) for every expression, depth first, allowing fn to
// insert before/after the current expression. Stops at the first error.
template <typename Fn>
Status Rewrite(wabt::ExprList* list, Fn&& fn) {
  for (auto it = list->begin(); it != list->end(); ++it) {
    wabt::Expr& e = *it;
    switch (e.type()) {
      case ExprType::Block: RETURN_IF_ERROR(Rewrite(&wabt::cast<wabt::BlockExpr>(&e)->block.exprs, fn)); break;
      case ExprType::Loop: RETURN_IF_ERROR(Rewrite(&wabt::cast<wabt::LoopExpr>(&e)->block.exprs, fn)); break;
      case ExprType::If: {
        auto* i = wabt::cast<wabt::IfExpr>(&e);
        RETURN_IF_ERROR(Rewrite(&i->true_.exprs, fn));
        RETURN_IF_ERROR(Rewrite(&i->false_, fn));
        break;
      }
      case ExprType::Try: {
        auto* t = wabt::cast<wabt::TryExpr>(&e);
        RETURN_IF_ERROR(Rewrite(&t->block.exprs, fn));
        for (wabt::Catch& c : t->catches) RETURN_IF_ERROR(Rewrite(&c.exprs, fn));
        break;
      }
      default:
        break;
    }
    RETURN_IF_ERROR(fn(list, it));
  }
  return Status::OK();
}

void InsertBefore(wabt::ExprList* list, wabt::ExprList::iterator it, wabt::ExprList seq) { list->splice(it, seq); }
void InsertAfter(wabt::ExprList* list, wabt::ExprList::iterator it, wabt::ExprList seq) {
  list->splice(std::next(it), seq);
}

// i64 on top of the stack -> clamped i32.
wabt::ExprList ClampTop(Scratch* s, int k = 0) {
  const uint32_t l = s->Get(Type::I64, k);
  Seq q;
  q.LocalSet(l).ClampLocal(l);
  return q.Take();
}

wabt::ExprList Extend(Opcode op) {
  Seq q;
  q.Convert(op);
  return q.Take();
}

Status LowerOffsetToI32(wabt::ExprList* offset, const std::string& what) {
  std::optional<uint64_t> v = ConstInitValue(*offset);
  if (!v || offset->size() != 1 || wabt::cast<wabt::ConstExpr>(&offset->front())->const_.type() != Type::I64) {
    return Status::NotSupported(what + ": offset must be one i64.const");
  }
  if (*v > kU32Max) return Status::InvalidModule(what + ": offset " + std::to_string(*v) + " is beyond 2^32-1");
  offset->clear();
  offset->push_back(std::make_unique<wabt::ConstExpr>(wabt::Const::I32(static_cast<uint32_t>(*v))));
  return Status::OK();
}

}  // namespace

bool IsLoweringArtifact(const wabt::Expr& e) { return e.loc.filename.data() == kArtifact.data(); }

Status LowerTable64(wabt::Module* m, const std::vector<uint32_t>& tables) {
  auto is64 = [&](const wabt::Var& v) {
    return std::binary_search(tables.begin(), tables.end(), m->GetTableIndex(v));
  };
  for (uint32_t fi = m->num_func_imports; fi < m->funcs.size(); ++fi) {
    Scratch scratch(m->funcs[fi]);
    auto unsupported = [&](const char* op) {
      return Status::NotSupported(std::string("table64: ") + op + " on a 64-bit table in " +
                                  DescribeFunction(*m, fi));
    };
    RETURN_IF_ERROR(Rewrite(&m->funcs[fi]->exprs, [&](wabt::ExprList* list, wabt::ExprList::iterator it) -> Status {
      wabt::Expr& e = *it;
      switch (e.type()) {
        case ExprType::CallIndirect:
          if (is64(wabt::cast<wabt::CallIndirectExpr>(&e)->table)) InsertBefore(list, it, ClampTop(&scratch));
          return Status::OK();
        case ExprType::TableGet:
          if (is64(wabt::cast<wabt::TableGetExpr>(&e)->var)) InsertBefore(list, it, ClampTop(&scratch));
          return Status::OK();
        case ExprType::TableSize:
          if (is64(wabt::cast<wabt::TableSizeExpr>(&e)->var)) InsertAfter(list, it, Extend(Opcode::I64ExtendI32U));
          return Status::OK();
        case ExprType::ReturnCallIndirect:
          return is64(wabt::cast<wabt::ReturnCallIndirectExpr>(&e)->table) ? unsupported("return_call_indirect")
                                                                           : Status::OK();
        case ExprType::TableSet:
          return is64(wabt::cast<wabt::TableSetExpr>(&e)->var) ? unsupported("table.set") : Status::OK();
        case ExprType::TableGrow:
          return is64(wabt::cast<wabt::TableGrowExpr>(&e)->var) ? unsupported("table.grow") : Status::OK();
        case ExprType::TableFill:
          return is64(wabt::cast<wabt::TableFillExpr>(&e)->var) ? unsupported("table.fill") : Status::OK();
        case ExprType::TableInit:
          return is64(wabt::cast<wabt::TableInitExpr>(&e)->table_index) ? unsupported("table.init") : Status::OK();
        case ExprType::TableCopy: {
          auto* c = wabt::cast<wabt::TableCopyExpr>(&e);
          return is64(c->dst_table) || is64(c->src_table) ? unsupported("table.copy") : Status::OK();
        }
        default:
          return Status::OK();
      }
    }));
  }
  for (uint32_t i = 0; i < m->elem_segments.size(); ++i) {
    wabt::ElemSegment& seg = *m->elem_segments[i];
    if (seg.kind != wabt::SegmentKind::Active || !is64(seg.table_var)) continue;
    RETURN_IF_ERROR(LowerOffsetToI32(&seg.offset, "table64: element segment " + std::to_string(i)));
  }
  return Status::OK();
}

bool HasMemory64(const wabt::Module& m) { return !m.memories.empty() && m.memories[0]->page_limits.is_64; }

Status LowerMemory64(wabt::Module* m) {
  if (!HasMemory64(*m)) return Status::OK();
  if (m->num_memory_imports > 0) return Status::NotSupported("memory64: an imported 64-bit memory");
  wabt::Limits& limits = m->memories[0]->page_limits;
  if (limits.initial > kMaxLoweredPages) {
    return Status::NotSupported("memory64: initial size of " + std::to_string(limits.initial) +
                                " pages (crust supports at most " + std::to_string(kMaxLoweredPages) + ")");
  }
  limits.max = limits.has_max ? std::min(limits.max, kMaxLoweredPages) : kMaxLoweredPages;
  limits.has_max = true;
  limits.is_64 = false;
  for (uint32_t i = 0; i < m->data_segments.size(); ++i) {
    wabt::DataSegment& seg = *m->data_segments[i];
    if (seg.kind != wabt::SegmentKind::Active) continue;
    RETURN_IF_ERROR(LowerOffsetToI32(&seg.offset, "memory64: data segment " + std::to_string(i)));
  }
  for (uint32_t fi = m->num_func_imports; fi < m->funcs.size(); ++fi) {
    Scratch s(m->funcs[fi]);
    RETURN_IF_ERROR(Rewrite(&m->funcs[fi]->exprs, [&](wabt::ExprList* list, wabt::ExprList::iterator it) -> Status {
      wabt::Expr& e = *it;
      switch (e.type()) {
        case ExprType::Load: {
          auto* l = wabt::cast<wabt::LoadExpr>(&e);
          InsertBefore(list, it, ClampTop(&s));
          l->offset = std::min<uint64_t>(l->offset, kU32Max);
          return Status::OK();
        }
        case ExprType::Store: {
          auto* st = wabt::cast<wabt::StoreExpr>(&e);
          const uint32_t value = s.Get(st->opcode.GetParamType2(), 1);
          const uint32_t addr = s.Get(Type::I64, 0);
          Seq q;
          q.LocalSet(value).LocalSet(addr).ClampLocal(addr).LocalGet(value);
          InsertBefore(list, it, q.Take());
          st->offset = std::min<uint64_t>(st->offset, kU32Max);
          return Status::OK();
        }
        case ExprType::MemorySize:
          InsertAfter(list, it, Extend(Opcode::I64ExtendI32U));
          return Status::OK();
        case ExprType::MemoryGrow:
          // Succeeding grows return at most kMaxLoweredPages: sign extension
          // keeps them and turns the failure value 0xffffffff into -1.
          InsertBefore(list, it, ClampTop(&s));
          InsertAfter(list, it, Extend(Opcode::I64ExtendI32S));
          return Status::OK();
        case ExprType::MemoryFill: {  // d: i64, value: i32, n: i64
          const uint32_t d = s.Get(Type::I64, 0), n = s.Get(Type::I64, 1), v = s.Get(Type::I32, 0);
          Seq q;
          q.LocalSet(n).LocalSet(v).LocalSet(d).ClampLocal(d).LocalGet(v).ClampLocal(n);
          InsertBefore(list, it, q.Take());
          return Status::OK();
        }
        case ExprType::MemoryCopy: {  // d, src, n: i64
          const uint32_t d = s.Get(Type::I64, 0), src = s.Get(Type::I64, 1), n = s.Get(Type::I64, 2);
          Seq q;
          q.LocalSet(n).LocalSet(src).LocalSet(d).ClampLocal(d).ClampLocal(src).ClampLocal(n);
          InsertBefore(list, it, q.Take());
          return Status::OK();
        }
        case ExprType::MemoryInit: {  // d: i64, src: i32, n: i32
          const uint32_t d = s.Get(Type::I64, 0), src = s.Get(Type::I32, 0), n = s.Get(Type::I32, 1);
          Seq q;
          q.LocalSet(n).LocalSet(src).LocalSet(d).ClampLocal(d).LocalGet(src).LocalGet(n);
          InsertBefore(list, it, q.Take());
          return Status::OK();
        }
        case ExprType::AtomicLoad: case ExprType::AtomicStore: case ExprType::AtomicRmw:
        case ExprType::AtomicRmwCmpxchg: case ExprType::AtomicWait: case ExprType::AtomicNotify:
        case ExprType::LoadSplat: case ExprType::LoadZero: case ExprType::SimdLoadLane:
        case ExprType::SimdStoreLane:
          return Status::NotSupported(std::string("memory64: ") + wabt::GetExprTypeName(e) +
                                      " on a 64-bit memory in " + DescribeFunction(*m, fi));
        default:
          return Status::OK();
      }
    }));
  }
  return Status::OK();
}

}  // namespace crust::engine
