// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/page_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "src/store/format.h"

namespace crust::store {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// This thread's compression context: its tables are allocated once, not per
// layer (a fresh context costs a few hundred microseconds of page faults).
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  return cctx.get();
}

}  // namespace

Result<Bytes> CompressPages(size_t count, int level, const PageFill& fill, const std::string& what) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return Status::ResourceExhausted(what + ": cannot allocate a zstd context");
  auto failed = [&](size_t code) {
    return Status::IOError(what + ": zstd compression failed: " + ZSTD_getErrorName(code));
  };
  const uint64_t raw = uint64_t{count} * kPageSize;
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  size_t rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setPledgedSrcSize(cctx, raw);
  if (ZSTD_isError(rc)) return failed(rc);

  Bytes out;
  // Sparse pages compress ~40x; grow when needed.
  out.resize(std::min<uint64_t>(ZSTD_compressBound(raw), raw / 16 + 4096));
  size_t pos = 0;
  auto push = [&](ZSTD_inBuffer* in, ZSTD_EndDirective mode) -> Status {
    for (;;) {
      if (out.size() - pos < ZSTD_CStreamOutSize()) out.resize(out.size() * 2 + ZSTD_CStreamOutSize());
      ZSTD_outBuffer o{out.data(), out.size(), pos};
      const size_t left = ZSTD_compressStream2(cctx, &o, in, mode);
      pos = o.pos;
      if (ZSTD_isError(left)) return failed(left);
      if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size) return Status::OK();
    }
  };
  std::unique_ptr<uint8_t[]> chunk(new uint8_t[std::min(count, kCodecChunkPages) * kPageSize + 1]);
  for (size_t first = 0; first < count; first += kCodecChunkPages) {
    const size_t n = std::min(kCodecChunkPages, count - first);
    RETURN_IF_ERROR(fill(first, n, chunk.get()));
    ZSTD_inBuffer in{chunk.get(), n * kPageSize, 0};
    Status s = push(&in, ZSTD_e_continue);
    if (!s.ok()) {
      ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
      return s;
    }
  }
  ZSTD_inBuffer none{nullptr, 0, 0};
  Status s = push(&none, ZSTD_e_end);
  if (!s.ok()) {
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    return s;
  }
  out.resize(pos);
  return out;
}

namespace {

constexpr uint32_t kMaxBlock = 128 * 1024;  // = the frame's window: the largest block allowed
constexpr size_t kMinZeroRun = 16;          // shorter zero runs stay inside raw blocks
constexpr uint32_t kRawBlock = 0, kRleBlock = 1;

void PutBlockHeader(uint8_t* p, bool last, uint32_t type, uint32_t size) {
  const uint32_t h = (last ? 1u : 0u) | type << 1 | size << 3;
  p[0] = static_cast<uint8_t>(h);
  p[1] = static_cast<uint8_t>(h >> 8);
  p[2] = static_cast<uint8_t>(h >> 16);
}

// Appends raw and RLE blocks for a byte stream given as runs.
class SparseBlockWriter {
 public:
  explicit SparseBlockWriter(Bytes* out) : out_(out) {}
  void Zeros(size_t n) { zeros_ += n; }
  void Data(const uint8_t* p, size_t n) {
    FlushZeros(/*at_end=*/false);
    Raw(p, n);
  }
  void Finish() {
    FlushZeros(/*at_end=*/true);
    CloseRaw();
  }

 private:
  void FlushZeros(bool at_end) {
    if (zeros_ == 0) return;
    if (zeros_ >= kMinZeroRun || (at_end && raw_at_ == kNone)) {
      CloseRaw();
      while (zeros_ > 0) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(zeros_, kMaxBlock));
        const size_t at = out_->size();
        out_->resize(at + 4);
        PutBlockHeader(out_->data() + at, false, kRleBlock, n);
        (*out_)[at + 3] = 0;
        zeros_ -= n;
      }
      return;
    }
    static const uint8_t kZero[kMinZeroRun] = {};
    const size_t n = zeros_;
    zeros_ = 0;
    Raw(kZero, n);
  }
  void Raw(const uint8_t* p, size_t n) {
    while (n > 0) {
      if (raw_at_ == kNone) {
        raw_at_ = out_->size();
        raw_len_ = 0;
        out_->resize(raw_at_ + 3);
      }
      const size_t k = std::min<size_t>(n, kMaxBlock - raw_len_);
      out_->insert(out_->end(), p, p + k);
      raw_len_ += static_cast<uint32_t>(k);
      p += k;
      n -= k;
      if (raw_len_ == kMaxBlock) CloseRaw();
    }
  }
  void CloseRaw() {
    if (raw_at_ == kNone) return;
    PutBlockHeader(out_->data() + raw_at_, false, kRawBlock, raw_len_);
    raw_at_ = kNone;
  }

  static constexpr size_t kNone = ~size_t{0};
  Bytes* const out_;
  size_t zeros_ = 0;       // zero bytes not yet written
  size_t raw_at_ = kNone;  // header position of the open raw block
  uint32_t raw_len_ = 0;
};

}  // namespace

class SparsePageEncoder::Writer : public SparseBlockWriter {
 public:
  using SparseBlockWriter::SparseBlockWriter;
};

SparsePageEncoder::SparsePageEncoder(Bytes* out) : w_(std::make_unique<Writer>(out)) {}
SparsePageEncoder::~SparsePageEncoder() = default;
void SparsePageEncoder::Finish() { w_->Finish(); }

void SparsePageEncoder::Add(const uint8_t* page) {
  constexpr size_t kWords = kPageSize / 8;
  size_t k = 0;
  while (k < kWords) {
    // A run of zero words, then a run of non-zero ones.
    size_t z = k;
    while (z < kWords) {
      uint64_t w8;
      std::memcpy(&w8, page + z * 8, 8);
      if (w8 != 0) break;
      z++;
    }
    if (z > k) w_->Zeros((z - k) * 8);
    size_t d = z;
    while (d < kWords) {
      uint64_t w8;
      std::memcpy(&w8, page + d * 8, 8);
      if (w8 == 0) break;
      d++;
    }
    if (d > z) w_->Data(page + z * 8, (d - z) * 8);
    k = d;
  }
}

size_t EncodeSparsePages(const uint8_t* const* pages, size_t n, Bytes* out) {
  const size_t before = out->size();
  SparsePageEncoder e(out);
  for (size_t i = 0; i < n; i++) e.Add(pages[i]);
  e.Finish();
  return out->size() - before;
}

Bytes JoinSparseFrame(size_t count, const std::vector<Bytes>& pieces) {
  size_t total = 14 + 3;
  for (const Bytes& p : pieces) total += p.size();
  Bytes frame(total);
  uint8_t* p = frame.data();
  // Frame header: magic; descriptor 0xC0 (8-byte content size, not single
  // segment, no checksum, no dictionary); window descriptor 0x38 (128 KiB);
  // content size.
  const uint32_t magic = 0xFD2FB528u;
  std::memcpy(p, &magic, 4);
  p[4] = 0xC0;
  p[5] = 0x38;
  const uint64_t content = uint64_t{count} * kPageSize;
  std::memcpy(p + 6, &content, 8);
  p += 14;
  for (const Bytes& piece : pieces) {
    if (!piece.empty()) std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  }
  PutBlockHeader(p, /*last=*/true, kRawBlock, 0);  // an empty last block ends the frame
  return frame;
}

std::optional<SparseFrameIndex> SparseFrameIndex::Build(ByteView frame, size_t count) {
  // The frame header (RFC 8878, 3.1.1.1), parsed here: zstd's own parser
  // is not part of its stable API.
  if (frame.size() < 6) return std::nullopt;
  uint32_t magic;
  std::memcpy(&magic, frame.data(), 4);
  if (magic != 0xFD2FB528u) return std::nullopt;
  const uint8_t fhd = frame[4];
  const bool single_segment = fhd & 0x20, checksum = fhd & 0x04;
  static constexpr size_t kDictIdBytes[4] = {0, 1, 2, 4};
  static constexpr size_t kFcsBytes[4] = {0, 2, 4, 8};
  const size_t fcs_bytes = (fhd >> 6) == 0 ? (single_segment ? 1 : 0) : kFcsBytes[fhd >> 6];
  size_t header = 5 + (single_segment ? 0 : 1) + kDictIdBytes[fhd & 3];
  if (fcs_bytes == 0 || (fhd & 0x08) || frame.size() < header + fcs_bytes) return std::nullopt;
  uint64_t content = 0;
  for (size_t k = 0; k < fcs_bytes; k++) content |= uint64_t{frame[header + k]} << (8 * k);
  if (fcs_bytes == 2) content += 256;
  header += fcs_bytes;
  struct {
    uint64_t frameContentSize;
    bool checksumFlag;
  } fh = {content, checksum};
  if (fh.frameContentSize != uint64_t{count} * kPageSize) return std::nullopt;
  SparseFrameIndex index;
  uint64_t out = 0;
  size_t at = header;
  for (;;) {
    if (frame.size() - at < 3) return std::nullopt;
    const uint32_t h = frame[at] | frame[at + 1] << 8 | frame[at + 2] << 16;
    at += 3;
    const bool last = h & 1;
    const uint32_t type = (h >> 1) & 3, size = h >> 3;
    if (type == kRawBlock) {
      if (frame.size() - at < size) return std::nullopt;
      if (size) index.blocks_.push_back({out, at, at - 3, size, false});
      at += size;
    } else if (type == kRleBlock) {
      if (frame.size() - at < 1) return std::nullopt;
      if (size) index.blocks_.push_back({out, frame[at], at - 3, size, true});
      at += 1;
    } else {
      return std::nullopt;  // compressed (or reserved): decode the frame whole
    }
    out += size;
    if (out > fh.frameContentSize) return std::nullopt;
    if (last) break;
  }
  if (out != fh.frameContentSize || at + (fh.checksumFlag ? 4 : 0) != frame.size()) return std::nullopt;
  return index;
}

void SparseFrameIndex::ReadPage(ByteView frame, size_t i, uint8_t* out) const {
  uint64_t pos = uint64_t{i} * kPageSize;
  const uint64_t end = pos + kPageSize;
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), pos,
                             [](uint64_t p, const Block& b) { return p < b.out_start; });
  --it;  // blocks are contiguous from 0: the one holding pos
  while (pos < end) {
    const uint64_t in_block = pos - it->out_start;
    const uint64_t n = std::min<uint64_t>(it->size - in_block, end - pos);
    if (it->rle) {
      std::memset(out, static_cast<int>(it->src), n);
    } else {
      std::memcpy(out, frame.data() + it->src + in_block, n);
    }
    out += n;
    pos += n;
    ++it;
  }
}

std::pair<uint64_t, uint32_t> SparseFrameIndex::PageStart(size_t i) const {
  const uint64_t pos = uint64_t{i} * kPageSize;
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), pos,
                             [](uint64_t p, const Block& b) { return p < b.out_start; });
  --it;
  return {it->header, static_cast<uint32_t>(pos - it->out_start)};
}

Status DecompressPages(ByteView frame, size_t count, uint8_t* out, const std::string& what) {
  const uint64_t raw = uint64_t{count} * kPageSize;
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content != raw) {
    return Status::Corruption(what + ": compressed data does not hold " + std::to_string(count) + " pages");
  }
  const size_t got = ZSTD_decompress(out, raw, frame.data(), frame.size());
  if (ZSTD_isError(got) || got != raw) return Status::Corruption(what + ": compressed data does not decompress");
  return Status::OK();
}

}  // namespace crust::store
