// Copyright (c) crust authors. Licensed under the MIT license.
//
// Fallback write tracking: /proc/self/pagemap holds one 64-bit entry per
// virtual page. In a MAP_PRIVATE file mapping, a page that was written holds
// a private anonymous copy: present (bit 63) and not file-backed (bit 61
// clear). Pages never touched are absent; pages only read map the page cache
// (file-backed). In anonymous memory a page only read maps the shared zero
// page, which is reported too (a harmless superset).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "src/os/memory_region.h"
#include "src/os/per_process.h"
#include "src/os/posix_error.h"
#include "src/os/write_tracker.h"

namespace crust::os {
namespace {

constexpr uint64_t kPresent = 1ull << 63;
constexpr uint64_t kFileOrShared = 1ull << 61;
constexpr size_t kBatch = 4096;  // entries per pread (32 KiB, 16 MiB of memory)

// The shared descriptor, opened on first use in each process (a child made
// by fork() would otherwise read its parent's page table) and never closed;
// -errno if the open failed.
int* OpenPagemap() {
  const int r = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  return new int(r >= 0 ? r : -errno);
}
PerProcess<int> pagemap_fd(OpenPagemap);
int PagemapFd() { return pagemap_fd.Get(); }

// Reads entries for `count` pages starting at virtual page `vpage`.
Status ReadEntries(int fd, uint64_t vpage, size_t count, uint64_t* out) {
  const size_t bytes = count * sizeof(uint64_t);
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::pread(fd, reinterpret_cast<char*>(out) + got, bytes - got,
                              static_cast<off_t>(vpage * sizeof(uint64_t) + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", "/proc/self/pagemap", errno);
    }
    if (n == 0) return Status::IOError("read /proc/self/pagemap: unexpected end");
    got += static_cast<size_t>(n);
  }
  return Status::OK();
}

}  // namespace

Status ScanPrivatePages(uint8_t* base, uint8_t* addr, uint64_t len, std::vector<uint32_t>* pages) {
  const int fd = PagemapFd();
  if (fd < 0) return PosixError("open", "/proc/self/pagemap", -fd);
  uint64_t entries[kBatch];
  const uint64_t first = reinterpret_cast<uint64_t>(addr) / kPageSize;
  const uint64_t base_page = reinterpret_cast<uint64_t>(base) / kPageSize;
  const uint64_t total = len / kPageSize;
  for (uint64_t done = 0; done < total;) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kBatch, total - done));
    RETURN_IF_ERROR(ReadEntries(fd, first + done, count, entries));
    for (size_t i = 0; i < count; ++i) {
      if ((entries[i] & kPresent) != 0 && (entries[i] & kFileOrShared) == 0) {
        pages->push_back(static_cast<uint32_t>(first + done + i - base_page));
      }
    }
    done += count;
  }
  return Status::OK();
}

}  // namespace crust::os
