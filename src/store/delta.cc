// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/delta.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "src/store/format.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

namespace crust::store {
namespace {

constexpr size_t kHeaderSize = 32;
constexpr size_t kNodeSize = 36;

}  // namespace

std::shared_ptr<DeltaLayer> DeltaLayer::Build(std::vector<uint32_t> pages, std::unique_ptr<uint8_t[]> xor_pages,
                                              std::vector<TreeNode> nodes) {
  std::shared_ptr<DeltaLayer> d(new DeltaLayer());
  d->pages_ = std::move(pages);
  d->xor_pages_ = std::move(xor_pages);
  d->nodes_ = std::move(nodes);
  return d;
}

Status DeltaLayer::Write(os::Env* env, const std::string& path, int level, bool sync) const {
  Bytes head;
  const size_t raw = pages_.size() * 4096;
  head.reserve(kHeaderSize + pages_.size() * 4 + nodes_.size() * kNodeSize);
  head.insert(head.end(), kDeltaMagic, kDeltaMagic + 8);
  PutFixed32(&head, kDeltaVersion);
  PutFixed32(&head, static_cast<uint32_t>(pages_.size()));
  PutFixed32(&head, static_cast<uint32_t>(nodes_.size()));
  PutFixed32(&head, 0);
  const size_t csize_at = head.size();
  PutFixed64(&head, 0);
  for (uint32_t p : pages_) PutFixed32(&head, p);
  for (const TreeNode& n : nodes_) {
    PutFixed32(&head, n.key);
    PutHash(&head, n.hash);
  }
  // One zstd frame; large layers use a second thread (the result is the same
  // format either way; its bytes are not part of any hash).
  const size_t bound = ZSTD_compressBound(raw);
  std::unique_ptr<uint8_t[]> data(new uint8_t[bound]);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return Status::ResourceExhausted(path + ": cannot allocate a zstd context");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  if (raw >= (8u << 20)) ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2);  // ignored without MT support
  size_t csize = ZSTD_compress2(cctx, data.get(), bound, xor_pages_.get(), raw);
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(csize)) {
    return Status::IOError(path + ": zstd compression failed: " + ZSTD_getErrorName(csize));
  }
  EncodeFixed64(head.data() + csize_at, csize);
  uint32_t crc = Crc32c(head.data(), head.size());
  crc = Crc32c(data.get(), csize, crc);
  Bytes tail;
  PutFixed32(&tail, crc);
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(head));
  RETURN_IF_ERROR(f->Append(ByteView(data.get(), csize)));
  RETURN_IF_ERROR(f->Append(tail));
  if (sync) RETURN_IF_ERROR(f->Sync());
  RETURN_IF_ERROR(f->Close());
  return env->SetReadOnly(path);
}

Result<std::shared_ptr<DeltaLayer>> DeltaLayer::Open(os::Env* env, const std::string& path, uint64_t max_pages) {
  ASSIGN_OR_RETURN(Bytes file, env->ReadFile(path, 8ull << 30));
  auto corrupt = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  if (file.size() < kHeaderSize + 4) return corrupt("delta too short (" + std::to_string(file.size()) + " bytes)");
  if (std::memcmp(file.data(), kDeltaMagic, 8) != 0) return corrupt("not a crust delta (bad magic)");
  if (Crc32c(file.data(), file.size() - 4) != DecodeFixed32(file.data() + file.size() - 4)) {
    return corrupt("delta checksum mismatch");
  }
  Decoder d(ByteView(file.data() + 8, file.size() - 12));
  uint32_t version, page_count, node_count, reserved;
  uint64_t csize;
  if (!d.GetU32(&version) || !d.GetU32(&page_count) || !d.GetU32(&node_count) || !d.GetU32(&reserved) ||
      !d.GetU64(&csize)) {
    return corrupt("truncated header");
  }
  if (version != kDeltaVersion) return corrupt("unsupported delta version " + std::to_string(version));
  if (page_count > std::min(max_pages, kMaxPages) || node_count > 2 * kMaxPages + kTreeDepth) {
    return corrupt("page or node count out of range");
  }
  if (d.remaining() != uint64_t{page_count} * 4 + uint64_t{node_count} * kNodeSize + csize) {
    return corrupt("section sizes do not add up to the file size");
  }
  std::shared_ptr<DeltaLayer> layer(new DeltaLayer());
  layer->path_ = path;
  layer->pages_.resize(page_count);
  for (uint32_t i = 0; i < page_count; i++) {
    d.GetU32(&layer->pages_[i]);
    if (layer->pages_[i] >= std::min(max_pages, kMaxPages) || (i > 0 && layer->pages_[i] <= layer->pages_[i - 1])) {
      return corrupt("page indices not strictly ascending or out of range at entry " + std::to_string(i));
    }
  }
  layer->nodes_.resize(node_count);
  for (uint32_t i = 0; i < node_count; i++) {
    TreeNode& n = layer->nodes_[i];
    d.GetU32(&n.key);
    d.GetHash(&n.hash);
    if (NodeLevel(n.key) > kTreeDepth || NodeIndex(n.key) >= (kMaxPages >> NodeLevel(n.key)) ||
        (i > 0 && n.key <= layer->nodes_[i - 1].key)) {
      return corrupt("tree node keys not strictly ascending or out of range at entry " + std::to_string(i));
    }
  }
  ByteView data;
  if (!d.GetView(csize, &data)) return corrupt("truncated data");
  const uint64_t raw = uint64_t{page_count} * 4096;
  unsigned long long content = ZSTD_getFrameContentSize(data.data(), data.size());
  if (content != raw) return corrupt("compressed data does not hold " + std::to_string(page_count) + " pages");
  layer->xor_pages_ = NewPageBuffer(page_count);
  size_t got = ZSTD_decompress(layer->xor_pages_.get(), raw, data.data(), data.size());
  if (ZSTD_isError(got) || got != raw) return corrupt("compressed data does not decompress");
  return layer;
}

std::shared_ptr<DeltaLayer> DeltaLayer::Merge(const DeltaLayer& older, const DeltaLayer& newer) {
  std::shared_ptr<DeltaLayer> m(new DeltaLayer());
  size_t i = 0, j = 0;
  const auto& a = older.pages_;
  const auto& b = newer.pages_;
  m->pages_.reserve(a.size() + b.size());
  m->xor_pages_ = NewPageBuffer(a.size() + b.size());
  auto take = [&](const DeltaLayer& l, size_t k) {
    std::memcpy(m->xor_pages_.get() + m->pages_.size() * 4096, l.xor_page(k), 4096);
    m->pages_.push_back(l.pages_[k]);
  };
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      take(older, i++);
    } else {
      if (i < a.size() && a[i] == b[j]) i++;
      take(newer, j++);
    }
  }
  const auto& na = older.nodes_;
  const auto& nb = newer.nodes_;
  i = j = 0;
  m->nodes_.reserve(na.size() + nb.size());
  while (i < na.size() || j < nb.size()) {
    if (j == nb.size() || (i < na.size() && na[i].key < nb[j].key)) {
      m->nodes_.push_back(na[i++]);
    } else {
      if (i < na.size() && na[i].key == nb[j].key) i++;
      m->nodes_.push_back(nb[j++]);
    }
  }
  return m;
}

std::optional<Hash32> DeltaLayer::FindNode(NodeKey key) const {
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), key,
                             [](const TreeNode& n, NodeKey k) { return n.key < k; });
  if (it == nodes_.end() || it->key != key) return std::nullopt;
  return it->hash;
}

std::optional<size_t> DeltaLayer::FindPage(uint32_t page) const {
  auto it = std::lower_bound(pages_.begin(), pages_.end(), page);
  if (it == pages_.end() || *it != page) return std::nullopt;
  return static_cast<size_t>(it - pages_.begin());
}

}  // namespace crust::store
