// Copyright (c) crust authors. Licensed under the MIT license.
//
// Small helpers shared by the store robustness tests (concurrency, crash,
// corruption, fault): module ids, deterministic byte patterns, and raw file
// manipulation of a store directory. Header-only.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crust/types.h"

namespace crust::testing {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * 1024;
inline constexpr uint64_t kWasmPage = 65536;
inline constexpr uint64_t kPage4K = 4096;

// Module id n: 31 zero bytes then n (ids sort by n).
inline ModuleId TestModuleId(uint32_t n) {
  ModuleId id;
  id.bytes[28] = static_cast<uint8_t>(n >> 24);
  id.bytes[29] = static_cast<uint8_t>(n >> 16);
  id.bytes[30] = static_cast<uint8_t>(n >> 8);
  id.bytes[31] = static_cast<uint8_t>(n);
  return id;
}

inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Fills out[0, n) with bytes determined by seed (never all-zero in practice).
inline void FillPattern(uint64_t seed, uint8_t* out, size_t n) {
  uint64_t st = seed * 0x2545F4914F6CDD1Dull + 1;
  size_t i = 0;
  while (i < n) {
    uint64_t v = SplitMix64(&st);
    for (int b = 0; b < 8 && i < n; b++, i++) out[i] = static_cast<uint8_t>(v >> (8 * b));
  }
}

inline Bytes Pattern(uint64_t seed, size_t n) {
  Bytes b(n);
  FillPattern(seed, b.data(), n);
  return b;
}

// Names in a directory, sorted; empty when it cannot be listed.
inline std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline bool IsRootName(const std::string& name) {
  if (name.size() != 64) return false;
  for (char c : name)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Makes a (read-only, committed) file writable by its owner.
inline bool MakeWritable(const std::string& path) { return ::chmod(path.c_str(), 0644) == 0; }

inline uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// XORs the byte at `offset` with `mask` in place (chmods the file first).
inline bool FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0xFF) {
  if (!MakeWritable(path)) return false;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  uint8_t b = 0;
  bool ok = ::pread(fd, &b, 1, static_cast<off_t>(offset)) == 1;
  b ^= mask;
  ok = ok && ::pwrite(fd, &b, 1, static_cast<off_t>(offset)) == 1;
  ::close(fd);
  return ok;
}

inline bool TruncateFile(const std::string& path, uint64_t length) {
  if (!MakeWritable(path)) return false;
  return ::truncate(path.c_str(), static_cast<off_t>(length)) == 0;
}

inline bool WriteWholeFile(const std::string& path, const Bytes& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

}  // namespace crust::testing
