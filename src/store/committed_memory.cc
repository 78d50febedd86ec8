// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/committed_memory.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "src/store/format.h"

namespace crust::store {

Result<std::shared_ptr<const CommittedMemory>> CommittedMemory::Open(os::Env* env, const std::string& commit_dir,
                                                                     const IndexEntry& entry, ImageCache* images,
                                                                     LayerCache* layer_cache) {
  const std::string image_path = commit_dir + "/" + MemoryName(entry.id);
  ASSIGN_OR_RETURN(std::shared_ptr<MemoryImage> base,
                   images ? images->Open(env, image_path) : MemoryImage::Open(env, image_path));
  if (base->length() > entry.memory_length) {
    return Status::Corruption(base->path() + ": base image is " + std::to_string(base->length()) +
                              " bytes, longer than the memory length in the index (" +
                              std::to_string(entry.memory_length) + ")");
  }
  std::vector<std::shared_ptr<DeltaLayer>> layers;
  for (uint32_t k = 1; k <= entry.layer_count; k++) {
    // Pages past the memory's length are refused before anything is allocated.
    const std::string path = commit_dir + "/" + LayerName(entry.id, k);
    const uint64_t max_pages = entry.memory_length / kPageSize;
    ASSIGN_OR_RETURN(std::shared_ptr<DeltaLayer> layer, layer_cache ? layer_cache->Open(env, path, max_pages)
                                                                    : DeltaLayer::Open(env, path, max_pages));
    ASSIGN_OR_RETURN(std::optional<uint32_t> last, layer->LastPage());
    if (last && uint64_t{*last} * kPageSize >= entry.memory_length) {
      return Status::Corruption(layer->path() + ": holds a page past the memory's length");
    }
    layers.push_back(std::move(layer));
  }
  return std::make_shared<const CommittedMemory>(std::move(base), std::move(layers), image_path);
}

uint64_t CommittedMemory::delta_pages() const {
  uint64_t n = 0;
  for (const auto& l : layers_) n += l->page_count();
  return n;
}

// A layer changes only the nodes over the pages it holds: the value of a
// node none of whose pages a layer holds is its value below that layer
// (format.md, composition). So a layer's node list is searched only when its
// page list, several times shorter, holds one of the node's pages; most
// lookups during a tree update are of low nodes that few layers touch.
// High nodes are over pages of nearly every layer: searched directly.
Result<Hash32> CommittedMemory::LookupNode(NodeKey key) const {
  constexpr int kDirectFromLevel = 12;  // 4096 pages and more below the node
  const bool low = NodeLevel(key) < kDirectFromLevel;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (low) {
      ASSIGN_OR_RETURN(bool holds, (*it)->HoldsPagesUnder(key));
      if (!holds) continue;
    }
    ASSIGN_OR_RETURN(std::optional<Hash32> h, (*it)->FindNode(key));
    if (h) return *h;
  }
  return base_->Node(key);
}

Hash32 CommittedMemory::Node(NodeKey key) const {
  Result<Hash32> h = LookupNode(key);
  if (h.ok()) return *h;
  std::lock_guard<std::mutex> l(error_mu_);
  if (lookup_error_.ok()) lookup_error_ = h.status();
  return Hash32{};
}

Status CommittedMemory::LookupStatus() const {
  std::lock_guard<std::mutex> l(error_mu_);
  return lookup_error_;
}

Status CommittedMemory::XorWithBase(uint32_t page, const uint8_t* current, uint8_t* out) const {
  const uint8_t* base = base_->PageData(page);
  if (base == nullptr) {
    std::memcpy(out, current, kPageSize);
    return Status::OK();
  }
  const uint64_t* b = reinterpret_cast<const uint64_t*>(base);
  const uint64_t* c = reinterpret_cast<const uint64_t*>(current);
  uint64_t* o = reinterpret_cast<uint64_t*>(out);
  for (size_t i = 0; i < kPageSize / 8; i++) o[i] = b[i] ^ c[i];
  return Status::OK();
}

void CommittedMemory::PrefetchBase(uint32_t page) const {
  const uint8_t* base = base_->PageData(page);
  if (base == nullptr) return;
  (void)*static_cast<const volatile uint8_t*>(base);  // the fault, now
  for (size_t off = 64; off < kPageSize; off += 64) __builtin_prefetch(base + off);
}

std::vector<Hash32> CommittedMemory::Leaves(uint64_t pages, const std::vector<TreeNode>& newer) const {
  std::vector<Hash32> leaves(pages);
  for (uint64_t p = 0; p < pages; p++) leaves[p] = Node(MakeNodeKey(0, static_cast<uint32_t>(p)));  // LookupStatus()
  for (const TreeNode& n : newer) {
    if (NodeLevel(n.key) == 0 && NodeIndex(n.key) < pages) leaves[NodeIndex(n.key)] = n.hash;
  }
  return leaves;
}

Status CommittedMemory::ReadPage(uint32_t page, uint8_t* out) const {
  RETURN_IF_ERROR(base_->ReadPage(page, out));
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    ASSIGN_OR_RETURN(std::optional<size_t> i, (*it)->FindPage(page));
    if (i) {
      alignas(8) uint8_t x[kPageSize];
      RETURN_IF_ERROR((*it)->ReadXorPage(*i, x));
      for (size_t b = 0; b < kPageSize; b++) out[b] ^= x[b];
      break;
    }
  }
  return Status::OK();
}

namespace {

// The lazy region's view of a committed memory.
class CommittedPages final : public os::PageSource {
 public:
  explicit CommittedPages(std::shared_ptr<const CommittedMemory> memory) : memory_(std::move(memory)) {}
  Status FillPage(uint32_t page, uint8_t* out) const override { return memory_->FillPage(page, out); }

 private:
  const std::shared_ptr<const CommittedMemory> memory_;
};

}  // namespace

Status CommittedMemory::FillPage(uint32_t page, uint8_t* out) const {
  const uint8_t* base = base_->PageData(page);
  const DeltaLayer* holder = nullptr;
  size_t at = 0;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    ASSIGN_OR_RETURN(std::optional<size_t> i, (*it)->FindPage(page));
    if (i) {
      holder = it->get();
      at = *i;
      break;
    }
  }
  if (holder == nullptr) {
    if (base == nullptr) {  // past the base image and in no layer: zero by definition
      std::memset(out, 0, kPageSize);
      return Status::OK();
    }
    std::memcpy(out, base, kPageSize);
  } else {
    RETURN_IF_ERROR(holder->ReadXorPage(at, out));
    if (base != nullptr) {
      const uint64_t* b = reinterpret_cast<const uint64_t*>(base);
      uint64_t* o = reinterpret_cast<uint64_t*>(out);
      for (size_t w = 0; w < kPageSize / 8; w++) o[w] ^= b[w];
    }
  }
  // Use verifies what it uses: the page must hash to its committed leaf.
  // The newest layer holding a page holds its leaf (delta.h), so one lookup
  // finds it; the full lookup is the fallback.
  const NodeKey leaf_key = MakeNodeKey(0, page);
  std::optional<Hash32> leaf;
  if (holder != nullptr) {
    ASSIGN_OR_RETURN(leaf, holder->FindNode(leaf_key));
  }
  if (!leaf) {
    ASSIGN_OR_RETURN(leaf, LookupNode(leaf_key));
  }
  if (PageLeafHash(out) != *leaf) {
    return Status::Corruption((holder ? holder->path() : base_->path()) + ": page " + std::to_string(page) +
                              " does not match its leaf hash in the page tree");
  }
  return Status::OK();
}

Result<std::unique_ptr<os::MemoryRegion>> CommittedMemory::Map(os::Env* env, uint64_t length, bool noted,
                                                               bool lazy) const {
  if (lazy) {
    // Every page up to `length` is filled: pages past the base image and its
    // layers are zero.
    auto lazy_region =
        env->MapLazyMemory(std::make_shared<CommittedPages>(shared_from_this()), length, length, kMaxMemory);
    if (lazy_region.ok()) {
      std::unique_ptr<os::MemoryRegion> region = std::move(*lazy_region);
      RETURN_IF_ERROR(noted ? region->UseNotedWrites() : region->Arm());
      return region;
    }
    if (lazy_region.status().code() != Status::Code::kNotSupported) return lazy_region.status();
  }
  std::vector<std::span<const uint32_t>> lists;
  for (const auto& layer : layers_) {
    RETURN_IF_ERROR(layer->LoadPages());
    ASSIGN_OR_RETURN(std::span<const uint32_t> list, layer->PageList());
    if (!list.empty() && uint64_t{list.back()} * kPageSize >= length) {
      return Status::Corruption(layer->path() + ": holds a page past the memory's length");
    }
    lists.push_back(list);
  }
  // The base image is mapped copy-on-write from its file, opened again by
  // this commit's path (the caller's session or verification keeps the
  // commit; its files are immutable: the bytes the image was opened with).
  ASSIGN_OR_RETURN(std::unique_ptr<os::RandomAccessFile> file, env->OpenReadable(image_path_));
  if (file->Size() != base_->file_size()) {
    return Status::Corruption(image_path_ + ": is " + std::to_string(file->Size()) + " bytes, was " +
                              std::to_string(base_->file_size()) + " when opened");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<os::MemoryRegion> region,
                   env->MapMemory(file.get(), base_->length(), length, kMaxMemory));
  // Apply each page's newest version once: layers newest first, skipping
  // pages already applied. The region still holds the base page there, and
  // every layer's data is XOR-ed with the base, so one XOR gives the page.
  if (!layers_.empty()) {
    std::vector<bool> applied;
    for (size_t k = layers_.size(); k-- > 0;) {
      const DeltaLayer& layer = *layers_[k];
      for (size_t i = 0; i < lists[k].size(); i++) {
        uint32_t p = lists[k][i];
        if (p >= applied.size()) applied.resize(p + 1, false);
        if (applied[p]) continue;
        applied[p] = true;
        uint64_t* dst = reinterpret_cast<uint64_t*>(region->data() + uint64_t{p} * kPageSize);
        const uint64_t* x = reinterpret_cast<const uint64_t*>(layer.xor_page(i));
        for (size_t w = 0; w < kPageSize / 8; w++) dst[w] ^= x[w];
      }
    }
  }
  RETURN_IF_ERROR(noted ? region->UseNotedWrites() : region->Arm());
  return region;
}

}  // namespace crust::store
