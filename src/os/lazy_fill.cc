// Copyright (c) crust authors. Licensed under the MIT license.
//
// The handler thread behind lazy regions (lazy_fill.h).
//
// A fault message names an address; the handler finds the region holding it
// (a map from base address, under a mutex the faulting threads never hold),
// fills the page (and, for sequential faults, the next few) from the region's
// PageSource into a private buffer and installs it with UFFDIO_COPY, which
// also wakes the faulting thread. If the page was installed meanwhile
// (EEXIST) or the region is gone, the handler only wakes the waiters.
// LazyFillNow does the same work on the region user's own thread, for the
// pages host code is about to touch; both install with the same Install
// step (pages already there are skipped) and mark the bit map.
#include "src/os/lazy_fill.h"

#include "src/os/fault_guard.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "src/os/linux_uapi.h"
#include "src/os/per_process.h"
#include "src/os/posix_error.h"
#include "src/os/write_tracker.h"

namespace crust::os {
namespace {

constexpr uint64_t kMaxWindow = 64;  // pages filled by one sequential fault, at most
constexpr uint64_t kCallerBatch = 16;  // pages one LazyFillNow copy installs, at most

}  // namespace

struct LazyEntry {
  uint64_t base = 0;
  uint64_t fill_pages = 0;
  int uffd = -1;
  bool track_writes = false;
  std::shared_ptr<const PageSource> source;
  std::shared_ptr<LazyFillError> error;
  // Bit p set: page p was installed (by either thread) and not forgotten
  // since. A hint only (lazy_fill.h); fill_pages bits.
  std::unique_ptr<std::atomic<uint64_t>[]> filled;
  // Held by the handler while it fills and installs pages for this entry;
  // LazyUnregister takes it after removing the entry, so that no copy meant
  // for a region lands in whatever is mapped at its address next (a fault
  // message can be delivered twice, e.g. when a fault is retried).
  std::mutex busy;
  bool gone = false;  // guarded by busy
  // Handler thread only.
  uint64_t next_page = ~uint64_t{0};
  uint64_t window = 1;

  bool IsFilled(uint64_t p) const {
    return (filled[p / 64].load(std::memory_order_relaxed) >> (p % 64)) & 1;
  }
  void SetFilled(uint64_t first, uint64_t end, bool on) {
    for (uint64_t p = first; p < end; p++) {
      const uint64_t bit = uint64_t{1} << (p % 64);
      if (on) {
        filled[p / 64].fetch_or(bit, std::memory_order_relaxed);
      } else {
        filled[p / 64].fetch_and(~bit, std::memory_order_relaxed);
      }
    }
  }
};

namespace {

struct Handler {
  int uffd = -1;
  bool wp_async = false;
  bool user_mode_only = false;  // faults taken in the kernel are not delivered
  Status status;
  std::mutex mu;
  std::map<uint64_t, std::shared_ptr<LazyEntry>> regions;  // by base address; guarded by mu
};

std::atomic<uint64_t> fault_epoch{0};  // RegionFaultEpoch

void Fail(LazyEntry* e, const Status& s) {
  std::lock_guard<std::mutex> l(e->error->mu);
  if (e->error->failed.load(std::memory_order_relaxed)) return;
  e->error->status = s;  // the source names the page in its message
  e->error->failed.store(true, std::memory_order_release);
  fault_epoch.fetch_add(1, std::memory_order_acq_rel);  // after: a reader seeing it sees the failure
}

void Wake(int uffd, uint64_t addr) {
  uffdio_range r = {addr & ~(kPageSize - 1), kPageSize};
  ::ioctl(uffd, UFFDIO_WAKE, &r);
}

// Pages [page, page + count) of the entry's source into buf; a page the
// source fails is zero and fails the region.
void FillFromSource(LazyEntry* e, uint64_t page, uint64_t count, uint8_t* buf) {
  for (uint64_t i = 0; i < count; i++) {
    uint8_t* out = buf + i * kPageSize;
    // The source reads mapped files (the base image): a SIGBUS there (a
    // hole on a full file system, a truncated file, an I/O error) must fail
    // the page, not kill the process (on the handler thread) or longjmp
    // through the caller's frames.
    Status s;
    const Status guard = GuardMappedReads("fill page " + std::to_string(page + i), [&] {
      s = e->source->FillPage(static_cast<uint32_t>(page + i), out);
    });
    if (!guard.ok()) s = guard;
    if (!s.ok()) {
      std::memset(out, 0, kPageSize);
      Fail(e, s);
    }
  }
}

// Installs buf as pages [page, page + count) of the entry's region, skipping
// pages already there (EEXIST). True when the first page was installed by
// this copy (which then woke its waiters).
bool Install(LazyEntry* e, uint64_t page, uint64_t count, const uint8_t* buf) {
  uffdio_copy c = {};
  c.dst = e->base + page * kPageSize;
  c.src = reinterpret_cast<uint64_t>(buf);
  c.len = count * kPageSize;
  c.mode = e->track_writes ? UFFDIO_COPY_MODE_WP : 0;
  bool first = false;
  for (int attempt = 0; attempt < 100 && c.len > 0; attempt++) {
    c.copy = 0;
    const bool at_first = c.dst == e->base + page * kPageSize;
    if (::ioctl(e->uffd, UFFDIO_COPY, &c) == 0) return first || at_first;
    uint64_t skip = 0;
    if (c.copy > 0) {
      // EAGAIN after a partial copy (the address space changed, or the next
      // page exists): go on after what was copied.
      first = first || at_first;
      skip = static_cast<uint64_t>(c.copy);
    } else if (errno == EEXIST) {
      skip = kPageSize;  // this page is there already
    } else if (errno != EAGAIN) {
      break;  // the region went away
    }
    skip = std::min<uint64_t>(skip, c.len);
    c.dst += skip;
    c.src += skip;
    c.len -= skip;
  }
  return first;
}

void Resolve(Handler* h, uint64_t addr, uint8_t* buf) {
  std::shared_ptr<LazyEntry> e;
  {
    std::lock_guard<std::mutex> l(h->mu);
    auto it = h->regions.upper_bound(addr);
    if (it != h->regions.begin()) {
      --it;
      if (addr < it->first + it->second->fill_pages * kPageSize) e = it->second;
    }
  }
  if (!e) return Wake(h->uffd, addr);
  std::lock_guard<std::mutex> busy(e->busy);
  if (e->gone) return Wake(h->uffd, addr);
  const uint64_t page = (addr - e->base) / kPageSize;
  e->window = page == e->next_page ? std::min(kMaxWindow, e->window * 2) : 1;
  uint64_t count = std::min(e->window, e->fill_pages - page);
  // Stop the window at the first page the region's user filled itself.
  for (uint64_t i = 1; i < count; i++) {
    if (e->IsFilled(page + i)) {
      count = i;
      break;
    }
  }
  e->next_page = page + count;
  FillFromSource(e.get(), page, count, buf);
  // Marked before installing: the faulting thread waits until the copy, so
  // it cannot forget these pages (LazyForget) before they are marked.
  e->SetFilled(page, page + count, true);
  // If the page was installed meanwhile (a racing fill, a message delivered
  // twice), make sure nobody keeps waiting.
  if (!Install(e.get(), page, count, buf)) Wake(h->uffd, addr);
}

// The thread a faulting thread waits for: on a busy machine, a handler
// that must queue for a CPU behind other work turns each fault into a
// scheduler slice (milliseconds). A lower nice value makes the scheduler
// run it as soon as a fault wakes it; it only ever runs for a fault. Where
// that is not allowed (no CAP_SYS_NICE) it keeps the default priority.
constexpr int kHandlerNice = -10;

void Loop(Handler* h) {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kHandlerNice);
  std::unique_ptr<uint8_t[]> raw(new uint8_t[(kMaxWindow + 1) * kPageSize]);
  uint8_t* buf = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw.get()) + kPageSize - 1) &
                                            ~uintptr_t{kPageSize - 1});
  uffd_msg msgs[16];
  for (;;) {
    const ssize_t n = ::read(h->uffd, msgs, sizeof(msgs));
    if (n <= 0) continue;  // EINTR/EAGAIN; the descriptor is never closed
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); i++) {
      if (msgs[i].event == UFFD_EVENT_PAGEFAULT) Resolve(h, msgs[i].arg.pagefault.address, buf);
    }
  }
}

// Opens a userfaultfd with `features` that also handles kernel-mode faults,
// or, with user_mode_only, only faults taken in user mode.
int Open(uint64_t features, bool user_mode_only, int* err) {
  const int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | (user_mode_only ? UFFD_USER_MODE_ONLY : 0)));
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  uffdio_api api = {};
  api.api = UFFD_API;
  api.features = features;
  if (::ioctl(fd, UFFDIO_API, &api) != 0) {
    *err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

Handler* Init() {
  auto* h = new Handler;
  int err = 0;
  // Kernel-mode faults first (a system call touching a page not filled yet
  // waits for it); where the policy refuses that to this process (an
  // unprivileged one while vm.unprivileged_userfaultfd = 0, Debian's
  // default), user-mode faults only, which any process may ask for: host
  // code never hands unfilled pages to the kernel (lazy_fill.h).
  for (const bool user_mode_only : {false, true}) {
    if (ExactTrackingStatus().ok()) {
      h->uffd = Open(UFFD_FEATURE_WP_ASYNC, user_mode_only, &err);
      h->wp_async = h->uffd >= 0;
    }
    if (h->uffd < 0) h->uffd = Open(0, user_mode_only, &err);
    if (h->uffd >= 0) {
      h->user_mode_only = user_mode_only;
      break;
    }
  }
  if (h->uffd < 0) {
    // Not an error of the caller's: the kernel or its policy does not allow
    // it (e.g. a container whose seccomp profile blocks the call). Memories
    // are then mapped eagerly (NotSupported: callers fall back), which
    // changes speed and checks, never contents or roots.
    h->status = Status::NotSupported(
        "lazy filling unavailable: " +
        std::string(PosixError("userfaultfd", "(syscall)", err).message()) +
        " (blocked for this process, e.g. by a seccomp filter); memories are mapped eagerly");
    return h;
  }
  std::thread(Loop, h).detach();
  return h;
}

// One per process (PerProcess): never destroyed, as regions and the thread
// may outlive static destructors. A child made by fork() has neither the
// thread nor the registrations (the descriptor it inherits belongs to the
// parent's address space): it gets a handler of its own on first use.
// (Regions inherited from the parent are not filled in the child; see
// lazy_fill.h.)
PerProcess<Handler> handler(Init);
Handler* Get() { return &handler.Get(); }

Status Register(int uffd, uint8_t* addr, uint64_t len, uint64_t mode) {
  if (len == 0) return Status::OK();
  uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uint64_t>(addr);
  reg.range.len = len;
  reg.mode = mode;
  if (::ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    return PosixError("UFFDIO_REGISTER (lazy fill)", std::to_string(len) + " bytes", errno);
  }
  return Status::OK();
}

}  // namespace

Status LazyFillStatus() { return Get()->status; }

// Only lazy regions fail (FaultStatus), all through Fail.
uint64_t RegionFaultEpoch() { return fault_epoch.load(std::memory_order_acquire); }
bool LazyFillTracksWrites() { return Get()->wp_async; }
bool LazyFillUserModeOnly() { return Get()->user_mode_only; }

Result<std::shared_ptr<LazyEntry>> LazyRegister(uint8_t* base, uint64_t fill_length, uint64_t max_length,
                                                bool track_writes, std::shared_ptr<const PageSource> source,
                                                std::shared_ptr<LazyFillError> error) {
  Handler* h = Get();
  auto e = std::make_shared<LazyEntry>();
  e->base = reinterpret_cast<uint64_t>(base);
  e->fill_pages = fill_length / kPageSize;
  e->uffd = h->uffd;
  e->track_writes = track_writes;
  e->source = std::move(source);
  e->error = std::move(error);
  e->filled = std::make_unique<std::atomic<uint64_t>[]>((e->fill_pages + 63) / 64);  // zero
  {
    std::lock_guard<std::mutex> l(h->mu);
    h->regions[e->base] = e;
  }
  const uint64_t wp = track_writes ? UFFDIO_REGISTER_MODE_WP : 0;
  Status s = Register(h->uffd, base, fill_length, UFFDIO_REGISTER_MODE_MISSING | wp);
  if (s.ok() && track_writes) s = Register(h->uffd, base + fill_length, max_length - fill_length, wp);
  if (!s.ok()) {
    LazyUnregister(base, max_length);
    return s;
  }
  return e;
}

void LazyFillNow(LazyEntry& e, uint64_t first_page, uint64_t end_page) {
  end_page = std::min(end_page, e.fill_pages);
  // One buffer per thread, made on first use (page aligned for the copy).
  thread_local std::unique_ptr<uint8_t[]> raw;
  if (!raw) raw.reset(new uint8_t[(kCallerBatch + 1) * kPageSize]);
  uint8_t* buf = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw.get()) + kPageSize - 1) &
                                            ~uintptr_t{kPageSize - 1});
  for (uint64_t p = first_page; p < end_page;) {
    if (e.IsFilled(p)) {
      p++;
      continue;
    }
    uint64_t q = p + 1;
    while (q < end_page && q - p < kCallerBatch && !e.IsFilled(q)) q++;
    FillFromSource(&e, p, q - p, buf);
    e.SetFilled(p, q, true);
    Install(&e, p, q - p, buf);
    p = q;
  }
}

void LazyForget(LazyEntry& e, uint64_t first_page, uint64_t end_page) {
  e.SetFilled(first_page, std::min(end_page, e.fill_pages), false);
}

void LazyUnregister(uint8_t* base, uint64_t max_length) {
  Handler* h = Get();
  std::shared_ptr<LazyEntry> e;
  {
    std::lock_guard<std::mutex> l(h->mu);
    auto it = h->regions.find(reinterpret_cast<uint64_t>(base));
    if (it != h->regions.end()) {
      e = std::move(it->second);
      h->regions.erase(it);
    }
  }
  if (e) {
    std::lock_guard<std::mutex> busy(e->busy);  // waits for a fill in progress
    e->gone = true;
  }
  uffdio_range range = {reinterpret_cast<uint64_t>(base), max_length};
  ::ioctl(h->uffd, UFFDIO_UNREGISTER, &range);
}

}  // namespace crust::os
