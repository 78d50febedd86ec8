// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/spare_staging.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/store/open_env.h"
#include "tests/fault_env.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

using testing::FaultEnv;
using testing::FaultOp;
using testing::ListNames;
using testing::TempDir;

struct Paths {
  std::string dir;
  int n = 0;
  std::string Next() { return dir + "/spare-" + std::to_string(++n); }
};

TEST(SpareStagingTest, NothingUntilRequested) {
  TempDir tmp;
  Paths paths{tmp.path()};
  SpareStaging spares(os::Env::Default(), [&] { return paths.Next(); });
  EXPECT_FALSE(spares.Take().has_value());
  EXPECT_TRUE(ListNames(tmp.path()).empty());
}

TEST(SpareStagingTest, RequestMakesOneCompleteSpare) {
  TempDir tmp;
  Paths paths{tmp.path()};
  SpareStaging spares(os::Env::Default(), [&] { return paths.Next(); });
  spares.Request();
  spares.WaitIdle();
  spares.Request();  // one is ready: nothing more
  spares.WaitIdle();
  EXPECT_EQ(ListNames(tmp.path()), std::vector<std::string>{"spare-1"});
  std::optional<SpareStaging::Dir> d = spares.Take();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->path, tmp.Sub("spare-1"));
  EXPECT_EQ(ListNames(d->path), (std::vector<std::string>{"bytecode", "index", "layer.spare", "memory"}));
  ASSERT_NE(d->index, nullptr);
  EXPECT_EQ(d->index->path(), d->path + "/index");
  EXPECT_EQ(d->index->Size(), 0u);
  // The index is open for writing.
  const std::vector<uint8_t> bytes{1, 2, 3};
  ASSERT_OK(d->index->Append(ByteView(bytes)));
  ASSERT_OK(d->index->Close());
  EXPECT_EQ(std::filesystem::file_size(d->path + "/index"), 3u);
  EXPECT_FALSE(spares.Take().has_value());  // taken: gone from the spares
}

TEST(SpareStagingTest, AFailureMakingASpareLeavesNothing) {
  TempDir tmp;
  Paths paths{tmp.path()};
  FaultEnv env;
  SpareStaging spares(&env, [&] { return paths.Next(); });
  // Each step of making a spare fails in turn: nothing is offered, nothing left.
  for (auto [op, n] : {std::pair{FaultOp::kCreateDir, 1}, {FaultOp::kCreateDir, 2}, {FaultOp::kCreateDir, 3},
                       {FaultOp::kCreateFile, 1}, {FaultOp::kCreateFile, 2}, {FaultOp::kClose, 1}}) {
    env.FailNth(op, n);
    spares.Request();
    spares.WaitIdle();
    env.ClearFaults();
    EXPECT_EQ(env.Failures(op), 1);
    EXPECT_FALSE(spares.Take().has_value()) << FaultOpName(op) << " #" << n;
    EXPECT_TRUE(ListNames(tmp.path()).empty()) << FaultOpName(op) << " #" << n;
    env.ResetCounts();
  }
  spares.Request();  // and the next one works
  EXPECT_TRUE(spares.Take().has_value());  // waits for it
}

TEST(SpareStagingTest, RemoveAllAndDestructorRemoveReadySpares) {
  TempDir tmp;
  Paths paths{tmp.path()};
  {
    SpareStaging spares(os::Env::Default(), [&] { return paths.Next(); });
    spares.Request();
    spares.WaitIdle();
    spares.RemoveAll();
    EXPECT_TRUE(ListNames(tmp.path()).empty());
    spares.Request();
    spares.WaitIdle();
    EXPECT_EQ(ListNames(tmp.path()).size(), 1u);
  }
  EXPECT_TRUE(ListNames(tmp.path()).empty());
  {
    // Destroyed while a spare may be being made: it is removed too.
    SpareStaging spares(os::Env::Default(), [&] { return paths.Next(); });
    spares.Request();
  }
  EXPECT_TRUE(ListNames(tmp.path()).empty());
}

TEST(SpareStagingTest, ConcurrentRequestsAndTakes) {
  TempDir tmp;
  std::atomic<int> n{0};
  SpareStaging spares(os::Env::Default(), [&] { return tmp.Sub("spare-" + std::to_string(++n)); });
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; i++) {
        spares.Request();
        if (std::optional<SpareStaging::Dir> d = spares.Take()) {
          taken++;
          d->index.reset();
          std::filesystem::remove_all(d->path);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  spares.WaitIdle();
  EXPECT_GT(taken.load(), 0);
  EXPECT_LE(ListNames(tmp.path()).size(), 1u);  // at most one left ready
}

// Through the store: a commit leaves one spare in .pending; the next commit
// publishes it as its directory; closing the store removes the spare, and
// opening removes one left by a process that died.
TEST(SpareStagingTest, StoreCommitsUseAndRemakeSpares) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  StoreOptions opt;
  opt.sync = true;
  const ModuleId id = testing::TestModuleId(1);
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, opt));
    ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
    ASSERT_OK(s->AddModule(id, testing::Pattern(1, 100), testing::Pattern(2, 5000), 65536));
    ASSERT_OK_AND_ASSIGN(Root r1, s->Commit());
    WaitForBackgroundWork(store.get());
    std::vector<std::string> pending = ListNames(dir + "/.pending");
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0].rfind("spare-", 0), 0u) << pending[0];
    const std::string spare = dir + "/.pending/" + pending[0];
    struct stat layer_before, index_before;
    ASSERT_EQ(::stat((spare + "/layer.spare").c_str(), &layer_before), 0);
    ASSERT_EQ(::stat((spare + "/index").c_str(), &index_before), 0);
    // A commit writing a delta layer: the spare becomes the commit, its
    // files the layer and the index (the same inodes).
    ASSERT_OK(s->WriteMemory(id, 4096, testing::Pattern(3, 10)));
    ASSERT_OK_AND_ASSIGN(Root r2, s->Commit());
    EXPECT_NE(r1, r2);
    EXPECT_OK(store->VerifyCommit(r2));
    WaitForBackgroundWork(store.get());
    std::vector<std::string> now = ListNames(dir + "/.pending");
    ASSERT_EQ(now.size(), 1u);
    EXPECT_NE(now[0], pending[0]) << "the first spare was not used";
    EXPECT_FALSE(std::filesystem::exists(spare));
    const std::string c2 = dir + "/" + r2.ToHex();
    EXPECT_EQ(ListNames(c2), (std::vector<std::string>{"bytecode", "index", "memory"}));
    struct stat index_after;
    ASSERT_EQ(::stat((c2 + "/index").c_str(), &index_after), 0);
    EXPECT_EQ(index_after.st_ino, index_before.st_ino);
    bool layer_reused = false;
    for (const std::string& name : ListNames(c2 + "/memory")) {
      struct stat st;
      ASSERT_EQ(::stat((c2 + "/memory/" + name).c_str(), &st), 0);
      if (st.st_ino == layer_before.st_ino) layer_reused = name.find(".diff") != std::string::npos;
    }
    EXPECT_TRUE(layer_reused) << "the new delta layer is not the spare's layer file";

    // A commit writing no delta layer (a new module: a base image) removes
    // the spare's layer file before publishing.
    ASSERT_OK(s->AddModule(testing::TestModuleId(2), testing::Pattern(4, 100), testing::Pattern(5, 5000), 65536));
    ASSERT_OK_AND_ASSIGN(Root r3, s->Commit());
    EXPECT_OK(store->VerifyCommit(r3));
    const std::string c3 = dir + "/" + r3.ToHex();
    EXPECT_EQ(ListNames(c3), (std::vector<std::string>{"bytecode", "index", "memory"}));
    for (const std::string& name : ListNames(c3 + "/memory")) EXPECT_EQ(name.find("spare"), std::string::npos) << name;
  }
  EXPECT_TRUE(ListNames(dir + "/.pending").empty()) << "closing the store left its spare";
  // A spare left by a process that died is removed at the next open.
  std::filesystem::create_directories(dir + "/.pending/spare-1-2-3/memory");
  { ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, opt)); }
  EXPECT_TRUE(ListNames(dir + "/.pending").empty());
}

// Without durability (StoreOptions::sync off) commits make no spares: there
// is no fsync to hide the work behind.
TEST(SpareStagingTest, NoSparesWithoutSync) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  StoreOptions opt;
  opt.sync = false;
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(dir, opt));
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK(s->AddModule(testing::TestModuleId(1), testing::Pattern(1, 100), testing::Pattern(2, 5000), 65536));
  ASSERT_OK(s->Commit().status());
  WaitForBackgroundWork(store.get());
  EXPECT_TRUE(ListNames(dir + "/.pending").empty());
}

}  // namespace
}  // namespace crust::store
