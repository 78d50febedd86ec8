// Copyright (c) crust authors. Licensed under the MIT license.
//
// DiffCommits and MeasureDiskUsage (crust/inspect.h) on small stores.
#include "crust/inspect.h"

#include <gtest/gtest.h>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
constexpr uint64_t kWasmPage = 65536;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[31] = n;
  return id;
}

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions opt;
    opt.sync = false;
    auto s = Store::Open(dir_.Sub("store"), opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto g = store_->StartGenesis();
    ASSERT_TRUE(g.ok());
    ASSERT_OK((*g)->AddModule(Id(1), Bytes(100, 0xB1), Bytes(10, 7), 2 * kWasmPage));
    ASSERT_OK((*g)->AddModule(Id(2), Bytes(50, 0xB2), {}, kWasmPage));
    auto r = (*g)->Commit();
    ASSERT_TRUE(r.ok());
    root1_ = *r;
    auto s2 = store_->StartSession(root1_);
    ASSERT_TRUE(s2.ok());
    // Pages 0 and 20 of module 1 change; module 2 goes; module 3 arrives.
    ASSERT_OK((*s2)->WriteMemory(Id(1), 5, Bytes{1, 2, 3}));
    ASSERT_OK((*s2)->WriteMemory(Id(1), 20 * kInspectPageSize + 100, Bytes{9}));
    ASSERT_OK((*s2)->RemoveModule(Id(2)));
    ASSERT_OK((*s2)->AddModule(Id(3), Bytes(30, 0xB3), {}, kWasmPage));
    r = (*s2)->Commit();
    ASSERT_TRUE(r.ok());
    root2_ = *r;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  Root root1_, root2_;
};

TEST_F(InspectTest, DiffNamesModulesAndPages) {
  auto diff = DiffCommits(store_.get(), root1_, root2_);
  ASSERT_TRUE(diff.ok()) << diff.status().ToString();
  ASSERT_EQ(diff->modules.size(), 3u);
  EXPECT_EQ(diff->modules[0].id, Id(1));
  EXPECT_EQ(diff->modules[0].kind, ModuleChange::Kind::kChanged);
  EXPECT_TRUE(diff->modules[0].memory_changed);
  EXPECT_FALSE(diff->modules[0].bytecode_changed);
  EXPECT_EQ(diff->modules[0].changed_pages, (std::vector<uint32_t>{0, 20}));
  EXPECT_EQ(diff->modules[1].kind, ModuleChange::Kind::kRemoved);
  EXPECT_EQ(diff->modules[2].kind, ModuleChange::Kind::kAdded);
  EXPECT_EQ(diff->changed_page_bytes, 2 * kInspectPageSize);

  auto same = DiffCommits(store_.get(), root2_, root2_);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->modules.empty());

  Root missing;
  missing.bytes[0] = 0xEE;
  EXPECT_TRUE(DiffCommits(store_.get(), root1_, missing).status().IsNotFound());
}

TEST_F(InspectTest, DiskUsageCountsSharedFilesOnceAndFindsTheParent) {
  auto usage = MeasureDiskUsage(store_.get());
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  ASSERT_EQ(usage->commits.size(), 2u);
  const CommitUsage& first = usage->commits[0];
  const CommitUsage& second = usage->commits[1];
  EXPECT_EQ(first.root, root1_);
  EXPECT_FALSE(first.parent.has_value());
  EXPECT_EQ(first.new_bytes, first.bytes);
  ASSERT_TRUE(second.parent.has_value());
  EXPECT_EQ(*second.parent, root1_);
  // Module 1's bytecode and base image are hard links into the first commit.
  EXPECT_GT(second.shared_bytes, 0u);
  EXPECT_LT(second.new_bytes, second.bytes);
  EXPECT_EQ(usage->apparent_bytes, first.bytes + second.bytes);
  EXPECT_EQ(usage->unique_bytes, first.new_bytes + second.new_bytes);
  EXPECT_LT(usage->unique_bytes, usage->apparent_bytes);
  ASSERT_EQ(second.memories.size(), 2u);
  EXPECT_EQ(second.memories[0].id, Id(1));
  EXPECT_GE(second.memories[0].delta_layers, 1u);

  // A third commit on the second shares most files with the second (the
  // changed memory's layer included), though most of them first appeared in
  // the first: its parent is the second.
  {
    auto s3 = store_->StartSession(root2_);
    ASSERT_TRUE(s3.ok());
    ASSERT_OK((*s3)->AddModule(Id(4), Bytes(20, 0xB4), {}, kWasmPage));
    auto r3 = (*s3)->Commit();
    ASSERT_TRUE(r3.ok());
    auto u3 = MeasureDiskUsage(store_.get());
    ASSERT_TRUE(u3.ok());
    ASSERT_EQ(u3->commits.size(), 3u);
    ASSERT_TRUE(u3->commits[2].parent.has_value());
    EXPECT_EQ(*u3->commits[2].parent, root2_);
  }

  // A read-only open beside the writer measures the same.
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(store_->dir(), ro);
  ASSERT_TRUE(reader.ok());
  auto again = MeasureDiskUsage(reader->get());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->commits.size(), 3u);
  EXPECT_GT(again->unique_bytes, usage->unique_bytes);
}

}  // namespace
}  // namespace crust
