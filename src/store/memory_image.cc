// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/memory_image.h"

#include <cstring>
#include <thread>

#include "src/os/fault_guard.h"
#include "src/store/format.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

namespace crust::store {
namespace {

uint64_t TotalNodes(uint64_t pages) {
  uint64_t n = 0;
  for (int k = 0; k <= kTreeDepth; k++) n += LevelWidth(pages, k);
  return n;
}

}  // namespace

void HashPages(const uint8_t* memory, const uint32_t* pages, size_t count, Hash32* out) {
  auto work = [&](size_t begin, size_t end) {
    PageLeafHashes(memory, pages, begin, end - begin, out + begin);
  };
  // BLAKE3 runs ~1.3 us per page: split large batches over two threads.
  if (count < 512) return work(0, count);
  std::thread helper(work, count / 2, count);
  work(0, count / 2);
  helper.join();
}

Result<Hash32> WriteMemoryImage(os::Env* env, const std::string& path, const uint8_t* data,
                                uint64_t length, bool sync, std::vector<Hash32>* known_leaves) {
  if (length % kWasmPageSize != 0 || length > kMaxMemory) {
    return Status::InvalidArgument(path + ": memory length " + std::to_string(length) +
                                   " is not a multiple of 64 KiB up to 4 GiB");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(path));
  const uint64_t pages = length / kPageSize;
  std::vector<Hash32> leaves;
  if (known_leaves != nullptr && known_leaves->size() == pages) {
    leaves = std::move(*known_leaves);
  } else {
    leaves.resize(pages);
    HashPages(data, nullptr, pages, leaves.data());
  }
  // Write runs of non-zero pages with one call each; zero pages stay holes.
  uint64_t run_start = 0, run_len = 0;
  for (uint64_t p = 0; p < pages; p++) {
    const uint8_t* page = data + p * kPageSize;
    if (IsZeroPage(page)) {
      if (run_len) {
        RETURN_IF_ERROR(f->WriteAt(run_start * kPageSize, ByteView(data + run_start * kPageSize, run_len * kPageSize)));
        run_len = 0;
      }
      continue;
    }
    if (run_len == 0) run_start = p;
    run_len++;
  }
  if (run_len) {
    RETURN_IF_ERROR(f->WriteAt(run_start * kPageSize, ByteView(data + run_start * kPageSize, run_len * kPageSize)));
  }
  std::vector<std::vector<Hash32>> levels = BuildTree(std::move(leaves));
  Bytes trailer;
  trailer.reserve(TotalNodes(pages) * 32 + kImageFooterSize);
  for (const auto& level : levels)
    for (const Hash32& h : level) PutHash(&trailer, h);
  const uint64_t node_bytes = trailer.size();
  const uint32_t nodes_crc = Crc32c(trailer.data(), node_bytes);
  size_t footer_at = trailer.size();
  trailer.insert(trailer.end(), kImageMagic, kImageMagic + 8);
  PutFixed32(&trailer, kImageVersion);
  PutFixed32(&trailer, nodes_crc);
  PutFixed64(&trailer, length);
  PutFixed64(&trailer, node_bytes / 32);
  PutFixed32(&trailer, 0);  // reserved
  PutFixed32(&trailer, Crc32c(trailer.data() + footer_at, 36));
  RETURN_IF_ERROR(f->WriteAt(length, trailer));
  if (sync) RETURN_IF_ERROR(f->Sync());
  RETURN_IF_ERROR(f->Close());
  RETURN_IF_ERROR(env->SetReadOnly(path));
  return pages ? levels[kTreeDepth][0] : ZeroHash(kTreeDepth);
}

Result<std::shared_ptr<MemoryImage>> MemoryImage::Open(os::Env* env, const std::string& path) {
  std::shared_ptr<MemoryImage> img(new MemoryImage());
  // Closed when Open returns: the mapping below keeps the file.
  ASSIGN_OR_RETURN(std::unique_ptr<os::RandomAccessFile> file, env->OpenReadable(path));
  const uint64_t size = file->Size();
  img->path_ = path;
  img->file_size_ = size;
  auto corrupt = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  if (size < kImageFooterSize) return corrupt("memory image too short (" + std::to_string(size) + " bytes)");
  uint8_t footer[kImageFooterSize];
  RETURN_IF_ERROR(file->ReadAt(size - kImageFooterSize, footer));
  if (std::memcmp(footer, kImageMagic, 8) != 0) return corrupt("not a crust memory image (bad magic)");
  if (Crc32c(footer, 36) != DecodeFixed32(footer + 36)) return corrupt("memory image footer checksum mismatch");
  uint32_t version = DecodeFixed32(footer + 8);
  if (version != kImageVersion) return corrupt("unsupported memory image version " + std::to_string(version));
  img->nodes_crc_ = DecodeFixed32(footer + 12);
  img->length_ = DecodeFixed64(footer + 16);
  img->node_count_ = DecodeFixed64(footer + 24);
  if (img->length_ % kWasmPageSize != 0 || img->length_ > kMaxMemory) {
    return corrupt("invalid memory length " + std::to_string(img->length_));
  }
  if (img->node_count_ != TotalNodes(img->pages())) return corrupt("node count does not match memory length");
  if (img->length_ + img->node_count_ * 32 + kImageFooterSize != size) {
    return corrupt("file size " + std::to_string(size) + " does not match memory length " +
                   std::to_string(img->length_) + " plus tree");
  }
  // Pages are read scattered (the base of each dirty page), tree nodes in
  // clusters (the siblings along paths).
  ASSIGN_OR_RETURN(img->map_, os::MappedView::Map(*file, 0, img->length_ + img->node_count_ * 32,
                                                  /*scattered=*/img->length_));
  img->nodes_ = img->map_->data() + img->length_;
  uint64_t off = 0;
  for (int k = 0; k <= kTreeDepth; k++) {
    img->level_offset_[k] = off;
    off += LevelWidth(img->pages(), k) * 32;
  }
  return img;
}

uint64_t MemoryImage::LevelOffset(int level) const { return level_offset_[level]; }

Hash32 MemoryImage::Node(NodeKey key) const {
  int level = NodeLevel(key);
  uint64_t index = NodeIndex(key);
  if (index >= LevelWidth(pages(), level)) return ZeroHash(level);
  Hash32 h;
  std::memcpy(h.bytes.data(), nodes_ + LevelOffset(level) + index * 32, 32);
  return h;
}

Status MemoryImage::ReadPage(uint32_t page, uint8_t* out) const {
  if (static_cast<uint64_t>(page) >= pages()) {
    std::memset(out, 0, kPageSize);
    return Status::OK();
  }
  // A page the kernel cannot read (a hole on a full file system, a truncated
  // file: SIGBUS) is an IOError naming the file, never a crash.
  return os::GuardMappedReads(path() + " page " + std::to_string(page),
                              [&] { std::memcpy(out, PageData(page), kPageSize); });
}

Status MemoryImage::VerifyChecksum() const {
  if (Crc32c(nodes_, node_count_ * 32) != nodes_crc_) {
    return Status::Corruption(path() + ": page tree checksum mismatch");
  }
  return Status::OK();
}

}  // namespace crust::store
