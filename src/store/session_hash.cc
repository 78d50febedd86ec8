// Copyright (c) crust authors. Licensed under the MIT license.
//
// The hashing half of a commit (and of CurrentRoot): collect every memory's
// dirty pages, then compute the changed page-tree nodes and memory hashes.
//
// Large jobs are split for the store's task pool: leaf hashes in chunks of
// pages (any thread takes any chunk), then each memory's path update
// (ChunkedPathUpdate: one chunk, or a large one in two halves), then the top
// of the tree on the calling thread. A commit passes its own tasks (staging links, encoding of
// delta layers) to run in the first batch beside the leaf hashing.
#include <algorithm>
#include <memory>

#include "src/store/format.h"
#include "src/store/memory_image.h"
#include "src/store/root.h"
#include "src/store/session_impl.h"
#include "src/store/store_impl.h"

namespace crust::store {
namespace {

constexpr size_t kLeafChunk = 128;        // pages per leaf-hashing task (~0.15 ms)
constexpr size_t kSplitPathPages = 1024;  // path updates of more dirty pages run in two halves

}  // namespace

Status SessionImpl::CollectForCommit() {
  for (auto& [id, s] : slots_) {
    SyncLength(id, &s);
    // One collection per memory. New modules are written in full; theirs only
    // keeps the checkpoint journal complete.
    if (s.live.region && (!s.files.is_new || checkpoints_used_)) RETURN_IF_ERROR(CollectDirty(&s));
    SortDirty(&s);
    if (!s.files.is_new && s.live.region) {
      // A rolled-back growth may have left pages past the end.
      const uint32_t end_page = static_cast<uint32_t>(s.live.length / kPageSize);
      while (!s.live.dirty.empty() && s.live.dirty.back() >= end_page) {
        s.live.dirty_bits[s.live.dirty.back()] = 0;
        s.live.dirty.pop_back();
      }
    }
  }
  // Memories collected above are unmarked; new ones not collected (no
  // checkpoints in use) stay marked for the next checkpoint operation.
  marked_.clear();
  for (auto& [id, s] : slots_) {
    if (s.live.maybe_written) marked_.push_back(id);
  }
  return Status::OK();
}

uint64_t SessionImpl::PagesToHash() const {
  uint64_t n = 0;
  for (const auto& [id, s] : slots_) n += s.files.is_new ? s.live.length / kPageSize : s.live.dirty.size();
  return n;
}

Result<std::vector<IndexEntry>> SessionImpl::HashAll(std::vector<std::function<void()>> tasks, bool parallel,
                                                     const ProvidedLeaves& provided, const ProvidedNodes& nodes) {
  const int cpu_threads = parallel ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : 1;
  struct Job {
    Slot* s;
    std::vector<Hash32> leaves;                // per dirty page, or per page of a new module
    std::unique_ptr<ChunkedPathUpdate> paths;  // changed memories whose nodes HashAll computes
  };
  std::vector<Job> jobs;
  jobs.reserve(slots_.size());
  for (auto& [id, s] : slots_) {
    const bool changed =
        s.files.is_new || (s.live.region && (!s.live.dirty.empty() || s.live.length != s.files.entry.memory_length));
    if (!changed) continue;
    const size_t n = s.files.is_new ? s.live.length / kPageSize : s.live.dirty.size();
    jobs.push_back({&s, std::vector<Hash32>(provided.count(&s) ? 0 : n), nullptr});
  }
  // Batch 1: the caller's tasks, then leaf hashes in chunks.
  for (Job& j : jobs) {
    if (provided.count(j.s)) continue;
    const uint8_t* memory = j.s->live.region->data();
    const uint32_t* pages = j.s->files.is_new ? nullptr : j.s->live.dirty.data();
    for (size_t first = 0; first < j.leaves.size(); first += kLeafChunk) {
      const size_t count = std::min(kLeafChunk, j.leaves.size() - first);
      Hash32* out = j.leaves.data() + first;
      tasks.push_back([memory, pages, first, count, out] {
        PageLeafHashes(memory, pages, first, count, out);
      });
    }
  }
  store_->pool().Run(tasks, cpu_threads);
  for (Job& j : jobs) {
    auto it = provided.find(j.s);
    if (it != provided.end()) j.leaves = std::move(*it->second);
  }

  // Batch 2: page-tree nodes. New modules build their whole tree (kept for
  // the image); changed memories update the paths of their dirty pages.
  tasks.clear();
  std::vector<Hash32> roots(jobs.size());
  for (size_t k = 0; k < jobs.size(); k++) {
    Job& j = jobs[k];
    Slot* s = j.s;
    if (s->files.is_new) {
      tasks.push_back([&j, &roots, k] {
        roots[k] = j.leaves.empty() ? ZeroHash(kTreeDepth) : BuildTree(j.leaves)[kTreeDepth][0];
      });
      continue;
    }
    if (j.leaves.empty()) continue;  // only the length changed
    if (auto it = nodes.find(s); it != nodes.end()) {
      tasks.push_back([s, fn = it->second] { s->scratch.changed_nodes = fn(); });
      continue;
    }
    const CommittedMemory* c = s->files.committed.get();
    const size_t n = s->live.dirty.size();
    j.paths = std::make_unique<ChunkedPathUpdate>(
        s->live.dirty,
        parallel && n >= kSplitPathPages ? ChunkedPathUpdate::ChooseCuts(s->live.dirty, n / 2)
                                         : ChunkedPathUpdate::OneChunk(n),
        [c](NodeKey key) { return c->Node(key); });
    if (j.paths->chunks() == 1) {
      // One chunk: the whole update in one task (memories in parallel).
      tasks.push_back([&j, s] {
        j.paths->RunChunk(0, j.leaves.data());
        s->scratch.changed_nodes = j.paths->Finish();
        j.paths.reset();
      });
      continue;
    }
    for (size_t chunk = 0; chunk < j.paths->chunks(); chunk++) {
      tasks.push_back([&j, chunk] { j.paths->RunChunk(chunk, j.leaves.data() + j.paths->first(chunk)); });
    }
  }
  store_->pool().Run(tasks, cpu_threads);

  for (size_t k = 0; k < jobs.size(); k++) {
    Job& j = jobs[k];
    Slot* s = j.s;
    if (s->files.is_new) {
      s->scratch.leaves = std::move(j.leaves);
      s->scratch.memory_hash = MemoryHash(s->live.length, roots[k]);
      continue;
    }
    if (j.paths) s->scratch.changed_nodes = j.paths->Finish();  // the halves' top of the tree
    if (j.leaves.empty()) s->scratch.changed_nodes.clear();
    // Tree updates read committed nodes without stopping at each: a damaged
    // layer block they read is reported here, before the hash is used.
    if (s->files.committed) RETURN_IF_ERROR(s->files.committed->LookupStatus());
    s->scratch.memory_hash = MemoryHash(s->live.length, s->scratch.changed_nodes.empty()
                                                            ? s->files.committed->TreeRoot()
                                                            : s->scratch.changed_nodes.back().hash);
  }

  std::vector<IndexEntry> entries;
  entries.reserve(slots_.size());
  for (auto& [id, s] : slots_) {
    IndexEntry e = s.files.entry;
    e.metadata = s.live.metadata;
    if (s.files.is_new) {
      e.memory_hash = s.scratch.memory_hash;
      e.memory_length = s.live.length;
      e.layer_count = 0;
    } else if (s.live.region && (!s.live.dirty.empty() || s.live.length != s.files.entry.memory_length)) {
      e.memory_hash = s.scratch.memory_hash;
      e.memory_length = s.live.length;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<std::vector<IndexEntry>> SessionImpl::Prepare() {
  RETURN_IF_ERROR(CollectForCommit());
  return HashAll({}, PagesToHash() >= kParallelPages);
}

Result<Root> SessionImpl::CurrentRoot() {
  RETURN_IF_ERROR(Usable());
  ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, Prepare());
  return ComputeRoot(entries);
}

}  // namespace crust::store

namespace crust::store {

Result<PageProof> SessionImpl::ProvePage(const ModuleId& module, uint32_t page) {
  ASSIGN_OR_RETURN(Root current, CurrentRoot());
  if (!base_ || *base_ != current) {
    return Status::InvalidArgument("the session has uncommitted changes (its state's root is " + current.ToHex() +
                                   "): commit first, then prove against the new root");
  }
  return store_->ProvePage(*base_, module, page);
}

}  // namespace crust::store
