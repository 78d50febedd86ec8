// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/interp_oracle_notes.h"

#include <map>
#include <memory>
#include <string>

#include "src/engine/prepare/wabt_util.h"
#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/cast.h"
#include "wabt/ir.h"
#include "wabt/stream.h"

namespace crust::engine {
namespace {

using wabt::ExprType;
using wabt::Opcode;
using wabt::Type;

wabt::Var V(uint32_t index) { return wabt::Var(index, wabt::Location()); }

// Pushes the expression lists nested in a block, loop or if onto `stack`
// (the two walks below are iterative: the module controls the nesting).
void PushNested(wabt::Expr* e, std::vector<wabt::ExprList*>* stack) {
  switch (e->type()) {
    case ExprType::Block: stack->push_back(&wabt::cast<wabt::BlockExpr>(e)->block.exprs); break;
    case ExprType::Loop: stack->push_back(&wabt::cast<wabt::LoopExpr>(e)->block.exprs); break;
    case ExprType::If: {
      auto* i = wabt::cast<wabt::IfExpr>(e);
      stack->push_back(&i->true_.exprs);
      stack->push_back(&i->false_);
      break;
    }
    default: break;
  }
}

class Noter {
 public:
  explicit Noter(wabt::Module* m) : m_(m) {}

  void Run() {
    const uint32_t first_defined = m_->num_func_imports;
    AddImport();
    ShiftFunctionIndices(first_defined);
    for (uint32_t i = m_->num_func_imports; i < m_->funcs.size(); ++i) Rewrite(m_->funcs[i]);
  }

 private:
  uint32_t FindOrAddFuncType(const wabt::TypeVector& params) {
    for (uint32_t i = 0; i < m_->types.size(); ++i) {
      const auto* ft = wabt::dyn_cast<wabt::FuncType>(m_->types[i]);
      if (ft && ft->sig.param_types == params && ft->sig.result_types.empty()) return i;
    }
    auto field = std::make_unique<wabt::TypeModuleField>();
    auto type = std::make_unique<wabt::FuncType>();
    type->sig.param_types = params;
    field->type = std::move(type);
    m_->AppendField(std::move(field));
    return static_cast<uint32_t>(m_->types.size() - 1);
  }

  // The import becomes function index num_func_imports (after the existing
  // function imports), so every defined function's index grows by one.
  void AddImport() {
    const uint32_t type = FindOrAddFuncType({Type::I32, Type::I64, Type::I64, Type::I64, Type::I32});
    auto imp = std::make_unique<wabt::FuncImport>();
    imp->module_name = kNoteModule;
    imp->field_name = kNoteField;
    imp->func.decl.has_func_type = true;
    imp->func.decl.type_var = V(type);
    imp->func.decl.sig = wabt::cast<wabt::FuncType>(m_->types[type])->sig;
    wabt::Func* func = &imp->func;
    auto field = std::make_unique<wabt::ImportModuleField>();
    field->import = std::move(imp);
    m_->imports.push_back(field->import.get());
    m_->funcs.insert(m_->funcs.begin() + m_->num_func_imports, func);
    note_ = m_->num_func_imports++;
    m_->fields.push_back(std::move(field));
  }

  static void Shift(wabt::Var* v, uint32_t first) {
    if (v->is_index() && v->index() >= first) v->set_index(v->index() + 1);
  }

  void ShiftList(wabt::ExprList* list, uint32_t first) {
    std::vector<wabt::ExprList*> stack{list};
    while (!stack.empty()) {
      wabt::ExprList* l = stack.back();
      stack.pop_back();
      for (wabt::Expr& e : *l) {
        switch (e.type()) {
          case ExprType::Call: Shift(&wabt::cast<wabt::CallExpr>(&e)->var, first); break;
          case ExprType::ReturnCall: Shift(&wabt::cast<wabt::ReturnCallExpr>(&e)->var, first); break;
          case ExprType::RefFunc: Shift(&wabt::cast<wabt::RefFuncExpr>(&e)->var, first); break;
          case ExprType::Block:
          case ExprType::Loop:
          case ExprType::If: PushNested(&e, &stack); break;
          default: break;
        }
      }
    }
  }

  void ShiftFunctionIndices(uint32_t first) {
    for (uint32_t i = m_->num_func_imports; i < m_->funcs.size(); ++i) ShiftList(&m_->funcs[i]->exprs, first);
    for (wabt::Export* e : m_->exports) {
      if (e->kind == wabt::ExternalKind::Func) Shift(&e->var, first);
    }
    for (wabt::Var* v : m_->starts) Shift(v, first);
    for (wabt::ElemSegment* seg : m_->elem_segments) {
      ShiftList(&seg->offset, first);
      for (wabt::ExprList& l : seg->elem_exprs) ShiftList(&l, first);
    }
    for (wabt::Global* g : m_->globals) ShiftList(&g->init_expr, first);
  }

  uint32_t Local(Type t) {
    for (auto& [type, index] : locals_) {
      if (type == t && !used_[index]) {
        used_[index] = true;
        return index;
      }
    }
    const uint32_t index = func_->GetNumParamsAndLocals();
    func_->local_types.AppendDecl(t, 1);
    locals_.push_back({t, index});
    used_[index] = true;
    return index;
  }

  template <typename T>
  void Add(wabt::ExprList* out, std::unique_ptr<T> e) {
    out->push_back(std::move(e));
  }
  void Get(wabt::ExprList* out, uint32_t l) { Add(out, std::make_unique<wabt::LocalGetExpr>(V(l))); }
  void Set(wabt::ExprList* out, uint32_t l) { Add(out, std::make_unique<wabt::LocalSetExpr>(V(l))); }
  void I32(wabt::ExprList* out, uint32_t v) { Add(out, std::make_unique<wabt::ConstExpr>(wabt::Const::I32(v))); }
  void I64(wabt::ExprList* out, uint64_t v) { Add(out, std::make_unique<wabt::ConstExpr>(wabt::Const::I64(v))); }
  // local (i32) as an i64, plus `add`.
  void Wide(wabt::ExprList* out, uint32_t l, uint64_t add = 0) {
    Get(out, l);
    Add(out, std::make_unique<wabt::ConvertExpr>(Opcode::I64ExtendI32U));
    if (add != 0) {
      I64(out, add);
      Add(out, std::make_unique<wabt::BinaryExpr>(Opcode::I64Add));
    }
  }
  void Note(wabt::ExprList* out) { Add(out, std::make_unique<wabt::CallExpr>(V(note_))); }

  // The note sequence that goes before `e` (which stays), or empty.
  wabt::ExprList Before(const wabt::Expr& e) {
    wabt::ExprList out;
    used_.clear();
    switch (e.type()) {
      case ExprType::Store: {
        const auto* s = wabt::cast<wabt::StoreExpr>(&e);
        const uint32_t value = Local(s->opcode.GetParamType2());
        const uint32_t addr = Local(Type::I32);
        Set(&out, value);
        Set(&out, addr);
        I32(&out, static_cast<uint32_t>(NoteKind::kStore));
        Wide(&out, addr, s->offset);
        I64(&out, s->opcode.GetMemorySize());
        I64(&out, 0);
        I32(&out, 0);
        Note(&out);
        Get(&out, addr);
        Get(&out, value);
        break;
      }
      case ExprType::MemoryFill:
      case ExprType::MemoryCopy:
      case ExprType::MemoryInit: {
        const uint32_t n = Local(Type::I32), mid = Local(Type::I32), d = Local(Type::I32);
        Set(&out, n);
        Set(&out, mid);
        Set(&out, d);
        NoteKind kind = NoteKind::kStore;
        uint32_t segment = 0;
        if (e.type() == ExprType::MemoryCopy) kind = NoteKind::kCopy;
        if (e.type() == ExprType::MemoryInit) {
          kind = NoteKind::kInit;
          segment = wabt::cast<wabt::MemoryInitExpr>(&e)->var.index();
        }
        I32(&out, static_cast<uint32_t>(kind));
        Wide(&out, d);
        Wide(&out, n);
        Wide(&out, mid);
        I32(&out, segment);
        Note(&out);
        Get(&out, d);
        Get(&out, mid);
        Get(&out, n);
        break;
      }
      case ExprType::DataDrop:
        I32(&out, static_cast<uint32_t>(NoteKind::kDrop));
        I64(&out, 0);
        I64(&out, 0);
        I64(&out, 0);
        I32(&out, wabt::cast<wabt::DataDropExpr>(&e)->var.index());
        Note(&out);
        break;
      default:
        break;
    }
    return out;
  }

  void Rewrite(wabt::Func* f) {
    func_ = f;
    locals_.clear();
    std::vector<wabt::ExprList*> stack{&f->exprs};
    while (!stack.empty()) {
      wabt::ExprList* l = stack.back();
      stack.pop_back();
      for (auto it = l->begin(); it != l->end(); ++it) {
        wabt::Expr& e = *it;
        switch (e.type()) {
          case ExprType::Block:
          case ExprType::Loop:
          case ExprType::If: PushNested(&e, &stack); break;
          default: break;
        }
        wabt::ExprList pre = Before(e);
        if (!pre.empty()) l->splice(it, pre);
      }
    }
  }

  wabt::Module* const m_;
  uint32_t note_ = 0;
  wabt::Func* func_ = nullptr;
  std::vector<std::pair<Type, uint32_t>> locals_;  // scratch locals of func_
  std::map<uint32_t, bool> used_;                  // by the current sequence
};

}  // namespace

Result<NotedModule> AddWriteNotes(ByteView wasm) {
  wabt::Errors errors;
  wabt::Module module;
  wabt::Features features;
  wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/false);
  if (wabt::Failed(wabt::ReadBinaryIr("oracle.wasm", wasm.data(), wasm.size(), options, &errors, &module))) {
    return Status::InvalidModule("oracle: wabt cannot read the prepared module");
  }
  if (module.memories.size() > 1) return Status::NotSupported("oracle: more than one memory");
  NotedModule out;
  for (const wabt::DataSegment* seg : module.data_segments) out.segment_lengths.push_back(seg->data.size());
  Noter(&module).Run();
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions wopts(features, /*canonicalize_lebs=*/true, /*relocatable=*/false,
                                 /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &module, wopts))) {
    return Status::InvalidModule("oracle: could not encode the noted module");
  }
  const std::vector<uint8_t>& data = stream.output_buffer().data;
  out.wasm.assign(data.begin(), data.end());
  return out;
}

}  // namespace crust::engine
