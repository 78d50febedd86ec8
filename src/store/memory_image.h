// Copyright (c) crust authors. Licensed under the MIT license.
//
// Memory images: the base file memory/<id> of a module memory.
//
// Layout (docs/format.md, "memory image"): the raw memory [0, L) — all-zero
// pages are left as holes and cost no disk space — then the page tree's
// stored nodes, level 0 (leaves) first, LevelWidth(L/4096, k) hashes of 32
// bytes per level k = 0..20, then a 40-byte footer:
//   magic "crustmem" | version u32 | nodes_crc u32 | L u64 | node_count u64 |
//   reserved u32 = 0 | footer_crc u32 (crc32c of the 36 bytes before)
// A session maps [0, L) copy-on-write; the trailer is never visible to wasm.
//
// Thread-safety: a MemoryImage is immutable after Open and safe to share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/os/mapped_file.h"
#include "src/store/format.h"
#include "src/store/page_tree.h"

namespace crust::store {

inline constexpr uint64_t kImageFooterSize = 40;

// Writes a memory image of `length` bytes from `data` to `path` (new file),
// made read-only. When `leaves` is non-null it must hold the leaf hash of
// every page (saves hashing them again); otherwise pages are hashed here.
// Returns the tree root. Cost: O(length) (zero pages are skipped but still
// scanned).
Result<Hash32> WriteMemoryImage(os::Env* env, const std::string& path, const uint8_t* data,
                                uint64_t length, bool sync, std::vector<Hash32>* leaves = nullptr);

// Leaf hashes of `count` pages at the given page indices of `memory` (or of
// pages 0..count-1 when `pages` is null), into out[0..count). Uses a second
// thread for large batches.
void HashPages(const uint8_t* memory, const uint32_t* pages, size_t count, Hash32* out);

class MemoryImage {
 public:
  // Opens and checks the footer (magic, version, footer checksum, sizes).
  // The nodes' checksum is checked by VerifyChecksum (it reads all nodes).
  // The file's descriptor is closed before Open returns (the whole file stays
  // mapped: a store of thousands of modules would otherwise hold a descriptor
  // per module, and RLIMIT_NOFILE is 1024 by default).
  static Result<std::shared_ptr<MemoryImage>> Open(os::Env* env, const std::string& path);

  uint64_t length() const { return length_; }
  uint64_t pages() const { return length_ / kPageSize; }
  // Where it was opened (with a shared image, possibly another commit's link
  // to the same file) and that file's size.
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // A stored node, or the zero subtree hash beyond the stored width.
  Hash32 Node(NodeKey key) const;
  Hash32 Root() const { return Node(kRootKey); }
  // Reads page `page` into out (4 KiB); zeros past the image's length.
  // IOError naming the file when the mapping cannot be read (SIGBUS).
  Status ReadPage(uint32_t page, uint8_t* out) const;
  // The image's page in a read-only mapping, or null past its length.
  const uint8_t* PageData(uint32_t page) const {
    return page < pages() ? map_->data() + uint64_t{page} * kPageSize : nullptr;
  }
  // Checks the nodes' checksum.
  Status VerifyChecksum() const;
  // Offset of level `level`'s first node inside the node area.
  uint64_t LevelOffset(int level) const;

 private:
  MemoryImage() = default;
  std::string path_;
  uint64_t file_size_ = 0;
  std::unique_ptr<os::MappedView> map_;  // the whole file, read-only
  const uint8_t* nodes_ = nullptr;        // inside map_
  uint64_t length_ = 0;
  uint64_t node_count_ = 0;
  uint32_t nodes_crc_ = 0;
  uint64_t level_offset_[kTreeDepth + 1] = {};  // LevelOffset(k), computed at Open
};

}  // namespace crust::store
