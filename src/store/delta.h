// Copyright (c) crust authors. Licensed under the MIT license.
//
// Delta layers: memory/<id>.diff (layer 1) and memory/<id>.diff.k (layer k).
//
// A layer holds the pages that changed relative to the layers below it and
// the page-tree nodes those changes altered, so that the memory hash can be
// updated from dirty pages alone. Page data is stored XOR-ed with the base
// image's page (zero past its end) and compressed with zstd as one frame.
//
// Layout, version 3 (docs/format.md, "Delta layer"):
//   header: magic "crustdlt" | version u32 = 3 | page_count u32 |
//           node_count u32 | flags u32 | compressed_size u64   (32 bytes)
//   page indices: page_count x u32, strictly ascending
//   nodes: node_count x (key u32 | hash[32]), strictly ascending by key;
//          they include the leaf (level 0) of every page and every node on
//          the paths from those pages to the root (level 20)
//   page map (flags bit 0): page_count x (block u32, skip u32): where each
//          page's bytes start in the data's zstd frame (raw/RLE frames only)
//   data: compressed_size bytes, one zstd frame of page_count x 4096 bytes
//   checksums: CRC-32C of every 4096-byte block of the bytes above
//   footer: body size u64 | CRC-32C of the checksums and the body size
// Version 2 (header | pages | nodes | data | CRC-32C of the whole file) is
// still read: whole, as before.
//
// Opening a version-3 layer maps the file and checks only its footer, its
// checksum table and its header: O(file size / 4096) bytes of checksums,
// nothing else. Every later read checks the blocks it touches first (once
// per block and layer): a lookup costs O(log n) block checks the first time,
// a page read the blocks holding its map entry and data. Damage is reported
// as Corruption naming the file and the block, when the damaged block is
// first used. VerifyAll() checks every byte (crust verify).
//
// Thread-safety: a DeltaLayer is immutable after creation (its pages are
// decompressed lazily, under a lock; block checks are idempotent and use
// atomics) and safe to share.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/os/mapped_file.h"
#include "src/store/format.h"
#include "src/store/page_codec.h"
#include "src/store/page_set.h"
#include "src/store/page_tree.h"

namespace crust::store {

// Sizes of the file's parts (docs/format.md, "Delta layer").
inline constexpr size_t kDeltaHeaderSize = 32;
inline constexpr size_t kDeltaNodeSize = 36;  // u32 key + 32-byte hash
inline constexpr size_t kDeltaBlockSize = 4096;  // bytes per block checksum (version 3)
inline constexpr size_t kDeltaFooterSize = 12;
inline constexpr uint32_t kDeltaFlagPageMap = 1;  // the file has a page map
// Writes the 32-byte header of a layer file to `out`.
void EncodeDeltaHeader(uint8_t* out, uint32_t page_count, uint32_t node_count, uint32_t flags,
                       uint64_t compressed_size);
// The page map of a frame of `count` pages (2 x u32 per page, encoded), or
// empty when the frame has compressed blocks (then flags has no page map).
Bytes EncodeDeltaPageMap(ByteView frame, size_t count);
// The bytes after a version-3 file's body: the block checksums of the body
// (given as consecutive parts) and the footer.
Bytes EncodeDeltaChecksums(std::initializer_list<ByteView> body);

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
  // Opens a layer file. Version 3: maps it and checks its footer, checksum
  // table, header (section sizes, page count within `max_pages`) and its
  // last page index (below `max_pages`); the rest is checked block by block
  // as it is used (above). Version 2: reads and checks the whole file
  // (checksum, bounds, ordering, every page below `max_pages`, the frame's
  // size). Corruption naming `path`.
  static Result<std::shared_ptr<DeltaLayer>> Open(os::Env* env, const std::string& path,
                                                  uint64_t max_pages = kMaxPages);

  // The layer's file bytes (version 3). A layer built from pages is
  // compressed here (at `level`); a frame is used as it is. `what` names the
  // layer in errors.
  Result<Bytes> Encode(int level, const std::string& what) const;
  // Writes Encode() to a new file, made read-only.
  Status Write(os::Env* env, const std::string& path, int level, bool sync) const;

  size_t page_count() const { return page_count_; }
  // The whole page list / node list, every block of it checked (once).
  // O(layer): for merging and eager mapping, not for lookups.
  Result<std::span<const uint32_t>> PageList() const;
  Result<std::span<const TreeNode>> NodeList() const;
  // Makes xor_page() usable: decompresses the frame (once; later calls
  // return at once). Thread-safe.
  Status LoadPages() const;
  // XOR data of the i-th page (4 KiB). REQUIRES: LoadPages() returned OK.
  const uint8_t* xor_page(size_t i) const { return xor_pages_.get() + i * 4096; }
  // Copies the XOR data of the i-th page (4 KiB) into out, reading only that
  // page's bytes when the frame is made of raw and RLE blocks (the sparse
  // encoder's, the usual case), else decompressing the frame (LoadPages).
  // Thread-safe.
  Status ReadXorPage(size_t i, uint8_t* out) const;
  // Binary searches; Corruption if a block they touch is damaged.
  Result<std::optional<Hash32>> FindNode(NodeKey key) const;
  // Index of `page` in the page list, if present.
  Result<std::optional<size_t>> FindPage(uint32_t page) const;
  // Whether the layer holds a page under tree node `key` (in [index <<
  // level, (index + 1) << level)): a binary search in the page list (4 bytes
  // an entry, several times shorter than the node list).
  //
  // FindPage and HoldsPagesUnder count their searches; once a layer has
  // answered 32 + page_count/32 of them it builds a PageSet from its page
  // list (O(page_count), paid for by the searches already done) and then
  // answers "not held" from it in O(1), searching only for pages it holds.
  Result<bool> HoldsPagesUnder(NodeKey key) const;
  // The highest page held (the list's last entry), if any.
  Result<std::optional<uint32_t>> LastPage() const;
  // Checks every byte: every block checksum, the ordering and bounds of the
  // page and node lists (pages below `max_pages`), that the nodes are
  // exactly those on the pages' paths to the root (format.md), the page map
  // against the frame and that the frame decodes to page_count pages. OK at once for a
  // layer built in memory or read whole (version 2).
  Status VerifyAll(uint64_t max_pages = kMaxPages) const;
  const std::string& path() const { return path_; }  // empty until written or opened

 private:
  DeltaLayer() = default;
  static Result<std::shared_ptr<DeltaLayer>> OpenV2(os::Env* env, const std::string& path, uint64_t max_pages);
  Status Corrupt(const std::string& why) const;
  // Checks the blocks holding [offset, offset + len) of a mapped file.
  Status CheckRange(uint64_t offset, uint64_t len) const;
  bool mapped() const { return map_ != nullptr; }
  ByteView frame() const;
  uint32_t MappedPage(size_t i) const;  // REQUIRES: its block checked
  Result<size_t> LowerBoundPage(uint64_t first) const;
  uint32_t PageAt(size_t i) const;  // REQUIRES: i < page_count_, its block checked
  Status ReadMappedPage(size_t i, uint8_t* out) const;

  size_t page_count_ = 0;
  size_t node_count_ = 0;
  std::string path_;
  // In-memory layers (Build, FromFrame, version 2).
  std::vector<uint32_t> pages_;
  std::vector<TreeNode> nodes_;
  Bytes frame_;                             // FromFrame and version-2 layers
  std::optional<SparseFrameIndex> sparse_;  // version-2 layers whose frame_ is raw/RLE blocks
  // Mapped layers (version 3): offsets into map_.
  std::unique_ptr<os::MappedView> map_;
  uint64_t pages_at_ = 0, nodes_at_ = 0, page_map_at_ = 0, data_at_ = 0, data_size_ = 0;
  bool has_page_map_ = false;
  uint64_t body_size_ = 0;
  const uint8_t* sums_ = nullptr;                        // block checksums, in map_
  std::unique_ptr<std::atomic<uint64_t>[]> checked_;    // one bit per block
  // The page set (above): built once, under set_mu_, then read lock-free.
  const PageSet* Pages() const;
  mutable std::atomic<uint64_t> searches_{0};
  mutable std::mutex set_mu_;
  mutable std::unique_ptr<PageSet> page_set_owner_;  // guarded by set_mu_
  mutable std::atomic<const PageSet*> page_set_{nullptr};
  // Page data: xor_pages_ is set once, under mu_, and never changed after.
  mutable std::mutex mu_;
  mutable std::unique_ptr<uint8_t[]> xor_pages_;  // page_count_ * 4096 bytes
};

}  // namespace crust::store
