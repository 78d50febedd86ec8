// Copyright (c) crust authors. Licensed under the MIT license.
//
// crust's versioned, copy-on-write store of module memories.
//
// A store is a directory. Each commit is a subdirectory named by its 64-hex
// state root holding bytecode/, memory/ and index (docs/format.md). Commits
// are immutable and independent: unchanged files are hard links, so deleting
// any commit never affects another. Sessions (session.h) start from genesis
// or from a commit, change module memories copy-on-write, and commit a new
// root.
//
// Thread-safety: a Store is safe for concurrent use by many threads without
// external synchronisation. Sessions are single-threaded objects, but many may
// run concurrently, on the same or different bases.
//
// Lifetime: every Session must be destroyed before its Store.
//
// Caveats:
//  * Only one process can open a store for writing (LOCK holds the owner's
//    pid); read-only opens work beside it. A read-only process can see a
//    commit disappear under it when the writer deletes it (NotFound).
//  * A live session pins its base commit (and any commit it made): deleting a
//    pinned commit waits (DeleteCommit) or is refused (TryDeleteCommit) until
//    the sessions end. Long-lived sessions therefore delay deletions.
//  * Deleting many commits at once slows later file creation on ext4 for a
//    while (design notes §3); pace bulk deletions.
//
// Process-wide effects of a Store and its sessions:
//  * Address space: each module memory a session maps reserves 8 GiB +
//    64 KiB of address space (PROT_NONE beyond its length, so any wasm32
//    address plus offset lands in the reservation) and up to 5 VMAs. At most
//    10,000 memories are mapped at once in a process (~80 TiB of the 128 TiB
//    user address space; ~50,000 VMAs against the default vm.max_map_count
//    of 65530): mapping one more fails with ResourceExhausted. An RLIMIT_AS
//    below 8 GiB per memory makes mapping fail.
//  * Kernel features, probed once per process and used when available
//    (which one is used never changes results): exact write tracking with a
//    userfaultfd in asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC,
//    user-mode only: no privilege needed) and the PAGEMAP_SCAN ioctl, else a
//    scan of /proc/self/pagemap; lazily filled memories with a second,
//    process-wide userfaultfd in missing-page mode (with kernel faults where
//    the process may: vm.unprivileged_userfaultfd = 1 or privilege; else
//    user-mode faults only; where no userfaultfd may be opened at all,
//    memories are mapped eagerly); madvise(MADV_DONTNEED) to drop private
//    copies.
//  * Threads: one process-wide thread serving lazily filled pages (started
//    on first use, never joined); per Store a pool of 5 worker threads
//    (commit staging, hashing and syncing); a large commit hashes on up to
//    one thread per CPU.
//  * File descriptors: the two userfaultfds and /proc/self/pagemap (opened
//    once per process, never closed); none per module: committed files are
//    mapped and their descriptors closed, and a commit holds at most a few
//    dozen files open at once however many memories it writes (thousands of
//    modules fit under the default soft RLIMIT_NOFILE of 1024). All O_CLOEXEC.
//  * Signals: a SIGBUS handler (installed once, chaining to the previous
//    one) turns a failed read of a mapped file during VerifyCommit, or while
//    filling a lazily filled page, into an error instead of ending the
//    process. Elsewhere (a session reading its memory, a commit hashing it)
//    a SIGBUS on a mapped file that shrank or whose disk failed takes the
//    previous handler's action (by default the process ends); the VM (vm.h)
//    turns those inside calls into host faults.
//  * fork(): a child must not use its parent's Stores or sessions (lazily
//    filled pages are not served in the child); open its own after exec.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crust/options.h"
#include "crust/proof.h"
#include "crust/status.h"
#include "crust/types.h"

namespace crust {

class Session;

struct ModuleInfo {
  ModuleId id;
  Hash32 bytecode_hash;
  Hash32 memory_hash;
  uint64_t memory_length = 0;  // bytes
  uint64_t bytecode_size = 0;
  uint32_t delta_layers = 0;   // on-disk layout: delta files on top of the base image
  Bytes metadata;
};

struct CommitInfo {
  Root root;
  uint64_t created_unix_ns = 0;
  std::vector<ModuleInfo> modules;  // ascending by id (only filled by ShowCommit)
};

struct SessionOptions {
  // When true, whoever writes through the mapped memory (the engine) announces it
  // with Session::MarkWritten() before the next checkpoint operation, and
  // checkpoint operations then scan only the memories announced or written
  // through WriteMemory since the previous one (commits still scan every
  // memory). The VM does this: a call writes only the memories of the modules
  // it runs. Default: false (every checkpoint operation scans every mapped
  // memory).
  bool writes_are_marked = false;

  // How the pages written through the mapped memory are found, for
  // commit deltas and checkpoints alike (one mechanism serves both):
  //  * kKernel (default): the kernel reports them (userfaultfd write-protect
  //    and PAGEMAP_SCAN, or the /proc/self/pagemap fallback): any write
  //    counts. Each checkpoint operation and commit scans the page tables of
  //    the memories involved, so its cost follows their populated pages.
  //    Until the mapped memory is first handed out for a module, every write to it
  //    came through WriteMemory (or a rollback) and was noted by the session:
  //    those collections use the notes and cost O(pages written), no scan.
  //  * kNoted: whoever writes through the mapped memory first announces
  //    the range (src/store/session_region.h; crust's compiled contract code
  //    does, with an inline check per store); a write not announced is lost
  //    to commits and rollbacks. Finding the written pages then costs
  //    O(pages written) and no system call. The VM uses this.
  enum class WriteTracking { kKernel, kNoted };
  WriteTracking write_tracking = WriteTracking::kKernel;
};

class Store {
 public:
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens (or creates) the store at `dir`. Cleans leftovers of interrupted
  // commits and deletions (write mode only).
  // Errors: NotFound (missing and !create_if_missing), Busy (another process
  // holds the write lock; names its pid), Corruption (FORMAT unreadable or of
  // an unsupported version), IOError.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const StoreOptions& options = {});

  virtual const std::string& dir() const = 0;

  // Starts a session with no base. Never fails today (a store in read-only
  // mode starts sessions too; committing them fails with Aborted).
  virtual Result<std::unique_ptr<Session>> StartGenesis(const SessionOptions& options = {}) = 0;
  // Starts a session based on commit `base`, pinning it until the session
  // ends. Errors: NotFound (no such commit, or it is being deleted),
  // Corruption (its index is unreadable), IOError (it cannot be read).
  virtual Result<std::unique_ptr<Session>> StartSession(const Root& base, const SessionOptions& options = {}) = 0;

  // All commits, oldest first (by creation time, then root).
  virtual Result<std::vector<CommitInfo>> ListCommits() = 0;
  // One commit with its modules. Errors: NotFound, Corruption.
  virtual Result<CommitInfo> ShowCommit(const Root& root) = 0;
  // Recomputes every hash from the files of `root` (bytecode, every memory
  // page, every stored tree node, checksums) and compares with the index and
  // the root. Errors: Corruption naming the first file that does not match;
  // NotFound. Cost: reads the whole commit.
  virtual Status VerifyCommit(const Root& root) = 0;
  // A proof that page `page` of `module`'s memory in commit `root` holds the
  // bytes it carries (crust/proof.h; check it with VerifyPageProof). The
  // commit's files are read once and the proof is checked before it is
  // returned. Errors: NotFound (no such commit or module), InvalidArgument
  // (page past the memory's end), Corruption (the commit's files do not
  // match its root), IOError. Cost: one page, 20 tree nodes, the index.
  virtual Result<PageProof> ProvePage(const Root& root, const ModuleId& module, uint32_t page) = 0;

  // Deletes commit `root`, first waiting until no session pins it. New
  // sessions on it are refused from the moment this is called. The commit
  // disappears atomically (renamed away, then removed). Never affects other
  // commits. Errors: NotFound, Aborted (read-only store), IOError.
  virtual Status DeleteCommit(const Root& root) = 0;
  // As DeleteCommit, but returns Busy (naming the number of sessions) instead
  // of waiting when sessions pin the commit.
  virtual Status TryDeleteCommit(const Root& root) = 0;

 protected:
  Store() = default;
};

}  // namespace crust
