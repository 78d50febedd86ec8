// Copyright (c) crust authors. Licensed under the MIT license.
//
// SessionImpl: the Session behind session.h.
//
// Each module the session knows is a Slot of four parts (below): its
// committed files, its live memory, its checkpoint shadow and its commit
// scratch. A slot from the base commit keeps a CommittedMemory (its files in
// the newest commit this session stands on) and, once touched, a
// MemoryRegion mapping that memory copy-on-write. Dirty pages are collected
// from the region's write tracking and accumulate in the live memory until
// a commit succeeds, so a failed commit loses nothing and may be retried.
#pragma once

#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/memory_region.h"
#include "src/store/committed_memory.h"
#include "src/store/index.h"
#include "src/store/layer_build.h"
#include "src/store/layer_writer.h"
#include "src/store/page_tree.h"

namespace crust::store {

class StoreImpl;
class PendingSyncs;  // session_commit.cc

// A copy of one 4 KiB page (checkpoint shadows and journal entries), aligned
// to 64 bytes: glibc's memcpy of a page into malloc's 16-byte-aligned memory
// ran 3.5-5x slower than into a 64-byte-aligned one on the machine the
// benchmarks run on (an AMD EPYC; `rep movsb` with a misaligned
// destination), and every call copies at least the page of its result.
// Aligned by hand inside a plain allocation (the byte before the page holds
// the distance back to it): glibc's aligned `operator new` (memalign) splits
// chunks and made rolled-back calls, which allocate a copy per page, ~20%
// slower.
struct PageCopyDelete {
  void operator()(uint8_t* p) const { ::operator delete(p - p[-1]); }
  static constexpr size_t kPageCopyAlign = 64;
};
using PageCopy = std::unique_ptr<uint8_t[], PageCopyDelete>;
PageCopy NewPageCopy();  // uninitialised

class SessionImpl final : public Session {
 public:
  SessionImpl(StoreImpl* store, std::optional<Root> base, Index base_index, SessionOptions options = {});
  ~SessionImpl() override;

  std::optional<Root> base() const override { return base_; }
  Status AddModule(const ModuleId& id, ByteView bytecode, ByteView memory_init, uint64_t memory_length,
                   ByteView metadata) override;
  Status RemoveModule(const ModuleId& id) override;
  Status RenameModule(const ModuleId& from, const ModuleId& to) override;
  bool HasModule(const ModuleId& id) const override { return slots_.count(id) != 0; }
  std::vector<ModuleId> Modules() const override;
  Result<Bytes> Bytecode(const ModuleId& id) override;
  Result<Bytes> Metadata(const ModuleId& id) const override;
  Status SetMetadata(const ModuleId& id, ByteView metadata) override;
  Result<uint64_t> MemoryLength(const ModuleId& id) override;
  Status ReadMemory(const ModuleId& id, uint64_t offset, std::span<uint8_t> out) override;
  Status WriteMemory(const ModuleId& id, uint64_t offset, ByteView data) override;
  Status GrowMemory(const ModuleId& id, uint64_t new_length) override;
  // See src/store/session_region.h.
  Result<os::MemoryRegion*> MemoryRegion(const ModuleId& id);
  // Modules removed or renamed so far (SessionModuleRemovals).
  uint64_t removals() const { return removals_; }
  Status Checkpoint() override;
  void MarkWritten(const ModuleId& id) override {
    if (auto* found = FindSlot(id)) Mark(found->first, &found->second);
  }
  Status Rollback() override;
  Status Release() override;
  size_t checkpoint_depth() const override { return depth_; }
  Result<Root> CurrentRoot() override;
  Result<PageProof> ProvePage(const ModuleId& module, uint32_t page) override;
  Result<Root> Commit() override;

 private:
  // The per-module state, split by role. Each part has one owner among the
  // session's steps; the comments say what may change it and when.
  //
  // CommittedFiles: the module as the commit the session stands on holds it
  // (for a new module: what its first commit writes in full). A page's
  // reference contents (ReferencePage) come from here: the committed memory,
  // or a new module's initial image. Changed only by AddModule, the first
  // touch (EnsureMapped opens `committed`), a bytecode check (ReadBytecode)
  // and a commit the session adopts (AfterCommit); never by writes,
  // checkpoints or a failed commit.
  struct CommittedFiles {
    IndexEntry entry;          // as committed (for new modules: as it will be)
    bool is_new = false;       // not in any commit yet: written in full
    std::string commit_dir;    // where committed files live (for links)
    std::shared_ptr<const CommittedMemory> committed;  // null for new modules and until first touched
    // The committed bytecode file was read and matched entry.bytecode_hash in
    // this session (ReadBytecode); a commit links only checked files.
    bool bytecode_checked = false;
    Bytes bytecode;    // new modules only
    Bytes init_image;  // new modules only: the initial memory given to AddModule
  };
  // LiveMemory: the module as the session sees it now, and which pages differ
  // from CommittedFiles. Writes, growth, rollbacks and collections (also a
  // commit's first step) change it; only an adopted commit clears its dirty
  // pages (a failed commit loses nothing and may be retried).
  struct LiveMemory {
    std::unique_ptr<os::MemoryRegion> region;  // mapped on first touch
    uint64_t length = 0;  // current memory length
    Bytes metadata;       // current metadata
    // Pages changed since the last commit: ascending once SortDirty() ran;
    // a collection appends new ones (O(pages collected), whatever the size
    // of the list). A page is dirty iff dirty_bits[p] != 0; until SortDirty
    // the list may also hold pages whose bit a rollback cleared, and repeats.
    std::vector<uint32_t> dirty;
    std::vector<uint8_t> dirty_bits;
    bool dirty_sorted = true;
    bool maybe_written = false;  // since the last collection (writes_are_marked)
    // MemoryRegion() handed out the raw pointer: from then on, in the kernel
    // modes, collections ask the kernel; before, every write was noted
    // (WriteMemory, rollback), so the notes are exact and cost O(pages).
    bool raw_exposed = false;
  };
  // CheckpointShadow (session_checkpoint.cc): each page's contents at the last
  // collection, for pages written since the last commit, once checkpoints
  // are in use; a page not here has its reference contents. Collections
  // refresh it, rollbacks restore from the journal into it, an adopted
  // commit empties it (the contents are then the committed ones).
  struct CheckpointShadow {
    std::unordered_map<uint32_t, PageCopy> pages;
  };
  // CommitScratch: written by the hashing (HashAll, for CurrentRoot and
  // Commit), read by the commit's writing; meaningful only between the two
  // and rewritten by every hashing. An adopted commit clears it.
  struct CommitScratch {
    std::vector<TreeNode> changed_nodes;  // changed memories: their new tree nodes
    std::vector<Hash32> leaves;           // new modules: every page's leaf hash
    Hash32 memory_hash;
  };
  struct Slot {
    CommittedFiles files;
    LiveMemory live;
    CheckpointShadow shadow;
    CommitScratch scratch;
  };

  // What a commit writes for one memory (session_commit.cc).
  struct MemoryPlan {
    enum class Kind {
      kUnchanged,  // links to the committed image and layers
      kImage,      // a new base image (new module, or rebase)
      kLayer,      // a link to the image, links to kept layers, one new layer
    };
    Kind kind = Kind::kUnchanged;
    LayerPlan layer;  // kLayer
    // kLayer: set once its chunks run (beside the hashing in a large commit,
    // else after it); the way it writes is ChooseLayerWrite's (layer_writer.h).
    std::unique_ptr<LayerWriter> writer;
  };
  // What a commit undoes when it does not complete, in one place (its
  // destructor, session_commit.cc): the staging directory is removed with
  // what it holds (os::Env::RemoveDirRecursive) unless it was renamed into
  // place, and the new root is unpinned unless the session adopted it. Every
  // early return of a commit therefore cleans up; nothing else removes a
  // staging directory or unpins a new root.
  class CommitCleanup {
   public:
    explicit CommitCleanup(StoreImpl* store) : store_(store) {}
    CommitCleanup(const CommitCleanup&) = delete;
    CommitCleanup& operator=(const CommitCleanup&) = delete;
    ~CommitCleanup();
    // Creates a new staging directory with its bytecode/ and memory/
    // subdirectories (removed again by the cleanup if any step fails), or
    // takes the store's spare one (spare_staging.h).
    Status CreateStaging();
    // The spare staging directory's empty index file, open for writing;
    // null if the staging directory was not a spare (or it was taken).
    std::unique_ptr<os::WritableFile> TakeIndexFile() { return std::move(index_file_); }
    // The spare staging directory's empty layer file (for
    // Env::NewWritableFileFrom); empty if none or taken.
    std::string TakeLayerFile() { return std::exchange(layer_file_, std::string()); }
    // Removes the spare layer file if no layer took it (before publishing).
    Status DropUnusedLayerFile();
    const std::string& staging() const { return staging_; }  // empty until created
    // Removes the staging directory now (the root is committed already).
    void RemoveStaging();
    // The staging directory is now the commit: never remove it.
    void Published() { staging_.clear(); }
    // `root` was pinned for the session: unpinned unless Adopted().
    void Pinned(const Root& root) { pinned_ = root; }
    void Adopted() { pinned_.reset(); }

   private:
    StoreImpl* const store_;
    std::string staging_;
    std::unique_ptr<os::WritableFile> index_file_;
    std::string layer_file_;
    std::optional<Root> pinned_;
  };
  struct CommitPlan {
    explicit CommitPlan(StoreImpl* store) : cleanup(store) {}
    CommitCleanup cleanup;           // declared first: runs after the plans' files are closed
    std::vector<MemoryPlan> memory;  // in slot order
    bool staged = false;             // staging created and links made before hashing
    const std::string& staging() const { return cleanup.staging(); }
  };
  static constexpr uint64_t kParallelPages = 256;  // Prepare(); commits: StoreOptions::parallel_commit_pages
  uint64_t ParallelPages() const;

  Result<Slot*> Find(const ModuleId& id);
  // The slot of `id`, or null, remembering the last one found: a VM session
  // names the same module several times per call (MarkWritten, collections),
  // and comparing one id for equality is cheaper than the map's ordered
  // search. Every erase from slots_ calls SlotErased: forgets it, and counts in
  // removals_ (SessionModuleRemovals: the VM's cached regions).
  std::pair<const ModuleId, Slot>* FindSlot(const ModuleId& id) {
    if (found_ != nullptr && found_->first == id) return found_;
    auto it = slots_.find(id);
    if (it == slots_.end()) return nullptr;
    found_ = &*it;
    return found_;
  }
  void SlotErased() {
    found_ = nullptr;
    ++removals_;
  }
  bool noted() const { return options_.write_tracking == SessionOptions::WriteTracking::kNoted; }
  // The engine grows regions directly: a mapped region's length is the truth.
  // A change found here is journaled like a written page (see
  // session_checkpoint.cc).
  void SyncLength(const ModuleId& id, Slot* s) {
    if (s->live.region && s->live.region->length() != s->live.length) {
      JournalLength(id, *s);
      s->live.length = s->live.region->length();
    }
  }
  // Records s.live.length as the length to return to if the innermost
  // checkpoint rolls back (before it changes).
  void JournalLength(const ModuleId& id, const Slot& s) {
    if (!checkpoints_used_ || depth_ == 0) return;
    Frame& f = Innermost();
    // Only the first length matters: it is the one a rollback returns to.
    if (f.AddLengthKey(id)) f.lengths.push_back({id, s.live.length});
  }
  // Marks a memory as possibly written since the last collection.
  void Mark(const ModuleId& id, Slot* s) {
    if (s->live.maybe_written) return;
    s->live.maybe_written = true;
    marked_.push_back(id);
  }
  Status EnsureMapped(Slot* slot);
  Status CheckRange(const ModuleId& id, const Slot& slot, uint64_t offset, uint64_t len) const;
  // Collects dirty pages and recomputes memory hashes; returns the entries
  // the next commit would write, ascending by id.
  Result<std::vector<IndexEntry>> Prepare();
  // Prepare's halves (session_hash.cc): collection, then hashing. HashAll
  // runs `tasks` in its first batch, beside the leaf hashing; with
  // `parallel` it uses the store's threads, else only the caller's.
  Status CollectForCommit();
  uint64_t PagesToHash() const;
  // `provided`: slots whose dirty pages' leaf hashes `tasks` compute (into
  // the vector given, in dirty order) rather than HashAll.
  using ProvidedLeaves = std::map<const Slot*, std::vector<Hash32>*>;
  // `nodes`: slots whose changed tree nodes a function computes (run in the
  // second batch) rather than HashAll's own path update.
  using ProvidedNodes = std::map<const Slot*, std::function<std::vector<TreeNode>()>>;
  Result<std::vector<IndexEntry>> HashAll(std::vector<std::function<void()>> tasks, bool parallel,
                                          const ProvidedLeaves& provided = {}, const ProvidedNodes& nodes = {});
  // Collects the pages written since the last collection into
  // slot->live.dirty (and, with checkpoints in use, into the journal).
  Status CollectDirty(Slot* slot);
  Status CollectAll();
  // The page's contents when nothing was written since the last commit.
  Status ReferencePage(const Slot& slot, uint32_t page, uint8_t* out) const;
  void Absorb(const ModuleId& id, Slot* slot, const std::vector<uint32_t>& written);
  static void SortDirty(Slot* slot);
  static void ClearDirty(Slot* slot);
  void EnableCheckpoints();
  // Writing a commit (session_commit.cc).
  Status PlanCommit(CommitPlan* plan);
  Status StageBytecode(const CommitPlan& plan, bool sync_now, PendingSyncs* syncs);
  // Reads a committed module's bytecode file and checks it against the
  // index: Corruption naming the file when it does not match.
  Result<Bytes> ReadBytecode(const ModuleId& id, Slot* s);
  // Before a commit links the file: ReadBytecode, unless this session or an
  // earlier one of this process already checked that inode.
  Status CheckBytecodeBeforeLink(const ModuleId& id, Slot* s);
  Status StageMemoryLinks(const CommitPlan& plan);
  // The new layer's writer for `slot` (REQUIRES: m.kind == kLayer), Start()ed;
  // its file is the spare staging directory's layer file if still unused.
  Result<std::unique_ptr<LayerWriter>> StartLayerWriter(CommitPlan* plan, const ModuleId& id, const Slot& slot,
                                                        const MemoryPlan& m, bool beside_hashing) const;
  Status WriteMemoryFile(CommitPlan* plan, MemoryPlan* m, Slot* slot, IndexEntry* entry, PendingSyncs* syncs,
                         std::shared_ptr<const CommittedMemory>* next);
  Result<Root> WriteCommit(const std::vector<IndexEntry>& entries, const Root& root, CommitPlan* plan,
                           PendingSyncs* syncs);
  Status AfterCommit(const Root& root, bool written, std::vector<std::shared_ptr<const CommittedMemory>> next,
                     const std::vector<IndexEntry>& entries);

  StoreImpl* const store_;
  const SessionOptions options_;
  std::optional<Root> base_;
  std::vector<Root> pins_;  // commits whose files this session references
  std::map<ModuleId, Slot> slots_;
  std::pair<const ModuleId, Slot>* found_ = nullptr;  // FindSlot's last answer
  uint64_t removals_ = 0;                              // erasures from slots_

  struct JournalEntry {
    ModuleId id;
    uint32_t page;
    PageCopy old;  // contents at the previous collection; null: reference
  };
  struct LengthEntry {
    ModuleId id;
    uint64_t length;  // before a change made inside the frame
  };
  // One open checkpoint. Frames are kept between checkpoints (frames_ only
  // grows; depth_ says how many are open) and cleared when they close, so a
  // checkpoint allocates nothing once its vectors have the capacity: a
  // top-level call opens and closes one per call.
  struct Frame {
    std::vector<JournalEntry> journal;  // at most one entry per (module, page): its oldest contents
    std::vector<LengthEntry> lengths;   // at most one entry per module
    // The keys of journal and lengths, so that journaling and Release cost
    // what they add, never what the frame already holds (a loop of nested
    // calls would otherwise pay for the whole journal at every return). Built
    // only once a vector reaches kIndexedEntries: below, a linear search of
    // the few entries is cheaper than a tree node per entry.
    std::set<std::pair<ModuleId, uint32_t>> journaled;
    std::set<ModuleId> length_journaled;
    static constexpr size_t kIndexedEntries = 16;
    // True (and the caller appends the entry) unless the key is journaled.
    bool AddPageKey(const ModuleId& id, uint32_t page);
    bool AddLengthKey(const ModuleId& id);
  };
  // Empties a frame that closes (keeping its vectors' capacity); its
  // journal's page copies go back to spare_copies_.
  void ClearFrame(Frame* f);
  // Page copies for shadows: a spare one if any, else a new allocation. A
  // nested call journals its pages' shadows and needs new ones, and the
  // journal is dropped when the outermost call returns: recycling them
  // saves a 4 KiB allocation and free per page per nested call.
  PageCopy TakePageCopy() {
    if (spare_copies_.empty()) return NewPageCopy();
    PageCopy c = std::move(spare_copies_.back());
    spare_copies_.pop_back();
    return c;
  }
  void RecyclePageCopy(PageCopy c) {
    if (c && spare_copies_.size() < kSparePageCopies) spare_copies_.push_back(std::move(c));
  }
  static constexpr size_t kSparePageCopies = 64;  // at most 256 KiB kept per session
  std::vector<PageCopy> spare_copies_;
  Frame& Innermost() { return frames_[depth_ - 1]; }  // REQUIRES: depth_ > 0
  bool checkpoints_used_ = false;
  std::vector<Frame> frames_;  // frames_[0, depth_) are the open checkpoints, innermost last
  size_t depth_ = 0;
  // Poisoned state (as leveldb's bg_error_, LMDB's MDB_TXN_ERROR): set by
  // the first checkpoint operation that failed after it began changing
  // memories or journals (Poison). A rollback that stopped halfway leaves
  // memories neither as they were nor as they were at the mark, and a
  // collection that stopped halfway leaves writes no rollback can undo: from
  // then on memory access, checkpoints, CurrentRoot, ProvePage and Commit
  // fail with Aborted naming the first failure (Usable).
  Status poisoned_;
  Status Usable() const;
  Status RollbackSteps();  // Rollback after its checks
  Status Poison(Status s);
  // Memories marked since the last collection (may repeat ids of removed or
  // already collected modules: collecting those finds nothing).
  std::vector<ModuleId> marked_;
  std::vector<ModuleId> collecting_;  // CollectAll's working copy of marked_
  std::vector<uint32_t> collected_;   // CollectDirty's working list of pages
};

}  // namespace crust::store
