// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/memory_region.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "src/os/dirty_tracking.h"
#include "src/os/env.h"
#include "src/os/lazy_fill.h"
#include "src/os/memory_region_posix.h"
#include "tests/test_util.h"

namespace crust::os {
namespace {

using ::crust::testing::TempDir;
using Pages = std::vector<uint32_t>;

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

uint8_t Pattern(uint64_t offset) { return static_cast<uint8_t>((offset / kPageSize) * 7 + 1); }

// Writes a file of `length` bytes whose page i is filled with Pattern.
Status MakeFile(Env* env, const std::string& path, uint64_t length) {
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(path));
  Bytes page(kPageSize);
  for (uint64_t off = 0; off < length; off += kPageSize) {
    std::fill(page.begin(), page.end(), Pattern(off));
    RETURN_IF_ERROR(f->Append(page));
  }
  return f->Close();
}

// Reads one byte of every page (faults pages in without writing them).
void ReadEveryPage(const uint8_t* m, uint64_t len) {
  const volatile uint8_t* p = m;
  for (uint64_t off = 0; off < len; off += kPageSize) (void)p[off];
}

// Forks a child that reads one byte at addr; returns the signal that killed
// it, or 0 if it exited normally.
int TouchInChild(const volatile uint8_t* addr, bool write) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    if (write) {
      *const_cast<volatile uint8_t*>(addr) = 1;
    } else {
      (void)*addr;
    }
    ::_exit(0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1;
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// A lazy region's source: page i holds Pattern(i * 4096) (as MakeFile's
// files), counting the pages filled.
class PatternSource : public PageSource {
 public:
  Status FillPage(uint32_t page, uint8_t* out) const override {
    filled_.fetch_add(1);
    if (std::this_thread::get_id() == caller_) on_caller_.fetch_add(1);
    if (page == fail_page_) return Status::Corruption("page " + std::to_string(page) + " is damaged");
    std::memset(out, Pattern(uint64_t{page} * kPageSize), kPageSize);
    return Status::OK();
  }
  mutable std::atomic<int> filled_{0};
  mutable std::atomic<int> on_caller_{0};  // of filled_, those filled on thread caller_
  // Set by the test while the fault thread may read them (the kernel orders a
  // fault's fill before the faulting access, which ThreadSanitizer cannot see).
  std::atomic<std::thread::id> caller_;
  std::atomic<uint32_t> fail_page_{~0u};
};

struct RegionParam {
  TrackingMode mode;
  bool lazy;  // MapLazyMemory from a PatternSource instead of MapMemory from a file
};

// Parameterized over tracking mode: kExact (skipped when unavailable) and
// kPagemap, each for file-mapped and lazily filled regions.
class MemoryRegionTest : public ::testing::TestWithParam<RegionParam> {
 protected:
  void SetUp() override {
    if (GetParam().mode == TrackingMode::kExact && !ExactTrackingAvailable()) {
      GTEST_SKIP() << "exact tracking unavailable on this kernel";
    }
    if (GetParam().lazy && !LazyFillStatus().ok()) {
      GTEST_SKIP() << "lazy filling unavailable here: " << LazyFillStatus().ToString();
    }
    own_env_ = NewPosixEnv({.mode = GetParam().mode});
    env_ = own_env_.get();
  }
  bool exact() const { return GetParam().mode == TrackingMode::kExact; }
  bool lazy() const { return GetParam().lazy; }

  // Maps a file of file_len bytes; region length `len`, max `max`.
  Result<std::unique_ptr<MemoryRegion>> Map(uint64_t file_len, uint64_t len, uint64_t max) {
    file_.reset();
    if (file_len > 0) {
      const std::string path = dir_.Sub("mem" + std::to_string(counter_++));
      RETURN_IF_ERROR(MakeFile(env_, path, file_len));
      ASSIGN_OR_RETURN(file_, env_->OpenReadable(path));
    }
    if (lazy()) return env_->MapLazyMemory(source_, file_len, len, max);
    return env_->MapMemory(file_.get(), file_len, len, max);
  }

  // Checks a collection against the pages written: exact equality in exact
  // mode, a superset otherwise.
  void ExpectWritten(MemoryRegion* r, bool rearm, std::set<uint32_t> written) {
    Pages got;
    ASSERT_OK(r->CollectWritten(rearm, &got));
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
    if (exact()) {
      EXPECT_EQ(std::set<uint32_t>(got.begin(), got.end()), written);
      EXPECT_EQ(got.size(), written.size());
    } else {
      for (uint32_t p : written) EXPECT_TRUE(std::binary_search(got.begin(), got.end(), p)) << p;
    }
  }

  std::unique_ptr<Env> own_env_;  // regions tracked in the parameter's mode
  Env* env_ = Env::Default();
  TempDir dir_;
  std::unique_ptr<RandomAccessFile> file_;
  std::shared_ptr<PatternSource> source_ = std::make_shared<PatternSource>();
  int counter_ = 0;
};

TEST_P(MemoryRegionTest, LayoutAndCopyOnWrite) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(256 * kKiB, 512 * kKiB, 1 * kMiB));
  EXPECT_EQ(r->exact(), exact());
  EXPECT_EQ(r->length(), 512 * kKiB);
  EXPECT_EQ(r->max_length(), 1 * kMiB);
  uint8_t* m = r->data();
  for (uint64_t off = 0; off < 256 * kKiB; off += 1000) ASSERT_EQ(m[off], Pattern(off)) << off;
  for (uint64_t off = 256 * kKiB; off < 512 * kKiB; ++off) ASSERT_EQ(m[off], 0) << off;
  // Writes stay private.
  std::memset(m, 0xEE, 64 * kKiB);
  m[256 * kKiB + 5] = 9;
  ASSERT_OK_AND_ASSIGN(Bytes on_disk, env_->ReadFile(file_->path()));
  ASSERT_EQ(on_disk.size(), 256 * kKiB);
  for (uint64_t off = 0; off < on_disk.size(); off += 997) ASSERT_EQ(on_disk[off], Pattern(off));
  EXPECT_EQ(m[0], 0xEE);
}

// A child made by fork() after its parent tracked writes maps a region of
// its own and finds exactly its writes: the tracking descriptors are the
// child's (a userfaultfd or /proc/self/pagemap opened by the parent acts on
// the parent's address space: registering fails, or the scan reads the
// parent's page table and misses the child's writes).
TEST_P(MemoryRegionTest, AChildMadeByForkTracksItsOwnWrites) {
  {
    ASSERT_OK_AND_ASSIGN(auto r, Map(64 * kKiB, 128 * kKiB, 256 * kKiB));
    ASSERT_OK(r->Arm());
    r->data()[3 * kPageSize] = 1;
    ExpectWritten(r.get(), true, {3});
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Exit codes name the failed step (no gtest assertions in the child).
    auto r = Map(64 * kKiB, 128 * kKiB, 256 * kKiB);
    if (!r.ok()) {
      std::fprintf(stderr, "child: map: %s\n", r.status().ToString().c_str());
      ::_exit(2);
    }
    if (!(*r)->Arm().ok()) ::_exit(6);
    ReadEveryPage((*r)->data(), (*r)->length());
    const std::set<uint32_t> written = {1, 5, 20};
    for (uint32_t p : written) (*r)->data()[uint64_t{p} * kPageSize + 7] = 9;
    Pages got;
    const Status s = (*r)->CollectWritten(true, &got);
    if (!s.ok()) {
      std::fprintf(stderr, "child: collect: %s\n", s.ToString().c_str());
      ::_exit(3);
    }
    for (uint32_t p : written) {
      if (!std::binary_search(got.begin(), got.end(), p)) ::_exit(4);
    }
    // Exactly those in exact mode; the fallback may add lazily filled pages.
    if (exact() && got.size() != written.size()) ::_exit(5);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child failed at step " << WEXITSTATUS(status);
}

TEST_P(MemoryRegionTest, GrowGivesZerosAndGuardIsInaccessible) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(64 * kKiB, 128 * kKiB, 512 * kKiB));
  uint8_t* m = r->data();
  EXPECT_EQ(TouchInChild(m + 128 * kKiB - 1, true), 0);
  EXPECT_EQ(TouchInChild(m + 128 * kKiB, false), SIGSEGV);
  EXPECT_EQ(TouchInChild(m + 128 * kKiB, true), SIGSEGV);
  EXPECT_EQ(TouchInChild(m + kMaxMemory + 12345, false), SIGSEGV);
  EXPECT_EQ(TouchInChild(m + kReservation - 1, false), SIGSEGV);

  ASSERT_OK(r->Grow(256 * kKiB));
  EXPECT_EQ(r->length(), 256 * kKiB);
  EXPECT_EQ(r->data(), m);  // never moves
  for (uint64_t off = 128 * kKiB; off < 256 * kKiB; ++off) ASSERT_EQ(m[off], 0);
  m[256 * kKiB - 1] = 1;
  EXPECT_EQ(TouchInChild(m + 256 * kKiB, false), SIGSEGV);
  ASSERT_OK(r->Grow(256 * kKiB));  // no-op
  EXPECT_EQ(r->Grow(128 * kKiB).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r->Grow(300 * kKiB).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r->Grow(1 * kMiB).code(), Status::Code::kInvalidArgument);
  ASSERT_OK(r->Grow(512 * kKiB));
}

TEST_P(MemoryRegionTest, ArgumentChecks) {
  EXPECT_EQ(Map(0, 100, 64 * kKiB).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Map(128 * kKiB, 64 * kKiB, 128 * kKiB).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Map(0, 128 * kKiB, 64 * kKiB).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Map(0, 0, kMaxMemory + kWasmPageSize).status().code(), Status::Code::kInvalidArgument);
  // A file shorter than file_length.
  ASSERT_OK(MakeFile(env_, dir_.Sub("short"), 4096));
  ASSERT_OK_AND_ASSIGN(auto f, env_->OpenReadable(dir_.Sub("short")));
  EXPECT_TRUE(env_->MapMemory(f.get(), 64 * kKiB, 64 * kKiB, 64 * kKiB).status().IsCorruption());
  EXPECT_EQ(env_->MapMemory(nullptr, 64 * kKiB, 64 * kKiB, 64 * kKiB).status().code(),
            Status::Code::kInvalidArgument);
  // Empty and zero-only regions.
  ASSERT_OK_AND_ASSIGN(auto empty, env_->MapMemory(nullptr, 0, 0, 0));
  EXPECT_EQ(empty->length(), 0u);
  ASSERT_OK(empty->Arm());
  Pages none;
  ASSERT_OK(empty->CollectWritten(true, &none));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(auto zero, env_->MapMemory(nullptr, 0, 64 * kKiB, kMaxMemory));
  EXPECT_EQ(zero->data()[100], 0);
  ASSERT_OK(zero->Grow(kMaxMemory));  // all 4 GiB, lazily
  zero->data()[kMaxMemory - 1] = 5;
}

TEST_P(MemoryRegionTest, CollectBeforeArmFails) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(64 * kKiB, 64 * kKiB, 64 * kKiB));
  Pages pages;
  EXPECT_EQ(r->CollectWritten(false, &pages).code(), Status::Code::kInvalidArgument);
}

TEST_P(MemoryRegionTest, TracksWritesIncludingGrownPages) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(256 * kKiB, 512 * kKiB, 1 * kMiB));
  uint8_t* m = r->data();
  m[3 * kPageSize] = 1;  // before Arm: not reported in exact mode
  ASSERT_OK(r->Arm());
  ReadEveryPage(m, r->length());
  m[5 * kPageSize + 17] = 1;    // file part
  m[63 * kPageSize] = 2;        // last file page
  m[64 * kPageSize] = 3;        // first zero page
  m[127 * kPageSize + 4095] = 4;  // last page
  ASSERT_OK(r->Grow(768 * kKiB));  // while armed
  m[130 * kPageSize] = 5;
  m[191 * kPageSize] = 6;
  const std::set<uint32_t> written = {5, 63, 64, 127, 130, 191};
  ExpectWritten(r.get(), false, written);
  ExpectWritten(r.get(), false, written);  // no rearm: same again
  ExpectWritten(r.get(), true, written);   // rearm
  ExpectWritten(r.get(), false, {});       // nothing since
  m[5 * kPageSize] = 7;  // written again after rearm
  m[6 * kPageSize] = 7;
  ExpectWritten(r.get(), true, {5, 6});
  // Arm() restarts too.
  m[7 * kPageSize] = 7;
  ASSERT_OK(r->Arm());
  ExpectWritten(r.get(), false, {});
  // Grow while armed after a rearm, then a full-length write.
  ASSERT_OK(r->Grow(1 * kMiB));
  m[1 * kMiB - 1] = 1;
  ExpectWritten(r.get(), true, {255});
}

TEST_P(MemoryRegionTest, DiscardRestoresAndStopsReporting) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(128 * kKiB, 256 * kKiB, 256 * kKiB));
  uint8_t* m = r->data();
  ASSERT_OK(r->Arm());
  std::memset(m + 2 * kPageSize, 0xAB, 3 * kPageSize);   // pages 2,3,4 (file)
  std::memset(m + 40 * kPageSize, 0xCD, 2 * kPageSize);  // pages 40,41 (zero part)
  ASSERT_OK(r->DiscardPages(3 * kPageSize, 2 * kPageSize));  // pages 3,4
  ASSERT_OK(r->DiscardPages(40 * kPageSize, kPageSize));     // page 40
  EXPECT_EQ(m[2 * kPageSize], 0xAB);
  for (uint64_t off = 3 * kPageSize; off < 5 * kPageSize; off += 512) {
    ASSERT_EQ(m[off], Pattern(off));
  }
  EXPECT_EQ(m[40 * kPageSize], 0);
  EXPECT_EQ(m[41 * kPageSize], 0xCD);
  if (exact()) {
    ExpectWritten(r.get(), false, {2, 41});
  } else {
    Pages got;
    ASSERT_OK(r->CollectWritten(false, &got));
    EXPECT_TRUE(std::binary_search(got.begin(), got.end(), 2u));
    if (!lazy()) {  // (a lazy region refilled them privately when they were read above)
      EXPECT_FALSE(std::binary_search(got.begin(), got.end(), 3u));  // back to the file
      EXPECT_FALSE(std::binary_search(got.begin(), got.end(), 4u));
    }
  }
  m[3 * kPageSize] = 1;  // written again: reported again
  ExpectWritten(r.get(), true, {2, 3, 41});
  EXPECT_EQ(r->DiscardPages(1, kPageSize).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r->DiscardPages(255 * kPageSize, 2 * kPageSize).code(), Status::Code::kInvalidArgument);
}

TEST_P(MemoryRegionTest, ManyScatteredPages) {
  // More runs than the scan's output vector holds (walk_end resumption).
  ASSERT_OK_AND_ASSIGN(auto r, Map(8 * kMiB, 16 * kMiB, 16 * kMiB));
  uint8_t* m = r->data();
  ASSERT_OK(r->Arm());
  std::set<uint32_t> written;
  for (uint32_t p = 0; p < 4096; p += 2) {
    m[uint64_t{p} * kPageSize + 1] = 1;
    written.insert(p);
  }
  ExpectWritten(r.get(), true, written);
  ExpectWritten(r.get(), false, {});
}

TEST_P(MemoryRegionTest, FallbackIgnoresPagesOnlyRead) {
  // (A lazy region's filled pages are private: the fallback reports them.)
  if (exact() || lazy()) GTEST_SKIP();
  ASSERT_OK_AND_ASSIGN(auto r, Map(256 * kKiB, 256 * kKiB, 256 * kKiB));
  ReadEveryPage(r->data(), r->length());
  r->data()[9 * kPageSize] = 1;
  ASSERT_OK(r->Arm());
  Pages got;
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_EQ(got, Pages{9});  // written before Arm: the fallback cannot tell
}

TEST_P(MemoryRegionTest, ConcurrentRegions) {
  constexpr int kThreads = 6, kRegionsPerThread = 4, kRounds = 20;
  ASSERT_OK(MakeFile(env_, dir_.Sub("shared"), 1 * kMiB));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> file, env_->OpenReadable(dir_.Sub("shared")));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRegionsPerThread; ++i) {
        auto r = lazy() ? env_->MapLazyMemory(source_, 1 * kMiB, 2 * kMiB, 4 * kMiB)
                        : env_->MapMemory(file.get(), 1 * kMiB, 2 * kMiB, 4 * kMiB);
        if (!r.ok() || !(*r)->Arm().ok()) {
          ++failures;
          return;
        }
        MemoryRegion* region = r->get();
        for (int round = 0; round < kRounds; ++round) {
          if (round == kRounds / 2 && !region->Grow(4 * kMiB).ok()) ++failures;
          const uint32_t npages = static_cast<uint32_t>(region->length() / kPageSize);
          std::set<uint32_t> written;
          for (int k = 0; k < 50; ++k) {
            const uint32_t p = rng() % npages;
            region->data()[uint64_t{p} * kPageSize + rng() % kPageSize] = static_cast<uint8_t>(k + 1);
            written.insert(p);
          }
          Pages got;
          if (!region->CollectWritten(true, &got).ok()) ++failures;
          const std::set<uint32_t> got_set(got.begin(), got.end());
          if (region->exact() ? got_set != written
                              : !std::includes(got_set.begin(), got_set.end(), written.begin(),
                                               written.end())) {
            ++failures;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// Lazy regions: only the pages touched are filled; reading does not count as
// writing; a source error poisons the region; the kernel's own accesses (a
// system call reading region memory) are filled too.
TEST_P(MemoryRegionTest, LazyFillsOnlyWhatIsTouched) {
  if (!lazy()) GTEST_SKIP();
  source_->fail_page_ = 200;
  ASSERT_OK_AND_ASSIGN(auto r, Map(1 * kMiB, 2 * kMiB, 4 * kMiB));
  ASSERT_OK(r->Arm());
  EXPECT_EQ(source_->filled_.load(), 0);
  const uint8_t* m = r->data();
  EXPECT_EQ(m[77 * kPageSize + 5], Pattern(77 * kPageSize));
  EXPECT_EQ(m[300 * kPageSize], 0);  // past the source: zero, not filled
  EXPECT_EQ(source_->filled_.load(), 1);
  r->data()[10 * kPageSize] = 9;
  EXPECT_EQ(m[10 * kPageSize + 1], Pattern(10 * kPageSize));
  EXPECT_LE(source_->filled_.load(), 2);
  ExpectWritten(r.get(), true, {10});
  // A system call reading unfilled pages: the kernel's fault is delivered
  // too; with user-mode faults only (an unprivileged process) the call fails
  // (EFAULT: never waits, never reads zeros) until the pages are filled.
  if (LazyFillUserModeOnly()) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> refused, env_->NewWritableFile(dir_.Sub("refused")));
    EXPECT_FALSE(refused->Append(ByteView(m + 20 * kPageSize, 3 * kPageSize)).ok());
    ASSERT_OK(r->Prefill(20 * kPageSize, 3 * kPageSize));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, env_->NewWritableFile(dir_.Sub("out")));
  ASSERT_OK(f->Append(ByteView(m + 20 * kPageSize, 3 * kPageSize)));
  ASSERT_OK(f->Close());
  ASSERT_OK_AND_ASSIGN(Bytes out, env_->ReadFile(dir_.Sub("out")));
  ASSERT_EQ(out.size(), 3 * kPageSize);
  for (uint64_t off = 0; off < out.size(); off += 512) ASSERT_EQ(out[off], Pattern(20 * kPageSize + off)) << off;
  EXPECT_OK(r->FaultStatus());
  // A source error: the page reads as zero and the region is poisoned.
  EXPECT_EQ(m[200 * kPageSize], 0);
  EXPECT_EQ(r->FaultStatus().code(), Status::Code::kCorruption);
  EXPECT_NE(r->FaultStatus().ToString().find("page 200"), std::string::npos);
  Pages got;
  EXPECT_EQ(r->CollectWritten(true, &got).code(), Status::Code::kCorruption);
}

// Prefill fills exactly the pages of its range, on the calling thread, with
// the source's bytes; touching them then needs no fill, other pages are still
// filled by the fault thread, discarded pages are filled again, and a source
// error poisons the region. (Other regions: nothing to do.)
TEST_P(MemoryRegionTest, PrefillFillsTheRangeOnTheCallersThread) {
  ASSERT_OK_AND_ASSIGN(auto r, Map(1 * kMiB, 2 * kMiB, 4 * kMiB));
  ASSERT_OK(r->Arm());
  if (!lazy()) {
    EXPECT_OK(r->Prefill(0, 1 * kMiB));
    return;
  }
  source_->caller_ = std::this_thread::get_id();
  const uint8_t* m = r->data();
  ASSERT_OK(r->Prefill(3 * kPageSize + 100, 2 * kPageSize));  // pages 3, 4, 5
  EXPECT_EQ(source_->filled_.load(), 3);
  EXPECT_EQ(source_->on_caller_.load(), 3);
  for (uint64_t off = 3 * kPageSize; off < 6 * kPageSize; off += 256) ASSERT_EQ(m[off], Pattern(off)) << off;
  ASSERT_OK(r->Prefill(2 * kPageSize + 1, 4 * kPageSize - 1));  // 2 is new, 3-5 are filled
  EXPECT_EQ(source_->filled_.load(), 4);
  EXPECT_EQ(source_->on_caller_.load(), 4);
  EXPECT_EQ(m[2 * kPageSize], Pattern(2 * kPageSize));
  // An untouched page faults and the fault thread fills it.
  EXPECT_EQ(m[40 * kPageSize + 9], Pattern(40 * kPageSize));
  EXPECT_EQ(source_->filled_.load(), 5);
  EXPECT_EQ(source_->on_caller_.load(), 4);
  // Past the source: nothing to fill (zero pages).
  ASSERT_OK(r->Prefill(1 * kMiB - kPageSize, 64 * kPageSize));
  EXPECT_EQ(source_->filled_.load(), 6);
  EXPECT_EQ(m[1 * kMiB + 5], 0);
  EXPECT_EQ(source_->filled_.load(), 6);
  // Prefilled pages are only read so far: not reported written.
  if (exact()) ExpectWritten(r.get(), true, {});
  // A written, then discarded page is filled again with the source's bytes.
  r->data()[4 * kPageSize] = 0xEE;
  ASSERT_OK(r->DiscardPages(4 * kPageSize, kPageSize));
  ASSERT_OK(r->Prefill(4 * kPageSize, 1));
  EXPECT_EQ(source_->on_caller_.load(), 6);
  EXPECT_EQ(m[4 * kPageSize], Pattern(4 * kPageSize));
  // A source error: Prefill returns it, the page reads as zero.
  source_->fail_page_ = 100;
  EXPECT_EQ(r->Prefill(100 * kPageSize, 8).code(), Status::Code::kCorruption);
  EXPECT_EQ(m[100 * kPageSize], 0);
  EXPECT_EQ(r->FaultStatus().code(), Status::Code::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Modes, MemoryRegionTest,
                         ::testing::Values(RegionParam{TrackingMode::kExact, false},
                                           RegionParam{TrackingMode::kPagemap, false},
                                           RegionParam{TrackingMode::kExact, true},
                                           RegionParam{TrackingMode::kPagemap, true}),
                         [](const auto& info) {
                           return std::string(info.param.mode == TrackingMode::kExact ? "Exact" : "Pagemap") +
                                  (info.param.lazy ? "Lazy" : "");
                         });

TEST(MemoryRegionLimits, LiveRegionLimit) {
  std::vector<std::unique_ptr<MemoryRegion>> regions;
  const int before = LiveMemoryRegions();
  for (int i = before; i < kMaxLiveRegions; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, Env::Default()->MapMemory(nullptr, 0, 0, 0));
    regions.push_back(std::move(r));
  }
  EXPECT_EQ(LiveMemoryRegions(), kMaxLiveRegions);
  auto over = Env::Default()->MapMemory(nullptr, 0, 0, 0);
  EXPECT_EQ(over.status().code(), Status::Code::kResourceExhausted);
  regions.pop_back();
  ASSERT_OK(Env::Default()->MapMemory(nullptr, 0, 0, 0));
  regions.clear();
  EXPECT_EQ(LiveMemoryRegions(), before);
}

// Noted tracking: only announced writes count, exactly, with no kernel help;
// in every mode the map reflects what was noted since the last collection.
TEST(MemoryRegionNoted, ReportsExactlyTheNotedPages) {
  ASSERT_OK_AND_ASSIGN(auto r, Env::Default()->MapMemory(nullptr, 0, 256 * kKiB, 1 * kMiB));
  // Env::Default() does not audit: this test writes a page without noting it, on purpose.
  ASSERT_OK(r->UseNotedWrites());
  EXPECT_TRUE(r->noted());
  EXPECT_TRUE(r->exact());
  const uint8_t* map = r->noted_map();
  r->NoteWrite(5 * kPageSize + 100, 8);                // one page
  r->NoteWrite(2 * kPageSize - 2, 4);                  // straddles pages 1 and 2
  r->NoteWrite(10 * kPageSize, 3 * kPageSize);         // pages 10..12
  r->NoteWrite(5 * kPageSize, 1);                      // again: no duplicate
  r->NoteWrite(20 * kPageSize, 0);                     // empty
  r->NoteWrite(256 * kKiB - 1, 100);                   // clipped to the length: page 63
  r->NoteWrite(256 * kKiB, 8);                         // out of bounds: ignored
  r->data()[30 * kPageSize] = 1;                       // written, not noted: invisible here
  EXPECT_TRUE(map[5] && map[1] && map[2] && map[10] && map[12] && map[63]);
  EXPECT_FALSE(map[0] || map[3] || map[20] || map[30] || map[64]);
  Pages got;
  ASSERT_OK(r->CollectWritten(/*rearm=*/false, &got));
  EXPECT_EQ(got, (Pages{1, 2, 5, 10, 11, 12, 63}));
  got.clear();
  ASSERT_OK(r->CollectWritten(/*rearm=*/true, &got));   // same, then forgets
  EXPECT_EQ(got, (Pages{1, 2, 5, 10, 11, 12, 63}));
  EXPECT_FALSE(map[5] || map[63]);
  got.clear();
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_TRUE(got.empty());
  // Shrinking forgets pages past the new end, so a regrown page is noted anew.
  ASSERT_OK(r->Grow(512 * kKiB));
  r->NoteWrite(100 * kPageSize, 1);
  r->NoteWrite(3 * kPageSize, 1);
  ASSERT_OK(r->Shrink(256 * kKiB));
  EXPECT_FALSE(map[100]);
  ASSERT_OK(r->Grow(512 * kKiB));
  r->NoteWrite(100 * kPageSize, 1);
  EXPECT_TRUE(map[100]);
  got.clear();
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_EQ(got, (Pages{3, 100}));
  // Discarded pages are back to their reference contents: no longer written.
  r->NoteWrite(4 * kPageSize, 2 * kPageSize);
  ASSERT_OK(r->DiscardPages(5 * kPageSize, kPageSize));
  got.clear();
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_EQ(got, (Pages{4}));
  // Arm restarts: earlier notes are dropped.
  r->NoteWrite(7 * kPageSize, 1);
  ASSERT_OK(r->Arm());
  got.clear();
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_TRUE(got.empty());
}

TEST(MemoryRegionNoted, KernelModesStillKeepTheMap) {
  ASSERT_OK_AND_ASSIGN(auto r, Env::Default()->MapMemory(nullptr, 0, 64 * kKiB, 64 * kKiB));
  ASSERT_OK(r->Arm());
  EXPECT_FALSE(r->noted());
  r->NoteWrite(kPageSize, 1);
  EXPECT_TRUE(r->noted_map()[1]);
  Pages got;
  ASSERT_OK(r->CollectWritten(true, &got));  // the kernel's view: nothing was written
  if (r->exact()) {
    EXPECT_TRUE(got.empty());
  }
  EXPECT_FALSE(r->noted_map()[1]);           // rearming clears the notes too
}

TEST(MemoryRegionNoted, AuditCatchesAWriteThatWasNotNoted) {
  if (!ExactTrackingAvailable()) GTEST_SKIP() << "auditing needs exact kernel tracking";
  std::unique_ptr<Env> auditing = NewPosixEnv({.write_audit = true});
  ASSERT_OK_AND_ASSIGN(auto r, auditing->MapMemory(nullptr, 0, 64 * kKiB, 64 * kKiB));
  ASSERT_OK(r->UseNotedWrites());
  r->NoteWrite(2 * kPageSize, 8);
  r->data()[2 * kPageSize] = 1;
  Pages got;
  ASSERT_OK(r->CollectWritten(true, &got));
  EXPECT_EQ(got, (Pages{2}));
  r->data()[9 * kPageSize + 7] = 1;  // not noted
  got.clear();
  Status s = r->CollectWritten(true, &got);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string(s.message()).find("page 9 "), std::string::npos) << s.ToString();
}

// Not a correctness test: prints the costs reported in the design notes.
TEST(MemoryRegionTiming, ArmAndCollect) {
  TempDir dir;
  Env* env = Env::Default();
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (uint64_t size : {64 * kMiB, 1024 * kMiB}) {
    const std::string path = dir.Sub("img" + std::to_string(size));
    {
      ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(path));
      ASSERT_OK(f->Truncate(size));  // sparse
      ASSERT_OK(f->Close());
    }
    ASSERT_OK_AND_ASSIGN(auto file, env->OpenReadable(path));
    for (TrackingMode mode : {TrackingMode::kExact, TrackingMode::kPagemap}) {
      if (mode == TrackingMode::kExact && !ExactTrackingAvailable()) continue;
      std::unique_ptr<Env> mode_env = NewPosixEnv({.mode = mode});
      ASSERT_OK_AND_ASSIGN(auto r, mode_env->MapMemory(file.get(), size, size, size));
      // Touch every page once (reads), as a memory in use would be.
      ReadEveryPage(r->data(), size);
      for (uint32_t dirty : {1u, 100u, 10000u}) {
        auto t0 = Clock::now();
        ASSERT_OK(r->Arm());
        auto t1 = Clock::now();
        const uint64_t stride = size / kPageSize / dirty * kPageSize;
        for (uint32_t i = 0; i < dirty; ++i) r->data()[i * stride] ^= 1;
        auto t2 = Clock::now();
        Pages pages;
        ASSERT_OK(r->CollectWritten(true, &pages));
        auto t3 = Clock::now();
        EXPECT_GE(pages.size(), dirty);
        std::printf("%s %4llu MiB, %5u dirty: arm %.3f ms, writes %.3f ms, collect+rearm %.3f ms"
                    " (%zu pages)\n",
                    mode == TrackingMode::kExact ? "exact  " : "pagemap",
                    static_cast<unsigned long long>(size / kMiB), dirty, ms(t1 - t0),
                    ms(t2 - t1), ms(t3 - t2), pages.size());
      }
    }
  }
}

}  // namespace
}  // namespace crust::os
