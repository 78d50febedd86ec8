// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/delta.h"

#include <algorithm>
#include <cstring>

#include <zstd.h>

#include "src/store/format.h"
#include "src/store/page_codec.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

namespace crust::store {
namespace {

constexpr size_t kHeaderSize = kDeltaHeaderSize;
constexpr size_t kNodeSize = kDeltaNodeSize;

}  // namespace

void EncodeDeltaHeader(uint8_t* out, uint32_t page_count, uint32_t node_count, uint64_t compressed_size) {
  std::memcpy(out, kDeltaMagic, 8);
  EncodeFixed32(out + 8, kDeltaVersion);
  EncodeFixed32(out + 12, page_count);
  EncodeFixed32(out + 16, node_count);
  EncodeFixed32(out + 20, 0);  // reserved
  EncodeFixed64(out + 24, compressed_size);
}

std::shared_ptr<DeltaLayer> DeltaLayer::Build(std::vector<uint32_t> pages, std::unique_ptr<uint8_t[]> xor_pages,
                                              std::vector<TreeNode> nodes) {
  std::shared_ptr<DeltaLayer> d(new DeltaLayer());
  d->pages_ = std::move(pages);
  d->xor_pages_ = std::move(xor_pages);
  d->nodes_ = std::move(nodes);
  return d;
}

std::shared_ptr<DeltaLayer> DeltaLayer::FromFrame(std::vector<uint32_t> pages, Bytes frame,
                                                  std::vector<TreeNode> nodes) {
  std::shared_ptr<DeltaLayer> d(new DeltaLayer());
  d->pages_ = std::move(pages);
  d->frame_ = std::move(frame);
  d->nodes_ = std::move(nodes);
  return d;
}

Status DeltaLayer::LoadPages() const {
  std::lock_guard<std::mutex> l(mu_);
  if (xor_pages_ || pages_.empty()) return Status::OK();
  auto buf = NewPageBuffer(pages_.size());
  RETURN_IF_ERROR(DecompressPages(frame_, pages_.size(), buf.get(), path_.empty() ? "delta layer" : path_));
  xor_pages_ = std::move(buf);
  return Status::OK();
}

Result<Bytes> DeltaLayer::Encode(int level, const std::string& what) const {
  Bytes compressed;
  const Bytes* frame = &frame_;
  if (frame_.empty()) {
    // Built from pages: compress them now.
    const uint8_t* raw = xor_pages_.get();
    ASSIGN_OR_RETURN(compressed, CompressPages(
                                     pages_.size(), level,
                                     [raw](size_t first, size_t n, uint8_t* out) {
                                       std::memcpy(out, raw + first * 4096, n * 4096);
                                       return Status::OK();
                                     },
                                     what));
    frame = &compressed;
  }
  // One buffer, sized first and filled in place.
  Bytes file(kHeaderSize + pages_.size() * 4 + nodes_.size() * kNodeSize + frame->size() + 4);
  uint8_t* p = file.data();
  EncodeDeltaHeader(p, static_cast<uint32_t>(pages_.size()), static_cast<uint32_t>(nodes_.size()), frame->size());
  p += kHeaderSize;
  for (uint32_t page : pages_) {
    EncodeFixed32(p, page);
    p += 4;
  }
  for (const TreeNode& n : nodes_) {
    EncodeFixed32(p, n.key);
    std::memcpy(p + 4, n.hash.bytes.data(), 32);
    p += kNodeSize;
  }
  if (!frame->empty()) std::memcpy(p, frame->data(), frame->size());
  p += frame->size();
  EncodeFixed32(p, Crc32c(file.data(), file.size() - 4));
  return file;
}

Status DeltaLayer::Write(os::Env* env, const std::string& path, int level, bool sync) const {
  ASSIGN_OR_RETURN(Bytes file, Encode(level, path));
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(file));
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
  if (page_count == 0) return layer;
  layer->frame_.assign(data.begin(), data.end());
  layer->sparse_ = SparseFrameIndex::Build(layer->frame_, page_count);
  if (!layer->sparse_ && ZSTD_getFrameContentSize(data.data(), data.size()) != uint64_t{page_count} * 4096) {
    return corrupt("compressed data does not hold " + std::to_string(page_count) + " pages");
  }
  return layer;
}

Status DeltaLayer::ReadXorPage(size_t i, uint8_t* out) const {
  if (sparse_) {
    sparse_->ReadPage(frame_, i, out);
    return Status::OK();
  }
  RETURN_IF_ERROR(LoadPages());
  std::memcpy(out, xor_page(i), 4096);
  return Status::OK();
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
