// Copyright (c) crust authors. Licensed under the MIT license.
#include "crust/inspect.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <unordered_map>
#include <cerrno>

#include "crust/session.h"

namespace crust {
namespace {

std::map<ModuleId, const ModuleInfo*> ById(const CommitInfo& c) {
  std::map<ModuleId, const ModuleInfo*> m;
  for (const ModuleInfo& info : c.modules) m[info.id] = &info;
  return m;
}

// Pages of `id` that differ between the two sessions, compared in chunks.
Status DiffPages(Session* a, Session* b, const ModuleId& id, uint64_t len_a, uint64_t len_b,
                 std::vector<uint32_t>* pages) {
  constexpr uint64_t kChunk = 1 << 20;
  const uint64_t len = std::max(len_a, len_b);
  Bytes buf_a(kChunk), buf_b(kChunk);
  for (uint64_t off = 0; off < len; off += kChunk) {
    const uint64_t n = std::min(kChunk, len - off);
    auto read = [&](Session* s, uint64_t have, Bytes* buf) -> Status {
      std::fill(buf->begin(), buf->begin() + n, 0);
      if (off >= have) return Status::OK();
      return s->ReadMemory(id, off, std::span<uint8_t>(buf->data(), std::min(n, have - off)));
    };
    RETURN_IF_ERROR(read(a, len_a, &buf_a));
    RETURN_IF_ERROR(read(b, len_b, &buf_b));
    for (uint64_t p = 0; p < n; p += kInspectPageSize) {
      const uint64_t m = std::min(kInspectPageSize, n - p);
      if (std::memcmp(buf_a.data() + p, buf_b.data() + p, m) != 0) {
        pages->push_back(static_cast<uint32_t>((off + p) / kInspectPageSize));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<CommitDiff> DiffCommits(Store* store, const Root& from, const Root& to) {
  ASSIGN_OR_RETURN(CommitInfo a, store->ShowCommit(from));
  ASSIGN_OR_RETURN(CommitInfo b, store->ShowCommit(to));
  CommitDiff diff;
  diff.from = from;
  diff.to = to;
  const auto old_modules = ById(a), new_modules = ById(b);
  std::unique_ptr<Session> sa, sb;  // opened when a memory must be compared
  std::map<ModuleId, bool> ids;
  for (const auto& [id, _] : old_modules) ids[id] = true;
  for (const auto& [id, _] : new_modules) ids[id] = true;
  for (const auto& [id, _] : ids) {
    auto o = old_modules.find(id);
    auto n = new_modules.find(id);
    ModuleChange c;
    c.id = id;
    if (o != old_modules.end()) {
      c.old_memory_length = o->second->memory_length;
      c.old_bytecode_size = o->second->bytecode_size;
    }
    if (n != new_modules.end()) {
      c.new_memory_length = n->second->memory_length;
      c.new_bytecode_size = n->second->bytecode_size;
    }
    if (o == old_modules.end()) {
      c.kind = ModuleChange::Kind::kAdded;
    } else if (n == new_modules.end()) {
      c.kind = ModuleChange::Kind::kRemoved;
    } else {
      c.kind = ModuleChange::Kind::kChanged;
      c.bytecode_changed = o->second->bytecode_hash != n->second->bytecode_hash;
      c.memory_changed = o->second->memory_hash != n->second->memory_hash;
      c.metadata_changed = o->second->metadata != n->second->metadata;
      if (!c.bytecode_changed && !c.memory_changed && !c.metadata_changed) continue;
      if (c.memory_changed) {
        if (!sa) {
          ASSIGN_OR_RETURN(sa, store->StartSession(from));
        }
        if (!sb) {
          ASSIGN_OR_RETURN(sb, store->StartSession(to));
        }
        RETURN_IF_ERROR(DiffPages(sa.get(), sb.get(), id, c.old_memory_length, c.new_memory_length,
                                  &c.changed_pages));
        diff.changed_page_bytes += c.changed_pages.size() * kInspectPageSize;
      }
    }
    diff.modules.push_back(std::move(c));
  }
  return diff;
}

Result<StoreUsage> MeasureDiskUsage(Store* store) {
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store->ListCommits());
  StoreUsage usage;
  // inode -> indices (in usage.commits) of the commits holding it, oldest first.
  std::unordered_map<ino_t, std::vector<size_t>> holders;
  for (const CommitInfo& listed : commits) {
    auto info = store->ShowCommit(listed.root);
    if (!info.ok()) {
      if (info.status().IsNotFound()) continue;  // deleted meanwhile
      return info.status();
    }
    CommitUsage u;
    u.root = listed.root;
    u.created_unix_ns = listed.created_unix_ns;
    for (const ModuleInfo& m : info->modules) u.memories.push_back({m.id, m.delta_layers});
    const std::string dir = store->dir() + "/" + listed.root.ToHex();
    struct File {
      ino_t ino;
      uint64_t bytes;
      bool linked;
    };
    std::vector<File> files;
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(dir, ec), end;
    bool gone = ec == std::errc::no_such_file_or_directory;
    if (ec && !gone) return Status::IOError("cannot list " + dir + ": " + ec.message());
    for (; !gone && it != end; it.increment(ec)) {
      if (ec) break;
      struct stat st;
      if (::lstat(it->path().c_str(), &st) != 0) {
        if (errno == ENOENT) {
          gone = true;
          break;
        }
        return Status::IOError("cannot stat " + it->path().string() + ": " + std::strerror(errno));
      }
      if (S_ISREG(st.st_mode)) files.push_back({st.st_ino, static_cast<uint64_t>(st.st_blocks) * 512, st.st_nlink > 1});
    }
    if (ec) {
      if (ec != std::errc::no_such_file_or_directory) return Status::IOError("cannot list " + dir + ": " + ec.message());
      gone = true;
    }
    if (gone) continue;  // deleted while measured
    std::map<size_t, uint64_t> shared_with;  // older commit index -> files shared with it
    const size_t self = usage.commits.size();
    for (const File& f : files) {
      u.files++;
      u.bytes += f.bytes;
      if (f.linked) u.shared_bytes += f.bytes;
      std::vector<size_t>& held = holders[f.ino];
      if (held.empty()) {
        u.new_bytes += f.bytes;
        usage.unique_bytes += f.bytes;
      }
      for (size_t older : held) {
        if (older != self) shared_with[older]++;
      }
      if (held.empty() || held.back() != self) held.push_back(self);
    }
    size_t best = 0;
    uint64_t most = 0;
    for (const auto& [index, n] : shared_with) {
      if (n >= most) {  // ties: the newest
        most = n;
        best = index;
      }
    }
    if (most > 0) u.parent = usage.commits[best].root;
    usage.apparent_bytes += u.bytes;
    usage.commits.push_back(std::move(u));
  }
  return usage;
}

}  // namespace crust
