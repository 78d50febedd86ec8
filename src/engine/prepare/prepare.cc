// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepare.h"

#include <map>
#include <memory>
#include <new>

#include "src/engine/prepare/instrument.h"
#include "src/engine/prepare/module_limits.h"
#include "src/engine/prepare/lower64.h"
#include "src/engine/prepare/wabt_util.h"
#include "wabt/binary-writer.h"
#include "wabt/feature.h"
#include "wabt/ir.h"
#include "wabt/stream.h"

namespace crust::engine {
namespace {

// Non-overlapping chunks keyed by start offset; a new write overwrites.
using ChunkMap = std::map<uint64_t, Bytes>;

void Overlay(ChunkMap* chunks, uint64_t offset, const std::vector<uint8_t>& data) {
  if (data.empty()) return;
  uint64_t start = offset, end = offset + data.size();
  auto it = chunks->upper_bound(offset);
  if (it != chunks->begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size() >= offset) it = prev;
  }
  ChunkMap merged;  // the old chunks touching [offset, end]
  while (it != chunks->end() && it->first <= end) {
    start = std::min(start, it->first);
    end = std::max(end, it->first + it->second.size());
    merged.insert(chunks->extract(it++));
  }
  Bytes buf(end - start, 0);
  for (const auto& [off, bytes] : merged) std::copy(bytes.begin(), bytes.end(), buf.begin() + (off - start));
  std::copy(data.begin(), data.end(), buf.begin() + (offset - start));
  chunks->emplace(start, std::move(buf));
}

bool UsesDataIndices(const wabt::Module& m) {
  for (uint32_t i = m.num_func_imports; i < m.funcs.size(); ++i) {
    bool found = false;
    ForEachExpr(m.funcs[i]->exprs, [&](const wabt::Expr& e) {
      found = e.type() == wabt::ExprType::MemoryInit || e.type() == wabt::ExprType::DataDrop;
      return !found;
    });
    if (found) return true;
  }
  return false;
}

// Removes the active data segments (or empties them into passive ones when
// instructions refer to segments by index).
void StripActiveSegments(wabt::Module* m) {
  if (UsesDataIndices(*m)) {
    for (wabt::DataSegment* seg : m->data_segments) {
      if (seg->kind != wabt::SegmentKind::Active) continue;
      seg->kind = wabt::SegmentKind::Passive;
      seg->data.clear();
      seg->offset.clear();
    }
    return;
  }
  for (auto it = m->fields.begin(); it != m->fields.end();) {
    auto* f = wabt::dyn_cast<wabt::DataSegmentModuleField>(&*it);
    if (f && f->data_segment.kind == wabt::SegmentKind::Active) {
      it = m->fields.erase(it);
    } else {
      ++it;
    }
  }
  m->data_segments.clear();
  m->data_segment_bindings.clear();
  for (wabt::ModuleField& field : m->fields) {
    if (auto* f = wabt::dyn_cast<wabt::DataSegmentModuleField>(&field)) {
      m->data_segments.push_back(&f->data_segment);
    }
  }
}

bool SegmentsApplicable(const wabt::Module& m) {
  if (m.num_memory_imports > 0) return false;
  for (const wabt::DataSegment* seg : m.data_segments) {
    if (seg->kind == wabt::SegmentKind::Active && !ConstInitValue(seg->offset)) return false;
  }
  return true;
}

// Builds the memory image from the active segments and strips them.
Status BuildMemoryImage(wabt::Module* m, const PrepareOptions& options, PreparedModule* out) {
  if (m->memories.empty()) return Status::OK();
  const wabt::Limits& limits = m->memories[0]->page_limits;
  if (limits.initial > options.max_initial_pages) {
    return Status::InvalidModule("initial memory of " + std::to_string(limits.initial) +
                                 " pages exceeds the limit of " + std::to_string(options.max_initial_pages));
  }
  if (!SegmentsApplicable(*m)) {
    out->data_segments_in_wasm = true;  // Abi::kNone only (contracts import nothing but functions)
    return Status::OK();
  }
  MemoryImage image;
  image.initial_pages = static_cast<uint32_t>(limits.initial);
  if (limits.is_64) {
    // As LowerMemory64 leaves it.
    image.max_pages = static_cast<uint32_t>(limits.has_max ? std::min(limits.max, kMaxLoweredPages) : kMaxLoweredPages);
  } else if (limits.has_max) {
    image.max_pages = static_cast<uint32_t>(limits.max);
  }
  ChunkMap chunks;
  for (uint32_t i = 0; i < m->data_segments.size(); ++i) {
    const wabt::DataSegment& seg = *m->data_segments[i];
    if (seg.kind != wabt::SegmentKind::Active) continue;
    const uint64_t value = *ConstInitValue(seg.offset);
    const uint64_t offset = limits.is_64 ? value : static_cast<uint32_t>(value);
    if (offset > image.ByteSize() || seg.data.size() > image.ByteSize() - offset) {
      return Status::InvalidModule("data segment " + std::to_string(i) + " [" + std::to_string(offset) + ", " +
                                   std::to_string(offset + seg.data.size()) +
                                   ") does not fit in the initial memory of " +
                                   std::to_string(image.ByteSize()) + " bytes");
    }
    Overlay(&chunks, offset, seg.data);
  }
  for (auto& [offset, bytes] : chunks) {
    image.chunks.push_back(MemoryImage::Chunk{static_cast<uint32_t>(offset), std::move(bytes)});
  }
  out->memory = std::move(image);
  StripActiveSegments(m);
  return Status::OK();
}

Result<Bytes> Encode(const wabt::Module& m) {
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions options(DecodeFeatures(), /*canonicalize_lebs=*/true,
                                   /*relocatable=*/false, /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &m, options))) {
    return Status::InvalidModule("could not encode the instrumented module");
  }
  const std::vector<uint8_t>& data = stream.output_buffer().data;
  return Bytes(data.begin(), data.end());
}

Result<PreparedModule> Prepare(ByteView wasm, const PrepareOptions& options) {
  if (wasm.size() > options.max_module_bytes) {
    return Status::InvalidModule("module of " + std::to_string(wasm.size()) + " bytes exceeds the limit of " +
                                 std::to_string(options.max_module_bytes));
  }
  // Budgets before any work proportional to what they bound (module_limits.h).
  RETURN_IF_ERROR(CheckModuleLimits(wasm, kDeployLimits));
  ASSIGN_OR_RETURN(std::unique_ptr<wabt::Module> module, DecodeModule(wasm));
  RETURN_IF_ERROR(CheckFeatures(*module));
  PreparedModule out;
  if (options.abi == Abi::kContract) {
    RETURN_IF_ERROR(CheckElementSegmentsFit(*module));
    ASSIGN_OR_RETURN(ContractFacts facts, CheckContractAbi(*module));
    out.arg_buffer = facts.arg_buffer;
    out.functions = std::move(facts.functions);
    out.has_init = facts.has_init;
    out.host_imports = std::move(facts.host_imports);
  }
  RETURN_IF_ERROR(BuildMemoryImage(module.get(), options, &out));
  out.state_globals = ExportStateGlobals(module.get());
  RETURN_IF_ERROR(InstrumentModule(module.get()));
  RETURN_IF_ERROR(LowerMemory64(module.get()));  // after instrumentation: its clamps are free
  ASSIGN_OR_RETURN(out.wasm, Encode(*module));
  // The output must be a valid module: decode and validate it again.
  if (Result<std::unique_ptr<wabt::Module>> check = DecodeModule(out.wasm); !check.ok()) {
    return Status::InvalidModule("instrumentation produced an invalid module (a crust bug): " +
                                 std::string(check.status().message()));
  }
  return out;
}

}  // namespace

Result<PreparedModule> PrepareModule(ByteView wasm, const PrepareOptions& options) {
  // The budgets bound every allocation; an allocation failure still is the
  // host's (not the module's) and must not escape as an exception.
  try {
    return Prepare(wasm, options);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory while preparing a module of " + std::to_string(wasm.size()) +
                                     " bytes");
  }
}

}  // namespace crust::engine
