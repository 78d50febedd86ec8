// Copyright (c) crust authors. Licensed under the MIT license.
//
// A state of thousands of modules under the default descriptor limit
// (RLIMIT_NOFILE's soft limit is 1024 on Debian): sessions and commits hold
// no file descriptor per module. Committed base images are mapped and their
// descriptors closed (MemoryImage::Open); a commit that changes thousands of
// memories streams at most a few dozen layers at once and writes the others
// from memory (session_commit.cc). Each step runs under a soft limit of 64
// descriptors above those open before it.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

using crust::testing::TempDir;

constexpr int kModules = 600;  // with 64 descriptors to spare: one per module could not fit
constexpr uint64_t kMemory = 64 * 1024;

ModuleId Id(int n) {
  ModuleId id;
  id.bytes[30] = static_cast<uint8_t>(n >> 8);
  id.bytes[31] = static_cast<uint8_t>(n);
  return id;
}

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) n++;
  return n;
}

// Lowers the soft descriptor limit to what is open now plus `spare` for its
// lifetime.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(size_t spare) {
    ok_ = ::getrlimit(RLIMIT_NOFILE, &old_) == 0;
    if (!ok_) return;
    rlimit low = old_;
    low.rlim_cur = std::min<rlim_t>(old_.rlim_cur, OpenDescriptors() + spare);
    ok_ = ::setrlimit(RLIMIT_NOFILE, &low) == 0;
  }
  ~DescriptorLimit() {
    if (ok_) ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit old_ = {};
  bool ok_ = false;
};

// Lazily filled memories, and memories mapped eagerly (which map their base
// image's file copy-on-write, opened for the mapping only).
class ManyModules : public ::testing::TestWithParam<bool> {};

TEST_P(ManyModules, SessionsAndCommitsHoldNoDescriptorPerModule) {
  TempDir dir;
  StoreOptions opt;
  opt.lazy_layers = GetParam();
  opt.sync = true;  // commits keep files open until their fsyncs: those too
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir.Sub("store"), opt));
  Root root;
  {
    DescriptorLimit limit(64);
    ASSERT_TRUE(limit.ok());
    ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
    for (int m = 0; m < kModules; m++) {
      Bytes init(kMemory, 0);
      init[m % kMemory] = static_cast<uint8_t>(m + 1);
      ASSERT_OK(g->AddModule(Id(m), Bytes{1, 2, static_cast<uint8_t>(m)}, init, kMemory));
    }
    ASSERT_OK_AND_ASSIGN(root, g->Commit());
  }
  // Every memory changed by one session: a layer per module in one commit;
  // then each read back by a session on that commit.
  for (int round = 0; round < 2; round++) {
    SCOPED_TRACE(round);
    DescriptorLimit limit(64);
    ASSERT_TRUE(limit.ok());
    ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(root));
    for (int m = 0; m < kModules; m++) {
      const uint8_t v = static_cast<uint8_t>(m * 7 + round);
      ASSERT_OK(s->WriteMemory(Id(m), 4096 * (1 + m % 8), Bytes{v, v}));
    }
    ASSERT_OK_AND_ASSIGN(root, s->Commit());
    ASSERT_OK_AND_ASSIGN(auto r, store->StartSession(root));
    for (int m = 0; m < kModules; m++) {
      Bytes got(2);
      ASSERT_OK(r->ReadMemory(Id(m), 4096 * (1 + m % 8), got));
      const uint8_t v = static_cast<uint8_t>(m * 7 + round);
      EXPECT_EQ(got, (Bytes{v, v})) << m;
    }
  }
  EXPECT_OK(store->VerifyCommit(root));
}

INSTANTIATE_TEST_SUITE_P(Mapping, ManyModules, ::testing::Values(true, false),
                         [](const auto& info) { return std::string(info.param ? "Lazy" : "Eager"); });

}  // namespace
}  // namespace crust::store
