// Copyright (c) crust authors. Licensed under the MIT license.
//
// Store and session behaviour through the public API.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/dirty_tracking.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/store/format.h"
#include "src/store/session_region.h"
#include "src/util/coding.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
constexpr uint64_t kMiB = 1 << 20;
using store::kWasmPageSize;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[31] = n;
  return id;
}

Bytes Fill(size_t n, uint8_t v) { return Bytes(n, v); }

// The tracking mode of the running StoreTest (its parameter); kAuto elsewhere.
DirtyTracking store_test_tracking = DirtyTracking::kAuto;

std::unique_ptr<Store> OpenStore(const TempDir& dir, StoreOptions opt = {}) {
  opt.sync = false;
  opt.dirty_tracking = store_test_tracking;
  auto s = Store::Open(dir.Sub("store"), opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Commits a genesis of module Id(1) (`bytecode`, memory of `length` bytes
// starting with `init`); returns its root (zero, after a test failure, if
// that failed).
Root CommitGenesisOfOne(Store* store, const Bytes& bytecode, const Bytes& init, uint64_t length) {
  auto g = store->StartGenesis();
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return Root();
  Status added = (*g)->AddModule(Id(1), bytecode, init, length);
  EXPECT_TRUE(added.ok()) << added.ToString();
  auto root = (*g)->Commit();
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  return root.ok() ? *root : Root();
}

uint64_t Inode(const std::string& path) {
  auto info = os::Env::Default()->Stat(path);
  return info.ok() ? info->inode : 0;
}

Bytes ReadMem(Session& s, const ModuleId& id, uint64_t off, size_t n) {
  Bytes out(n);
  EXPECT_OK(s.ReadMemory(id, off, out));
  return out;
}

class StoreTest : public ::testing::TestWithParam<os::TrackingMode> {
 protected:
  void SetUp() override {
    if (GetParam() == os::TrackingMode::kExact && !os::ExactTrackingAvailable()) GTEST_SKIP() << "no exact tracking";
    store_test_tracking = crust::testing::ToDirtyTracking(GetParam());
  }
  void TearDown() override { store_test_tracking = DirtyTracking::kAuto; }
};

TEST_P(StoreTest, GenesisCommitAndReadBack) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(Id(1), Fill(100, 0xB1), Fill(10, 7), kMiB, Fill(3, 0xAA)));
  ASSERT_OK(s->AddModule(Id(2), Fill(50, 0xB2), {}, 2 * kWasmPageSize));
  EXPECT_EQ(s->AddModule(Id(1), {}, {}, kWasmPageSize).code(), Status::Code::kAlreadyExists);
  EXPECT_FALSE(s->AddModule(Id(3), {}, {}, 1000).ok());
  ASSERT_OK(s->WriteMemory(Id(2), 70000, Fill(5, 9)));
  EXPECT_FALSE(s->WriteMemory(Id(2), 2 * kWasmPageSize - 2, Fill(5, 9)).ok());
  ASSERT_OK_AND_ASSIGN(Root r0, s->CurrentRoot());
  ASSERT_OK_AND_ASSIGN(Root r1, s->Commit());
  EXPECT_EQ(r0, r1);
  s.reset();
  ASSERT_OK(store->VerifyCommit(r1));
  ASSERT_OK_AND_ASSIGN(auto s2, store->StartSession(r1));
  EXPECT_EQ(ReadMem(*s2, Id(1), 0, 11), (Bytes{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0}));
  EXPECT_EQ(ReadMem(*s2, Id(2), 70000, 5), Fill(5, 9));
  ASSERT_OK_AND_ASSIGN(Bytes bc, s2->Bytecode(Id(1)));
  EXPECT_EQ(bc, Fill(100, 0xB1));
  ASSERT_OK_AND_ASSIGN(Bytes meta, s2->Metadata(Id(1)));
  EXPECT_EQ(meta, Fill(3, 0xAA));
  ASSERT_OK_AND_ASSIGN(Root same, s2->CurrentRoot());
  EXPECT_EQ(same, r1);
}

// A large commit writes its new layer while computing it (layer_stream.h).
// The same change committed that way and the ordinary way (one thread, the
// layer encoded whole) gives the same root and a layer with the same page
// list, the same tree nodes byte for byte, and the same page data; both
// verify and read back. Runs over scattered, clustered and adjacent pages,
// on a base with layers and without.
TEST_P(StoreTest, StreamedLayerEqualsEncodedLayer) {
  std::mt19937_64 rng(5);
  std::vector<uint32_t> pages;
  // ~2700 scattered pages: more chunks than StreamedLayer::kWriteEvery, so
  // node bytes are written while later chunks run.
  for (int i = 0; i < 2900; i++) pages.push_back(static_cast<uint32_t>(rng() % 16384));  // scattered over 64 MiB
  for (uint32_t p = 1000; p < 1300; p++) pages.push_back(p);                           // a run
  for (uint32_t p = 4000; p < 4096; p += 2) pages.push_back(p);                         // every other page
  Bytes layer_bytes[2];
  Root roots[2];
  for (int streamed = 0; streamed < 2; streamed++) {
    TempDir dir;
    auto store = OpenStore(dir, StoreOptions{.parallel_commit_pages = streamed ? 1u : (1u << 30)});
    const Root base = CommitGenesisOfOne(store.get(), Fill(10, 1), Fill(5000, 3), 64 * kMiB);
    ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(base));
    for (size_t i = 0; i < pages.size(); i++) {
      ASSERT_OK(s->WriteMemory(Id(1), uint64_t{pages[i]} * 4096 + (i * 97) % 4000, Fill(1 + i % 60, static_cast<uint8_t>(i))));
    }
    ASSERT_OK_AND_ASSIGN(roots[streamed], s->Commit());
    // A second commit on top (the first layer is kept, the new one streamed).
    ASSERT_OK(s->WriteMemory(Id(1), 5 * 4096, Fill(10, 0xEE)));
    for (uint32_t p = 2000; p < 2400; p++) ASSERT_OK(s->WriteMemory(Id(1), uint64_t{p} * 4096 + 7, Fill(3, 0x5A)));
    ASSERT_OK_AND_ASSIGN(Root second, s->Commit());
    s.reset();
    ASSERT_OK(store->VerifyCommit(roots[streamed]));
    ASSERT_OK(store->VerifyCommit(second));
    ASSERT_OK_AND_ASSIGN(layer_bytes[streamed],
                         os::Env::Default()->ReadFile(dir.Sub("store/" + roots[streamed].ToHex() + "/memory/" +
                                                              Id(1).ToHex() + ".diff")));
    ASSERT_OK_AND_ASSIGN(auto r, store->StartSession(second));
    EXPECT_EQ(ReadMem(*r, Id(1), 5 * 4096, 10), Fill(10, 0xEE));
    EXPECT_EQ(ReadMem(*r, Id(1), 2100 * 4096 + 7, 3), Fill(3, 0x5A));
    EXPECT_EQ(ReadMem(*r, Id(1), 0, 5000), Fill(5000, 3));
  }
  EXPECT_EQ(roots[0], roots[1]);
  // Header (up to the compressed size), page list and nodes: identical bytes.
  ASSERT_GE(layer_bytes[0].size(), 32u);
  ASSERT_GE(layer_bytes[1].size(), 32u);
  const uint32_t page_count = DecodeFixed32(layer_bytes[0].data() + 12);
  const uint32_t node_count = DecodeFixed32(layer_bytes[0].data() + 16);
  const size_t fixed = 32 + 4 * size_t{page_count} + 36 * size_t{node_count};
  ASSERT_LE(fixed, layer_bytes[0].size());
  ASSERT_LE(fixed, layer_bytes[1].size());
  EXPECT_EQ(Bytes(layer_bytes[0].begin(), layer_bytes[0].begin() + 24), Bytes(layer_bytes[1].begin(), layer_bytes[1].begin() + 24));
  EXPECT_TRUE(std::equal(layer_bytes[0].begin() + 32, layer_bytes[0].begin() + static_cast<std::ptrdiff_t>(fixed),
                         layer_bytes[1].begin() + 32));
}

// A session finds the pages written through WriteMemory from its own notes
// until the raw pointer is handed out; from then on the kernel tracks every
// write. No write is lost across the switch: one noted and pending at the
// switch, raw writes to a page written (and committed) before it and to a
// new page, and a later WriteMemory.
TEST_P(StoreTest, RawPointerAfterNotedWritesLosesNothing) {
  TempDir dir;
  auto store = OpenStore(dir);
  const Root base = CommitGenesisOfOne(store.get(), Fill(4, 1), Fill(100, 1), kMiB);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(base));
  ASSERT_OK(s->WriteMemory(Id(1), 5 * 4096, Fill(8, 0x11)));
  ASSERT_OK_AND_ASSIGN(Root r1, s->Commit());  // collected from the notes
  ASSERT_OK(s->WriteMemory(Id(1), 9 * 4096, Fill(8, 0x22)));  // noted, pending
  ASSERT_OK_AND_ASSIGN(os::MemoryRegion * region, store::SessionMemoryRegion(*s, Id(1)));
  std::memset(region->data() + 5 * 4096 + 100, 0x33, 8);  // a page written before the switch
  std::memset(region->data() + 20 * 4096, 0x44, 8);       // a new page
  ASSERT_OK_AND_ASSIGN(Root r2, s->Commit());
  ASSERT_OK(s->WriteMemory(Id(1), 30 * 4096, Fill(8, 0x55)));
  std::memset(region->data() + 9 * 4096 + 200, 0x66, 8);
  ASSERT_OK_AND_ASSIGN(Root r3, s->Commit());
  s.reset();
  EXPECT_NE(r1, r2);
  EXPECT_NE(r2, r3);
  for (const Root& r : {r1, r2, r3}) ASSERT_OK(store->VerifyCommit(r));
  ASSERT_OK_AND_ASSIGN(auto a, store->StartSession(r2));
  EXPECT_EQ(ReadMem(*a, Id(1), 5 * 4096, 8), Fill(8, 0x11));
  EXPECT_EQ(ReadMem(*a, Id(1), 5 * 4096 + 100, 8), Fill(8, 0x33));
  EXPECT_EQ(ReadMem(*a, Id(1), 9 * 4096, 8), Fill(8, 0x22));
  EXPECT_EQ(ReadMem(*a, Id(1), 20 * 4096, 8), Fill(8, 0x44));
  ASSERT_OK_AND_ASSIGN(auto b, store->StartSession(r3));
  EXPECT_EQ(ReadMem(*b, Id(1), 30 * 4096, 8), Fill(8, 0x55));
  EXPECT_EQ(ReadMem(*b, Id(1), 9 * 4096 + 200, 8), Fill(8, 0x66));
  EXPECT_EQ(ReadMem(*b, Id(1), 20 * 4096, 8), Fill(8, 0x44));
  // The same states rebuilt from genesis through WriteMemory only give the
  // same roots.
  ASSERT_OK_AND_ASSIGN(auto c, store->StartSession(base));
  ASSERT_OK(c->WriteMemory(Id(1), 5 * 4096, Fill(8, 0x11)));
  ASSERT_OK(c->WriteMemory(Id(1), 5 * 4096 + 100, Fill(8, 0x33)));
  ASSERT_OK(c->WriteMemory(Id(1), 9 * 4096, Fill(8, 0x22)));
  ASSERT_OK(c->WriteMemory(Id(1), 20 * 4096, Fill(8, 0x44)));
  ASSERT_OK_AND_ASSIGN(Root again, c->CurrentRoot());
  EXPECT_EQ(again, r2);
}

TEST_P(StoreTest, SessionWritesNeverReachCommittedFiles) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Fill(4, 1), Fill(kMiB, 0x11), kMiB));
  ASSERT_OK_AND_ASSIGN(Root r1, g->Commit());
  const std::string mem = store->dir() + "/" + r1.ToHex() + "/memory/" + Id(1).ToHex();
  ASSERT_OK_AND_ASSIGN(Bytes before, os::Env::Default()->ReadFile(mem));
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(r1));
  ASSERT_OK(s->WriteMemory(Id(1), 12345, Fill(9000, 0x22)));
  ASSERT_OK(s->GrowMemory(Id(1), 2 * kMiB));
  ASSERT_OK(s->WriteMemory(Id(1), kMiB + 5, Fill(3, 0x33)));
  ASSERT_OK_AND_ASSIGN(Bytes after, os::Env::Default()->ReadFile(mem));
  EXPECT_EQ(before, after);
  ASSERT_OK_AND_ASSIGN(auto info, os::Env::Default()->Stat(mem));
  EXPECT_FALSE(info.writable);
  // A second session on the same base sees the committed bytes, not the first's.
  ASSERT_OK_AND_ASSIGN(auto t, store->StartSession(r1));
  EXPECT_EQ(ReadMem(*t, Id(1), 12345, 4), Fill(4, 0x11));
  ASSERT_OK_AND_ASSIGN(Root r2, s->Commit());
  ASSERT_OK(store->VerifyCommit(r2));
  ASSERT_OK_AND_ASSIGN(auto u, store->StartSession(r2));
  EXPECT_EQ(ReadMem(*u, Id(1), 12345, 9000), Fill(9000, 0x22));
  EXPECT_EQ(ReadMem(*u, Id(1), kMiB + 4, 5), (Bytes{0, 0x33, 0x33, 0x33, 0}));
  ASSERT_OK_AND_ASSIGN(uint64_t len, u->MemoryLength(Id(1)));
  EXPECT_EQ(len, 2 * kMiB);
}

TEST_P(StoreTest, IdenticalStatesHaveIdenticalRootsWhateverTheirHistory) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Fill(4, 1), {}, kMiB));
  ASSERT_OK_AND_ASSIGN(Root r1, g->Commit());
  // Path A: write X then Y over two commits. Path B: genesis with final bytes.
  ASSERT_OK_AND_ASSIGN(auto a, store->StartSession(r1));
  ASSERT_OK(a->WriteMemory(Id(1), 0, Fill(10, 5)));
  ASSERT_OK(a->Commit());
  ASSERT_OK(a->WriteMemory(Id(1), 500000, Fill(10, 6)));
  ASSERT_OK(a->WriteMemory(Id(1), 0, Fill(10, 0)));  // back to zero
  ASSERT_OK(a->WriteMemory(Id(1), 0, Fill(1, 5)));
  ASSERT_OK_AND_ASSIGN(Root ra, a->Commit());
  Bytes image(kMiB, 0);
  image[0] = 5;
  std::memset(image.data() + 500000, 6, 10);
  ASSERT_OK_AND_ASSIGN(auto b, store->StartGenesis());
  ASSERT_OK(b->AddModule(Id(1), Fill(4, 1), image, kMiB));
  ASSERT_OK_AND_ASSIGN(Root rb, b->Commit());
  EXPECT_EQ(ra, rb);
  // Committing an identical state again yields the same single directory.
  ASSERT_OK_AND_ASSIGN(auto c, store->StartSession(rb));
  ASSERT_OK_AND_ASSIGN(Root rc, c->Commit());
  EXPECT_EQ(rc, rb);
  ASSERT_OK_AND_ASSIGN(auto commits, store->ListCommits());
  EXPECT_EQ(commits.size(), 3u);  // r1, the intermediate one, ra == rb
}

TEST_P(StoreTest, ManyCommitsKeepLayersBoundedAndContentsExact) {
  TempDir dir;
  auto store = OpenStore(dir);
  const uint64_t len = 16 * kMiB;  // 4096 pages
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(Id(1), Fill(4, 1), {}, len));
  ASSERT_OK(s->Commit());
  Bytes model(len, 0);
  std::mt19937 rng(5);
  Root last;
  uint32_t max_layers = 0;
  for (int i = 0; i < 300; i++) {
    int writes = 1 + static_cast<int>(rng() % 4);
    for (int w = 0; w < writes; w++) {
      uint64_t off = rng() % (len - 8);
      uint8_t v = static_cast<uint8_t>(rng() | 1);
      ASSERT_OK(s->WriteMemory(Id(1), off, Fill(8, v)));
      std::memset(model.data() + off, v, 8);
    }
    ASSERT_OK_AND_ASSIGN(last, s->Commit());
    ASSERT_OK_AND_ASSIGN(auto info, store->ShowCommit(last));
    max_layers = std::max(max_layers, info.modules[0].delta_layers);
  }
  EXPECT_LE(max_layers, 12u);
  ASSERT_OK(store->VerifyCommit(last));
  ASSERT_OK_AND_ASSIGN(auto fresh, store->StartSession(last));
  EXPECT_EQ(ReadMem(*fresh, Id(1), 0, len), model);
  // Same state from scratch: same root.
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), Fill(4, 1), model, len));
  ASSERT_OK_AND_ASSIGN(Root direct, g->CurrentRoot());
  EXPECT_EQ(direct, last);
}

// A layer of at least max(1024, rebase_fraction x pages / 16) pages is sealed:
// later commits link it and never merge it, which bounds what one commit
// rewrites (docs/format.md).
TEST_P(StoreTest, SealedLayersAreNeverMergedAgain) {
  TempDir dir;
  auto store = OpenStore(dir);
  const uint64_t len = 64 * kMiB;  // 16384 pages: layers hold up to 4096, seal at 1024
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(Id(1), Fill(4, 1), {}, len));
  ASSERT_OK(s->Commit());
  Bytes model(len, 0);
  auto write_pages = [&](uint64_t first, uint64_t n, uint8_t v) {
    for (uint64_t p = first; p < first + n; p++) {
      const uint64_t off = p * 4096 + 100;
      ASSERT_OK(s->WriteMemory(Id(1), off, Fill(8, v)));
      std::memset(model.data() + off, v, 8);
    }
  };
  write_pages(0, 1100, 7);  // one layer of 1100 pages: sealed
  ASSERT_OK_AND_ASSIGN(Root first, s->Commit());
  const std::string layer1 = "/memory/" + Id(1).ToHex() + ".diff";
  const uint64_t inode = Inode(store->dir() + "/" + first.ToHex() + layer1);
  ASSERT_NE(inode, 0u);
  Root last;
  for (int i = 0; i < 10; i++) {
    // 100 new pages each: without sealing they would be merged into layer 1
    // once they hold 550 pages.
    write_pages(2000 + 100 * static_cast<uint64_t>(i), 100, static_cast<uint8_t>(10 + i));
    ASSERT_OK_AND_ASSIGN(last, s->Commit());
    ASSERT_OK_AND_ASSIGN(auto info, store->ShowCommit(last));
    EXPECT_GE(info.modules[0].delta_layers, 2u) << "commit " << i;
    EXPECT_EQ(Inode(store->dir() + "/" + last.ToHex() + layer1), inode) << "layer 1 was rewritten at commit " << i;
  }
  ASSERT_OK(store->VerifyCommit(last));
  ASSERT_OK_AND_ASSIGN(auto fresh, store->StartSession(last));
  EXPECT_EQ(ReadMem(*fresh, Id(1), 0, len), model);
}

TEST_P(StoreTest, RebaseWritesFreshImageWhenDeltasOutgrowIt) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(Id(1), Fill(4, 1), {}, kMiB));  // 256 pages
  ASSERT_OK(s->Commit());
  ASSERT_OK(s->WriteMemory(Id(1), 0, Fill(100 * 4096, 3)));  // 100 pages > 25%
  ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
  ASSERT_OK_AND_ASSIGN(auto info, store->ShowCommit(r));
  EXPECT_EQ(info.modules[0].delta_layers, 0u);
  ASSERT_OK(store->VerifyCommit(r));
  ASSERT_OK(s->WriteMemory(Id(1), 5, Fill(1, 4)));
  ASSERT_OK_AND_ASSIGN(Root r2, s->Commit());
  ASSERT_OK_AND_ASSIGN(auto info2, store->ShowCommit(r2));
  EXPECT_EQ(info2.modules[0].delta_layers, 1u);
  ASSERT_OK(store->VerifyCommit(r2));
}

TEST_P(StoreTest, DeletingAnyCommitLeavesOthersIntact) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(Id(1), Fill(4, 1), Fill(1000, 1), kMiB));
  std::vector<Root> roots;
  for (int i = 0; i < 6; i++) {
    ASSERT_OK(s->WriteMemory(Id(1), i * 70000, Fill(10, static_cast<uint8_t>(i + 10))));
    ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
    roots.push_back(r);
  }
  s.reset();
  ASSERT_OK(store->DeleteCommit(roots[0]));
  ASSERT_OK(store->DeleteCommit(roots[3]));
  EXPECT_TRUE(store->DeleteCommit(roots[3]).IsNotFound());
  for (int i : {1, 2, 4, 5}) ASSERT_OK(store->VerifyCommit(roots[i]));
  ASSERT_OK_AND_ASSIGN(auto t, store->StartSession(roots[5]));
  for (int i = 0; i < 6; i++) EXPECT_EQ(ReadMem(*t, Id(1), i * 70000, 1)[0], i + 10);
  EXPECT_TRUE(store->StartSession(roots[0]).status().IsNotFound());
}

TEST_P(StoreTest, DeleteWaitsForSessionsAndTryDeleteReportsBusy) {
  TempDir dir;
  auto store = OpenStore(dir);
  const Root r = CommitGenesisOfOne(store.get(), Fill(4, 1), Fill(10, 1), kWasmPageSize);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(r));
  ASSERT_OK(s->WriteMemory(Id(1), 0, Fill(1, 2)));
  Status busy = store->TryDeleteCommit(r);
  EXPECT_TRUE(busy.IsBusy()) << busy.ToString();
  std::atomic<bool> done{false};
  std::thread deleter([&] {
    EXPECT_OK(store->DeleteCommit(r));
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(done.load());
  // While deletion waits, the session still works and new sessions are refused.
  EXPECT_EQ(ReadMem(*s, Id(1), 0, 2), (Bytes{2, 1}));
  EXPECT_TRUE(store->StartSession(r).status().IsNotFound());
  s.reset();
  deleter.join();
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(store->ShowCommit(r).status().IsNotFound());
}

TEST_P(StoreTest, ReopenFindsCommitsAndCleansLeftovers) {
  TempDir dir;
  Root r;
  {
    auto store = OpenStore(dir);
    ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
    ASSERT_OK(g->AddModule(Id(1), Fill(4, 1), Fill(10, 1), kWasmPageSize));
    ASSERT_OK_AND_ASSIGN(r, g->Commit());
  }
  // Leftovers of a commit and a deletion a crash interrupted, with a file
  // each (FORMAT.tmp: of a store creation).
  os::Env* env = os::Env::Default();
  for (const char* d : {"store/.pending/staging-1-2-3", "store/.pending/deleting-1-2-3"}) {
    ASSERT_OK(env->CreateDir(dir.Sub(d)));
    std::ofstream(dir.Sub(d) + "/index") << "half an index";
  }
  std::ofstream(dir.Sub("store/FORMAT.tmp")) << "crust-st";
  {
    auto store = OpenStore(dir);
    ASSERT_OK_AND_ASSIGN(auto left, env->ListDir(dir.Sub("store/.pending")));
    EXPECT_TRUE(left.empty());
    EXPECT_FALSE(env->Exists(dir.Sub("store/FORMAT.tmp")));
    ASSERT_OK_AND_ASSIGN(auto commits, store->ListCommits());
    ASSERT_EQ(commits.size(), 1u);
    EXPECT_EQ(commits[0].root, r);
    ASSERT_OK(store->StartSession(r));
  }
  // A store last written by a crust that kept them in the store directory
  // (no .pending yet): removed at the first open, which creates .pending.
  ASSERT_OK(env->RemoveDirRecursive(dir.Sub("store/.pending")));
  ASSERT_OK(env->CreateDir(dir.Sub("store/.staging-1-2-3")));
  ASSERT_OK(env->CreateDir(dir.Sub("store/.deleting-1-2-3")));
  auto store = OpenStore(dir);
  EXPECT_FALSE(env->Exists(dir.Sub("store/.staging-1-2-3")));
  EXPECT_FALSE(env->Exists(dir.Sub("store/.deleting-1-2-3")));
  EXPECT_TRUE(env->Exists(dir.Sub("store/.pending")));
  ASSERT_OK_AND_ASSIGN(auto commits, store->ListCommits());
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].root, r);
  ASSERT_OK(store->StartSession(r));
}

TEST_P(StoreTest, OneWriterAtATimeReadersBeside) {
  TempDir dir;
  auto store = OpenStore(dir);
  auto second = Store::Open(dir.Sub("store"));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy());
  EXPECT_NE(second.status().ToString().find(std::to_string(getpid())), std::string::npos) << second.status().ToString();
  StoreOptions ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(dir.Sub("store"), ro));
  ASSERT_OK(reader->ListCommits());
  ASSERT_OK_AND_ASSIGN(auto g, reader->StartGenesis());
  ASSERT_OK(g->AddModule(Id(1), {}, {}, kWasmPageSize));
  EXPECT_EQ(g->Commit().status().code(), Status::Code::kAborted);
  // Missing store: NotFound without create_if_missing.
  StoreOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_TRUE(Store::Open(dir.Sub("nope"), no_create).status().IsNotFound());
}

// A store of format 1 (SHA-256 page tree) is refused at open, for writing
// and for reading, with a message naming the file and the change; one of an
// unknown format is reported as such. Nothing in the store is touched.
TEST(StoreFormatTest, OlderAndUnknownFormatsAreRefused) {
  TempDir dir;
  { OpenStore(dir); }
  os::Env* env = os::Env::Default();
  const std::string format = dir.Sub("store/FORMAT");
  ASSERT_OK_AND_ASSIGN(Bytes current, env->ReadFile(format, 4096));
  EXPECT_EQ(std::string(current.begin(), current.end()), "crust-store 2\n");
  auto write = [&](const std::string& text) {
    ASSERT_OK(env->RemoveFile(format));
    ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(format));
    ASSERT_OK(f->Append(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    ASSERT_OK(f->Close());
  };
  write("crust-store 1\n");
  for (bool read_only : {false, true}) {
    StoreOptions opt;
    opt.read_only = read_only;
    auto s = Store::Open(dir.Sub("store"), opt);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Status::Code::kNotSupported) << s.status().ToString();
    EXPECT_NE(s.status().ToString().find(format), std::string::npos) << s.status().ToString();
    EXPECT_NE(s.status().ToString().find("format 1"), std::string::npos) << s.status().ToString();
    EXPECT_NE(s.status().ToString().find("BLAKE3"), std::string::npos) << s.status().ToString();
  }
  ASSERT_OK_AND_ASSIGN(Bytes after, env->ReadFile(format, 4096));
  EXPECT_EQ(std::string(after.begin(), after.end()), "crust-store 1\n");
  write("crust-store 9\n");
  auto s = Store::Open(dir.Sub("store"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().IsCorruption()) << s.status().ToString();
  EXPECT_NE(s.status().ToString().find("crust-store 9"), std::string::npos) << s.status().ToString();
}

// A stray regular file named like a root is not a commit: listing ignores it
// (and so does the CLI's default base, the newest listed commit).
TEST(StoreHostileDirTest, RegularFileNamedLikeARootIsIgnored) {
  TempDir dir;
  auto store = OpenStore(dir);
  const Root root = CommitGenesisOfOne(store.get(), Fill(8, 1), Fill(10, 2), kMiB);
  const std::string stray = dir.Sub("store/" + std::string(64, 'f'));
  { std::ofstream(stray) << "not a commit"; }
  ASSERT_OK_AND_ASSIGN(auto commits, store->ListCommits());
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].root, root);
  store.reset();
  store = OpenStore(dir);  // reopening does not trip over it either
  ASSERT_OK_AND_ASSIGN(commits, store->ListCommits());
  EXPECT_EQ(commits.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(root));
  ASSERT_OK(s->WriteMemory(Id(1), 0, Fill(4, 9)));
  ASSERT_OK(s->Commit().status());
}

// A memory image on a full tmpfs: its holes cannot be read (SIGBUS on the
// mapping). Verification reports an IOError instead of dying. Needs a tmpfs
// mount (root); skipped where mounting is not allowed.
TEST(StoreHostileDirTest, VerifyOnAFullTmpfsReportsInsteadOfCrashing) {
  TempDir dir;
  const std::string mnt = dir.Sub("tmpfs");
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  Status verified;
  {
    StoreOptions opt;
    opt.sync = false;
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(mnt + "/store", opt));
    // 1 MiB of memory, one page written: the rest are holes in the image.
    const Root root = CommitGenesisOfOne(store.get(), Fill(8, 1), Fill(10, 2), kMiB);
    {
      std::ofstream fill(mnt + "/fill", std::ios::binary);
      const std::string chunk(4096, 'x');
      while (fill.write(chunk.data(), chunk.size()) && fill.flush()) {
      }
    }
    verified = store->VerifyCommit(root);
  }
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_EQ(verified.code(), Status::Code::kIOError) << verified.ToString();
  EXPECT_NE(verified.ToString().find("SIGBUS"), std::string::npos) << verified.ToString();
}

// LOCK is never opened through a symlink (its target would be truncated).
TEST(StoreHostileDirTest, LockSymlinkIsRefused) {
  TempDir dir;
  { OpenStore(dir); }
  const std::string victim = dir.Sub("victim");
  { std::ofstream(victim) << "precious"; }
  const std::string lock = dir.Sub("store/LOCK");
  ASSERT_EQ(std::remove(lock.c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), lock.c_str()), 0);
  StoreOptions opt;
  auto s = Store::Open(dir.Sub("store"), opt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument) << s.status().ToString();
  EXPECT_NE(s.status().ToString().find("symbolic link"), std::string::npos) << s.status().ToString();
  std::ifstream in(victim);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
}

TEST_P(StoreTest, ConcurrentSessionsFromOneBase) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_OK_AND_ASSIGN(auto g, store->StartGenesis());
  for (uint8_t m = 1; m <= 4; m++) ASSERT_OK(g->AddModule(Id(m), Fill(4, m), Fill(100, m), kMiB));
  ASSERT_OK_AND_ASSIGN(Root base, g->Commit());
  g.reset();
  std::vector<Root> roots(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      auto s = store->StartSession(base);
      ASSERT_TRUE(s.ok());
      for (int k = 0; k < 20; k++) {
        EXPECT_OK((*s)->WriteMemory(Id(1 + t % 4), (k * 4096 * 3) % kMiB, Fill(16, static_cast<uint8_t>(t + 1))));
      }
      auto r = (*s)->Commit();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      roots[t] = *r;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; t++) {
    ASSERT_OK(store->VerifyCommit(roots[t]));
    ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(roots[t]));
    EXPECT_EQ(ReadMem(*s, Id(1 + t % 4), 4096 * 3, 1)[0], t + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Tracking, StoreTest,
                         ::testing::Values(os::TrackingMode::kExact, os::TrackingMode::kPagemap),
                         [](const auto& info) {
                           return std::string(info.param == os::TrackingMode::kExact ? "Exact" : "Pagemap");
                         });

}  // namespace
}  // namespace crust
