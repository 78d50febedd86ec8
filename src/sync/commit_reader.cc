// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/sync/commit_reader.h"

#include "src/store/format.h"
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
  ASSIGN_OR_RETURN(*memory, store::CommittedMemory::Open(store_->env(), dir_, e, &store_->images(), &store_->layers()));
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

Status CommitReader::ReadPages(const store::CommittedMemory& memory, uint32_t first, uint32_t count, uint8_t* out) {
  for (uint32_t i = 0; i < count; i++) {
    RETURN_IF_ERROR(memory.FillPage(first + i, out + size_t{i} * store::kPageSize));
  }
  return Status::OK();
}

Status CommitReader::EncodeManifest(Bytes* out) {
  EncodeManifestHeader(out, root_, static_cast<uint32_t>(index_.entries.size()));
  for (size_t i = 0; i < index_.entries.size(); i++) {
    ManifestModule m;
    std::shared_ptr<const store::CommittedMemory> memory;
    RETURN_IF_ERROR(LoadModule(i, &m, &memory));
    EncodeManifestModule(out, m);
  }
  return Status::OK();
}

}  // namespace crust::sync
