// Copyright (c) crust authors. Licensed under the MIT license.
//
// Writing a commit: staging directory, hard links for what did not change,
// new delta layers or images for what did, index, fsync, atomic rename.
#include <chrono>

#include "src/store/format.h"
#include "src/store/memory_image.h"
#include "src/store/session_impl.h"
#include "src/store/store_impl.h"

namespace crust::store {
namespace {

uint64_t NowUnixNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

// Writes one module's files into `staging`. On return *entry has its final
// layer_count and *next describes the memory's files in the new commit (null
// when unchanged, or when the new commit's base image must be opened).
Status SessionImpl::WriteModule(const std::string& staging, Slot* s, IndexEntry* entry,
                                std::shared_ptr<const CommittedMemory>* next) {
  os::Env* env = store_->env();
  const bool sync = store_->options().sync;
  const ModuleId& id = entry->id;
  auto link = [&](const std::string& name) {
    return env->LinkFile(s->commit_dir + "/" + name, staging + "/" + name);
  };
  if (s->is_new) {
    const std::string path = staging + "/" + BytecodeName(id);
    ASSIGN_OR_RETURN(auto f, env->NewWritableFile(path));
    RETURN_IF_ERROR(f->Append(s->bytecode));
    if (sync) RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
    RETURN_IF_ERROR(env->SetReadOnly(path));
  } else {
    RETURN_IF_ERROR(link(BytecodeName(id)));
  }

  const bool memory_changed = s->is_new || !s->dirty.empty();
  if (!memory_changed) {
    // Unchanged contents (perhaps a longer length): same files.
    RETURN_IF_ERROR(link(MemoryName(id)));
    for (uint32_t k = 1; k <= s->entry.layer_count; k++) RETURN_IF_ERROR(link(LayerName(id, k)));
    entry->layer_count = s->entry.layer_count;
    *next = s->committed;
    return Status::OK();
  }
  const StoreOptions& opt = store_->options();
  std::shared_ptr<DeltaLayer> layer;
  std::vector<std::shared_ptr<DeltaLayer>> kept;
  bool rebase = s->is_new;
  if (!rebase) {
    // Rebase when the layers would hold more than rebase_fraction of the
    // memory's pages (counting a page once per layer holding it: this also
    // bounds their disk use). Decided before building anything.
    const uint64_t layered = s->committed->delta_pages() + s->dirty.size();
    rebase = layered > opt.rebase_fraction * static_cast<double>(s->length / kPageSize) ||
             s->committed->layers().size() + 1 > kMaxLayers;
  }
  if (rebase) {
    std::vector<Hash32> leaves = s->is_new ? std::move(s->leaves)
                                           : s->committed->Leaves(s->length / kPageSize, s->changed_nodes);
    ASSIGN_OR_RETURN(Hash32 root, WriteMemoryImage(env, staging + "/" + MemoryName(id), s->region->data(),
                                                   s->length, sync, &leaves));
    if (MemoryHash(s->length, root) != s->memory_hash) {
      return Status::Aborted("module " + id.ToHex() + ": memory changed while committing (hash mismatch)");
    }
    entry->layer_count = 0;
    next->reset();
    return Status::OK();
  }
  // The new layer: dirty pages XOR-ed with the base image, and the tree nodes
  // they changed. Merge it into the layers below while they are not much
  // larger (geometric merging).
  auto xor_pages = DeltaLayer::NewPageBuffer(s->dirty.size());
  for (size_t i = 0; i < s->dirty.size(); i++) {
    RETURN_IF_ERROR(s->committed->XorWithBase(s->dirty[i], s->region->data() + uint64_t{s->dirty[i]} * kPageSize,
                                              xor_pages.get() + i * kPageSize));
  }
  layer = DeltaLayer::Build(s->dirty, std::move(xor_pages), s->changed_nodes);
  kept = s->committed->layers();
  while (!kept.empty() && kept.back()->pages().size() <= uint64_t{opt.layer_merge_ratio} * layer->pages().size()) {
    layer = DeltaLayer::Merge(*kept.back(), *layer);
    kept.pop_back();
  }
  RETURN_IF_ERROR(link(MemoryName(id)));
  for (uint32_t k = 1; k <= kept.size(); k++) RETURN_IF_ERROR(link(LayerName(id, k)));
  const uint32_t top = static_cast<uint32_t>(kept.size()) + 1;
  RETURN_IF_ERROR(layer->Write(env, staging + "/" + LayerName(id, top), opt.compression_level, sync));
  entry->layer_count = top;
  kept.push_back(layer);
  *next = std::make_shared<const CommittedMemory>(s->committed->base_ptr(), std::move(kept));
  return Status::OK();
}

Result<Root> SessionImpl::WriteCommit(const std::vector<IndexEntry>& prepared, const Root& root) {
  os::Env* env = store_->env();
  const bool sync = store_->options().sync;
  const std::string final_dir = store_->CommitDir(root);
  RETURN_IF_ERROR(store_->PinNew(root));
  std::vector<IndexEntry> entries = prepared;
  std::vector<std::shared_ptr<const CommittedMemory>> next(entries.size());
  if (env->Exists(final_dir)) {
    // The same state is committed already: one directory per root.
    Status s = AfterCommit(root, /*written=*/false, {}, entries);
    if (!s.ok()) store_->Unpin(root);
    return s.ok() ? Result<Root>(root) : Result<Root>(s);
  }
  const std::string staging = store_->NewStagingPath();
  auto fail = [&](Status s) -> Result<Root> {
    env->RemoveDirRecursive(staging).IgnoreError();
    store_->Unpin(root);
    return s.WithContext("commit " + root.ToHex());
  };
  Status s = env->CreateDir(staging);
  if (s.ok()) s = env->CreateDir(staging + "/bytecode");
  if (s.ok()) s = env->CreateDir(staging + "/memory");
  size_t i = 0;
  for (auto it = slots_.begin(); s.ok() && it != slots_.end(); ++it, ++i) {
    s = WriteModule(staging, &it->second, &entries[i], &next[i]);
  }
  if (s.ok()) {
    Index index{NowUnixNs(), entries};
    Bytes bytes = EncodeIndex(index);
    auto f = env->NewWritableFile(staging + "/index");
    s = f.status();
    if (s.ok()) s = (*f)->Append(bytes);
    if (s.ok() && sync) s = (*f)->Sync();
    if (s.ok()) s = (*f)->Close();
    if (s.ok()) s = env->SetReadOnly(staging + "/index");
  }
  if (s.ok() && sync) s = env->SyncDir(staging + "/bytecode");
  if (s.ok() && sync) s = env->SyncDir(staging + "/memory");
  if (s.ok() && sync) s = env->SyncDir(staging);
  if (!s.ok()) return fail(s);
  s = env->RenameNoReplace(staging, final_dir);
  bool written = true;
  if (s.code() == Status::Code::kAlreadyExists) {
    // Another session published the same root meanwhile.
    env->RemoveDirRecursive(staging).IgnoreError();
    written = false;
  } else if (!s.ok()) {
    return fail(s);
  }
  if (sync) {
    s = env->SyncDir(store_->dir());
    if (!s.ok()) {
      store_->Unpin(root);
      return s.WithContext("commit " + root.ToHex() + " (published, but the store directory could not be synced)");
    }
  }
  s = AfterCommit(root, written, std::move(next), entries);
  if (!s.ok()) {
    store_->Unpin(root);
    return s;
  }
  return root;
}

// The session now stands on `root`: later commits link from it and encode
// deltas against its files.
Status SessionImpl::AfterCommit(const Root& root, bool written, std::vector<std::shared_ptr<const CommittedMemory>> next,
                                const std::vector<IndexEntry>& entries) {
  const std::string dir = store_->CommitDir(root);
  std::vector<IndexEntry> actual = entries;
  if (!written) {
    // The directory holds the same state but perhaps laid out differently.
    ASSIGN_OR_RETURN(Index index, store_->ReadIndex(root));
    if (index.entries.size() != entries.size()) return Status::Corruption(dir + "/index: module count differs from the state committed");
    actual = std::move(index.entries);
  }
  // Open everything that can fail before changing any slot: a failure here
  // (after the commit was published) must leave the session exactly as it
  // was, so that a retry finds the published commit and adopts it. A slot
  // left half-moved (committed memory reset, dirty pages dropped) crashed the
  // next commit that hashed its pages.
  std::vector<std::shared_ptr<const CommittedMemory>> opened(slots_.size());
  size_t i = 0;
  for (auto& [id, s] : slots_) {
    if (s.region && !(written && next[i])) {
      // New base image (or another layout): open it from the new commit.
      ASSIGN_OR_RETURN(opened[i], CommittedMemory::Open(store_->env(), dir, actual[i]));
    }
    i++;
  }
  i = 0;
  for (auto& [id, s] : slots_) {
    s.entry = actual[i];
    s.commit_dir = dir;
    s.is_new = false;
    s.bytecode.clear();
    s.bytecode.shrink_to_fit();
    s.dirty.clear();
    s.changed_nodes.clear();
    s.leaves = {};
    s.shadow.clear();  // contents now equal the commit's
    s.init_image = {};
    if (written && next[i]) {
      s.committed = std::move(next[i]);
    } else if (s.region || !written) {
      s.committed = std::move(opened[i]);  // null without a region: opened on first touch
    }
    i++;
  }
  pins_.push_back(root);
  base_ = root;
  return Status::OK();
}

}  // namespace crust::store
