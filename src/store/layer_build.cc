// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/layer_build.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>
#include <span>

#include "src/store/format.h"
#include "src/store/page_codec.h"
#include "src/store/page_tree.h"

namespace crust::store {
namespace {

// Sorted union of two node lists; `newer` wins on equal keys.
std::vector<TreeNode> MergeNodes(std::span<const TreeNode> older, std::span<const TreeNode> newer) {
  std::vector<TreeNode> out;
  out.reserve(older.size() + newer.size());
  size_t i = 0, j = 0;
  while (i < older.size() || j < newer.size()) {
    if (j == newer.size() || (i < older.size() && older[i].key < newer[j].key)) {
      out.push_back(older[i++]);
    } else {
      if (i < older.size() && older[i].key == newer[j].key) i++;
      out.push_back(newer[j++]);
    }
  }
  return out;
}

}  // namespace

Result<LayerPlan> PlanLayer(const CommittedMemory& committed, const std::vector<uint32_t>& dirty,
                            uint32_t merge_ratio, uint64_t seal_pages) {
  LayerPlan plan;
  plan.pages = dirty;
  const auto& layers = committed.layers();
  size_t k = layers.size();
  while (k > 0 && layers[k - 1]->page_count() < seal_pages &&
         layers[k - 1]->page_count() <= uint64_t{merge_ratio} * plan.pages.size()) {
    ASSIGN_OR_RETURN(std::span<const uint32_t> older, layers[k - 1]->PageList());
    std::vector<uint32_t> merged;
    merged.reserve(older.size() + plan.pages.size());
    std::set_union(older.begin(), older.end(), plan.pages.begin(), plan.pages.end(), std::back_inserter(merged));
    plan.pages = std::move(merged);
    k--;
  }
  plan.keep = k;
  return plan;
}

LayerEncoder::LayerEncoder(const CommittedMemory& committed, const LayerPlan& plan,
                           const std::vector<uint32_t>& dirty, const uint8_t* memory, int level, std::string what)
    : committed_(committed), plan_(plan), dirty_(dirty), memory_(memory), level_(level), what_(std::move(what)) {
  for (size_t first = 0; first < plan.pages.size(); first += kChunkPages) cuts_.push_back(first);
  cuts_.push_back(plan.pages.size());
  pieces_.resize(cuts_.size() - 1);
}

void LayerEncoder::SetChunks(std::vector<size_t> cuts) {
  cuts_ = std::move(cuts);
  pieces_.assign(cuts_.empty() ? 0 : cuts_.size() - 1, Bytes());
}

Status LayerEncoder::Start() {
  const auto& layers = committed_.layers();
  source_.assign(plan_.pages.size(), nullptr);
  // Oldest merged layer first, so that newer ones overwrite; then the dirty
  // pages, newest of all (null: XOR of the memory with the base).
  for (size_t k = plan_.keep; k < layers.size(); k++) {
    const DeltaLayer& layer = *layers[k];
    RETURN_IF_ERROR(layer.LoadPages());
    ASSIGN_OR_RETURN(std::span<const uint32_t> pages, layer.PageList());
    size_t at = 0;
    for (size_t i = 0; i < pages.size(); i++) {
      while (at < plan_.pages.size() && plan_.pages[at] < pages[i]) at++;  // plan.pages holds every merged page
      if (at == plan_.pages.size()) return Status::Aborted(what_ + ": a merged layer's page is not in the plan");
      source_[at] = layer.xor_page(i);
    }
  }
  dirty_index_.resize(plan_.pages.size());
  size_t at = 0;
  for (size_t d = 0; d < dirty_.size(); d++) {
    while (plan_.pages[at] < dirty_[d]) at++;
    source_[at] = nullptr;
    dirty_index_[at] = static_cast<uint32_t>(d);
  }
  if (leaves_) leaves_->resize(dirty_.size());
  return Status::OK();
}

Status LayerEncoder::EncodeChunk(size_t c) {
  const size_t first = cuts_[c];
  const size_t end = cuts_[c + 1];
  Bytes& piece = pieces_[c];
  piece.clear();
  piece.reserve((end - first) * 64);
  SparsePageEncoder enc(&piece);
  alignas(64) uint8_t scratch[kPageSize];
  constexpr size_t kRun = 8;  // dirty pages hashed together (one SIMD batch)
  const uint8_t* run[kRun];
  Hash32 hashes[kRun];
  for (size_t i = first; i < end;) {
    if (source_[i]) {
      enc.Add(source_[i++]);
      continue;
    }
    // A run of dirty pages (XOR of the memory with the base): hash them
    // together, then XOR and encode each while it is still in cache.
    size_t m = 0;
    while (i + m < end && m < kRun && !source_[i + m]) {
      run[m] = memory_ + uint64_t{plan_.pages[i + m]} * kPageSize;
      committed_.PrefetchBase(plan_.pages[i + m]);
      m++;
    }
    if (leaves_) {
      PageLeafHashes(run, m, hashes);
      for (size_t j = 0; j < m; j++) (*leaves_)[dirty_index_[i + j]] = hashes[j];
    }
    for (size_t j = 0; j < m; j++) {
      RETURN_IF_ERROR(committed_.XorWithBase(plan_.pages[i + j], run[j], scratch));
      enc.Add(scratch);
    }
    i += m;
  }
  enc.Finish();
  return Status::OK();
}

Result<Bytes> LayerEncoder::Finish() {
  size_t sparse = 0;
  for (const Bytes& p : pieces_) sparse += p.size();
  const uint64_t raw = uint64_t{plan_.pages.size()} * kPageSize;
  if (sparse <= raw / 8) return JoinSparseFrame(plan_.pages.size(), pieces_);
  // Not sparse: zstd may do much better.
  pieces_.clear();
  std::unique_ptr<uint8_t[]> scratch(new uint8_t[kCodecChunkPages * kPageSize]);
  auto fill = [&](size_t first, size_t n, uint8_t* out) -> Status {
    for (size_t i = first; i < first + n; i++, out += kPageSize) {
      if (source_[i]) {
        std::memcpy(out, source_[i], kPageSize);
      } else {
        const uint32_t p = plan_.pages[i];
        RETURN_IF_ERROR(committed_.XorWithBase(p, memory_ + uint64_t{p} * kPageSize, out));
      }
    }
    return Status::OK();
  };
  return CompressPages(plan_.pages.size(), level_, fill, what_);
}

Result<std::shared_ptr<DeltaLayer>> AssembleLayer(const CommittedMemory& committed, const LayerPlan& plan,
                                                  Bytes frame, std::vector<TreeNode> changed) {
  const auto& layers = committed.layers();
  std::vector<TreeNode> nodes;
  if (plan.keep == layers.size()) {
    nodes = std::move(changed);
  } else {
    ASSIGN_OR_RETURN(std::span<const TreeNode> first, layers[plan.keep]->NodeList());
    nodes.assign(first.begin(), first.end());
    for (size_t k = plan.keep + 1; k < layers.size(); k++) {
      ASSIGN_OR_RETURN(std::span<const TreeNode> more, layers[k]->NodeList());
      nodes = MergeNodes(nodes, more);
    }
    nodes = MergeNodes(nodes, changed);
  }
  return DeltaLayer::FromFrame(plan.pages, std::move(frame), std::move(nodes));
}

}  // namespace crust::store
