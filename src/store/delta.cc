// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/delta.h"

#include <algorithm>
#include <bit>
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
constexpr size_t kBlock = kDeltaBlockSize;
constexpr uint32_t kZstdRaw = 0, kZstdRle = 1;
static_assert(sizeof(TreeNode) == kNodeSize && alignof(TreeNode) == 4, "nodes are read in place from mapped files");
static_assert(std::endian::native == std::endian::little, "mapped page and node lists are little-endian");

bool NodeKeyInRange(NodeKey key) {
  return NodeLevel(key) <= kTreeDepth && NodeIndex(key) < (kMaxPages >> NodeLevel(key));
}

}  // namespace

void EncodeDeltaHeader(uint8_t* out, uint32_t page_count, uint32_t node_count, uint32_t flags,
                       uint64_t compressed_size) {
  std::memcpy(out, kDeltaMagic, 8);
  EncodeFixed32(out + 8, kDeltaVersion);
  EncodeFixed32(out + 12, page_count);
  EncodeFixed32(out + 16, node_count);
  EncodeFixed32(out + 20, flags);
  EncodeFixed64(out + 24, compressed_size);
}

Bytes EncodeDeltaPageMap(ByteView frame, size_t count) {
  if (count == 0 || frame.size() > UINT32_MAX) return Bytes();  // offsets are u32
  auto index = SparseFrameIndex::Build(frame, count);
  if (!index) return Bytes();
  Bytes map(count * 8);
  for (size_t i = 0; i < count; i++) {
    auto [header, skip] = index->PageStart(i);
    EncodeFixed32(map.data() + 8 * i, static_cast<uint32_t>(header));
    EncodeFixed32(map.data() + 8 * i + 4, skip);
  }
  return map;
}

Bytes EncodeDeltaChecksums(std::initializer_list<ByteView> body) {
  uint64_t size = 0;
  for (ByteView part : body) size += part.size();
  const uint64_t blocks = (size + kBlock - 1) / kBlock;
  Bytes out(blocks * 4 + kDeltaFooterSize);
  uint8_t* p = out.data();
  uint32_t crc = 0;
  uint64_t in_block = 0;
  for (ByteView part : body) {
    const uint8_t* d = part.data();
    uint64_t n = part.size();
    while (n > 0) {
      const uint64_t take = std::min<uint64_t>(n, kBlock - in_block);
      crc = Crc32c(d, take, crc);
      d += take;
      n -= take;
      in_block += take;
      if (in_block == kBlock) {
        EncodeFixed32(p, crc);
        p += 4;
        crc = 0;
        in_block = 0;
      }
    }
  }
  if (in_block > 0) {
    EncodeFixed32(p, crc);
    p += 4;
  }
  EncodeFixed64(p, size);
  EncodeFixed32(p + 8, Crc32c(out.data(), blocks * 4 + 8));
  return out;
}

std::shared_ptr<DeltaLayer> DeltaLayer::Build(std::vector<uint32_t> pages, std::unique_ptr<uint8_t[]> xor_pages,
                                              std::vector<TreeNode> nodes) {
  std::shared_ptr<DeltaLayer> d(new DeltaLayer());
  d->pages_ = std::move(pages);
  d->xor_pages_ = std::move(xor_pages);
  d->nodes_ = std::move(nodes);
  d->page_count_ = d->pages_.size();
  d->node_count_ = d->nodes_.size();
  return d;
}

std::shared_ptr<DeltaLayer> DeltaLayer::FromFrame(std::vector<uint32_t> pages, Bytes frame,
                                                  std::vector<TreeNode> nodes) {
  std::shared_ptr<DeltaLayer> d(new DeltaLayer());
  d->pages_ = std::move(pages);
  d->frame_ = std::move(frame);
  d->nodes_ = std::move(nodes);
  d->page_count_ = d->pages_.size();
  d->node_count_ = d->nodes_.size();
  d->sparse_ = SparseFrameIndex::Build(d->frame_, d->page_count_);
  return d;
}

Status DeltaLayer::Corrupt(const std::string& why) const {
  return Status::Corruption((path_.empty() ? std::string("delta layer") : path_) + ": " + why);
}

ByteView DeltaLayer::frame() const {
  if (mapped()) return ByteView(map_->data() + data_at_, data_size_);
  return frame_;
}

Status DeltaLayer::CheckRange(uint64_t offset, uint64_t len) const {
  if (!mapped() || len == 0) return Status::OK();
  for (uint64_t b = offset / kBlock; b <= (offset + len - 1) / kBlock; b++) {
    const uint64_t bit = uint64_t{1} << (b % 64);
    if (checked_[b / 64].load(std::memory_order_relaxed) & bit) continue;
    const uint64_t at = b * kBlock;
    const uint64_t n = std::min<uint64_t>(kBlock, body_size_ - at);
    if (Crc32c(map_->data() + at, n) != DecodeFixed32(sums_ + 4 * b)) {
      return Corrupt("checksum mismatch in block " + std::to_string(b) + " (bytes " + std::to_string(at) + ".." +
                     std::to_string(at + n) + ")");
    }
    checked_[b / 64].fetch_or(bit, std::memory_order_relaxed);
  }
  return Status::OK();
}

Status DeltaLayer::LoadPages() const {
  std::lock_guard<std::mutex> l(mu_);
  if (xor_pages_ || page_count_ == 0) return Status::OK();
  RETURN_IF_ERROR(CheckRange(data_at_, data_size_));
  auto buf = NewPageBuffer(page_count_);
  RETURN_IF_ERROR(DecompressPages(frame(), page_count_, buf.get(), path_.empty() ? "delta layer" : path_));
  xor_pages_ = std::move(buf);
  return Status::OK();
}

Result<std::span<const uint32_t>> DeltaLayer::PageList() const {
  if (!mapped()) return std::span<const uint32_t>(pages_);
  RETURN_IF_ERROR(CheckRange(pages_at_, 4 * uint64_t{page_count_}));
  return std::span<const uint32_t>(reinterpret_cast<const uint32_t*>(map_->data() + pages_at_), page_count_);
}

Result<std::span<const TreeNode>> DeltaLayer::NodeList() const {
  if (!mapped()) return std::span<const TreeNode>(nodes_);
  RETURN_IF_ERROR(CheckRange(nodes_at_, kNodeSize * uint64_t{node_count_}));
  return std::span<const TreeNode>(reinterpret_cast<const TreeNode*>(map_->data() + nodes_at_), node_count_);
}

uint32_t DeltaLayer::MappedPage(size_t i) const { return DecodeFixed32(map_->data() + pages_at_ + 4 * i); }

Result<Bytes> DeltaLayer::Encode(int level, const std::string& what) const {
  Bytes compressed;
  ByteView data = frame();
  if (!mapped() && frame_.empty()) {
    // Built from pages: compress them now.
    const uint8_t* raw = xor_pages_.get();
    ASSIGN_OR_RETURN(compressed, CompressPages(
                                     page_count_, level,
                                     [raw](size_t first, size_t n, uint8_t* out) {
                                       std::memcpy(out, raw + first * 4096, n * 4096);
                                       return Status::OK();
                                     },
                                     what));
    data = compressed;
  }
  ASSIGN_OR_RETURN(std::span<const uint32_t> pages, PageList());
  ASSIGN_OR_RETURN(std::span<const TreeNode> nodes, NodeList());
  const Bytes page_map = EncodeDeltaPageMap(data, page_count_);
  // One buffer, sized first and filled in place.
  const uint64_t body = kHeaderSize + pages.size() * 4 + nodes.size() * kNodeSize + page_map.size() + data.size();
  Bytes file(body);
  uint8_t* p = file.data();
  EncodeDeltaHeader(p, static_cast<uint32_t>(pages.size()), static_cast<uint32_t>(nodes.size()),
                    page_map.empty() ? 0 : kDeltaFlagPageMap, data.size());
  p += kHeaderSize;
  for (uint32_t page : pages) {
    EncodeFixed32(p, page);
    p += 4;
  }
  for (const TreeNode& n : nodes) {
    EncodeFixed32(p, n.key);
    std::memcpy(p + 4, n.hash.bytes.data(), 32);
    p += kNodeSize;
  }
  if (!page_map.empty()) std::memcpy(p, page_map.data(), page_map.size());
  p += page_map.size();
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
  const Bytes tail = EncodeDeltaChecksums({ByteView(file)});
  file.insert(file.end(), tail.begin(), tail.end());
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
  max_pages = std::min(max_pages, kMaxPages);
  auto corrupt = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  ASSIGN_OR_RETURN(std::unique_ptr<os::RandomAccessFile> file, env->OpenReadable(path));
  const uint64_t size = file->Size();
  if (size < kHeaderSize + 4) return corrupt("delta too short (" + std::to_string(size) + " bytes)");
  uint8_t head[kHeaderSize];
  RETURN_IF_ERROR(file->ReadAt(0, std::span<uint8_t>(head, kHeaderSize)));
  if (std::memcmp(head, kDeltaMagic, 8) != 0) return corrupt("not a crust delta (bad magic)");
  const uint32_t version = DecodeFixed32(head + 8);
  if (version == 2) {
    file.reset();
    return OpenV2(env, path, max_pages);
  }
  if (version != kDeltaVersion) return corrupt("unsupported delta version " + std::to_string(version));
  if (size < kHeaderSize + 4 + kDeltaFooterSize) return corrupt("delta too short (" + std::to_string(size) + " bytes)");

  std::shared_ptr<DeltaLayer> layer(new DeltaLayer());
  layer->path_ = path;
  ASSIGN_OR_RETURN(layer->map_, os::MappedView::Map(*file, 0, size));
  const uint8_t* m = layer->map_->data();
  // Footer and checksum table.
  const uint64_t body = DecodeFixed64(m + size - kDeltaFooterSize);
  const uint64_t blocks = (body + kBlock - 1) / kBlock;
  if (body < kHeaderSize || body > size || blocks * 4 + kDeltaFooterSize != size - body) {
    return corrupt("footer's body size " + std::to_string(body) + " does not fit the file size " +
                   std::to_string(size));
  }
  if (Crc32c(m + body, blocks * 4 + 8) != DecodeFixed32(m + size - 4)) {
    return corrupt("checksum table's checksum mismatch");
  }
  layer->body_size_ = body;
  layer->sums_ = m + body;
  layer->checked_.reset(new std::atomic<uint64_t>[(blocks + 63) / 64]);
  for (uint64_t w = 0; w < (blocks + 63) / 64; w++) layer->checked_[w].store(0, std::memory_order_relaxed);
  // Header.
  RETURN_IF_ERROR(layer->CheckRange(0, kHeaderSize));
  const uint64_t page_count = DecodeFixed32(m + 12), node_count = DecodeFixed32(m + 16);
  const uint32_t flags = DecodeFixed32(m + 20);
  const uint64_t csize = DecodeFixed64(m + 24);
  if ((flags & ~kDeltaFlagPageMap) != 0) return corrupt("unknown flags " + std::to_string(flags));
  if (page_count > max_pages || node_count > 2 * kMaxPages + kTreeDepth) {
    return corrupt("page or node count out of range");
  }
  const bool has_map = (flags & kDeltaFlagPageMap) != 0;
  layer->page_count_ = page_count;
  layer->node_count_ = node_count;
  layer->has_page_map_ = has_map;
  layer->pages_at_ = kHeaderSize;
  layer->nodes_at_ = layer->pages_at_ + 4 * page_count;
  layer->page_map_at_ = layer->nodes_at_ + kNodeSize * node_count;
  layer->data_at_ = layer->page_map_at_ + (has_map ? 8 * page_count : 0);
  layer->data_size_ = csize;
  if (csize > body || layer->data_at_ != body - csize) {
    return corrupt("section sizes do not add up to the file size");
  }
  // The last page bounds them all (the list is ascending; VerifyAll checks it).
  if (page_count > 0) {
    RETURN_IF_ERROR(layer->CheckRange(layer->pages_at_ + 4 * (page_count - 1), 4));
    if (layer->MappedPage(page_count - 1) >= max_pages) {
      return corrupt("page " + std::to_string(layer->MappedPage(page_count - 1)) + " out of range");
    }
  }
  return layer;
}

Result<std::shared_ptr<DeltaLayer>> DeltaLayer::OpenV2(os::Env* env, const std::string& path, uint64_t max_pages) {
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
  if (version != 2) return corrupt("unsupported delta version " + std::to_string(version));
  if (page_count > max_pages || node_count > 2 * kMaxPages + kTreeDepth) {
    return corrupt("page or node count out of range");
  }
  if (d.remaining() != uint64_t{page_count} * 4 + uint64_t{node_count} * kNodeSize + csize) {
    return corrupt("section sizes do not add up to the file size");
  }
  std::shared_ptr<DeltaLayer> layer(new DeltaLayer());
  layer->path_ = path;
  layer->page_count_ = page_count;
  layer->node_count_ = node_count;
  layer->pages_.resize(page_count);
  for (uint32_t i = 0; i < page_count; i++) {
    d.GetU32(&layer->pages_[i]);
    if (layer->pages_[i] >= max_pages || (i > 0 && layer->pages_[i] <= layer->pages_[i - 1])) {
      return corrupt("page indices not strictly ascending or out of range at entry " + std::to_string(i));
    }
  }
  layer->nodes_.resize(node_count);
  for (uint32_t i = 0; i < node_count; i++) {
    TreeNode& n = layer->nodes_[i];
    d.GetU32(&n.key);
    d.GetHash(&n.hash);
    if (!NodeKeyInRange(n.key) || (i > 0 && n.key <= layer->nodes_[i - 1].key)) {
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

Status DeltaLayer::ReadMappedPage(size_t i, uint8_t* out) const {
  const uint64_t entry = page_map_at_ + 8 * uint64_t{i};
  RETURN_IF_ERROR(CheckRange(entry, 8));
  const uint8_t* m = map_->data();
  uint64_t at = DecodeFixed32(m + entry);
  uint32_t skip = DecodeFixed32(m + entry + 4);
  const std::string where = "page map entry " + std::to_string(i);
  size_t produced = 0;
  while (produced < kPageSize) {
    if (at > data_size_ || data_size_ - at < 3) return Corrupt(where + ": a block header past the data");
    RETURN_IF_ERROR(CheckRange(data_at_ + at, 3));
    const uint8_t* h3 = m + data_at_ + at;
    const uint32_t h = h3[0] | h3[1] << 8 | h3[2] << 16;
    const bool last = h & 1;
    const uint32_t type = (h >> 1) & 3, size = h >> 3;
    if (type != kZstdRaw && type != kZstdRle) return Corrupt(where + ": a compressed block in a mapped frame");
    const uint64_t body = type == kZstdRaw ? size : 1;
    if (data_size_ - at - 3 < body) return Corrupt(where + ": a block past the data");
    if (skip > size || (skip == size && size > 0)) return Corrupt(where + ": skips past its block");
    const uint64_t n = std::min<uint64_t>(size - skip, kPageSize - produced);
    if (type == kZstdRaw) {
      RETURN_IF_ERROR(CheckRange(data_at_ + at + 3 + skip, n));
      std::memcpy(out + produced, m + data_at_ + at + 3 + skip, n);
    } else {
      RETURN_IF_ERROR(CheckRange(data_at_ + at + 3, 1));
      std::memset(out + produced, m[data_at_ + at + 3], n);
    }
    produced += n;
    if (produced < kPageSize && last) return Corrupt(where + ": the frame ends inside the page");
    at += 3 + body;
    skip = 0;
  }
  return Status::OK();
}

Status DeltaLayer::ReadXorPage(size_t i, uint8_t* out) const {
  if (i >= page_count_) return Corrupt("page " + std::to_string(i) + " read past the page list");
  if (mapped() && has_page_map_) return ReadMappedPage(i, out);
  if (sparse_) {
    sparse_->ReadPage(frame_, i, out);
    return Status::OK();
  }
  RETURN_IF_ERROR(LoadPages());
  std::memcpy(out, xor_page(i), 4096);
  return Status::OK();
}

Result<std::optional<Hash32>> DeltaLayer::FindNode(NodeKey key) const {
  if (!mapped()) {
    auto it = std::lower_bound(nodes_.begin(), nodes_.end(), key,
                               [](const TreeNode& n, NodeKey k) { return n.key < k; });
    if (it == nodes_.end() || it->key != key) return std::optional<Hash32>();
    return std::optional<Hash32>(it->hash);
  }
  // Binary search in place, checking each block it reads.
  const uint8_t* m = map_->data();
  size_t lo = 0, hi = node_count_;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const uint64_t at = nodes_at_ + kNodeSize * uint64_t{mid};
    RETURN_IF_ERROR(CheckRange(at, 4));
    if (DecodeFixed32(m + at) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == node_count_) return std::optional<Hash32>();
  const uint64_t at = nodes_at_ + kNodeSize * uint64_t{lo};
  RETURN_IF_ERROR(CheckRange(at, kNodeSize));
  if (DecodeFixed32(m + at) != key) return std::optional<Hash32>();
  Hash32 h;
  std::memcpy(h.bytes.data(), m + at + 4, 32);
  return std::optional<Hash32>(h);
}

// The index of the first page >= `first` in the page list (page_count_ if
// none), checking each block the search reads.
Result<size_t> DeltaLayer::LowerBoundPage(uint64_t first) const {
  if (!mapped()) return static_cast<size_t>(std::lower_bound(pages_.begin(), pages_.end(), first) - pages_.begin());
  size_t lo = 0, hi = page_count_;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    RETURN_IF_ERROR(CheckRange(pages_at_ + 4 * uint64_t{mid}, 4));
    if (MappedPage(mid) < first) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

uint32_t DeltaLayer::PageAt(size_t i) const { return mapped() ? MappedPage(i) : pages_[i]; }

Result<std::optional<size_t>> DeltaLayer::FindPage(uint32_t page) const {
  if (const PageSet* set = Pages(); set != nullptr && !set->Contains(page)) return std::optional<size_t>();
  ASSIGN_OR_RETURN(size_t i, LowerBoundPage(page));
  if (i == page_count_ || PageAt(i) != page) return std::optional<size_t>();
  return std::optional<size_t>(i);
}

const PageSet* DeltaLayer::Pages() const {
  if (const PageSet* set = page_set_.load(std::memory_order_acquire)) return set;
  if (searches_.fetch_add(1, std::memory_order_relaxed) < 32 + page_count_ / 32) return nullptr;
  std::lock_guard<std::mutex> l(set_mu_);
  if (page_set_owner_ == nullptr) {
    // A damaged block of the list: no set; the searches report it when they
    // read that block.
    Result<std::span<const uint32_t>> list = PageList();
    if (!list.ok()) return nullptr;
    page_set_owner_ = std::make_unique<PageSet>(*list);
    page_set_.store(page_set_owner_.get(), std::memory_order_release);
  }
  return page_set_owner_.get();
}

Result<bool> DeltaLayer::HoldsPagesUnder(NodeKey key) const {
  const int level = NodeLevel(key);
  if (const PageSet* set = Pages()) return set->AnyUnder(level, NodeIndex(key));
  const uint64_t first = uint64_t{NodeIndex(key)} << level;
  ASSIGN_OR_RETURN(size_t i, LowerBoundPage(first));
  return i < page_count_ && PageAt(i) < first + (uint64_t{1} << level);
}

Result<std::optional<uint32_t>> DeltaLayer::LastPage() const {
  if (page_count_ == 0) return std::optional<uint32_t>();
  if (!mapped()) return std::optional<uint32_t>(pages_.back());
  RETURN_IF_ERROR(CheckRange(pages_at_ + 4 * uint64_t{page_count_ - 1}, 4));
  return std::optional<uint32_t>(MappedPage(page_count_ - 1));
}

Status DeltaLayer::VerifyAll(uint64_t max_pages) const {
  if (!mapped()) return Status::OK();
  max_pages = std::min(max_pages, kMaxPages);
  RETURN_IF_ERROR(CheckRange(0, body_size_));
  ASSIGN_OR_RETURN(std::span<const uint32_t> pages, PageList());
  for (size_t i = 0; i < pages.size(); i++) {
    if (pages[i] >= max_pages || (i > 0 && pages[i] <= pages[i - 1])) {
      return Corrupt("page indices not strictly ascending or out of range at entry " + std::to_string(i));
    }
  }
  ASSIGN_OR_RETURN(std::span<const TreeNode> nodes, NodeList());
  for (size_t i = 0; i < nodes.size(); i++) {
    if (!NodeKeyInRange(nodes[i].key) || (i > 0 && nodes[i].key <= nodes[i - 1].key)) {
      return Corrupt("tree node keys not strictly ascending or out of range at entry " + std::to_string(i));
    }
  }
  // The nodes are exactly the pages' paths to the root: level by level, the
  // distinct ancestors of the (ascending) pages, in key order. Readers rely
  // on it (CommittedMemory::LookupNode searches a layer only for nodes over
  // its pages).
  size_t j = 0;
  for (int level = 0; level <= kTreeDepth && !pages.empty(); level++) {
    uint64_t prev = ~uint64_t{0};
    for (uint32_t p : pages) {
      const uint32_t index = p >> level;
      if (index == prev) continue;
      prev = index;
      if (j >= nodes.size() || nodes[j].key != MakeNodeKey(level, index)) {
        return Corrupt("tree nodes are not exactly the paths of the layer's pages (entry " + std::to_string(j) +
                       " should be level " + std::to_string(level) + " index " + std::to_string(index) + ")");
      }
      j++;
    }
  }
  if (j != nodes.size()) {
    return Corrupt("tree node entry " + std::to_string(j) + " is on no path of the layer's pages");
  }
  if (page_count_ == 0) return Status::OK();
  if (has_page_map_) {
    const Bytes want = EncodeDeltaPageMap(frame(), page_count_);
    if (want.size() != 8 * page_count_ || std::memcmp(want.data(), map_->data() + page_map_at_, want.size()) != 0) {
      return Corrupt("page map does not match the data's blocks");
    }
  }
  // The frame must decode to exactly page_count pages.
  auto buf = NewPageBuffer(page_count_);
  return DecompressPages(frame(), page_count_, buf.get(), path_);
}

}  // namespace crust::store
