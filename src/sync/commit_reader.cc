// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/sync/commit_reader.h"

#include <algorithm>
#include <optional>
#include <span>

#include "src/store/format.h"
#include "src/store/page_tree.h"
#include "src/util/sha256.h"

namespace crust::sync {

Result<store::StoreImpl*> Impl(Store* store) {
  auto* impl = dynamic_cast<store::StoreImpl*>(store);
  if (impl == nullptr) return Status::InvalidArgument("sync needs a store opened with Store::Open");
  return impl;
}

Result<std::unique_ptr<CommitReader>> CommitReader::Open(store::StoreImpl* store, const Root& root) {
  RETURN_IF_ERROR(store->Pin(root));
  std::unique_ptr<CommitReader> r(new CommitReader());
  r->store_ = store;
  r->root_ = root;
  r->dir_ = store->CommitDir(root);
  auto index = store->ReadIndex(root);
  if (!index.ok()) return index.status();  // ~CommitReader unpins
  r->index_ = std::move(index).value();
  return r;
}

CommitReader::~CommitReader() {
  if (store_ != nullptr) store_->Unpin(root_);
}

Status CommitReader::LoadModule(size_t i, ManifestModule* m, std::shared_ptr<const store::CommittedMemory>* memory) {
  const store::IndexEntry& e = index_.entries[i];
  // Not through the store's image and layer caches: reading every leaf
  // touches the whole leaf level of the mapping, which must be unmapped
  // when this module is done, or an export or a manifest of many modules
  // would keep them all resident.
  ASSIGN_OR_RETURN(*memory, store::CommittedMemory::Open(store_->env(), dir_, e));
  m->id = e.id;
  m->bytecode_hash = e.bytecode_hash;
  ASSIGN_OR_RETURN(os::FileInfo info, store_->env()->Stat(dir_ + "/" + store::BytecodeName(e.id)));
  m->bytecode_size = info.size;
  m->memory_length = e.memory_length;
  m->metadata = e.metadata;
  MakeRuns((*memory)->Leaves(e.memory_length / store::kPageSize, {}), m);
  return Status::OK();
}

Result<Bytes> CommitReader::ReadBytecode(const store::IndexEntry& e) {
  const std::string path = dir_ + "/" + store::BytecodeName(e.id);
  ASSIGN_OR_RETURN(Bytes code, store_->env()->ReadFile(path, store::kMaxBytecode));
  if (Sha256Of(code) != e.bytecode_hash) {
    return Status::Corruption(path + ": bytecode does not match its hash in the index");
  }
  return code;
}

bool CommitReader::ReadPage(const store::CommittedMemory& cm, uint32_t p, const Hash32& leaf, uint8_t* out) {
  bool layered = false;
  for (const auto& layer : cm.layers()) {
    Result<std::optional<size_t>> at = layer->FindPage(p);
    if (!at.ok()) return false;
    layered = layered || at->has_value();
  }
  if (layered) return cm.FillPage(p, out).ok();  // checked against the stored leaf
  if (p >= cm.base().pages()) return false;
  if (!cm.base().ReadPage(p, out).ok()) return false;
  return store::PageLeafHash(out) == leaf;
}

Status CommitReader::ReadPages(const store::CommittedMemory& memory, uint32_t first, uint32_t count, uint8_t* out) {
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t p = first + i;
    uint8_t* page = out + size_t{i} * store::kPageSize;
    if (ReadPage(memory, p, memory.Node(store::MakeNodeKey(0, p)), page)) continue;
    // Not readable that way (or damaged): the checked fill names the problem.
    RETURN_IF_ERROR(memory.FillPage(p, page));
  }
  return Status::OK();
}

Status CommitReader::EncodeModule(size_t i, Bytes* out) {
  ManifestModule m;
  std::shared_ptr<const store::CommittedMemory> memory;
  RETURN_IF_ERROR(LoadModule(i, &m, &memory));
  out->clear();
  EncodeManifestModule(out, m);
  return Status::OK();
}

Status CommitReader::WriteManifest(const std::function<Status(ByteView)>& sink) {
  Bytes buf;
  EncodeManifestHeader(&buf, root_, static_cast<uint32_t>(index_.entries.size()));
  RETURN_IF_ERROR(sink(buf));
  for (size_t i = 0; i < index_.entries.size(); i++) {
    RETURN_IF_ERROR(EncodeModule(i, &buf));
    RETURN_IF_ERROR(sink(buf));
  }
  return Status::OK();
}

Result<std::vector<uint64_t>> CommitReader::ManifestOffsets() {
  std::vector<uint64_t> offsets;
  offsets.reserve(index_.entries.size() + 1);
  uint64_t at = kManifestHeaderBytes;
  for (size_t i = 0; i < index_.entries.size(); i++) {
    offsets.push_back(at);
    ManifestModule m;
    std::shared_ptr<const store::CommittedMemory> memory;
    RETURN_IF_ERROR(LoadModule(i, &m, &memory));
    at += EncodedModuleSize(m);
  }
  offsets.push_back(at);
  return offsets;
}

Status CommitReader::ReadChunkAt(const ModuleId& id, bool bytecode, uint32_t first_page, const std::string& name,
                                 store::ImageCache* images, store::LayerCache* layers, Bytes* out) {
  const auto& entries = index_.entries;
  auto it = std::lower_bound(entries.begin(), entries.end(), id,
                             [](const store::IndexEntry& e, const ModuleId& want) { return e.id < want; });
  const std::string where = "chunk " + name + " at module " + id.ToHex() + " of commit " + root_.ToHex();
  if (it == entries.end() || it->id != id) return Status::NotFound(where + ": no such module");
  if (bytecode) {
    if (BytecodeChunkName(it->bytecode_hash) != name) return Status::NotFound(where + ": another bytecode");
    ASSIGN_OR_RETURN(*out, ReadBytecode(*it));
    return Status::OK();
  }
  const uint64_t pages = it->memory_length / store::kPageSize;
  ASSIGN_OR_RETURN(auto memory,
                   store::CommittedMemory::Open(store_->env(), dir_, *it, images, layers));
  // The run that starts at first_page: its non-zero pages up to a 64-page
  // boundary (as MakeRuns cuts them).
  const Hash32& zero = store::ZeroHash(0);
  std::vector<Hash32> leaves;
  if (first_page >= pages || (first_page > 0 && first_page % kRunMaxPages != 0 &&
                              memory->Node(store::MakeNodeKey(0, first_page - 1)) != zero)) {
    return Status::NotFound(where + ": no run starts at page " + std::to_string(first_page));
  }
  for (uint64_t p = first_page; p < pages && (p == first_page || p % kRunMaxPages != 0); p++) {
    Hash32 leaf = memory->Node(store::MakeNodeKey(0, static_cast<uint32_t>(p)));
    if (leaf == zero) break;
    leaves.push_back(leaf);
  }
  if (leaves.empty() || RunChunkName(leaves.data(), static_cast<uint32_t>(leaves.size())) != name) {
    return Status::NotFound(where + ": the run at page " + std::to_string(first_page) + " is another chunk");
  }
  out->resize(leaves.size() * store::kPageSize);
  return ReadPages(*memory, first_page, static_cast<uint32_t>(leaves.size()), out->data());
}

}  // namespace crust::sync
