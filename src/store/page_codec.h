// Copyright (c) crust authors. Licensed under the MIT license.
//
// The data section of a delta layer: `count` 4 KiB pages as one zstd frame
// that records its content size (docs/format.md, "Delta layer").
//
// Two encoders: CompressPages (zstd proper) and the sparse encoder below.
//
// CompressPages streams: the caller produces the pages a chunk at a time into
// a small reused buffer, so no buffer of all the pages is ever allocated
// (a 10,000-page layer would need 40 MB, zeroed by the kernel page by page).
// Each thread keeps one zstd context for all its calls.
//
// Thread-safety: both functions may run on several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::store {

// Pages handed to a PageFill at once, at most.
inline constexpr size_t kCodecChunkPages = 64;

// Writes pages [first, first + n) (n <= kCodecChunkPages) into out
// (n * 4096 bytes). An error aborts the compression and is returned.
using PageFill = std::function<Status(size_t first, size_t n, uint8_t* out)>;

// One zstd frame (with content size) of `count` pages produced by `fill`, in
// order, at zstd level `level`. `what` names the data in errors.
Result<Bytes> CompressPages(size_t count, int level, const PageFill& fill, const std::string& what);

// Sparse pages (e.g. a page XOR-ed with its previous version: a few changed
// bytes among zeros) are encoded faster than zstd can compress them, and in
// independent pieces that any thread can produce: runs of zero bytes become
// zstd RLE blocks, everything else raw blocks. Such a frame is an ordinary
// zstd frame (RFC 8878: raw and RLE blocks after a frame header with the
// content size and a 128 KiB window), read by any zstd decoder.
//
// Appends to *out the blocks of the pages added, one page at a time (so a
// page computed into a small buffer is encoded while still in cache).
class SparsePageEncoder {
 public:
  explicit SparsePageEncoder(Bytes* out);
  ~SparsePageEncoder();
  void Add(const uint8_t* page);  // 4 KiB
  void Finish();                  // required before the blocks are used

 private:
  class Writer;
  std::unique_ptr<Writer> w_;
};

// Appends to *out the blocks of n pages (pages[i]: 4 KiB each, in order).
// Returns the number of bytes appended.
size_t EncodeSparsePages(const uint8_t* const* pages, size_t n, Bytes* out);
// A frame of `count` pages from pieces made by EncodeSparsePages, in order.
Bytes JoinSparseFrame(size_t count, const std::vector<Bytes>& pieces);

// Random access to the pages of a frame made only of raw and RLE blocks
// (the sparse encoder's, JoinSparseFrame): an index of its blocks, built
// without decoding anything (O(blocks)), from which one page is read in
// O(log blocks + blocks it spans).
class SparseFrameIndex {
 public:
  // The index of `frame` holding `count` pages, or nullopt when the frame has
  // compressed blocks (or is malformed: then DecompressPages reports it).
  static std::optional<SparseFrameIndex> Build(ByteView frame, size_t count);
  // Writes page i (4 KiB) of `frame` (the one indexed) into out.
  void ReadPage(ByteView frame, size_t i, uint8_t* out) const;
  // Where page i starts: the frame offset of the header of the block holding
  // its first byte, and how many of that block's bytes come before it.
  // REQUIRES: i < count.
  std::pair<uint64_t, uint32_t> PageStart(size_t i) const;

 private:
  struct Block {
    uint64_t out_start;  // offset in the decoded pages
    uint64_t src;        // raw: offset of its bytes in the frame; RLE: the byte value
    uint64_t header;     // offset of its block header in the frame
    uint32_t size;       // decoded bytes
    bool rle;
  };
  std::vector<Block> blocks_;  // ascending out_start, contiguous, empty blocks dropped
};

// Decompresses `frame` into out (count * 4096 bytes). Corruption (naming
// `what`) unless it is one frame of exactly that many bytes.
Status DecompressPages(ByteView frame, size_t count, uint8_t* out, const std::string& what);

}  // namespace crust::store
