// Copyright (c) crust authors. Licensed under the MIT license.
//
// ImportCommit (crust/sync.h). Three passes over the manifest, each holding
// one module at a time: (1) recompute the root, before any chunk is fetched;
// (2) gather each module's bytes into the staging area — bytecode chunks,
// and for each memory no local commit holds whole, a memory image built in
// place (local pages copied, missing pages fetched and checked); (3) publish:
// a store staging directory of hard links and an index, renamed into place.
//
// Staging area (ImportOptions::staging_dir):
//   manifest             the manifest, once it yielded the root
//   chunk/<hex>          verified bytecode chunks
//   memory/<id hex>      a memory image being built: verified pages at their
//                        offsets (holes elsewhere), then the tree and footer
// A retry finds the pages already there by checking them against their
// leaves again, so nothing unverified is ever trusted from the staging area.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "crust/sync.h"
#include "src/store/committed_memory.h"
#include "src/store/delta.h"
#include "src/store/format.h"
#include "src/store/memory_image.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/sync/commit_reader.h"
#include "src/sync/manifest.h"
#include "src/sync/source.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"
#include "src/util/sha256.h"
#include "src/util/task_pool.h"

namespace crust {
namespace {

using store::kPageSize;

Status EnsureDir(os::Env* env, const std::string& path) {
  Status s = env->CreateDir(path);
  return (s.code() == Status::Code::kAlreadyExists) ? Status::OK() : s;
}

// Closes a file descriptor at the end of its scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

// What the local store holds, from every commit's index.
struct LocalHoldings {
  struct Memory {
    Root commit;
    store::IndexEntry entry;
  };
  std::map<Hash32, std::string> bytecode;                          // hash -> file
  std::map<std::pair<Hash32, uint64_t>, Memory> memory;            // (memory hash, length)
  std::map<ModuleId, std::vector<Memory>> by_id;                   // newest commit first
  std::vector<Root> pinned;
  store::StoreImpl* store = nullptr;

  ~LocalHoldings() {
    for (const Root& r : pinned) store->Unpin(r);
  }
};

Status GatherLocal(store::StoreImpl* impl, LocalHoldings* local) {
  local->store = impl;
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, impl->ListCommits());
  for (auto it = commits.rbegin(); it != commits.rend(); ++it) {
    if (!impl->Pin(it->root).ok()) continue;  // being deleted
    local->pinned.push_back(it->root);
    auto index = impl->ReadIndex(it->root);
    if (!index.ok()) continue;  // a damaged commit is no source
    const std::string dir = impl->CommitDir(it->root);
    for (const store::IndexEntry& e : index->entries) {
      local->bytecode.emplace(e.bytecode_hash, dir + "/" + store::BytecodeName(e.id));
      local->memory.emplace(std::make_pair(e.memory_hash, e.memory_length), LocalHoldings::Memory{it->root, e});
      local->by_id[e.id].push_back(LocalHoldings::Memory{it->root, e});
    }
  }
  return Status::OK();
}

// One fetching thread's connection (or directory) and run buffer.
struct Slot {
  std::unique_ptr<sync::Source> source;
  std::unique_ptr<uint8_t[]> buf{new uint8_t[sync::kRunMaxPages * kPageSize]};
};

// Pages [from, from + n) of run r of module m (relative to the run's first
// page), to be fetched and written, checked, into fd at their offsets.
struct FetchJob {
  const sync::ManifestModule* m;
  const sync::Run* r;
  uint32_t from;
  uint32_t n;
  int fd;
  std::string chunk;
  std::string file;  // fd's path, for messages
};

// Fetch jobs queued before they run, in batches, on the pool.
constexpr size_t kJobBatch = 64;
// A fresh image's batches whose writeback may still be under way (their
// pages in the page cache) while the next batch is fetched.
constexpr size_t kWritebackBatches = 2;
// Every this many batches written back, the image is fdatasync'ed on a
// helper thread while the fetching goes on (a device flush: in a VM, the
// host's own writeback of what reached its cache), so the final fdatasync
// finds little to flush.
constexpr size_t kFlushBatches = 8;

class Importer {
 public:
  Importer(store::StoreImpl* impl, const Root& root, std::string staging, const ImportOptions& options,
           ImportStats* stats)
      : impl_(impl),
        env_(impl->env()),
        root_(root),
        staging_(std::move(staging)),
        options_(options),
        stats_(stats),
        pool_(std::max(1, options.parallel_fetches) - 1) {}

  // Opens one source per fetching thread.
  Status OpenSources(const std::string& spec);
  Status Run();

 private:
  sync::Source* source() { return slots_[0].source.get(); }
  Status FetchManifest();
  Status FetchBytecode(const sync::ManifestModule& m, std::string* path);
  Status BuildImage(const sync::ManifestModule& m, const Hash32& memory_hash, std::string* path);
  // A delta layer on top of a local commit's files of the same module, when
  // one holds a memory of the same length differing in few pages. Sets
  // *done false (and writes nothing) when no such commit exists.
  Status BuildDelta(const sync::ManifestModule& m, const Hash32& memory_hash, store::IndexEntry* e,
                    std::vector<std::string>* files, bool* done);
  // Queues the fetch of the missing stretches of run r (needed[k]: page k
  // of the run is missing); runs the queue when it is full.
  Status QueueRun(const sync::ManifestModule& m, const sync::Run& r, const std::vector<bool>& needed, int fd,
                  const std::string& file);
  // Runs every queued job, at most parallel_fetches at once; the first
  // error in queue order.
  Status RunQueued();
  // After a batch: starts the writeback of the pages it wrote into the
  // fresh image (writeback_fd_), and waits for the batch kWritebackBatches
  // before it to be on disk and drops its pages from the page cache.
  Status WriteBack();
  Status FetchPages(const FetchJob& job, Slot* slot);
  // Counts `n` chunk bytes received (and reports progress).
  void Received(size_t n);
  Status Publish(const std::vector<store::IndexEntry>& entries, const std::vector<std::string>& bytecode_files,
                 const std::vector<std::vector<std::string>>& memory_files);

  store::StoreImpl* impl_;
  os::Env* env_;
  Root root_;
  std::string staging_;
  const ImportOptions& options_;
  ImportStats* stats_;
  LocalHoldings local_;
  TaskPool pool_;
  std::vector<Slot> slots_;
  std::vector<FetchJob> queue_;
  // The fresh image being written (-1: none): each batch's writeback is
  // started as it completes, and its pages dropped from the page cache once
  // on disk (WriteBack()).
  int writeback_fd_ = -1;
  std::string writeback_file_;
  std::deque<std::pair<uint64_t, uint64_t>> writeback_;  // byte ranges, oldest first
  size_t batches_since_flush_ = 0;
  std::thread flusher_;   // the running background fdatasync, if any
  Status flush_status_;   // its error; guarded by mu_
  // Waits for the background fdatasync; its error, if it failed.
  Status JoinFlusher() {
    if (flusher_.joinable()) flusher_.join();
    std::lock_guard<std::mutex> l(mu_);
    return flush_status_;
  }
  std::mutex mu_;                 // guards stats_, free_slots_ while jobs run
  std::vector<Slot*> free_slots_;  // guarded by mu_
};

Status Importer::OpenSources(const std::string& spec) {
  slots_.resize(static_cast<size_t>(std::max(1, options_.parallel_fetches)));
  for (Slot& slot : slots_) {
    ASSIGN_OR_RETURN(slot.source, sync::OpenSource(spec));
    free_slots_.push_back(&slot);
  }
  return Status::OK();
}

void Importer::Received(size_t n) {
  std::lock_guard<std::mutex> l(mu_);
  stats_->bytes_fetched += n;
  if (options_.progress) options_.progress(stats_->bytes_fetched);
}

Status Importer::QueueRun(const sync::ManifestModule& m, const sync::Run& r, const std::vector<bool>& needed, int fd,
                          const std::string& file) {
  std::string chunk;
  for (uint32_t k = 0; k < r.count;) {
    if (!needed[k]) {
      k++;
      continue;
    }
    uint32_t end = k;
    while (end < r.count && needed[end]) end++;
    if (chunk.empty()) chunk = sync::RunChunkName(m.run_leaves(r), r.count);
    queue_.push_back(FetchJob{&m, &r, k, end - k, fd, chunk, file});
    k = end;
  }
  return queue_.size() >= kJobBatch ? RunQueued() : Status::OK();
}

Status Importer::RunQueued() {
  if (queue_.empty()) return Status::OK();
  std::vector<Status> results(queue_.size());
  std::vector<std::function<void()>> tasks;
  tasks.reserve(queue_.size());
  for (size_t i = 0; i < queue_.size(); i++) {
    tasks.push_back([this, i, &results] {
      Slot* slot;
      {
        std::lock_guard<std::mutex> l(mu_);
        slot = free_slots_.back();
        free_slots_.pop_back();
      }
      results[i] = FetchPages(queue_[i], slot);
      std::lock_guard<std::mutex> l(mu_);
      free_slots_.push_back(slot);
    });
  }
  pool_.Run(tasks, static_cast<int>(slots_.size()));
  for (Status& s : results) {
    if (!s.ok()) {
      queue_.clear();
      return s;
    }
  }
  Status s = WriteBack();
  queue_.clear();
  return s;
}

// Why (docs/sync.md, "Writing the image"): written through the page cache
// and flushed by one fdatasync at the end, a 1 GiB image first takes 1 GiB
// of freshly allocated page cache (slow in a VM whose free memory went back
// to the host: about 1 s of kernel CPU per GiB measured), then waits for all
// of it to reach the disk after the last page was fetched. Started batch by
// batch, the writeback overlaps the fetching and hashing, the final
// fdatasync has little left, and the same few batches' worth of page cache
// is reused. The pages are on disk before they are dropped; durability is
// still the final fdatasync's (which also covers the metadata).
Status Importer::WriteBack() {
  if (writeback_fd_ < 0) return Status::OK();
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const FetchJob& job : queue_) {
    if (job.fd != writeback_fd_) continue;
    const uint64_t at = (uint64_t{job.r->first_page} + job.from) * kPageSize;
    lo = std::min(lo, at);
    hi = std::max(hi, at + uint64_t{job.n} * kPageSize);
  }
  if (hi <= lo) return Status::OK();
  // A file system without sync_file_range (EINVAL, ENOSYS, ESPIPE) just
  // leaves it all to the fdatasync; a write error is reported here (a wait
  // consumes it: the fdatasync would not see it again).
  auto unsupported = [] { return errno == EINVAL || errno == ENOSYS || errno == ESPIPE || errno == EOPNOTSUPP; };
  if (::sync_file_range(writeback_fd_, static_cast<off_t>(lo), static_cast<off_t>(hi - lo), SYNC_FILE_RANGE_WRITE) !=
      0) {
    if (unsupported()) {
      writeback_fd_ = -1;
      return Status::OK();
    }
    return Errno("sync_file_range", writeback_file_);
  }
  writeback_.emplace_back(lo, hi);
  while (writeback_.size() > kWritebackBatches) {
    const auto [a, b] = writeback_.front();
    writeback_.pop_front();
    if (::sync_file_range(writeback_fd_, static_cast<off_t>(a), static_cast<off_t>(b - a),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
      return Errno("sync_file_range", writeback_file_);
    }
    (void)::posix_fadvise(writeback_fd_, static_cast<off_t>(a), static_cast<off_t>(b - a), POSIX_FADV_DONTNEED);
  }
  if (++batches_since_flush_ >= kFlushBatches) {
    // One background fdatasync at a time; its error (which it consumes) is
    // the import's.
    RETURN_IF_ERROR(JoinFlusher());
    batches_since_flush_ = 0;
    flusher_ = std::thread([this, fd = writeback_fd_, file = writeback_file_] {
      if (::fdatasync(fd) != 0) {
        Status s = Errno("fdatasync", file);
        std::lock_guard<std::mutex> l(mu_);
        flush_status_ = s;
      }
    });
  }
  return Status::OK();
}

Status Importer::FetchManifest() {
  const std::string path = staging_ + "/manifest";
  const std::string what = source()->name() + "/" + sync::ManifestPath(root_);
  if (!env_->Exists(path)) {
    const std::string tmp = path + ".tmp";
    env_->RemoveFile(tmp).IgnoreError();
    ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env_->NewWritableFile(tmp));
    uint64_t size = 0;
    RETURN_IF_ERROR(source()->Fetch(sync::ManifestPath(root_), "", 0, sync::kToEnd, [&](ByteView piece) -> Status {
      size += piece.size();
      if (size > sync::kMaxManifestBytes) return Status::Corruption(what + ": manifest larger than 64 GiB");
      return f->Append(piece);
    }));
    RETURN_IF_ERROR(f->Close());
    // Checked before it is kept: a manifest that does not yield the root is
    // never staged, and no chunk is fetched for it.
    auto got = sync::ManifestRoot(env_, tmp, what);
    if (got.ok() && *got != root_) {
      got = Status::Corruption(what + " yields root " + got->ToHex() + ", not " + root_.ToHex() +
                               ": refused before fetching any chunk");
    }
    if (!got.ok()) {
      env_->RemoveFile(tmp).IgnoreError();
      return got.status();
    }
    RETURN_IF_ERROR(env_->Rename(tmp, path));
  } else {
    // A staged manifest is checked again (the staging area is not trusted).
    ASSIGN_OR_RETURN(Root got, sync::ManifestRoot(env_, path, path));
    if (got != root_) {
      env_->RemoveFile(path).IgnoreError();
      return Status::Corruption(path + " yields root " + got.ToHex() + ", not " + root_.ToHex() + " (removed; retry)");
    }
  }
  ASSIGN_OR_RETURN(os::FileInfo info, env_->Stat(path));
  stats_->manifest_bytes = info.size;
  return Status::OK();
}

Status Importer::FetchBytecode(const sync::ManifestModule& m, std::string* path) {
  if (auto it = local_.bytecode.find(m.bytecode_hash); it != local_.bytecode.end()) {
    *path = it->second;
    stats_->bytecodes_linked++;
    return Status::OK();
  }
  const std::string name = sync::BytecodeChunkName(m.bytecode_hash);
  *path = staging_ + "/chunk/" + name;
  if (env_->Exists(*path)) {
    ASSIGN_OR_RETURN(Bytes code, env_->ReadFile(*path, store::kMaxBytecode));
    if (code.size() == m.bytecode_size && Sha256Of(code) == m.bytecode_hash) return Status::OK();
    RETURN_IF_ERROR(env_->RemoveFile(*path));
  }
  const std::string what = "chunk " + name + " (bytecode of module " + m.id.ToHex() + ") from " + source()->name();
  // Bytes an earlier attempt received stay in `part`; this one continues
  // after them (hashing them first) and checks the whole at the end.
  const std::string part = *path + ".part";
  int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", part);
  FdCloser closer{fd};
  Sha256 hash;
  uint64_t got = 0;
  {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[256 << 10]);
    while (got < m.bytecode_size) {
      ssize_t n = ::pread(fd, buf.get(), static_cast<size_t>(std::min<uint64_t>(256 << 10, m.bytecode_size - got)),
                          static_cast<off_t>(got));
      if (n < 0) return Errno("read", part);
      if (n == 0) break;
      hash.Update(buf.get(), static_cast<size_t>(n));
      got += static_cast<uint64_t>(n);
    }
    if (::ftruncate(fd, static_cast<off_t>(got)) != 0) return Errno("truncate", part);
  }
  const uint64_t resumed = got;
  stats_->bytes_resumed += resumed;
  Status s;
  if (got < m.bytecode_size) {
    stats_->requests++;
    s = source()->Fetch(sync::ChunkPath(name), "root=" + root_.ToHex() + "&module=" + m.id.ToHex() + "&bytecode=1",
                        got, m.bytecode_size - got, [&](ByteView piece) -> Status {
                          if (piece.size() > m.bytecode_size - got) return Status::Corruption(what + ": too long");
                          if (::pwrite(fd, piece.data(), piece.size(), static_cast<off_t>(got)) !=
                              static_cast<ssize_t>(piece.size())) {
                            return Errno("write", part);
                          }
                          got += piece.size();
                          Received(piece.size());
                          hash.Update(piece.data(), piece.size());
                          return Status::OK();
                        });
  }
  if (s.ok() && got != m.bytecode_size) {
    s = Status::Corruption(what + ": truncated, " + std::to_string(got) + " of " + std::to_string(m.bytecode_size) +
                           " bytes");
  }
  if (s.ok() && hash.Finish() != m.bytecode_hash) {
    s = Status::Corruption(what + ": does not match its hash" +
                           (resumed > 0 ? " (its first " + std::to_string(resumed) +
                                              " bytes were staged by an earlier attempt; all dropped)"
                                        : ""));
    env_->RemoveFile(part).IgnoreError();  // refetched whole next time
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = Errno("fdatasync", part);
  if (s.ok()) s = env_->Rename(part, *path);
  return s;
}

// The staged prefix of page `page` (relative to its run) of `chunk`: the
// bytes an interrupted transfer received past the last whole page.
std::string PartialPath(const std::string& staging, const std::string& chunk, uint32_t page) {
  return staging + "/partial/" + chunk + "." + std::to_string(page);
}

// Fetches the job's pages and writes each, once checked against its leaf,
// into the file at its offset. A transfer that breaks off keeps every whole
// page that arrived and checked, and stages the bytes of the page it broke
// off in; the retry continues from the byte after them.
Status Importer::FetchPages(const FetchJob& job, Slot* slot) {
  const sync::ManifestModule& m = *job.m;
  const sync::Run& r = *job.r;
  uint8_t* buf = slot->buf.get();
  const std::string what = "chunk " + job.chunk + " (module " + m.id.ToHex() + ", pages " +
                           std::to_string(r.first_page) + ".." + std::to_string(r.first_page + r.count - 1) +
                           ") from " + slot->source->name();
  const uint64_t want = uint64_t{job.n} * kPageSize;
  uint64_t got = 0;
  // A partial page staged by an earlier attempt: its bytes come first.
  const std::string partial = PartialPath(staging_, job.chunk, job.from);
  uint64_t resumed = 0;
  if (env_->Exists(partial)) {
    auto staged = env_->ReadFile(partial, kPageSize);
    env_->RemoveFile(partial).IgnoreError();  // in the buffer now; staged again if this attempt breaks off too
    if (staged.ok() && staged->size() < kPageSize) {
      std::memcpy(buf, staged->data(), staged->size());
      got = resumed = staged->size();
      std::lock_guard<std::mutex> l(mu_);
      stats_->bytes_resumed += resumed;
    }
  }
  uint32_t written = 0;  // pages checked and written so far
  uint64_t pages_done = 0;
  // Checks and writes the complete pages received since the last call.
  auto flush = [&]() -> Status {
    const uint32_t complete = static_cast<uint32_t>(got / kPageSize);
    if (complete == written) return Status::OK();
    const uint8_t* ptrs[sync::kRunMaxPages];
    for (uint32_t i = written; i < complete; i++) ptrs[i - written] = buf + size_t{i} * kPageSize;
    Hash32 leaves[sync::kRunMaxPages];
    store::PageLeafHashes(ptrs, complete - written, leaves);
    for (uint32_t i = written; i < complete; i++) {
      if (leaves[i - written] != m.run_leaves(r)[job.from + i]) {
        return Status::Corruption(what + ": page " + std::to_string(r.first_page + job.from + i) +
                                  " does not match its leaf in the manifest (wrong or substituted chunk" +
                                  (i == 0 && resumed > 0 ? "; its first " + std::to_string(resumed) +
                                                               " bytes were staged by an earlier attempt, now dropped"
                                                         : "") +
                                  ")");
      }
    }
    const size_t bytes = size_t{complete - written} * kPageSize;
    const off_t at = static_cast<off_t>((uint64_t{r.first_page} + job.from + written) * kPageSize);
    if (::pwrite(job.fd, buf + size_t{written} * kPageSize, bytes, at) != static_cast<ssize_t>(bytes)) {
      return Errno("write", job.file);
    }
    pages_done += complete - written;
    written = complete;
    return Status::OK();
  };
  Status s;
  if (got < want) {
    {
      std::lock_guard<std::mutex> l(mu_);
      stats_->requests++;
    }
    s = slot->source->Fetch(
        sync::ChunkPath(job.chunk),
        "root=" + root_.ToHex() + "&module=" + m.id.ToHex() + "&page=" + std::to_string(r.first_page),
        uint64_t{job.from} * kPageSize + got, want - got, [&](ByteView piece) -> Status {
          if (piece.size() > want - got) return Status::Corruption(what + ": longer than requested");
          std::memcpy(buf + got, piece.data(), piece.size());
          got += piece.size();
          Received(piece.size());
          return got % (16 * kPageSize) == 0 || got == want ? flush() : Status::OK();
        });
  }
  // Keep what arrived whole and checked, even when the transfer broke off,
  // and the start of the page it broke off in.
  Status f = s.IsCorruption() ? s : flush();
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_->pages_fetched += pages_done;
  }
  if (!f.ok()) return f;
  if (got > uint64_t{written} * kPageSize) {
    const std::string tmp = partial + ".tmp";
    ByteView rest(buf + size_t{written} * kPageSize, static_cast<size_t>(got - uint64_t{written} * kPageSize));
    const std::string at = PartialPath(staging_, job.chunk, job.from + written);
    auto out = env_->NewWritableFile(tmp);
    Status w = out.status();
    if (w.ok()) w = (*out)->Append(rest);
    if (w.ok()) w = (*out)->Close();
    if (w.ok()) w = env_->Rename(tmp, at);
    if (!w.ok()) env_->RemoveFile(tmp).IgnoreError();  // only costs a re-fetch of these bytes
  }
  if (!s.ok()) return s;
  if (got != want) {
    return Status::Corruption(what + ": truncated, " + std::to_string(got) + " of " + std::to_string(want) +
                              " bytes from page " + std::to_string(r.first_page + job.from));
  }
  return Status::OK();
}

// The most pages an import writes as a delta layer (held in memory while
// the layer is built: 64 MiB), and the most layers a memory may then have.
constexpr size_t kMaxDeltaPages = 16384;
constexpr uint32_t kMaxImportLayers = 16;

Status Importer::BuildDelta(const sync::ManifestModule& m, const Hash32& memory_hash, store::IndexEntry* e,
                            std::vector<std::string>* files, bool* done) {
  *done = false;
  auto it = local_.by_id.find(m.id);
  if (it == local_.by_id.end()) return Status::OK();
  const uint64_t pages = m.memory_length / kPageSize;
  for (const auto& held : it->second) {
    if (held.entry.memory_length != m.memory_length || held.entry.layer_count >= kMaxImportLayers) continue;
    const std::string dir = impl_->CommitDir(held.commit);
    // Uncached (as CommitReader::LoadModule): its mapping goes with it.
    auto opened = store::CommittedMemory::Open(env_, dir, held.entry);
    if (!opened.ok()) continue;
    const store::CommittedMemory& cm = **opened;
    // The pages whose leaf differs, with their new leaf (zero pages included).
    store::LevelNodes changed;
    const Hash32& zero = store::ZeroHash(0);
    size_t next_run = 0;
    bool too_many = false;
    for (uint64_t p = 0; p < pages && !too_many; p++) {
      while (next_run < m.runs.size() && m.runs[next_run].first_page + m.runs[next_run].count <= p) next_run++;
      const sync::Run* r = next_run < m.runs.size() && m.runs[next_run].first_page <= p ? &m.runs[next_run] : nullptr;
      const Hash32& want = r ? m.run_leaves(*r)[p - r->first_page] : zero;
      if (cm.Node(store::MakeNodeKey(0, static_cast<uint32_t>(p))) == want) continue;
      changed.emplace_back(static_cast<uint32_t>(p), want);
      too_many = changed.size() > kMaxDeltaPages || changed.size() * 8 > pages;
    }
    if (too_many) continue;
    // Gather the changed pages' bytes in a sparse work file (resumable, as
    // for images): fetched and checked, or zero.
    const std::string work = staging_ + "/memory/" + m.id.ToHex() + ".pages";
    const bool resume = env_->Exists(work);
    int fd = ::open(work.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", work);
    FdCloser closer{fd};
    uint8_t page[kPageSize];
    size_t c = 0;
    for (size_t ri = 0; ri < m.runs.size() && c < changed.size(); ri++) {
      const sync::Run& r = m.runs[ri];
      std::vector<bool> needed(r.count, false);
      bool any = false;
      for (; c < changed.size() && changed[c].first < r.first_page + r.count; c++) {
        const uint32_t p = changed[c].first;
        if (p < r.first_page) continue;  // became zero
        if (resume && ::pread(fd, page, kPageSize, static_cast<off_t>(uint64_t{p} * kPageSize)) ==
                          static_cast<ssize_t>(kPageSize) &&
            store::PageLeafHash(page) == changed[c].second) {
          stats_->pages_resumed++;
          continue;
        }
        needed[p - r.first_page] = any = true;
      }
      if (any) RETURN_IF_ERROR(QueueRun(m, r, needed, fd, work));
    }
    RETURN_IF_ERROR(RunQueued());
    size_t fetched_or_zero = 0;
    for (const auto& [p, leaf] : changed) fetched_or_zero += leaf != zero;
    stats_->pages_local += m.leaves.size() - fetched_or_zero;
    // The layer: changed pages XOR the base image, and the nodes they change.
    std::vector<uint32_t> layer_pages;
    layer_pages.reserve(changed.size());
    std::unique_ptr<uint8_t[]> xor_pages = store::DeltaLayer::NewPageBuffer(changed.size());
    for (size_t i = 0; i < changed.size(); i++) {
      const uint32_t p = changed[i].first;
      uint8_t* out = xor_pages.get() + i * kPageSize;
      if (changed[i].second == zero) {
        std::memset(page, 0, kPageSize);
      } else if (::pread(fd, page, kPageSize, static_cast<off_t>(uint64_t{p} * kPageSize)) !=
                     static_cast<ssize_t>(kPageSize) ||
                 store::PageLeafHash(page) != changed[i].second) {
        return Status::Internal(work + ": page " + std::to_string(p) + " missing after its fetch");
      }
      RETURN_IF_ERROR(cm.XorWithBase(p, page, out));
      layer_pages.push_back(p);
    }
    std::vector<store::TreeNode> nodes =
        store::UpdatePaths(changed, [&cm](store::NodeKey k) { return cm.Node(k); });
    const Hash32 tree_root = nodes.empty() ? cm.TreeRoot() : nodes.back().hash;
    if (nodes.empty() || nodes.back().key != store::kRootKey ||
        store::MemoryHash(m.memory_length, tree_root) != memory_hash) {
      return Status::Internal("delta of module " + m.id.ToHex() + ": its nodes do not give the memory hash");
    }
    const uint32_t layer = held.entry.layer_count + 1;
    const std::string layer_path = staging_ + "/memory/" + m.id.ToHex() + ".diff." + std::to_string(layer);
    env_->RemoveFile(layer_path).IgnoreError();
    auto built = store::DeltaLayer::Build(std::move(layer_pages), std::move(xor_pages), std::move(nodes));
    RETURN_IF_ERROR(built->Write(env_, layer_path, impl_->options().compression_level, /*sync=*/true));
    files->push_back(dir + "/" + store::MemoryName(held.entry.id));
    for (uint32_t k = 1; k < layer; k++) files->push_back(dir + "/" + store::LayerName(held.entry.id, k));
    files->push_back(layer_path);
    e->layer_count = layer;
    stats_->deltas_written++;
    *done = true;
    return Status::OK();
  }
  return Status::OK();
}

Status Importer::BuildImage(const sync::ManifestModule& m, const Hash32& memory_hash, std::string* path) {
  *path = staging_ + "/memory/" + m.id.ToHex();
  const uint64_t pages = m.memory_length / kPageSize;
  const bool resume = env_->Exists(*path);
  if (resume) {
    // A finished image: check its tree against the memory hash. Its pages
    // were checked as they arrived; the commit's later verification (and
    // every lazy fill) checks them against this tree again.
    auto img = store::MemoryImage::Open(env_, *path);
    if (img.ok() && (*img)->length() == m.memory_length &&
        store::MemoryHash(m.memory_length, (*img)->Root()) == memory_hash && (*img)->VerifyChecksum().ok()) {
      stats_->pages_resumed += m.leaves.size();
      return Status::OK();
    }
    ::chmod(path->c_str(), 0644);
  }
  int fd = ::open(path->c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", *path);
  FdCloser closer{fd};
  // Each batch of fetched pages is written back as it completes (WriteBack()).
  struct WritebackScope {
    Importer* im;
    ~WritebackScope() {  // before fd is closed
      im->JoinFlusher().IgnoreError();
      im->writeback_fd_ = -1;
      im->writeback_.clear();
      im->batches_since_flush_ = 0;
    }
  } writeback_scope{this};
  writeback_fd_ = fd;
  writeback_file_ = *path;
  // Candidates for local pages: the same module in local commits.
  std::vector<std::shared_ptr<const store::CommittedMemory>> candidates;
  if (auto it = local_.by_id.find(m.id); it != local_.by_id.end()) {
    for (const auto& held : it->second) {
      auto cm = store::CommittedMemory::Open(env_, impl_->CommitDir(held.commit), held.entry);
      if (cm.ok()) candidates.push_back(*cm);
      if (candidates.size() == 4) break;
    }
  }
  uint8_t page[kPageSize];
  for (const sync::Run& r : m.runs) {
    const Hash32* leaves = m.run_leaves(r);
    std::vector<bool> needed(r.count, false);
    for (uint32_t k = 0; k < r.count; k++) {
      const uint32_t p = r.first_page + k;
      if (resume) {
        ssize_t n = ::pread(fd, page, kPageSize, static_cast<off_t>(uint64_t{p} * kPageSize));
        if (n == static_cast<ssize_t>(kPageSize) && store::PageLeafHash(page) == leaves[k]) {
          stats_->pages_resumed++;
          continue;
        }
      }
      bool found = false;
      for (const auto& cm : candidates) {
        if (cm->Node(store::MakeNodeKey(0, p)) != leaves[k]) continue;
        if (!sync::CommitReader::ReadPage(*cm, p, leaves[k], page)) continue;  // damaged locally: fetch it instead
        if (::pwrite(fd, page, kPageSize, static_cast<off_t>(uint64_t{p} * kPageSize)) != kPageSize) {
          return Errno("write", *path);
        }
        stats_->pages_local++;
        found = true;
        break;
      }
      needed[k] = !found;
    }
    RETURN_IF_ERROR(QueueRun(m, r, needed, fd, *path));
  }
  RETURN_IF_ERROR(RunQueued());
  RETURN_IF_ERROR(JoinFlusher());  // the rest (the last batches, the trailer) goes with the fdatasync below
  // The tree and footer (docs/format.md, "Memory image").
  std::vector<Hash32> all(pages, store::ZeroHash(0));
  for (const sync::Run& r : m.runs)
    for (uint32_t k = 0; k < r.count; k++) all[r.first_page + k] = m.run_leaves(r)[k];
  std::vector<std::vector<Hash32>> levels = store::BuildTree(std::move(all));
  const Hash32 tree_root = pages ? levels[store::kTreeDepth][0] : store::ZeroHash(store::kTreeDepth);
  if (store::MemoryHash(m.memory_length, tree_root) != memory_hash) {
    return Status::Internal("memory image of module " + m.id.ToHex() + ": tree does not give the memory hash");
  }
  Bytes trailer;
  for (const auto& level : levels)
    for (const Hash32& h : level) PutHash(&trailer, h);
  levels.clear();
  const uint64_t node_bytes = trailer.size();
  const uint32_t nodes_crc = Crc32c(trailer.data(), node_bytes);
  const size_t footer_at = trailer.size();
  trailer.insert(trailer.end(), store::kImageMagic, store::kImageMagic + 8);
  PutFixed32(&trailer, store::kImageVersion);
  PutFixed32(&trailer, nodes_crc);
  PutFixed64(&trailer, m.memory_length);
  PutFixed64(&trailer, node_bytes / 32);
  PutFixed32(&trailer, 0);
  PutFixed32(&trailer, Crc32c(trailer.data() + footer_at, 36));
  if (::ftruncate(fd, static_cast<off_t>(m.memory_length)) != 0) return Errno("truncate", *path);
  for (size_t done = 0; done < trailer.size();) {
    ssize_t n = ::pwrite(fd, trailer.data() + done, trailer.size() - done,
                         static_cast<off_t>(m.memory_length + done));
    if (n <= 0) return Errno("write", *path);
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) return Errno("fdatasync", *path);
  return env_->SetReadOnly(*path);
}

Status Importer::Publish(const std::vector<store::IndexEntry>& entries, const std::vector<std::string>& bytecode_files,
                         const std::vector<std::vector<std::string>>& memory_files) {
  if (store::ComputeRoot(entries) != root_) {
    return Status::Internal("import of " + root_.ToHex() + ": the entries built do not give the root");
  }
  const std::string dir = impl_->NewStagingPath();
  Status s = env_->CreateDir(dir);
  if (s.ok()) s = env_->CreateDir(dir + "/bytecode");
  if (s.ok()) s = env_->CreateDir(dir + "/memory");
  for (size_t i = 0; s.ok() && i < entries.size(); i++) {
    s = env_->LinkFile(bytecode_files[i], dir + "/" + store::BytecodeName(entries[i].id));
    for (uint32_t k = 0; s.ok() && k < memory_files[i].size(); k++) {
      const std::string name = k == 0 ? store::MemoryName(entries[i].id) : store::LayerName(entries[i].id, k);
      s = env_->LinkFile(memory_files[i][k], dir + "/" + name);
    }
  }
  store::Index index;
  index.created_unix_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  index.entries = entries;
  if (s.ok()) {
    auto f = env_->NewWritableFile(dir + "/index");
    s = f.status();
    if (s.ok()) s = (*f)->Append(store::EncodeIndex(index));
    if (s.ok()) s = (*f)->Sync();
    if (s.ok()) s = (*f)->Close();
    if (s.ok()) s = env_->SetReadOnly(dir + "/index");
  }
  if (s.ok()) s = env_->SyncDir(dir + "/bytecode");
  if (s.ok()) s = env_->SyncDir(dir + "/memory");
  if (s.ok()) s = env_->SyncDir(dir);
  if (s.ok()) {
    s = env_->RenameNoReplace(dir, impl_->CommitDir(root_));
    if ((s.code() == Status::Code::kAlreadyExists)) s = Status::OK();  // imported meanwhile by someone else: same content
    if (s.ok()) s = env_->SyncDir(impl_->dir());
  }
  env_->RemoveDirRecursive(dir).IgnoreError();  // nothing left after a rename
  return s;
}

Status Importer::Run() {
  RETURN_IF_ERROR(EnsureDir(env_, staging_));
  RETURN_IF_ERROR(EnsureDir(env_, staging_ + "/chunk"));
  RETURN_IF_ERROR(EnsureDir(env_, staging_ + "/memory"));
  RETURN_IF_ERROR(EnsureDir(env_, staging_ + "/partial"));
  RETURN_IF_ERROR(FetchManifest());
  RETURN_IF_ERROR(GatherLocal(impl_, &local_));
  ASSIGN_OR_RETURN(std::unique_ptr<sync::ManifestReader> reader,
                   sync::ManifestReader::Open(env_, staging_ + "/manifest", staging_ + "/manifest"));
  std::vector<store::IndexEntry> entries;
  std::vector<std::string> bytecode_files;
  std::vector<std::vector<std::string>> memory_files;
  sync::ManifestModule m;
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&m));
    if (!more) break;
    store::IndexEntry e;
    e.id = m.id;
    e.bytecode_hash = m.bytecode_hash;
    e.memory_hash = sync::ModuleMemoryHash(m);
    e.memory_length = m.memory_length;
    e.metadata = m.metadata;
    std::string code;
    RETURN_IF_ERROR(FetchBytecode(m, &code));
    bytecode_files.push_back(code);
    std::vector<std::string> files;
    if (auto it = local_.memory.find({e.memory_hash, e.memory_length}); it != local_.memory.end()) {
      const std::string dir = impl_->CommitDir(it->second.commit);
      const store::IndexEntry& held = it->second.entry;
      files.push_back(dir + "/" + store::MemoryName(held.id));
      for (uint32_t k = 1; k <= held.layer_count; k++) files.push_back(dir + "/" + store::LayerName(held.id, k));
      e.layer_count = held.layer_count;
      stats_->memories_linked++;
      stats_->pages_local += m.leaves.size();
    } else {
      bool delta = false;
      RETURN_IF_ERROR(BuildDelta(m, e.memory_hash, &e, &files, &delta));
      if (!delta) {
        std::string image;
        RETURN_IF_ERROR(BuildImage(m, e.memory_hash, &image));
        files.push_back(image);
      }
    }
    memory_files.push_back(std::move(files));
    entries.push_back(std::move(e));
  }
  RETURN_IF_ERROR(Publish(entries, bytecode_files, memory_files));
  return env_->RemoveDirRecursive(staging_);
}

}  // namespace

Result<ImportStats> ImportCommit(Store* store, const std::string& source_spec, const Root& root,
                                 const ImportOptions& options) {
  ASSIGN_OR_RETURN(store::StoreImpl * impl, sync::Impl(store));
  if (impl->options().read_only) {
    return Status::Aborted("store " + impl->dir() + " is open read-only; cannot import " + root.ToHex());
  }
  ImportStats stats;
  if (impl->env()->Exists(impl->CommitDir(root))) {
    stats.already_present = true;
    return stats;
  }
  std::string staging = options.staging_dir;
  if (staging.empty()) {
    RETURN_IF_ERROR(EnsureDir(impl->env(), impl->dir() + "/.sync-import"));
    staging = impl->dir() + "/.sync-import/" + root.ToHex();
  }
  Importer importer(impl, root, staging, options, &stats);
  RETURN_IF_ERROR(importer.OpenSources(source_spec));
  RETURN_IF_ERROR(importer.Run());
  return stats;
}

}  // namespace crust
