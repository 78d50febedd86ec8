// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/sync/manifest.h"

#include <algorithm>
#include <cstring>

#include "crust/sync.h"
#include "src/store/format.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"

namespace crust::sync {
namespace {

using store::kPageSize;

constexpr size_t kReadBuffer = 256 << 10;

// Node (level, index) of a tree whose only non-zero leaves are pages[lo, hi)
// (ascending pages), all below that node.
Hash32 SparseNode(const ManifestModule& m, const std::vector<std::pair<uint32_t, const Hash32*>>& leaves, int level,
                  uint64_t index, size_t lo, size_t hi) {
  if (lo == hi) return store::ZeroHash(level);
  if (level == 0) return *leaves[lo].second;
  const uint64_t mid_page = (2 * index + 1) << (level - 1);
  size_t mid = std::partition_point(leaves.begin() + lo, leaves.begin() + hi,
                                    [&](const auto& l) { return l.first < mid_page; }) -
               leaves.begin();
  return store::TreeNodeHash(SparseNode(m, leaves, level - 1, 2 * index, lo, mid),
                             SparseNode(m, leaves, level - 1, 2 * index + 1, mid, hi));
}

}  // namespace

std::string RunChunkName(const Hash32* leaves, uint32_t count) {
  Sha256 s;
  s.Update(&kChunkTag, 1);
  s.Update(leaves->bytes.data(), size_t{count} * 32);
  return s.Finish().ToHex();
}

void EncodeManifestHeader(Bytes* out, const Root& root, uint32_t module_count) {
  out->insert(out->end(), kManifestMagic, kManifestMagic + 8);
  PutFixed32(out, kSyncManifestVersion);
  PutFixed32(out, module_count);
  PutHash(out, root);
}

void EncodeManifestModule(Bytes* out, const ManifestModule& m) {
  PutHash(out, m.id);
  PutHash(out, m.bytecode_hash);
  PutFixed64(out, m.bytecode_size);
  PutFixed64(out, m.memory_length);
  PutFixed32(out, static_cast<uint32_t>(m.metadata.size()));
  PutBytes(out, m.metadata);
  PutFixed32(out, static_cast<uint32_t>(m.runs.size()));
  for (const Run& r : m.runs) {
    PutFixed32(out, r.first_page);
    PutFixed32(out, r.count);
    for (uint32_t i = 0; i < r.count; i++) PutHash(out, m.run_leaves(r)[i]);
  }
}

uint64_t EncodedModuleSize(const ManifestModule& m) {
  return 32 + 32 + 8 + 8 + 4 + m.metadata.size() + 4 + 8 * uint64_t{m.runs.size()} + 32 * uint64_t{m.leaves.size()};
}

void MakeRuns(const std::vector<Hash32>& all, ManifestModule* m) {
  m->runs.clear();
  m->leaves.clear();
  const Hash32& zero = store::ZeroHash(0);
  for (uint32_t p = 0; p < all.size(); p++) {
    if (all[p] == zero) continue;
    const bool extend = !m->runs.empty() && m->runs.back().first_page + m->runs.back().count == p &&
                        p % kRunMaxPages != 0;
    if (extend) {
      m->runs.back().count++;
    } else {
      m->runs.push_back(Run{p, 1, m->leaves.size()});
    }
    m->leaves.push_back(all[p]);
  }
}

Hash32 ModuleMemoryHash(const ManifestModule& m) {
  std::vector<std::pair<uint32_t, const Hash32*>> leaves;
  leaves.reserve(m.leaves.size());
  for (const Run& r : m.runs)
    for (uint32_t i = 0; i < r.count; i++) leaves.emplace_back(r.first_page + i, &m.run_leaves(r)[i]);
  Hash32 tree = SparseNode(m, leaves, store::kTreeDepth, 0, 0, leaves.size());
  return store::MemoryHash(m.memory_length, tree);
}

Hash32 ModuleStateLeaf(const ManifestModule& m) {
  return store::StateLeafOfHashes(m.id, m.bytecode_hash, ModuleMemoryHash(m), Sha256Of(m.metadata));
}

Result<std::unique_ptr<ManifestReader>> ManifestReader::Open(os::Env* env, const std::string& path,
                                                             const std::string& what) {
  std::unique_ptr<ManifestReader> r(new ManifestReader());
  ASSIGN_OR_RETURN(r->file_, env->OpenReadable(path));
  r->what_ = what;
  uint8_t header[48];
  Status s = r->Read(header, sizeof(header));
  if (!s.ok()) return s;
  if (std::memcmp(header, kManifestMagic, 8) != 0) return Status::Corruption(what + ": not a crust sync manifest (bad magic)");
  const uint32_t version = DecodeFixed32(header + 8);
  if (version != kSyncManifestVersion) {
    return Status::Corruption(what + ": manifest version " + std::to_string(version) + ", this crust reads version " +
                              std::to_string(kSyncManifestVersion));
  }
  r->module_count_ = DecodeFixed32(header + 12);
  if (r->module_count_ > store::kMaxModules) {
    return Status::Corruption(what + ": " + std::to_string(r->module_count_) + " modules (at most " +
                              std::to_string(store::kMaxModules) + ")");
  }
  std::memcpy(r->root_.bytes.data(), header + 16, 32);
  return r;
}

Status ManifestReader::Read(void* out, size_t n) {
  uint8_t* dst = static_cast<uint8_t*>(out);
  while (n > 0) {
    if (buf_pos_ == buf_.size()) {
      const uint64_t size = file_->Size();
      if (offset_ >= size) return Status::Corruption(what_ + ": manifest truncated at byte " + std::to_string(offset_));
      buf_.resize(std::min<uint64_t>(kReadBuffer, size - offset_));
      RETURN_IF_ERROR(file_->ReadAt(offset_, buf_));
      offset_ += buf_.size();
      buf_pos_ = 0;
    }
    size_t k = std::min(n, buf_.size() - buf_pos_);
    std::memcpy(dst, buf_.data() + buf_pos_, k);
    buf_pos_ += k;
    dst += k;
    n -= k;
  }
  return Status::OK();
}

Result<bool> ManifestReader::Next(ManifestModule* m) {
  if (read_ == module_count_) return false;
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption(what_ + ": module " + std::to_string(read_) + " (" + m->id.ToHex() + "): " + why);
  };
  uint8_t fixed[32 + 32 + 8 + 8 + 4];
  RETURN_IF_ERROR(Read(fixed, sizeof(fixed)));
  std::memcpy(m->id.bytes.data(), fixed, 32);
  std::memcpy(m->bytecode_hash.bytes.data(), fixed + 32, 32);
  m->bytecode_size = DecodeFixed64(fixed + 64);
  m->memory_length = DecodeFixed64(fixed + 72);
  const uint32_t metadata_size = DecodeFixed32(fixed + 80);
  if (read_ > 0 && !(last_id_ < m->id)) return corrupt("module ids are not strictly ascending");
  if (m->bytecode_size > store::kMaxBytecode) return corrupt("bytecode of " + std::to_string(m->bytecode_size) + " bytes");
  if (m->memory_length % store::kWasmPageSize != 0 || m->memory_length > store::kMaxMemory) {
    return corrupt("memory length " + std::to_string(m->memory_length) + " is not a multiple of 64 KiB up to 4 GiB");
  }
  if (metadata_size > store::kMaxMetadata) return corrupt("metadata of " + std::to_string(metadata_size) + " bytes");
  m->metadata.resize(metadata_size);
  RETURN_IF_ERROR(Read(m->metadata.data(), metadata_size));
  uint32_t run_count;
  RETURN_IF_ERROR(Read(&run_count, 4));
  const uint64_t pages = m->memory_length / kPageSize;
  if (run_count > pages) return corrupt(std::to_string(run_count) + " runs for " + std::to_string(pages) + " pages");
  m->runs.clear();
  m->leaves.clear();
  uint64_t next_free = 0;  // the first page a run may start at
  const Hash32& zero = store::ZeroHash(0);
  for (uint32_t i = 0; i < run_count; i++) {
    uint32_t rc[2];
    RETURN_IF_ERROR(Read(rc, 8));
    Run r{rc[0], rc[1], m->leaves.size()};
    const std::string where = "run " + std::to_string(i) + " (pages " + std::to_string(r.first_page) + "+" +
                              std::to_string(r.count) + ")";
    if (r.count == 0 || r.count > kRunMaxPages) return corrupt(where + ": a run holds 1 to 64 pages");
    if (r.first_page < next_free) return corrupt(where + ": runs overlap or are not ascending");
    if (uint64_t{r.first_page} + r.count > pages) return corrupt(where + ": past the memory's end");
    if (r.first_page / kRunMaxPages != (r.first_page + r.count - 1) / kRunMaxPages) {
      return corrupt(where + ": crosses a 64-page boundary");
    }
    next_free = uint64_t{r.first_page} + r.count;
    m->leaves.resize(m->leaves.size() + r.count);
    RETURN_IF_ERROR(Read(m->leaves.data() + r.leaf_offset, size_t{r.count} * 32));
    for (uint32_t k = 0; k < r.count; k++) {
      if (m->leaves[r.leaf_offset + k] == zero) return corrupt(where + ": lists an all-zero page");
    }
    m->runs.push_back(r);
  }
  last_id_ = m->id;
  read_++;
  return true;
}

Status ManifestReader::CheckEnd() {
  if (buf_pos_ != buf_.size() || offset_ != file_->Size()) {
    return Status::Corruption(what_ + ": bytes after the last module");
  }
  return Status::OK();
}

Result<Root> ManifestRoot(os::Env* env, const std::string& path, const std::string& what) {
  ASSIGN_OR_RETURN(std::unique_ptr<ManifestReader> reader, ManifestReader::Open(env, path, what));
  std::vector<Hash32> leaves;
  leaves.reserve(reader->module_count());
  ManifestModule m;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&m));
    if (!more) break;
    leaves.push_back(ModuleStateLeaf(m));
  }
  RETURN_IF_ERROR(reader->CheckEnd());
  Root computed = leaves.empty() ? Sha256Of({}) : store::StateSubtreeHash(leaves, 0, leaves.size());
  return computed;
}

}  // namespace crust::sync
