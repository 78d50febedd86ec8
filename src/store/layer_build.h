// Copyright (c) crust authors. Licensed under the MIT license.
//
// The delta layer a commit writes for a changed memory (docs/format.md, "Why
// more than one delta"): the session's dirty pages, merged with the newest
// committed layers while those hold at most `merge_ratio` times as many
// pages (geometric merging).
//
// Planning needs only page lists, so a commit knows which files it links and
// which pages it encodes before hashing anything. Encoding (XOR with the base
// image, zstd) can then run beside the hashing, and the layer is assembled
// once the changed tree nodes are known:
//   plan = PlanLayer(...); frame = EncodeLayerPages(...);   // any thread
//   layer = AssembleLayer(plan, frame, changed_nodes);     // after hashing
//
// Thread-safety: pure functions over immutable inputs.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/store/committed_memory.h"
#include "src/store/delta.h"
#include "src/store/page_tree.h"

namespace crust::store {

// A layer holding at least SealPages() pages is sealed: never merged again
// (until the next base image). This bounds the work of a single commit: a
// merge writes at most d + 2 * SealPages() pages for d dirty pages, since the
// unsealed layers it can absorb hold fewer than 2 * SealPages() together
// (each more than twice the next). Sealed layers hold at least SealPages()
// pages each and all layers at most rebase_fraction of the memory's pages,
// so a memory has at most 16 sealed layers plus log2(SealPages()) + 1
// unsealed ones (docs/format.md).
inline constexpr uint64_t kSealMinPages = 1024;
inline constexpr uint64_t kMaxSealedLayers = 16;
// `layered_max`: the most pages the layers may hold before a rebase.
inline uint64_t SealPages(uint64_t layered_max) {
  return std::max(kSealMinPages, (layered_max + kMaxSealedLayers - 1) / kMaxSealedLayers);
}

struct LayerPlan {
  // Layers 1..keep of the committed memory stay (hard links); layers
  // keep+1.. are merged into the new layer, which becomes layer keep+1.
  size_t keep = 0;
  std::vector<uint32_t> pages;  // the new layer's pages, ascending
};

// Merges the new layer into the newest committed ones while they are not
// sealed (fewer than `seal_pages` pages) and hold at most merge_ratio times
// its pages. REQUIRES: dirty ascending and unique.
Result<LayerPlan> PlanLayer(const CommittedMemory& committed, const std::vector<uint32_t>& dirty, uint32_t merge_ratio,
                    uint64_t seal_pages);

// Encodes the page data of plan.pages as one zstd frame: a dirty page is
// `memory`'s page XOR the base image's (the memory itself past the image's
// end); any other page comes from the newest merged layer holding it.
//
// The pages are cut into chunks that may be encoded on several threads at
// once (sparse encoding, page_codec.h). When they turn out not to be sparse
// (encoded size above 1/8 of the raw size), Finish() compresses them again
// with zstd at `level`, on its own thread.
//
//   LayerEncoder e(...);  RETURN_IF_ERROR(e.Start());
//   for c in [0, e.chunks()): e.EncodeChunk(c)     // any threads
//   frame = e.Finish();
class LayerEncoder {
 public:
  static constexpr size_t kChunkPages = 128;

  // Every argument must outlive the encoder. `what` names the layer in errors.
  LayerEncoder(const CommittedMemory& committed, const LayerPlan& plan, const std::vector<uint32_t>& dirty,
               const uint8_t* memory, int level, std::string what);
  // Also computes the leaf hash of every dirty page while it is read for
  // the XOR (one read of each page instead of two): (*leaves)[d] for
  // dirty[d]. Call before Start; *leaves must outlive the chunks.
  void ComputeLeaves(std::vector<Hash32>* leaves) { leaves_ = leaves; }
  // Chunk c encodes plan.pages[cuts[c], cuts[c+1]) instead of kChunkPages
  // at a time. Call before Start. REQUIRES: cuts from 0 to plan.pages.size(),
  // strictly ascending.
  void SetChunks(std::vector<size_t> cuts);
  // Loads the merged layers' pages and finds each page's source.
  Status Start();
  size_t chunks() const { return pieces_.size(); }
  // Encodes chunk c. Chunks may be encoded concurrently, each once.
  Status EncodeChunk(size_t c);
  // After every chunk: the frame.
  Result<Bytes> Finish();

 private:
  const CommittedMemory& committed_;
  const LayerPlan& plan_;
  const std::vector<uint32_t>& dirty_;
  const uint8_t* const memory_;
  const int level_;
  const std::string what_;
  std::vector<const uint8_t*> source_;  // per page: a merged layer's data, or null (dirty: XOR)
  std::vector<uint32_t> dirty_index_;   // per page: its index in dirty (dirty pages only)
  std::vector<Hash32>* leaves_ = nullptr;
  std::vector<Bytes> pieces_;           // per chunk
  std::vector<size_t> cuts_;            // chunk c: pages [cuts_[c], cuts_[c+1])
};

// The new layer: plan.pages, their encoded `frame`, and the merged layers'
// nodes overridden by `changed` (the nodes the commit's pages changed).
Result<std::shared_ptr<DeltaLayer>> AssembleLayer(const CommittedMemory& committed, const LayerPlan& plan, Bytes frame,
                                          std::vector<TreeNode> changed);

}  // namespace crust::store
