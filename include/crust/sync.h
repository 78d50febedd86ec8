// Copyright (c) crust authors. Licensed under the MIT license.
//
// State that travels between machines: export, import and serve whole
// commits, verified by nothing but their root (docs/sync.md; the manifest's
// bytes: docs/format.md, "Sync manifest").
//
// An export directory (or any HTTP server hosting one, or `crust serve`)
// holds, for each exported root R:
//   manifest/<R hex>   the manifest: every module's id, bytecode hash and
//                      size, memory length, metadata, and the page-tree leaf
//                      of every non-zero page, grouped in runs of at most 64
//                      pages that never cross a 64-page boundary
//   chunk/<hex>        a run's pages (named SHA-256(0x02 || its leaves)) or a
//                      module's bytecode (named by its SHA-256)
// The importer recomputes R from the manifest before fetching any chunk, then
// checks every page against its leaf and every bytecode against its hash as
// it arrives. Only the root is trusted.
//
// Thread-safety: ExportCommit and ImportCommit may run concurrently with
// sessions and with each other on distinct roots. A SyncServer serves from
// its own threads; Stop() (or the destructor) waits for them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "crust/status.h"
#include "crust/store.h"
#include "crust/types.h"

namespace crust {

// The version written in manifests; importers refuse other versions.
inline constexpr uint32_t kSyncManifestVersion = 1;

struct ExportStats {
  uint64_t chunks_written = 0;  // chunk files created by this export
  uint64_t chunks_present = 0;  // chunks already in the directory (not rewritten)
  uint64_t bytes_written = 0;   // chunk bytes written (manifest excluded)
  uint64_t manifest_bytes = 0;
};

// Writes commit `root` of `store` to `dir` (created if missing). Chunks are
// written under a temporary name and renamed, the manifest last, so a
// manifest in `dir` implies every chunk it names is complete. A chunk file
// already present is not rewritten (a second export adds only what is
// missing). Every page is checked against its stored leaf as it is read.
// Errors: NotFound (no such commit), Corruption (the commit's files do not
// match its root), IOError naming the file.
Result<ExportStats> ExportCommit(Store* store, const Root& root, const std::string& dir);

struct ImportOptions {
  // Where verified chunks and half-built memory images wait between attempts
  // (an interrupted import resumes from them). Default:
  // <store>/.sync-import/<root hex>; removed after a successful import.
  std::string staging_dir;
  // Chunk fetches in flight at once, each with its own connection (or file
  // read) and 256 KiB buffer, its pages hashed on the thread that fetched
  // them (at most this many threads). 1: one request at a time. The
  // published commit is the same whatever the number.
  int parallel_fetches = 4;
  // Called with ImportStats::bytes_fetched so far after each piece of a
  // chunk arrives, from the fetching threads, one call at a time.
  std::function<void(uint64_t bytes_fetched)> progress;
};

struct ImportStats {
  bool already_present = false;  // the store held the commit: nothing fetched
  uint64_t manifest_bytes = 0;
  uint64_t requests = 0;          // chunk fetches (HTTP requests or file reads)
  uint64_t bytes_fetched = 0;     // chunk bytes received (manifest excluded)
  uint64_t bytes_resumed = 0;     // bytes of partly received chunks or pages an
                                  // earlier attempt staged, continued from there
  uint64_t pages_fetched = 0;
  uint64_t pages_local = 0;       // pages copied from local commits
  uint64_t pages_resumed = 0;     // pages found verified in the staging area
  uint64_t memories_linked = 0;   // memories hard-linked whole from a local commit
  uint64_t deltas_written = 0;    // memories written as a delta layer on a local commit's files
  uint64_t bytecodes_linked = 0;
};

// Imports commit `root` from `source`: a directory written by ExportCommit,
// or "http://host[:port][/path]" serving one (crust serve, nginx...).
// Fetches the manifest and checks that it yields `root` before fetching any
// chunk; fetches only what no local commit holds (a bytecode with the same
// hash in any commit; a memory with the same hash in any commit, linked
// whole; a page with the same leaf at the same place of the same module in
// any commit); checks each page and bytecode as it arrives; publishes the
// commit atomically (staging directory + rename), in the store's layout:
// hard links where a local commit has the file; a delta layer on a local
// commit's files of the same module when that memory has the same length and
// differs in at most 1/8 of its pages (and 16384 pages); a fresh memory
// image otherwise. An interrupted transfer resumes from the last byte
// received (a Range request for the rest of the chunk). Memory: see
// docs/sync.md, "Memory" — bounded by the largest memory (4 GiB) and
// parallel_fetches, whatever the state's size.
// Errors: Corruption naming the manifest (it does not yield `root`, or is
// malformed) or the chunk (a page or bytecode that does not match, a
// truncated chunk) — nothing is published and verified chunks stay staged
// for a retry; NotFound (the source lacks the manifest or a chunk);
// IOError (the source could not be read or was cut off: a retry resumes);
// Aborted (read-only store).
Result<ImportStats> ImportCommit(Store* store, const std::string& source, const Root& root,
                                 const ImportOptions& options = {});

// Serves every commit of `store` over HTTP, read-only, in the export layout
// (GET /manifest/<root hex>, GET /chunk/<hex>, with Range requests), reading
// commit files directly (nothing is exported first).
class SyncServer {
 public:
  // Listens on `bind`:`port` (port 0: any free port; see port()).
  // Errors: IOError when the address cannot be bound.
  static Result<std::unique_ptr<SyncServer>> Start(Store* store, const std::string& bind, int port);
  virtual ~SyncServer() = default;
  virtual int port() const = 0;
  // Serves until Stop() is called (from another thread or a signal handler's
  // helper thread).
  virtual void Wait() = 0;
  virtual void Stop() = 0;

 protected:
  SyncServer() = default;
};

}  // namespace crust
