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
// Thread-safety: a DeltaLayer is immutable after creation (its pages are
// decompressed lazily, under a lock) and safe to share.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/store/format.h"
#include "src/store/page_codec.h"
#include "src/store/page_tree.h"

namespace crust::store {

// Sizes of the file's parts (docs/format.md, "Delta layer").
inline constexpr size_t kDeltaHeaderSize = 32;
inline constexpr size_t kDeltaNodeSize = 36;  // u32 key + 32-byte hash
// Writes the 32-byte header of a layer file to `out`.
void EncodeDeltaHeader(uint8_t* out, uint32_t page_count, uint32_t node_count, uint64_t compressed_size);

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
  // Builds a layer whose page data is already compressed: `frame` is one
  // zstd frame of pages.size() pages (page_codec.h). The pages are
  // decompressed only if LoadPages() is called (e.g. to merge the layer).
  // REQUIRES: as Build.
  static std::shared_ptr<DeltaLayer> FromFrame(std::vector<uint32_t> pages, Bytes frame, std::vector<TreeNode> nodes);
  // Reads and checks a layer file (checksum, bounds, ordering, every page
  // below `max_pages`, and that the data's frame holds page_count pages).
  // Corruption naming `path`. Nothing is decompressed: a frame of raw and
  // RLE blocks (the sparse encoder's, the usual case) is indexed so that
  // ReadXorPage reads one page in O(log blocks); another frame is
  // decompressed whole on first need (LoadPages), where a frame that does
  // not decompress is reported as Corruption.
  static Result<std::shared_ptr<DeltaLayer>> Open(os::Env* env, const std::string& path,
                                                  uint64_t max_pages = kMaxPages);

  // The layer's file bytes. A layer built from pages is compressed here (at
  // `level`); a frame is used as it is. `what` names the layer in errors.
  Result<Bytes> Encode(int level, const std::string& what) const;
  // Writes Encode() to a new file, made read-only.
  Status Write(os::Env* env, const std::string& path, int level, bool sync) const;

  const std::vector<uint32_t>& pages() const { return pages_; }
  const std::vector<TreeNode>& nodes() const { return nodes_; }
  // Makes xor_page() usable: decompresses the frame of a FromFrame layer
  // (once; later calls return at once). Thread-safe.
  Status LoadPages() const;
  // XOR data of the i-th page (4 KiB). REQUIRES: LoadPages() returned OK.
  const uint8_t* xor_page(size_t i) const { return xor_pages_.get() + i * 4096; }
  // Copies the XOR data of the i-th page (4 KiB) into out, decompressing only
  // that page when the frame is indexed (see Open), else via LoadPages.
  // Thread-safe.
  Status ReadXorPage(size_t i, uint8_t* out) const;
  std::optional<Hash32> FindNode(NodeKey key) const;
  // Index of `page` in pages(), if present.
  std::optional<size_t> FindPage(uint32_t page) const;
  const std::string& path() const { return path_; }  // empty until written or opened

 private:
  DeltaLayer() = default;
  std::vector<uint32_t> pages_;
  std::vector<TreeNode> nodes_;
  std::string path_;
  // Page data: raw pages, a compressed frame, or both. xor_pages_ is set
  // once, under mu_, and never changed after.
  mutable std::mutex mu_;
  mutable std::unique_ptr<uint8_t[]> xor_pages_;  // pages_.size() * 4096 bytes
  Bytes frame_;                                    // FromFrame and opened layers
  std::optional<SparseFrameIndex> sparse_;         // opened layers whose frame_ is raw/RLE blocks
};

}  // namespace crust::store
