// Copyright (c) crust authors. Licensed under the MIT license.
//
// Writing a commit: staging directory, hard links for what did not change,
// new delta layers or images for what did, index, fsync, atomic rename.
//
// Order of work (docs/architecture.md, "Commit"):
//  1. Collect dirty pages and plan every memory's files (links, new layer
//     with its merges, or new image): page lists suffice.
//  2. Hash. A large commit (StoreOptions::parallel_commit_pages dirty pages or more) stages its
//     directory before the root is known and runs the links and the chunks
//     of each new layer's LayerWriter (layer_writer.h: XOR with the base,
//     zstd; a streamed layer also computes its tree nodes and writes them
//     into the layer's file while later chunks are being hashed) in the same
//     task batch as the leaf hashing, on the store's threads. Should the root
//     turn out to be committed already, that staging directory is removed
//     unused (CommitCleanup, as on every failure).
//  3. Write the remaining files (new layers need the changed tree nodes),
//     then the index, then issue every fsync the commit needs at once (the
//     files' fdatasyncs and the directories' fsyncs run concurrently; all
//     finish before the rename), rename with RENAME_NOREPLACE, fsync the
//     store directory.
#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

#include "src/store/format.h"
#include "src/store/layer_build.h"
#include "src/store/memory_image.h"
#include "src/store/root.h"
#include "src/store/session_impl.h"
#include "src/store/store_impl.h"

namespace crust::store {
namespace {

uint64_t NowUnixNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}


// First error of concurrent steps.
class FirstError {
 public:
  void Add(Status s) {
    if (s.ok()) return;
    std::lock_guard<std::mutex> l(mu_);
    if (first_.ok()) first_ = std::move(s);
  }
  Status Take() {
    std::lock_guard<std::mutex> l(mu_);
    return first_;
  }

 private:
  std::mutex mu_;
  Status first_;
};

}  // namespace

uint64_t SessionImpl::ParallelPages() const { return store_->options().parallel_commit_pages; }

// The durability steps of a commit, issued together just before the rename:
// new files' fdatasync (then close and chmod a-w) and directories' fsync.
// They have no order among themselves; all must finish before the rename.
// At most kMaxOpen files wait open; beyond that a file is synced at once (a
// genesis of many modules would otherwise hold thousands of descriptors).
class PendingSyncs {
 public:
  PendingSyncs(os::Env* env, bool sync) : env_(env), sync_(sync) {}

  // Takes a written file: sync, close and make read-only (now or in Run).
  Status AddFile(std::unique_ptr<os::WritableFile> f) {
    if (sync_) {
      std::lock_guard<std::mutex> l(mu_);
      if (files_.size() < kMaxOpen) {
        files_.push_back(std::move(f));
        return Status::OK();
      }
    }
    return Finish(f.get(), sync_);
  }
  void AddDir(const std::string& path) {
    if (!sync_) return;
    std::lock_guard<std::mutex> l(mu_);
    dirs_.push_back(path);
  }
  // Every pending step, concurrently on the pool's threads.
  Status Run(TaskPool* pool) {
    FirstError err;
    std::vector<std::function<void()>> tasks;
    for (auto& f : files_) tasks.push_back([&err, f = f.get(), this] { err.Add(Finish(f, true)); });
    for (const std::string& d : dirs_) tasks.push_back([&err, &d, this] { err.Add(env_->SyncDir(d)); });
    pool->Run(tasks);
    files_.clear();
    dirs_.clear();
    return err.Take();
  }

 private:
  static constexpr size_t kMaxOpen = 16;
  Status Finish(os::WritableFile* f, bool sync) {
    if (sync) RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
    return env_->SetReadOnly(f->path());
  }

  os::Env* const env_;
  const bool sync_;
  std::mutex mu_;
  std::vector<std::unique_ptr<os::WritableFile>> files_;
  std::vector<std::string> dirs_;
};

namespace {

// Creates `path` holding `bytes` (into `made`, its empty file made ahead,
// if not null), handed to `syncs`.
Status WriteNewFile(os::Env* env, const std::string& path, ByteView bytes, PendingSyncs* syncs,
                    std::unique_ptr<os::WritableFile> made = nullptr) {
  std::unique_ptr<os::WritableFile> f = std::move(made);
  if (!f) {
    ASSIGN_OR_RETURN(f, env->NewWritableFile(path));
  }
  RETURN_IF_ERROR(f->Append(bytes));
  return syncs->AddFile(std::move(f));
}

}  // namespace

// Decides, from page lists alone, what the commit writes for each memory.
Status SessionImpl::PlanCommit(CommitPlan* plan) {
  const StoreOptions& opt = store_->options();
  plan->memory.clear();
  plan->memory.resize(slots_.size());
  size_t i = 0;
  for (auto& [id, s] : slots_) {
    MemoryPlan& m = plan->memory[i++];
    if (s.files.is_new) {
      m.kind = MemoryPlan::Kind::kImage;
    } else if (s.live.dirty.empty()) {
      m.kind = MemoryPlan::Kind::kUnchanged;  // same contents (perhaps a longer length): same files
    } else {
      // Rebase when the layers would hold more than rebase_fraction of the
      // memory's pages (counting a page once per layer holding it: this also
      // bounds their disk use).
      const double layered_max = opt.rebase_fraction * static_cast<double>(s.live.length / kPageSize);
      const uint64_t layered = s.files.committed->delta_pages() + s.live.dirty.size();
      const bool rebase = layered > layered_max || s.files.committed->layers().size() + 1 > kMaxLayers;
      if (rebase) {
        m.kind = MemoryPlan::Kind::kImage;
      } else {
        m.kind = MemoryPlan::Kind::kLayer;
        ASSIGN_OR_RETURN(m.layer, PlanLayer(*s.files.committed, s.live.dirty, opt.layer_merge_ratio,
                                            SealPages(static_cast<uint64_t>(std::max(0.0, layered_max)))));
      }
    }
  }
  return Status::OK();
}

SessionImpl::CommitCleanup::~CommitCleanup() {
  RemoveStaging();
  if (pinned_) store_->Unpin(*pinned_);
}

Status SessionImpl::CommitCleanup::CreateStaging() {
  if (std::optional<SpareStaging::Dir> spare = store_->spares().Take()) {
    staging_ = std::move(spare->path);
    index_file_ = std::move(spare->index);
    layer_file_ = std::move(spare->layer_file);
    return Status::OK();
  }
  os::Env* env = store_->env();
  const std::string path = store_->NewStagingPath();
  RETURN_IF_ERROR(env->CreateDir(path));
  staging_ = path;
  RETURN_IF_ERROR(env->CreateDir(staging_ + "/bytecode"));
  return env->CreateDir(staging_ + "/memory");
}

Status SessionImpl::CommitCleanup::DropUnusedLayerFile() {
  if (layer_file_.empty()) return Status::OK();
  RETURN_IF_ERROR(store_->env()->RemoveFile(layer_file_));
  layer_file_.clear();
  return Status::OK();
}

void SessionImpl::CommitCleanup::RemoveStaging() {
  index_file_.reset();
  layer_file_.clear();
  if (staging_.empty()) return;
  store_->env()->RemoveDirRecursive(staging_).IgnoreError();
  staging_.clear();
}

// bytecode/: a link per committed module, the file of each new one. It is
// then complete: its fsync runs now (sync_now, beside the hashing) or with
// the commit's other fsyncs.
Status SessionImpl::StageBytecode(const CommitPlan& plan, bool sync_now, PendingSyncs* syncs) {
  os::Env* env = store_->env();
  for (auto& [id, s] : slots_) {
    const std::string path = plan.staging() + "/" + BytecodeName(id);
    if (s.files.is_new) {
      RETURN_IF_ERROR(WriteNewFile(env, path, s.files.bytecode, syncs));
    } else {
      // Never propagate a damaged file: check what this session did not read.
      RETURN_IF_ERROR(CheckBytecodeBeforeLink(id, &s));
      RETURN_IF_ERROR(env->LinkFile(s.files.commit_dir + "/" + BytecodeName(id), path));
    }
  }
  if (!sync_now) {
    syncs->AddDir(plan.staging() + "/bytecode");
  } else if (store_->options().sync) {
    RETURN_IF_ERROR(env->SyncDir(plan.staging() + "/bytecode"));
  }
  return Status::OK();
}

// memory/: links to every committed file the new commit keeps.
Status SessionImpl::StageMemoryLinks(const CommitPlan& plan) {
  os::Env* env = store_->env();
  size_t i = 0;
  for (auto& slot : slots_) {
    const auto& id = slot.first;  // not a structured binding: clang 14 cannot capture those
    auto& s = slot.second;
    const MemoryPlan& m = plan.memory[i++];
    size_t layers = 0;
    if (m.kind == MemoryPlan::Kind::kUnchanged) {
      layers = s.files.entry.layer_count;
    } else if (m.kind == MemoryPlan::Kind::kLayer) {
      layers = m.layer.keep;
    } else {
      continue;
    }
    const std::string& commit_dir = s.files.commit_dir;  // clang 14 cannot capture a structured binding
    auto link = [&](const std::string& name) {
      return env->LinkFile(commit_dir + "/" + name, plan.staging() + "/" + name);
    };
    RETURN_IF_ERROR(link(MemoryName(id)));
    for (uint32_t k = 1; k <= layers; k++) RETURN_IF_ERROR(link(LayerName(id, k)));
  }
  return Status::OK();
}

Result<std::unique_ptr<LayerWriter>> SessionImpl::StartLayerWriter(CommitPlan* plan, const ModuleId& id,
                                                                   const Slot& s, const MemoryPlan& m,
                                                                   bool beside_hashing) const {
  const LayerWriteMode mode = ChooseLayerWrite(*s.files.committed, m.layer, beside_hashing);
  std::unique_ptr<LayerWriter> w = NewLayerWriter(
      mode, LayerWriteArgs{store_->env(), *s.files.committed, m.layer, s.live.dirty, s.live.region->data(),
                           store_->options().compression_level,
                           plan->staging() + "/" + LayerName(id, static_cast<uint32_t>(m.layer.keep) + 1),
                           "module " + id.ToHex() + ": new delta layer", plan->cleanup.TakeLayerFile()});
  RETURN_IF_ERROR(w->Start());
  return w;
}

// Writes one memory's new file (image or layer) into staging. On return
// *entry has its final layer_count and *next describes the memory's files in
// the new commit (null when the new commit's base image must be opened).
Status SessionImpl::WriteMemoryFile(CommitPlan* plan, MemoryPlan* m, Slot* s, IndexEntry* entry,
                                PendingSyncs* syncs, std::shared_ptr<const CommittedMemory>* next) {
  os::Env* env = store_->env();
  const ModuleId& id = entry->id;
  switch (m->kind) {
    case MemoryPlan::Kind::kUnchanged:
      entry->layer_count = s->files.entry.layer_count;
      *next = s->files.committed;
      return Status::OK();
    case MemoryPlan::Kind::kImage: {
      std::vector<Hash32> leaves =
          s->files.is_new ? std::move(s->scratch.leaves)
                          : s->files.committed->Leaves(s->live.length / kPageSize, s->scratch.changed_nodes);
      // A damaged layer block read for Leaves:
      if (!s->files.is_new) RETURN_IF_ERROR(s->files.committed->LookupStatus());
      ASSIGN_OR_RETURN(Hash32 root, WriteMemoryImage(env, plan->staging() + "/" + MemoryName(id), s->live.region->data(),
                                                     s->live.length, store_->options().sync, &leaves));
      if (MemoryHash(s->live.length, root) != s->scratch.memory_hash) {
        return Status::Aborted("module " + id.ToHex() + ": memory changed while committing (hash mismatch)");
      }
      entry->layer_count = 0;
      next->reset();
      return Status::OK();
    }
    case MemoryPlan::Kind::kLayer: {
      const uint32_t top = static_cast<uint32_t>(m->layer.keep) + 1;
      if (!m->writer) {
        // A small commit: the layer is encoded now, after the hashing.
        ASSIGN_OR_RETURN(m->writer, StartLayerWriter(plan, id, *s, *m, /*beside_hashing=*/false));
        for (size_t c = 0; c < m->writer->chunks(); c++) RETURN_IF_ERROR(m->writer->RunChunk(c));
      }
      // The changed nodes go into the layer (a retry recomputes them).
      RETURN_IF_ERROR(s->files.committed->LookupStatus());  // a damaged layer block read for the new nodes
      ASSIGN_OR_RETURN(WrittenLayer written, m->writer->Finish(std::move(s->scratch.changed_nodes)));
      m->writer.reset();
      RETURN_IF_ERROR(syncs->AddFile(std::move(written.file)));
      std::shared_ptr<DeltaLayer> layer = std::move(written.layer);
      entry->layer_count = top;
      const auto& layers = s->files.committed->layers();
      std::vector<std::shared_ptr<DeltaLayer>> kept(layers.begin(), layers.begin() + static_cast<std::ptrdiff_t>(m->layer.keep));
      kept.push_back(std::move(layer));
      // Its base image is the old commit's (linked): the session keeps that commit pinned.
      *next = std::make_shared<const CommittedMemory>(s->files.committed->base_ptr(), std::move(kept),
                                                      s->files.committed->image_path());
      return Status::OK();
    }
  }
  return Status::OK();
}

Result<Root> SessionImpl::Commit() {
  RETURN_IF_ERROR(Usable());
  if (store_->options().read_only) {
    return Status::Aborted("store " + store_->dir() + " is open read-only; sessions cannot commit");
  }
  if (depth_ != 0) {
    return Status::InvalidArgument("cannot commit with " + std::to_string(depth_) + " checkpoint(s) open");
  }
  RETURN_IF_ERROR(CollectForCommit());
  CommitPlan plan(store_);
  RETURN_IF_ERROR(PlanCommit(&plan));
  const bool parallel = PagesToHash() >= ParallelPages();
  PendingSyncs syncs(store_->env(), store_->options().sync);
  FirstError early;
  std::vector<std::function<void()>> tasks;
  ProvidedLeaves provided;
  ProvidedNodes provided_nodes;
  Status s;
  if (parallel) {
    // Stage beside the hashing: links first (the longest tasks with many
    // modules), then the layers' encoding; the leaf hashing follows.
    s = plan.cleanup.CreateStaging();
    if (!s.ok()) return s.WithContext("commit");
    plan.staged = true;
    tasks.push_back([&] { early.Add(StageBytecode(plan, /*sync_now=*/true, &syncs)); });
    tasks.push_back([&] { early.Add(StageMemoryLinks(plan)); });
    // A streamed layer writer holds its file open from Start to the end of
    // the commit, so only the kMaxStreamedLayers memories with the most
    // dirty pages may stream (a commit may change thousands of memories,
    // and RLIMIT_NOFILE is 1024 by default). The others encode into memory
    // beside the hashing too and create their file when they finish
    // (WriteMemoryFile).
    constexpr size_t kMaxStreamedLayers = 32;
    std::vector<bool> may_stream(plan.memory.size(), true);
    {
      std::vector<std::pair<size_t, size_t>> dirty;  // (dirty pages, memory index)
      size_t k = 0;
      for (const auto& [id, slot] : slots_) {
        if (plan.memory[k].kind == MemoryPlan::Kind::kLayer) dirty.push_back({slot.live.dirty.size(), k});
        k++;
      }
      if (dirty.size() > kMaxStreamedLayers) {
        const auto nth = dirty.begin() + static_cast<std::ptrdiff_t>(kMaxStreamedLayers);
        std::nth_element(dirty.begin(), nth, dirty.end(), std::greater<>());
        for (auto it = nth; it != dirty.end(); ++it) may_stream[it->second] = false;
      }
    }
    size_t i = 0;
    for (auto& [id, slot] : slots_) {
      const size_t index = i;
      MemoryPlan& m = plan.memory[i++];
      if (m.kind != MemoryPlan::Kind::kLayer) continue;
      auto writer = StartLayerWriter(&plan, id, slot, m, /*beside_hashing=*/may_stream[index]);
      if (!writer.ok()) {
        s = writer.status();
        break;
      }
      m.writer = std::move(writer).value();
      LayerWriter* w = m.writer.get();
      if (w->leaves()) provided[&slot] = w->leaves();
      if (w->computes_nodes()) provided_nodes[&slot] = [w] { return w->FinishNodes(); };
      for (size_t c = 0; c < w->chunks(); c++) tasks.push_back([&early, w, c] { early.Add(w->RunChunk(c)); });
    }
    if (!s.ok()) return s.WithContext("commit");
  }
  auto entries = HashAll(std::move(tasks), parallel, provided, provided_nodes);
  s = entries.ok() ? early.Take() : entries.status();
  if (!s.ok()) return s.WithContext("commit");
  const Root root = ComputeRoot(*entries);
  return WriteCommit(*entries, root, &plan, &syncs);
}

Result<Root> SessionImpl::WriteCommit(const std::vector<IndexEntry>& prepared, const Root& root, CommitPlan* plan,
                                      PendingSyncs* syncs) {
  os::Env* env = store_->env();
  const bool sync = store_->options().sync;
  const std::string final_dir = store_->CommitDir(root);
  CommitCleanup& cleanup = plan->cleanup;  // on any return below that did not adopt the commit
  RETURN_IF_ERROR(store_->PinNew(root));
  cleanup.Pinned(root);
  std::vector<IndexEntry> entries = prepared;
  std::vector<std::shared_ptr<const CommittedMemory>> next(entries.size());
  if (env->Exists(final_dir)) {
    // The same state is committed already: one directory per root.
    cleanup.RemoveStaging();
    RETURN_IF_ERROR(AfterCommit(root, /*written=*/false, {}, entries));
    cleanup.Adopted();
    return root;
  }
  Status s;
  if (!plan->staged) {
    s = cleanup.CreateStaging();
    if (s.ok()) s = StageBytecode(*plan, /*sync_now=*/false, syncs);
    if (s.ok()) s = StageMemoryLinks(*plan);
  }
  size_t i = 0;
  for (auto it = slots_.begin(); s.ok() && it != slots_.end(); ++it, ++i) {
    s = WriteMemoryFile(plan, &plan->memory[i], &it->second, &entries[i], syncs, &next[i]);
  }
  if (s.ok()) {
    Index index{NowUnixNs(), entries};
    s = WriteNewFile(env, plan->staging() + "/index", EncodeIndex(index), syncs, cleanup.TakeIndexFile());
  }
  if (s.ok()) s = cleanup.DropUnusedLayerFile();
  if (s.ok()) {
    syncs->AddDir(plan->staging() + "/memory");
    syncs->AddDir(plan->staging());
    // The next commit's staging directory is made while these fsyncs wait
    // and after this commit returns.
    if (sync) store_->spares().Request();
    s = syncs->Run(&store_->pool());
  }
  if (!s.ok()) return s.WithContext("commit " + root.ToHex());
  s = env->RenameNoReplace(plan->staging(), final_dir);
  bool written = true;
  if (s.code() == Status::Code::kAlreadyExists) {
    // Another session published the same root meanwhile.
    cleanup.RemoveStaging();
    written = false;
  } else if (!s.ok()) {
    return s.WithContext("commit " + root.ToHex());
  } else {
    cleanup.Published();
  }
  if (sync) {
    s = env->SyncDir(store_->dir());
    if (!s.ok()) {
      return s.WithContext("commit " + root.ToHex() + " (published, but the store directory could not be synced)");
    }
  }
  RETURN_IF_ERROR(AfterCommit(root, written, std::move(next), entries));
  cleanup.Adopted();
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
    if (s.live.region && !(written && next[i])) {
      // New base image (or another layout): open it from the new commit.
      ASSIGN_OR_RETURN(opened[i], CommittedMemory::Open(store_->env(), dir, actual[i], &store_->images(),
                                                        &store_->layers()));
    }
    i++;
  }
  i = 0;
  for (auto& [id, s] : slots_) {
    s.files.entry = actual[i];
    s.files.commit_dir = dir;
    s.files.is_new = false;
    s.files.bytecode.clear();
    s.files.bytecode.shrink_to_fit();
    ClearDirty(&s);
    s.scratch.changed_nodes.clear();
    s.scratch.leaves = {};
    s.shadow.pages.clear();  // contents now equal the commit's
    s.files.init_image = {};
    if (written && next[i]) {
      s.files.committed = std::move(next[i]);
    } else if (s.live.region || !written) {
      s.files.committed = std::move(opened[i]);  // null without a region: opened on first touch
    }
    i++;
  }
  pins_.push_back(root);
  base_ = root;
  return Status::OK();
}

}  // namespace crust::store
