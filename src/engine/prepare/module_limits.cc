// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/module_limits.h"

#include <algorithm>
#include <string>
#include <vector>

#include "src/engine/prepare/validate.h"
#include "src/engine/prepare/wabt_util.h"
#include "wabt/binary-reader-nop.h"
#include "wabt/binary-reader.h"
#include "wabt/ir.h"

namespace crust::engine {
namespace {

using wabt::Index;
using wabt::Result;

std::string N(uint64_t v) { return std::to_string(v); }

// Counts what the budgets cover while wabt's BinaryReader streams over the
// module; fails the read at the first exceeded budget (status_ says which).
class Scanner : public wabt::BinaryReaderNop {
 public:
  explicit Scanner(const ModuleLimits& limits) : limits_(limits) {}

  const Status& status() const { return status_; }
  const ModuleStats& stats() const { return stats_; }

  bool OnError(const wabt::Error&) override { return true; }  // the full decoder reports it

  Result OnTypeCount(Index count) override {
    return Budget(count, limits_.max_types, "types", "module declares " + N(count) + " types");
  }
  Result OnFuncType(Index index, Index params, wabt::Type*, Index results, wabt::Type*) override {
    const uint64_t arity = uint64_t{params} + results;
    if (Failed(Budget(arity, limits_.max_type_arity, "params and results of a function type",
                      "type " + N(index) + " has " + N(arity) + " params and results"))) {
      return Result::Error;
    }
    if (index >= type_params_.size()) {
      type_params_.resize(index + 1, 0);
      type_results_.resize(index + 1, 0);
    }
    type_params_[index] = params;
    type_results_[index] = results;
    return Result::Ok;
  }
  Result OnImportCount(Index count) override {
    return Budget(count, limits_.max_imports, "imports", "module has " + N(count) + " imports");
  }
  Result OnImportFunc(Index, std::string_view, std::string_view, Index, Index sig_index) override {
    ++imported_functions_;
    if (imported_functions_ <= limits_.max_functions) func_types_.push_back(sig_index);
    return Budget(imported_functions_, limits_.max_functions, "functions",
                  "module has more than " + N(imported_functions_ - 1) + " functions");
  }
  Result OnImportTable(Index, std::string_view, std::string_view, Index, wabt::Type,
                       const wabt::Limits* limits) override {
    return Table(*limits);
  }
  Result OnImportGlobal(Index, std::string_view, std::string_view, Index, wabt::Type, bool) override {
    ++globals_;
    return Budget(globals_, limits_.max_globals, "globals", "module has more than " + N(globals_ - 1) + " globals");
  }
  Result OnFunctionCount(Index count) override {
    const uint64_t total = imported_functions_ + uint64_t{count};
    if (Failed(Budget(total, limits_.max_functions, "functions", "module has " + N(total) + " functions"))) {
      return Result::Error;
    }
    func_types_.reserve(total);
    return Result::Ok;
  }
  Result OnFunction(Index, Index sig_index) override {
    func_types_.push_back(sig_index);
    return Result::Ok;
  }
  Result OnTableCount(Index count) override {
    return Budget(tables_ + uint64_t{count}, limits_.max_tables, "tables",
                  "module has " + N(tables_ + uint64_t{count}) + " tables");
  }
  Result OnTable(Index, wabt::Type, const wabt::Limits* limits) override { return Table(*limits); }
  Result OnGlobalCount(Index count) override {
    const uint64_t total = globals_ + uint64_t{count};
    return Budget(total, limits_.max_globals, "globals", "module has " + N(total) + " globals");
  }
  Result OnExportCount(Index count) override {
    return Budget(count, limits_.max_exports, "exports", "module has " + N(count) + " exports");
  }
  Result OnElemSegmentCount(Index count) override {
    return Budget(count, limits_.max_element_segments, "element segments",
                  "module has " + N(count) + " element segments");
  }
  Result OnElemSegmentElemExprCount(Index, Index count) override {
    element_entries_ += count;
    return Budget(element_entries_, limits_.max_element_entries, "element entries",
                  "element segments hold at least " + N(element_entries_) + " entries");
  }
  Result OnDataCount(Index count) override {
    data_count_ = count;
    return Budget(count, limits_.max_data_segments, "data segments",
                  "data count section announces " + N(count) + " segments");
  }
  Result OnDataSegmentCount(Index count) override {
    has_data_section_ = true;
    return Budget(count, limits_.max_data_segments, "data segments", "module has " + N(count) + " data segments");
  }

  Result BeginFunctionBody(Index index, wabt::Offset) override {
    func_index_ = index;
    depth_ = 0;
    locals_ = 0;
    if (index < func_types_.size() && func_types_[index] < type_params_.size()) {
      locals_ = type_params_[func_types_[index]];
    }
    height_ = max_height_ = 0;
    control_.clear();
    body_start_ = instructions_;
    return Result::Ok;
  }
  Result EndFunctionBody(Index index) override {
    const uint64_t frame = 8 * (locals_ + max_height_);
    if (frame > stats_.max_frame_bytes) {
      stats_.max_frame_bytes = frame;
      stats_.max_frame_function = index;
    }
    stats_.max_body_instructions = std::max(stats_.max_body_instructions, instructions_ - body_start_);
    stats_.instructions = instructions_;
    return Budget(frame, limits_.max_frame_bytes, "wasm frame bytes of one function",
                  "function " + N(index) + " has a wasm frame of " + N(frame) + " bytes (8 x (" + N(locals_) +
                      " locals + " + N(max_height_) + " operand stack slots))");
  }
  Result OnLocalDecl(Index, Index count, wabt::Type) override {
    locals_ += count;
    total_locals_ += count;
    if (Failed(Budget(locals_, limits_.max_function_locals, "locals per function",
                      "function " + N(func_index_) + " has at least " + N(locals_) + " locals"))) {
      return Result::Error;
    }
    return Budget(total_locals_, limits_.max_total_locals, "locals in all functions",
                  "functions declare at least " + N(total_locals_) + " locals");
  }
  // Constant expressions (global initialisers, segment offsets): exactly one
  // constant instruction and `end`. wabt 1.0.32's IR reader asserts (aborts
  // the process) on some others, e.g. an empty one or an operator with
  // nothing to pop, so they are refused here, before it sees them.
  Result BeginGlobalInitExpr(Index index) override { return BeginInit("global " + N(index)); }
  Result EndGlobalInitExpr(Index) override { return EndInit(); }
  Result BeginElemSegmentInitExpr(Index index) override { return BeginInit("element segment " + N(index)); }
  Result EndElemSegmentInitExpr(Index) override { return EndInit(); }
  Result BeginDataSegmentInitExpr(Index index) override { return BeginInit("data segment " + N(index)); }
  Result EndDataSegmentInitExpr(Index) override { return EndInit(); }

  Result OnOpcode(wabt::Opcode op) override {
    if (!init_what_.empty()) return InitOpcode(op);
    StackEffect(op);
    ++instructions_;
    return Budget(instructions_, limits_.max_instructions, "instructions",
                  "function bodies hold more than " + N(instructions_ - 1) + " instructions");
  }
  Result OnBlockExpr(wabt::Type sig) override { return Enter(sig); }
  Result OnLoopExpr(wabt::Type sig) override { return Enter(sig); }
  Result OnIfExpr(wabt::Type sig) override {
    Pop(1);
    return Enter(sig);
  }
  Result OnTryExpr(wabt::Type sig) override { return Enter(sig); }
  Result OnElseExpr() override {
    if (!control_.empty()) height_ = control_.back().base + control_.back().params;
    return Result::Ok;
  }
  Result OnEndExpr() override { return Leave(); }
  Result OnDelegateExpr(Index) override { return Leave(); }  // ends a try like `end`
  // Operand stack effects the opcode table does not give (StackEffect).
  Result OnBrIfExpr(Index) override { return Pop(1); }
  Result OnBrTableExpr(Index, Index*, Index) override { return Pop(1); }
  Result OnCallExpr(Index func) override {
    if (func < func_types_.size()) CallType(func_types_[func]);
    return Result::Ok;
  }
  Result OnCallIndirectExpr(Index sig, Index) override {
    Pop(1);
    CallType(sig);
    return Result::Ok;
  }
  Result OnReturnCallExpr(Index func) override {
    if (func < func_types_.size()) CallType(func_types_[func]);
    return Result::Ok;
  }
  Result OnReturnCallIndirectExpr(Index sig, Index) override {
    Pop(1);
    CallType(sig);
    return Result::Ok;
  }

  Result EndModule() override {
    if (data_count_ > 0 && !has_data_section_) {
      return Invalid("data count section announces " + N(data_count_) +
                     " segments but the module has no data section");
    }
    return Result::Ok;
  }

 private:
  Result Budget(uint64_t value, uint64_t limit, const char* name, const std::string& what) {
    if (value <= limit) return Result::Ok;
    status_ = Status::ResourceExhausted("deploy limit exceeded: " + what + "; the limit is " + N(limit) + " (" +
                                        name + ")");
    return Result::Error;
  }
  Result Invalid(const std::string& what) {
    status_ = Status::InvalidModule(what);
    return Result::Error;
  }
  Result BeginInit(std::string what) {
    init_what_ = std::move(what);
    init_values_ = 0;
    return Result::Ok;
  }
  Result InitOpcode(wabt::Opcode op) {
    if (op == wabt::Opcode::End) return Result::Ok;
    const bool constant = op == wabt::Opcode::I32Const || op == wabt::Opcode::I64Const ||
                          op == wabt::Opcode::F32Const || op == wabt::Opcode::F64Const ||
                          op == wabt::Opcode::V128Const ||  // refused later, by name (SIMD)
                          op == wabt::Opcode::GlobalGet || op == wabt::Opcode::RefNull ||
                          op == wabt::Opcode::RefFunc;
    if (!constant || ++init_values_ > 1) {
      return Invalid(init_what_ + ": its constant expression uses " + std::string(op.GetName()) +
                     "; only one i32/i64/f32/f64.const, global.get, ref.null or ref.func is allowed");
    }
    return Result::Ok;
  }
  Result EndInit() {
    const std::string what = std::move(init_what_);
    init_what_.clear();
    if (init_values_ != 1) return Invalid(what + ": its constant expression is empty");
    return Result::Ok;
  }
  // A block's params and results: none, one value type, or a type index.
  void BlockArity(wabt::Type sig, uint64_t* params, uint64_t* results) const {
    *params = *results = 0;
    if (sig.IsIndex()) {
      const Index t = sig.GetIndex();
      if (t < type_params_.size()) {
        *params = type_params_[t];
        *results = type_results_[t];
      }
    } else if (sig != wabt::Type::Void) {
      *results = 1;
    }
  }
  Result Enter(wabt::Type sig) {
    ++depth_;
    if (Failed(Budget(depth_, limits_.max_nesting_depth, "block nesting depth",
                      "function " + N(func_index_) + " nests blocks more than " + N(depth_ - 1) + " deep"))) {
      return Result::Error;
    }
    Control c;
    BlockArity(sig, &c.params, &c.results);
    c.base = height_ >= c.params ? height_ - c.params : 0;
    control_.push_back(c);  // at most max_nesting_depth entries
    return Result::Ok;
  }
  Result Leave() {
    if (depth_ > 0) --depth_;
    if (!control_.empty()) {
      height_ = control_.back().base + control_.back().results;
      Push(0);
      control_.pop_back();
    }
    return Result::Ok;
  }
  // Operand stack tracking (see the header: an upper bound of the height).
  // Popping fewer than an instruction pops, or pushing more, only raises
  // the bound; pops never go below the innermost block's base.
  Result Pop(uint64_t n) {
    const uint64_t floor = control_.empty() ? 0 : control_.back().base;
    height_ = height_ - floor >= n ? height_ - n : floor;
    return Result::Ok;
  }
  void Push(uint64_t n) {
    height_ += n;
    if (height_ > max_height_) max_height_ = height_;
  }
  void CallType(Index sig) {
    if (sig >= type_params_.size()) return;  // invalid: the validator rejects it
    Pop(type_params_[sig]);
    Push(type_results_[sig]);
  }
  // The effect of instructions whose operands the opcode table lists
  // (numeric, memory, table); control, calls and branches have callbacks.
  void StackEffect(wabt::Opcode op) {
    using O = wabt::Opcode;
    switch (op) {
      case O::Select:
      case O::SelectT: Pop(3), Push(1); return;
      case O::LocalGet:
      case O::GlobalGet:
      case O::RefNull:
      case O::RefFunc:
      case O::TableSize: Push(1); return;
      case O::LocalSet:
      case O::GlobalSet:
      case O::Drop: Pop(1); return;
      case O::LocalTee:
      case O::RefIsNull: return;
      case O::TableGet: Pop(1), Push(1); return;
      case O::TableSet: Pop(2); return;
      case O::TableGrow: Pop(2), Push(1); return;
      case O::TableFill: Pop(3); return;
      default: break;
    }
    uint64_t pops = 0;
    for (int i = 1; i <= 3; ++i) pops += op.GetParamType(i) != wabt::Type::Void ? 1 : 0;
    Pop(pops);
    if (op.GetResultType() != wabt::Type::Void) Push(1);
  }
  Result Table(const wabt::Limits& limits) {
    ++tables_;
    if (Failed(Budget(tables_, limits_.max_tables, "tables", "module has more than " + N(tables_ - 1) + " tables"))) {
      return Result::Error;
    }
    if (limits.initial > limits_.max_table_entries) {
      return Invalid("table " + N(tables_ - 1) + " has an initial size of " + N(limits.initial) +
                     " entries; the limit is " + N(limits_.max_table_entries));
    }
    return Result::Ok;
  }

  const ModuleLimits& limits_;
  Status status_;
  uint64_t imported_functions_ = 0;
  uint64_t globals_ = 0;
  uint64_t tables_ = 0;
  uint64_t element_entries_ = 0;
  uint64_t data_count_ = 0;
  bool has_data_section_ = false;
  struct Control {
    uint64_t base = 0;  // operand stack height below the block's params
    uint64_t params = 0, results = 0;
  };
  std::vector<uint32_t> type_params_;   // params of each function type (<= max_types)
  std::vector<uint32_t> type_results_;  // results of each function type
  std::vector<uint32_t> func_types_;    // type of each function, imports first (<= max_functions)
  std::vector<Control> control_;        // enclosing blocks (<= max_nesting_depth)
  uint64_t height_ = 0, max_height_ = 0;  // operand stack of the body being read
  Index func_index_ = 0;
  uint64_t depth_ = 0;
  uint64_t locals_ = 0;
  uint64_t total_locals_ = 0;
  uint64_t instructions_ = 0;
  uint64_t body_start_ = 0;  // instructions_ when the current body began
  std::string init_what_;  // the constant expression being read ("global 3"), empty outside one
  int init_values_ = 0;
  ModuleStats stats_;
};

}  // namespace

ModuleLimits ModuleLimits::Prepared() const {
  ModuleLimits p = *this;
  p.max_types = 2 * max_types + 1;  // + the charge helper's and multi-value wrappers' types
  p.max_functions += 1;         // the charge helper
  p.max_globals += 3;           // gas, depth, trap
  p.max_exports += max_globals + 3;  // state globals and the three instrumentation globals
  p.max_function_locals += 2;   // NaN scratch locals
  p.max_total_locals += 2 * uint64_t{max_functions} + 1;
  p.max_nesting_depth += 2;     // the body wrapper, the trap `if`
  p.max_frame_bytes += kInstrumentationFrameBytes;
  // Per original instruction at most: a static charge (9 instructions, one
  // `if` holding 3), a dynamic charge (3), a depth release (4) or NaN
  // canonicalisation (6); per function: entry and exit (14) and the helper.
  p.max_instructions = max_instructions * 24 + uint64_t{max_functions} * 24 + 100;
  return p;
}

Status CheckModuleLimits(ByteView wasm, const ModuleLimits& limits, ModuleStats* stats) {
  Scanner scanner(limits);
  wabt::ReadBinaryOptions options(DecodeFeatures(), nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/false);
  // Failed with an OK status when the bytes are malformed: DecodeModule says how.
  (void)wabt::ReadBinary(wasm.data(), wasm.size(), &scanner, options);
  if (stats != nullptr) *stats = scanner.stats();
  return scanner.status();
}

Status CheckElementSegmentsFit(const wabt::Module& m) {
  for (uint32_t i = 0; i < m.elem_segments.size(); ++i) {
    const wabt::ElemSegment& seg = *m.elem_segments[i];
    if (seg.kind != wabt::SegmentKind::Active) continue;
    const std::optional<uint64_t> offset = ConstInitValue(seg.offset);
    if (!offset) continue;
    const Index table = m.GetTableIndex(seg.table_var);
    if (table >= m.tables.size()) continue;  // the validator rejected it already
    const uint64_t size = m.tables[table]->elem_limits.initial;
    const uint64_t end = static_cast<uint32_t>(*offset) + uint64_t{seg.elem_exprs.size()};
    if (end > size) {
      return Status::InvalidModule("element segment " + N(i) + " [" + N(static_cast<uint32_t>(*offset)) + ", " +
                                   N(end) + ") does not fit in table " + N(table) + " of " + N(size) +
                                   " entries");
    }
  }
  return Status::OK();
}

}  // namespace crust::engine
