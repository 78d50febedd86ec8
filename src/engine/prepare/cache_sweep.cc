// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/cache_sweep.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <utility>
#include <vector>

#include "src/os/env.h"

namespace crust::engine {
namespace {

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The pid of a temporary named <16 hex>.<pid>.<counter>...; 0 for any other name.
pid_t PidOfLeftover(std::string_view name) {
  if (name.size() < 20 || name[16] != '.' || !IsHex(name.substr(0, 16))) return 0;
  const std::string_view rest = name.substr(17);
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) return 0;
  long pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + dot, pid);
  if (ec != std::errc() || end != rest.data() + dot || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool ProcessRuns(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

std::optional<Hash32> CacheEntryKey(std::string_view name, std::string_view suffix) {
  if (name.size() != 64 + suffix.size() || name.substr(64) != suffix) return std::nullopt;
  if (!IsHex(name.substr(0, 64))) return std::nullopt;
  auto key = Hash32::FromHex(name.substr(0, 64));
  if (!key.ok()) return std::nullopt;
  return *key;
}

Status SweepCacheEntries(os::Env* env, const std::string& dir, std::string_view suffix, bool dry_run,
                         const std::function<bool(const Hash32& key, const std::string& path)>& keep,
                         SweepCounts* counts) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(dir));
  for (const std::string& name : names) {
    const std::optional<Hash32> key = CacheEntryKey(name, suffix);
    if (!key) continue;
    const std::string path = dir + "/" + name;
    auto info = env->Stat(path);
    if (!info.ok() || info->is_dir) continue;
    if (keep(*key, path)) {
      counts->kept++;
      counts->kept_bytes += info->size;
      continue;
    }
    if (!dry_run) {
      const Status s = env->RemoveFile(path);
      if (!s.ok() && !s.IsNotFound()) return s;
    }
    counts->removed++;
    counts->removed_bytes += info->size;
  }
  return Status::OK();
}

Status RemoveCacheLeftovers(os::Env* env, const std::string& tmp_dir, bool dry_run, uint64_t* removed) {
  auto listed = env->ListDir(tmp_dir);
  if (!listed.ok() && listed.status().IsNotFound()) return Status::OK();
  ASSIGN_OR_RETURN(std::vector<std::string> names, std::move(listed));
  const pid_t self = ::getpid();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const std::string& name : names) {
    const pid_t pid = PidOfLeftover(name);
    if (pid == 0 || pid == self || ProcessRuns(pid)) continue;
    const std::string path = tmp_dir + "/" + name;
    auto info = env->Stat(path);
    if (!info.ok()) continue;  // gone meanwhile
    if (now_ns - info->mtime_unix_ns < kLeftoverMinAgeSeconds * 1'000'000'000) continue;
    if (!dry_run) RETURN_IF_ERROR(info->is_dir ? env->RemoveDirRecursive(path) : env->RemoveFile(path));
    ++*removed;
  }
  return Status::OK();
}

}  // namespace crust::engine
