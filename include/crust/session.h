// Copyright (c) crust authors. Licensed under the MIT license.
//
// A Session: a series of modifications to a commit (or to the empty state).
//
// Module memories are mapped copy-on-write from the base commit's files when
// first touched; committed files are never written. Commit() writes a new
// commit directory holding only what changed (delta of the dirtied pages),
// hard-linking everything else, and returns its root. The session stays
// usable after a commit: later commits build on the one just made.
//
// Thread-safety: a Session is used by one thread at a time. Different
// sessions may be used from different threads concurrently.
// Lifetime: destroy sessions before their Store.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "crust/proof.h"
#include "crust/status.h"
#include "crust/types.h"

namespace crust {

class Session {
 public:
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The commit this session started from (nullopt for genesis), or the last
  // commit it made.
  virtual std::optional<Root> base() const = 0;

  // Adds a module. `memory_length` is a multiple of 64 KiB (<= 4 GiB);
  // `memory_init` (at most memory_length bytes) fills the start of the memory,
  // the rest is zero. `metadata` is opaque bytes covered by the root.
  // Errors: AlreadyExists, InvalidArgument.
  virtual Status AddModule(const ModuleId& id, ByteView bytecode, ByteView memory_init,
                           uint64_t memory_length, ByteView metadata = {}) = 0;
  // Removes a module from the state (the next commit no longer has it).
  // Errors: NotFound.
  virtual Status RemoveModule(const ModuleId& id) = 0;
  // Gives module `from`, added in this session and not committed yet, the id
  // `to`, replacing any module `to` (a migration). Errors: NotFound,
  // InvalidArgument (`from` is committed already, or checkpoints are open).
  virtual Status RenameModule(const ModuleId& from, const ModuleId& to) = 0;
  virtual bool HasModule(const ModuleId& id) const = 0;
  // Module ids in ascending order.
  virtual std::vector<ModuleId> Modules() const = 0;

  // A committed module's bytecode is checked against its hash in the index:
  // Corruption naming the file when it does not match (a commit also checks
  // the files it links and this process has not read).
  virtual Result<Bytes> Bytecode(const ModuleId& id) = 0;
  virtual Result<Bytes> Metadata(const ModuleId& id) const = 0;
  virtual Status SetMetadata(const ModuleId& id, ByteView metadata) = 0;

  // Memory access. Errors: NotFound (module), InvalidArgument (range past the
  // memory's length), IOError/Corruption (its files could not be mapped),
  // Aborted (ReadMemory, WriteMemory, GrowMemory of a poisoned session: see
  // Checkpoint).
  virtual Result<uint64_t> MemoryLength(const ModuleId& id) = 0;
  virtual Status ReadMemory(const ModuleId& id, uint64_t offset, std::span<uint8_t> out) = 0;
  virtual Status WriteMemory(const ModuleId& id, uint64_t offset, ByteView data) = 0;
  // Grows to `new_length` bytes (multiple of 64 KiB, <= 4 GiB, >= current).
  virtual Status GrowMemory(const ModuleId& id, uint64_t new_length) = 0;
  // (The execution engine writes the mapped memory directly, through the
  // internal src/store/session_region.h.)

  // Checkpoints, nested: Checkpoint() marks the current contents and lengths
  // of every memory; Rollback() returns every memory to the innermost mark
  // and removes it; Release() removes the innermost mark and keeps the
  // changes (they then belong to the enclosing mark, if any). Cost is
  // proportional to the pages written since the previous checkpoint
  // operation (they are copied once), never to memory sizes. Not covered:
  // metadata, bytecode, modules added or removed.
  // Errors: InvalidArgument (Rollback/Release without a checkpoint; nothing
  // changes), Aborted (the session is poisoned, below), and the error of a
  // failed collection or restore (IOError, Corruption, ResourceExhausted...).
  // Poisoning: a checkpoint operation that fails after it began changing
  // memories or journals (a rollback stopped halfway, or written pages that
  // could not be journaled) leaves the memories indeterminate; it returns
  // its error and from then on ReadMemory, WriteMemory, GrowMemory,
  // Checkpoint, Rollback, Release, CurrentRoot, ProvePage and Commit fail
  // with Aborted naming that first error. Destroy the session and start a
  // new one from a commit.
  virtual Status Checkpoint() = 0;
  // Announces writes through the mapped memory of `id` (see
  // SessionOptions::writes_are_marked). Unknown ids are ignored.
  virtual void MarkWritten(const ModuleId& id) = 0;
  virtual Status Rollback() = 0;
  virtual Status Release() = 0;
  virtual size_t checkpoint_depth() const = 0;

  // The root a Commit() now would produce. Costs time proportional to the
  // pages dirtied since the last commit, not to memory sizes.
  virtual Result<Root> CurrentRoot() = 0;
  // Writes the session's state as a new commit and returns its root. When a
  // commit with that root exists already, nothing is written.
  // Errors: Aborted (read-only store, or a poisoned session: see
  // Checkpoint), InvalidArgument (checkpoints open), IOError and others from
  // the file system. A failed commit leaves no partial commit in the store and the
  // session unchanged: it may be retried.
  virtual Result<Root> Commit() = 0;

  // A proof that page `page` of `module` is in the session's state (see
  // Store::ProvePage), for a session with nothing uncommitted: its state is
  // then its base commit's, whose root the proof is made for.
  // Errors: InvalidArgument (uncommitted changes: commit first, then prove
  // against the new root; or page past the memory's end), NotFound,
  // Corruption, IOError.
  virtual Result<PageProof> ProvePage(const ModuleId& module, uint32_t page) = 0;

 protected:
  Session() = default;
};

}  // namespace crust
