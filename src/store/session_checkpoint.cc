// Copyright (c) crust authors. Licensed under the MIT license.
//
// Nested checkpoints over a session's memories, built on the same write
// tracking as commit deltas.
//
// Each slot keeps a shadow copy of every page written since the last commit,
// as it was at the last collection. A collection (at every checkpoint
// operation) finds the pages written since the previous one; for each it
// pushes the shadow copy (the page's contents before these writes; none means
// the reference contents: committed, or the initial image of a new module)
// onto the innermost checkpoint's journal and refreshes the shadow. Rolling
// back replays that journal backwards; releasing hands it to the enclosing
// checkpoint, which keeps its own older entry for a page when it has one.
// Every step costs time proportional to the pages written, never to memory
// sizes, and each written page is copied once per collection.
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "src/store/format.h"
#include "src/store/session_impl.h"

namespace crust::store {

namespace {

// True unless `key` is among the keys of `entries` (key_of(entry)); records
// it in `index`. Below `indexed_from` entries a linear search, then the index
// (filled with the entries' keys once, when the vector reaches that size).
template <typename Entry, typename Key, typename KeyOf>
bool AddKeyOnce(const std::vector<Entry>& entries, std::set<Key>* index, const Key& key, KeyOf key_of,
                size_t indexed_from) {
  if (entries.size() < indexed_from) {
    for (const Entry& e : entries) {
      if (key_of(e) == key) return false;
    }
    return true;
  }
  if (index->empty()) {
    for (const Entry& e : entries) index->insert(key_of(e));
  }
  return index->insert(key).second;
}

}  // namespace

bool SessionImpl::Frame::AddPageKey(const ModuleId& id, uint32_t page) {
  return AddKeyOnce(journal, &journaled, std::make_pair(id, page),
                    [](const JournalEntry& e) { return std::make_pair(e.id, e.page); }, kIndexedEntries);
}

bool SessionImpl::Frame::AddLengthKey(const ModuleId& id) {
  return AddKeyOnce(lengths, &length_journaled, id, [](const LengthEntry& e) { return e.id; }, kIndexedEntries);
}

void SessionImpl::ClearFrame(Frame* f) {
  for (JournalEntry& e : f->journal) RecyclePageCopy(std::move(e.old));
  f->journal.clear();
  f->lengths.clear();
  if (!f->journaled.empty()) f->journaled.clear();
  if (!f->length_journaled.empty()) f->length_journaled.clear();
}

void SessionImpl::EnableCheckpoints() {
  if (checkpoints_used_) return;
  checkpoints_used_ = true;
  // Pages collected before (by CurrentRoot) hold their current contents now;
  // later collections refresh them.
  for (auto& [id, s] : slots_) {
    if (!s.live.region) continue;
    for (uint32_t p : s.live.dirty) {
      PageCopy copy = NewPageCopy();
      std::memcpy(copy.get(), s.live.region->data() + uint64_t{p} * kPageSize, kPageSize);
      s.shadow.pages[p] = std::move(copy);
    }
  }
}

Status SessionImpl::CollectAll() {
  if (options_.writes_are_marked) {
    // Only memories marked since the last collection: O(marked), not
    // O(modules in the session).
    collecting_.clear();
    collecting_.swap(marked_);  // both keep their capacity: no allocation per call
    for (const ModuleId& id : collecting_) {
      auto* found = FindSlot(id);
      if (found == nullptr || !found->second.live.region || !found->second.live.maybe_written) continue;
      SyncLength(id, &found->second);
      RETURN_IF_ERROR(CollectDirty(&found->second));
    }
    return Status::OK();
  }
  for (auto& [id, s] : slots_) {
    if (!s.live.region) continue;
    SyncLength(id, &s);
    RETURN_IF_ERROR(CollectDirty(&s));
  }
  marked_.clear();
  return Status::OK();
}

Status SessionImpl::Usable() const {
  if (poisoned_.ok()) return Status::OK();
  return Status::Aborted("session unusable: its memories are indeterminate after " + poisoned_.ToString());
}

Status SessionImpl::Poison(Status s) {
  if (!s.ok() && poisoned_.ok()) poisoned_ = s;
  return s;
}

Status SessionImpl::Checkpoint() {
  if (!poisoned_.ok()) return Usable();
  if (!checkpoints_used_) EnableCheckpoints();
  RETURN_IF_ERROR(Poison(CollectAll()));  // journaled into the enclosing checkpoint, if any
  if (depth_ == frames_.size()) frames_.emplace_back();
  ++depth_;  // frames_[depth_ - 1] is empty: every frame is cleared when it closes
  return Status::OK();
}

Status SessionImpl::Release() {
  if (!poisoned_.ok()) return Usable();
  if (depth_ == 0) return Status::InvalidArgument("Release without a checkpoint");
  if (depth_ == 1) {
    // Nothing encloses this checkpoint: its journal is simply dropped, and the
    // pages written meanwhile are collected at the next operation.
    ClearFrame(&frames_[0]);
    depth_ = 0;
    return Status::OK();
  }
  RETURN_IF_ERROR(Poison(CollectAll()));
  Frame& done = Innermost();
  // The enclosing checkpoint needs each page's contents, and each memory's
  // length, as of its own mark: an entry it already has is older than ours.
  // O(entries of the released frame): the parent's key index is kept as it goes.
  Frame& parent = frames_[depth_ - 2];
  for (JournalEntry& e : done.journal) {
    if (parent.AddPageKey(e.id, e.page)) parent.journal.push_back(std::move(e));
  }
  for (const LengthEntry& e : done.lengths) {
    if (parent.AddLengthKey(e.id)) parent.lengths.push_back(e);
  }
  ClearFrame(&done);
  --depth_;
  return Status::OK();
}

Status SessionImpl::Rollback() {
  if (!poisoned_.ok()) return Usable();
  if (depth_ == 0) return Status::InvalidArgument("Rollback without a checkpoint");
  Status s = RollbackSteps();
  if (!s.ok()) return Poison(s.WithContext("rollback (the session is now unusable)"));
  return s;
}

Status SessionImpl::RollbackSteps() {
  RETURN_IF_ERROR(CollectAll());
  Frame& done = Innermost();
  --depth_;
  // The frame is closed whatever happens below: cleared on every return.
  struct ClearOnExit {
    SessionImpl* session;
    Frame* frame;
    ~ClearOnExit() { session->ClearFrame(frame); }
  } clear_on_exit{this, &done};
  // Replay backwards: the last entry for a page that is applied is the
  // oldest, i.e. its contents at the checkpoint.
  uint8_t reference[kPageSize];
  // Pages whose final restore gives them their committed contents again:
  // they leave the dirty list (no trace of what did not change).
  std::map<std::pair<ModuleId, uint32_t>, bool> to_reference;
  for (auto it = done.journal.rbegin(); it != done.journal.rend(); ++it) {
    auto found = slots_.find(it->id);
    if (found == slots_.end()) continue;  // removed since: not covered
    Slot& s = found->second;
    if (!s.live.region || uint64_t{it->page} * kPageSize >= s.live.region->length()) continue;
    uint8_t* dst = s.live.region->data() + uint64_t{it->page} * kPageSize;
    Mark(it->id, &s);  // the restoring write is collected below
    s.live.region->NoteWrite(uint64_t{it->page} * kPageSize, kPageSize);
    to_reference[{it->id, it->page}] = !it->old;
    if (it->old) {
      std::memcpy(dst, it->old.get(), kPageSize);
      RecyclePageCopy(std::exchange(s.shadow.pages[it->page], std::move(it->old)));
    } else {
      RETURN_IF_ERROR(ReferencePage(s, it->page, reference));
      std::memcpy(dst, reference, kPageSize);
      s.shadow.pages.erase(it->page);
    }
  }
  // Lengths, backwards likewise: memories grown since the mark shrink back.
  for (auto it = done.lengths.rbegin(); it != done.lengths.rend(); ++it) {
    auto found = slots_.find(it->id);
    if (found == slots_.end() || !found->second.live.region) continue;
    Slot& s = found->second;
    if (s.live.region->length() > it->length) {
      RETURN_IF_ERROR(s.live.region->Shrink(it->length));
      for (auto sh = s.shadow.pages.begin(); sh != s.shadow.pages.end();) {
        sh = uint64_t{sh->first} * kPageSize >= it->length ? s.shadow.pages.erase(sh) : std::next(sh);
      }
    }
    s.live.length = s.live.region->length();  // the rollback itself is not journaled
  }
  // The restoring writes are tracked like any other: absorb them now, with no
  // journal (their contents equal the shadow copies just set).
  const size_t depth = depth_;
  depth_ = 0;
  const bool used = checkpoints_used_;
  checkpoints_used_ = false;
  Status st = CollectAll();
  checkpoints_used_ = used;
  depth_ = depth;
  if (!st.ok()) return st;
  for (const auto& [key, committed] : to_reference) {
    auto found = slots_.find(key.first);
    if (!committed || found == slots_.end()) continue;
    Slot& s = found->second;
    if (s.files.is_new || key.second >= s.live.dirty_bits.size() || !s.live.dirty_bits[key.second]) continue;
    s.live.dirty_bits[key.second] = 0;  // SortDirty drops it from the list
    s.live.dirty_sorted = false;
  }
  return Status::OK();
}

}  // namespace crust::store
