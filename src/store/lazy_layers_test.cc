// Copyright (c) crust authors. Licensed under the MIT license.
//
// Lazily applied delta layers (CommittedMemory::Map with lazy): the bytes a
// session sees equal those of eager application for every page of every
// commit of random histories; a damaged page fails its first use with
// Corruption and never reaches a commit; what did not change leaves no trace.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/dirty_tracking.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/store/committed_memory.h"
#include "src/store/format.h"
#include "src/store/index.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

using crust::testing::TempDir;
constexpr uint64_t kKiB = 1024;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[31] = n;
  return id;
}

// The tracking mode of the running LazyLayersTest (its parameter).
DirtyTracking lazy_test_tracking = DirtyTracking::kAuto;

std::unique_ptr<Store> OpenStore(const TempDir& dir) {
  StoreOptions opt;
  opt.sync = false;
  opt.dirty_tracking = lazy_test_tracking;
  auto s = Store::Open(dir.Sub("store"), opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

Result<IndexEntry> EntryOf(const std::string& commit_dir, const ModuleId& id) {
  ASSIGN_OR_RETURN(Bytes bytes, os::Env::Default()->ReadFile(commit_dir + "/index"));
  ASSIGN_OR_RETURN(Index index, DecodeIndex(bytes, commit_dir + "/index"));
  for (const IndexEntry& e : index.entries) {
    if (e.id == id) return e;
  }
  return Status::NotFound("no module in " + commit_dir);
}

class LazyLayersTest : public ::testing::TestWithParam<os::TrackingMode> {
 protected:
  void SetUp() override {
    if (GetParam() == os::TrackingMode::kExact && !os::ExactTrackingAvailable()) GTEST_SKIP() << "no exact tracking";
    lazy_test_tracking = crust::testing::ToDirtyTracking(GetParam());
  }
  void TearDown() override { lazy_test_tracking = DirtyTracking::kAuto; }
};

// Random histories: sessions on random earlier commits (branches), scattered
// and clustered writes, growth, so that layers are merged, sealed and rebased
// into fresh images. Every page of every commit is read lazily and eagerly.
TEST_P(LazyLayersTest, LazyEqualsEagerOverRandomHistories) {
  os::Env* env = os::Env::Default();
  for (uint32_t seed = 1; seed <= 3; seed++) {
    TempDir dir;
    auto store = OpenStore(dir);
    std::mt19937 rng(seed);
    ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
    Bytes init(192 * kKiB);
    for (auto& b : init) b = static_cast<uint8_t>(rng() % 3 == 0 ? rng() : 0);
    ASSERT_OK(g->AddModule(Id(1), Bytes{1, 2, 3}, init, 256 * kKiB));
    ASSERT_OK_AND_ASSIGN(Root genesis, g->Commit());
    std::vector<Root> roots = {genesis};
    std::vector<Bytes> models = {init};
    models[0].resize(256 * kKiB, 0);
    for (int c = 0; c < 40; c++) {
      const size_t from = rng() % 4 == 0 ? rng() % roots.size() : roots.size() - 1;
      Bytes model = models[from];
      ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(roots[from]));
      if (rng() % 8 == 0 && model.size() < 1024 * kKiB) {
        model.resize(model.size() + 64 * kKiB, 0);
        ASSERT_OK(s->GrowMemory(Id(1), model.size()));
      }
      // Sometimes whole random pages: a layer of dense pages is compressed
      // with zstd proper (no page map: read by decompressing the frame),
      // one of sparse pages is raw/RLE blocks read page by page.
      if (rng() % 6 == 0) {
        for (int k = 0; k < 3; k++) {
          const uint64_t off = (rng() % (model.size() / kPageSize)) * kPageSize;
          Bytes data(kPageSize);
          for (auto& b : data) b = static_cast<uint8_t>(rng());
          ASSERT_OK(s->WriteMemory(Id(1), off, data));
          std::memcpy(model.data() + off, data.data(), kPageSize);
        }
      }
      const int writes = rng() % 5 == 0 ? 40 : 1 + static_cast<int>(rng() % 6);
      for (int w = 0; w < writes; w++) {
        const uint64_t off = rng() % (model.size() - 64);
        const size_t n = 1 + rng() % 64;
        Bytes data(n);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        ASSERT_OK(s->WriteMemory(Id(1), off, data));
        std::memcpy(model.data() + off, data.data(), n);
      }
      ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
      roots.push_back(r);
      models.push_back(model);
    }
    // Both kinds of layer files are read below (format 3: flags bit 0 says
    // whether the file has a page map).
    bool with_map = false, without_map = false;
    for (const Root& r : roots) {
      const std::string mdir = dir.Sub("store") + "/" + r.ToHex() + "/memory";
      ASSERT_OK_AND_ASSIGN(auto names, env->ListDir(mdir));
      for (const std::string& name : names) {
        if (name.find(".diff") == std::string::npos) continue;
        ASSERT_OK_AND_ASSIGN(Bytes f, env->ReadFile(mdir + "/" + name));
        ASSERT_GE(f.size(), 24u);
        ASSERT_EQ(f[8], kDeltaVersion);
        (f[20] & 1 ? with_map : without_map) = true;
      }
    }
    EXPECT_TRUE(with_map && without_map) << "seed " << seed << ": layers with a page map " << with_map
                                         << ", without " << without_map;
    for (size_t i = 0; i < roots.size(); i++) {
      const std::string commit_dir = dir.Sub("store") + "/" + roots[i].ToHex();
      ASSERT_OK_AND_ASSIGN(IndexEntry e, EntryOf(commit_dir, Id(1)));
      ASSERT_OK_AND_ASSIGN(auto mem, CommittedMemory::Open(env, commit_dir, e));
      ASSERT_OK_AND_ASSIGN(auto lazy, mem->Map(env, e.memory_length, /*noted=*/false, /*lazy=*/true));
      ASSERT_OK_AND_ASSIGN(auto eager, mem->Map(env, e.memory_length, /*noted=*/false, /*lazy=*/false));
      // A third view whose pages are filled by the reading thread
      // (Prefill of ranges of 1-3 pages around each page read).
      ASSERT_OK_AND_ASSIGN(auto prefilled, mem->Map(env, e.memory_length, /*noted=*/false, /*lazy=*/true));
      ASSERT_EQ(e.memory_length, models[i].size());
      // Pages in a random order (the lazy fill's window follows sequential
      // faults; random faults fill one page).
      std::vector<uint32_t> order(e.memory_length / kPageSize);
      for (uint32_t p = 0; p < order.size(); p++) order[p] = p;
      std::shuffle(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(order.size() / 2), rng);
      for (uint32_t p : order) {
        const uint64_t off = uint64_t{p} * kPageSize;
        ASSERT_EQ(std::memcmp(lazy->data() + off, eager->data() + off, kPageSize), 0)
            << "seed " << seed << " commit " << i << " page " << p;
        ASSERT_EQ(std::memcmp(lazy->data() + off, models[i].data() + off, kPageSize), 0)
            << "seed " << seed << " commit " << i << " page " << p;
        ASSERT_OK(prefilled->Prefill(off + p % 7, (p % 3) * kPageSize + 1));
        ASSERT_EQ(std::memcmp(prefilled->data() + off, eager->data() + off, kPageSize), 0)
            << "seed " << seed << " commit " << i << " page " << p << " (prefilled)";
      }
      ASSERT_OK(lazy->FaultStatus());
      ASSERT_OK(prefilled->FaultStatus());
      // Nothing was written: reading filled pages is not a write.
      std::vector<uint32_t> written;
      ASSERT_OK(lazy->CollectWritten(/*rearm=*/true, &written));
      if (lazy->exact()) {
        EXPECT_TRUE(written.empty());
      }
    }
  }
}

// A damaged page in a committed file (the base image, whose pages carry no
// checksum) fails the session's first read of it with Corruption naming the
// file; other pages read fine; a commit of the session fails, so the damage
// is never linked into a new commit.
TEST_P(LazyLayersTest, DamagedPageFailsItsFirstUseAndNeverReachesACommit) {
  TempDir dir;
  auto store = OpenStore(dir);
  Bytes init(128 * kKiB, 7);
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Bytes{1}, init, 128 * kKiB));
  ASSERT_OK_AND_ASSIGN(Root genesis, g->Commit());
  g.reset();
  const std::string image = dir.Sub("store") + "/" + genesis.ToHex() + "/" + MemoryName(Id(1));
  ASSERT_EQ(::chmod(image.c_str(), 0644), 0);
  {
    std::fstream f(image, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5 * kPageSize + 100);
    f.put(8);
  }
  // A fresh store object: no cached image.
  store.reset();
  store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(genesis));
  Bytes page(kPageSize);
  ASSERT_OK(s->ReadMemory(Id(1), 2 * kPageSize, page));
  EXPECT_EQ(page, Bytes(kPageSize, 7));
  const Status bad = s->ReadMemory(Id(1), 5 * kPageSize, page);
  if (bad.ok()) GTEST_SKIP() << "lazy filling unavailable here: pages are not checked on use";
  EXPECT_EQ(bad.code(), Status::Code::kCorruption) << bad.ToString();
  EXPECT_NE(bad.ToString().find(image), std::string::npos) << bad.ToString();
  EXPECT_NE(bad.ToString().find("page 5"), std::string::npos) << bad.ToString();
  // The memory stays poisoned: later uses fail too, and so does a commit.
  EXPECT_EQ(s->WriteMemory(Id(1), 0, Bytes{1}).code(), Status::Code::kCorruption);
  const auto committed = s->Commit();
  EXPECT_EQ(committed.status().code(), Status::Code::kCorruption) << committed.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto commits, store->ListCommits());
  EXPECT_EQ(commits.size(), 1u);
}

// No trace of what did not change: a module whose writes were all rolled
// back gets no new delta layer (its files are links to the previous
// commit's) while another module's changes are committed; the roots equal
// those of the same changes made without the rolled-back writes.
TEST_P(LazyLayersTest, RolledBackModuleGetsNoNewLayer) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Bytes{1}, Bytes(64 * kKiB, 1), 256 * kKiB));
  ASSERT_OK(g->AddModule(Id(2), Bytes{2}, Bytes(64 * kKiB, 2), 256 * kKiB));
  ASSERT_OK_AND_ASSIGN(Root genesis, g->Commit());
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(genesis));
  ASSERT_OK(s->WriteMemory(Id(1), 10, Bytes{9}));  // a layer for module 1 first
  ASSERT_OK_AND_ASSIGN(Root first, s->Commit());

  // Module 1: written then rolled back (a failed call, a failed callee);
  // module 2: written and kept.
  ASSERT_OK(s->Checkpoint());
  ASSERT_OK(s->WriteMemory(Id(2), 5 * kPageSize, Bytes{4, 4}));
  ASSERT_OK(s->Checkpoint());
  ASSERT_OK(s->WriteMemory(Id(1), 3 * kPageSize, Bytes{5}));
  ASSERT_OK(s->WriteMemory(Id(1), 40 * kPageSize, Bytes{6}));
  ASSERT_OK(s->Rollback());
  ASSERT_OK(s->Release());
  ASSERT_OK(s->Checkpoint());
  ASSERT_OK(s->WriteMemory(Id(1), 7 * kPageSize, Bytes{5}));
  ASSERT_OK(s->Rollback());
  ASSERT_OK_AND_ASSIGN(Root second, s->Commit());

  ASSERT_OK_AND_ASSIGN(auto a, store->ShowCommit(first));
  ASSERT_OK_AND_ASSIGN(auto b, store->ShowCommit(second));
  EXPECT_EQ(b.modules[0].delta_layers, a.modules[0].delta_layers);
  EXPECT_EQ(b.modules[0].memory_hash, a.modules[0].memory_hash);
  EXPECT_NE(b.modules[1].memory_hash, a.modules[1].memory_hash);
  for (uint32_t k = 1; k <= a.modules[0].delta_layers; k++) {
    struct stat x, y;
    const std::string name = LayerName(Id(1), k);
    ASSERT_EQ(::stat((dir.Sub("store") + "/" + first.ToHex() + "/" + name).c_str(), &x), 0);
    ASSERT_EQ(::stat((dir.Sub("store") + "/" + second.ToHex() + "/" + name).c_str(), &y), 0);
    EXPECT_EQ(x.st_ino, y.st_ino) << name << " was rewritten";
  }
  // The same change without the rolled-back writes: the same root.
  ASSERT_OK_AND_ASSIGN(auto direct, store->StartSession(first));
  ASSERT_OK(direct->WriteMemory(Id(2), 5 * kPageSize, Bytes{4, 4}));
  ASSERT_OK_AND_ASSIGN(Root same, direct->CurrentRoot());
  EXPECT_EQ(same, second);
}

// A read-only process beside the writer (another process): it starts a
// session on a commit, reads part of a memory, and keeps reading after the
// writer commits and deletes that commit: pages of memories it had opened
// read exactly as committed (their files stay open), a memory it had not
// opened yet fails with an error (its files are gone), nothing crashes, and
// the reader can never commit.
TEST(ReadOnlyProcess, ReadsWhileTheWriterCommitsAndDeletes) {
  TempDir dir;
  auto store = OpenStore(dir);
  Bytes one(256 * kKiB), two(256 * kKiB, 2);
  std::mt19937 rng(9);
  for (auto& b : one) b = static_cast<uint8_t>(rng());
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Bytes{1}, one, 512 * kKiB));
  ASSERT_OK(g->AddModule(Id(2), Bytes{2}, two, 512 * kKiB));
  ASSERT_OK(g->Commit());
  for (int c = 0; c < 5; c++) {  // layers under the commit the reader uses
    for (int w = 0; w < 20; w++) {
      const uint64_t off = rng() % (one.size() - 8);
      ASSERT_OK(g->WriteMemory(Id(1), off, Bytes(8, static_cast<uint8_t>(c + 10))));
      std::memset(one.data() + off, c + 10, 8);
    }
    ASSERT_OK(g->Commit());
  }
  ASSERT_OK_AND_ASSIGN(Root used, g->CurrentRoot());
  one.resize(512 * kKiB, 0);
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The reader. Exit codes name the failed step.
    ::close(to_parent[0]);
    ::close(to_child[1]);
    StoreOptions ro;
    ro.read_only = true;
    auto reader = Store::Open(dir.Sub("store"), ro);
    if (!reader.ok()) ::_exit(2);
    auto s = (*reader)->StartSession(used);
    if (!s.ok()) ::_exit(3);
    Bytes got(one.size() / 2);
    if (!(*s)->ReadMemory(Id(1), 0, got).ok() || std::memcmp(got.data(), one.data(), got.size()) != 0) ::_exit(4);
    char c = 'r';
    if (::write(to_parent[1], &c, 1) != 1 || ::read(to_child[0], &c, 1) != 1) ::_exit(5);
    // The commit is gone now.
    if (!(*s)->ReadMemory(Id(1), one.size() / 2, got).ok()) ::_exit(6);
    if (std::memcmp(got.data(), one.data() + one.size() / 2, got.size()) != 0) ::_exit(7);
    Bytes small(16);
    const Status gone = (*s)->ReadMemory(Id(2), 0, small);
    if (gone.ok() || gone.code() == Status::Code::kCorruption) ::_exit(8);
    if ((*s)->WriteMemory(Id(1), 0, Bytes{1}).ok() && (*s)->Commit().ok()) ::_exit(9);
    auto fresh = (*reader)->StartSession(used);
    if (fresh.ok()) ::_exit(10);
    ::_exit(0);
  }
  // Only the child holds these ends now: if it fails before writing, the
  // read below sees end-of-file instead of waiting for ever.
  ::close(to_parent[1]);
  ::close(to_child[0]);
  char c;
  const bool reader_ready = ::read(to_parent[0], &c, 1) == 1;
  if (!reader_ready) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    FAIL() << "reader failed before reading (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << ")";
  }
  // The writer commits more and deletes the commit the reader stands on (it
  // cannot see the reader's pins: they live in the other process).
  ASSERT_OK(g->WriteMemory(Id(2), 0, Bytes{7}));
  ASSERT_OK(g->Commit());
  g.reset();
  ASSERT_OK(store->DeleteCommit(used));
  c = 'd';
  ASSERT_EQ(::write(to_child[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "reader killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "reader failed at step " << WEXITSTATUS(status);
  for (int fd : {to_child[1], to_parent[0]}) ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Tracking, LazyLayersTest,
                         ::testing::Values(os::TrackingMode::kExact, os::TrackingMode::kPagemap),
                         [](const auto& info) { return info.param == os::TrackingMode::kExact ? "Exact" : "Pagemap"; });

}  // namespace
}  // namespace crust::store
