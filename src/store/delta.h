// Copyright (c) crust authors. Licensed under the MIT license.
//
// Delta layers: memory/<id>.diff (layer 1) and memory/<id>.diff.k (layer k).
//
// A layer holds the pages that changed relative to the layers below it and
// the page-tree nodes those changes altered, so that the memory hash can be
// updated from dirty pages alone. Page data is stored XOR-ed with the base
// image's page (zero past its end) and compressed with zstd as one frame.
//
// Layout (docs/format.md, "delta layer"):
//   header: magic "crustdlt" | version u32 | page_count u32 | node_count u32 |
//           reserved u32 = 0 | compressed_size u64            (32 bytes)
//   page indices: page_count x u32, strictly ascending
//   nodes: node_count x (key u32 | hash[32]), strictly ascending by key;
//          they include the leaf (level 0) of every page and every node on
//          the paths from those pages to the root (level 20)
//   data: compressed_size bytes, one zstd frame of page_count x 4096 bytes
//   crc32c u32 of everything before
//
// Thread-safety: a DeltaLayer is immutable after creation and safe to share.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/store/format.h"
#include "src/store/page_tree.h"

namespace crust::store {

class DeltaLayer {
 public:
  // An uninitialised buffer for n pages (4 KiB each); filling it is the
  // caller's job. (A Bytes vector would zero it first: measurable at 40 MB.)
  static std::unique_ptr<uint8_t[]> NewPageBuffer(size_t pages) {
    return std::unique_ptr<uint8_t[]>(new uint8_t[pages * 4096]);
  }
  // Builds a layer in memory. `xor_pages` holds pages.size() * 4096 bytes.
  // REQUIRES: pages ascending and unique; nodes ascending by key.
  static std::shared_ptr<DeltaLayer> Build(std::vector<uint32_t> pages, std::unique_ptr<uint8_t[]> xor_pages,
                                           std::vector<TreeNode> nodes);
  // Reads and checks a layer file (checksum, bounds, ordering, every page
  // below `max_pages`, and that the data decompresses to exactly page_count
  // pages) before allocating for its pages. Corruption naming `path`.
  static Result<std::shared_ptr<DeltaLayer>> Open(os::Env* env, const std::string& path,
                                                  uint64_t max_pages = kMaxPages);

  // Writes this layer to a new file, made read-only. Compresses here.
  Status Write(os::Env* env, const std::string& path, int level, bool sync) const;

  // Merges `newer` over `older`: pages and nodes of both, newer winning.
  static std::shared_ptr<DeltaLayer> Merge(const DeltaLayer& older, const DeltaLayer& newer);

  const std::vector<uint32_t>& pages() const { return pages_; }
  const std::vector<TreeNode>& nodes() const { return nodes_; }
  // XOR data of the i-th page (4 KiB).
  const uint8_t* xor_page(size_t i) const { return xor_pages_.get() + i * 4096; }
  std::optional<Hash32> FindNode(NodeKey key) const;
  // Index of `page` in pages(), if present.
  std::optional<size_t> FindPage(uint32_t page) const;
  const std::string& path() const { return path_; }  // empty until written or opened

 private:
  DeltaLayer() = default;
  std::vector<uint32_t> pages_;
  std::unique_ptr<uint8_t[]> xor_pages_;  // pages_.size() * 4096 bytes
  std::vector<TreeNode> nodes_;
  std::string path_;
};

}  // namespace crust::store
