// Copyright (c) crust authors. Licensed under the MIT license.
//
// SeedLayout: the design document's three-commit scenario
// (../shared/seed/on-disk-store.md) must produce exactly the tree it shows,
// with a hard link (same inode) everywhere it says so.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/env.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
constexpr uint64_t kMemory = 1 << 20;  // 1 MiB memories

ModuleId Module(uint8_t n) {
  ModuleId id;
  id.bytes[0] = n;
  return id;
}

class SeedLayout : public ::testing::Test {
 protected:
  std::string Path(const Root& r, const std::string& rel) { return store_->dir() + "/" + r.ToHex() + "/" + rel; }
  std::string Bc(const ModuleId& m) { return "bytecode/" + m.ToHex(); }
  std::string Mem(const ModuleId& m) { return "memory/" + m.ToHex(); }
  std::string Diff(const ModuleId& m) { return "memory/" + m.ToHex() + ".diff"; }
  uint64_t Inode(const Root& r, const std::string& rel) {
    auto info = os::Env::Default()->Stat(Path(r, rel));
    EXPECT_TRUE(info.ok()) << Path(r, rel);
    return info.ok() ? info->inode : 0;
  }
  // Every file in a commit, relative to its directory.
  std::set<std::string> Tree(const Root& r) {
    std::set<std::string> out;
    os::Env* env = os::Env::Default();
    auto top = env->ListDir(store_->dir() + "/" + r.ToHex());
    EXPECT_TRUE(top.ok());
    for (const std::string& name : *top) {
      auto sub = env->ListDir(store_->dir() + "/" + r.ToHex() + "/" + name);
      if (sub.ok()) {
        for (const std::string& f : *sub) out.insert(name + "/" + f);
      } else {
        out.insert(name);
      }
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SeedLayout, ThreeCommitsAsInTheDesignDocument) {
  ASSERT_OK_AND_ASSIGN(store_, Store::Open(dir_.Sub("piecrust")));
  const ModuleId m1 = Module(1), m2 = Module(2), m3 = Module(3);
  const Bytes code1(300, 0xC1), code2(400, 0xC2), code3(500, 0xC3);

  // Genesis: deploy module_1 and module_2, commit root_1.
  ASSERT_OK_AND_ASSIGN(auto genesis, store_->StartGenesis());
  ASSERT_OK(genesis->AddModule(m1, code1, Bytes(5000, 0x11), kMemory));
  ASSERT_OK(genesis->AddModule(m2, code2, Bytes(7000, 0x22), kMemory));
  ASSERT_OK_AND_ASSIGN(Root root1, genesis->Commit());
  genesis.reset();
  EXPECT_EQ(Tree(root1), (std::set<std::string>{Bc(m1), Bc(m2), Mem(m1), Mem(m2), "index"}));

  // Session on root_1: change module_1's memory and deploy module_3.
  ASSERT_OK_AND_ASSIGN(auto s2, store_->StartSession(root1));
  ASSERT_OK(s2->WriteMemory(m1, 100, Bytes(10, 0xA1)));
  ASSERT_OK(s2->WriteMemory(m1, 300000, Bytes(10, 0xA2)));
  ASSERT_OK(s2->AddModule(m3, code3, Bytes(3000, 0x33), kMemory));
  ASSERT_OK_AND_ASSIGN(Root root2, s2->Commit());
  s2.reset();
  EXPECT_EQ(Tree(root2),
            (std::set<std::string>{Bc(m1), Bc(m2), Bc(m3), Mem(m1), Diff(m1), Mem(m2), Mem(m3), "index"}));
  EXPECT_EQ(Inode(root2, Bc(m1)), Inode(root1, Bc(m1)));
  EXPECT_EQ(Inode(root2, Bc(m2)), Inode(root1, Bc(m2)));
  EXPECT_EQ(Inode(root2, Mem(m1)), Inode(root1, Mem(m1)));  // base image shared
  EXPECT_EQ(Inode(root2, Mem(m2)), Inode(root1, Mem(m2)));
  EXPECT_NE(Inode(root2, "index"), Inode(root1, "index"));

  // Session on root_2: change module_2.
  ASSERT_OK_AND_ASSIGN(auto s3, store_->StartSession(root2));
  ASSERT_OK(s3->WriteMemory(m2, 9000, Bytes(20, 0xB2)));
  ASSERT_OK_AND_ASSIGN(Root root3, s3->Commit());
  s3.reset();
  EXPECT_EQ(Tree(root3), (std::set<std::string>{Bc(m1), Bc(m2), Bc(m3), Mem(m1), Diff(m1), Mem(m2), Diff(m2),
                                                Mem(m3), "index"}));
  for (const ModuleId& m : {m1, m2, m3}) EXPECT_EQ(Inode(root3, Bc(m)), Inode(root2, Bc(m)));
  EXPECT_EQ(Inode(root3, Mem(m1)), Inode(root1, Mem(m1)));
  EXPECT_EQ(Inode(root3, Diff(m1)), Inode(root2, Diff(m1)));  // "module_1.diff # Hard link"
  EXPECT_EQ(Inode(root3, Mem(m2)), Inode(root1, Mem(m2)));
  EXPECT_EQ(Inode(root3, Mem(m3)), Inode(root2, Mem(m3)));

  std::set<Root> roots{root1, root2, root3};
  EXPECT_EQ(roots.size(), 3u);
  for (const Root& r : roots) ASSERT_OK(store_->VerifyCommit(r));

  // Deleting the first two commits leaves the third readable and verifiable.
  ASSERT_OK(store_->DeleteCommit(root1));
  ASSERT_OK(store_->DeleteCommit(root2));
  ASSERT_OK(store_->VerifyCommit(root3));
  ASSERT_OK_AND_ASSIGN(auto commits, store_->ListCommits());
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].root, root3);
  ASSERT_OK_AND_ASSIGN(auto reader, store_->StartSession(root3));
  auto read = [&](const ModuleId& m, uint64_t off, size_t n) {
    Bytes out(n);
    EXPECT_OK(reader->ReadMemory(m, off, out));
    return out;
  };
  EXPECT_EQ(read(m1, 0, 100), Bytes(100, 0x11));
  EXPECT_EQ(read(m1, 100, 10), Bytes(10, 0xA1));
  EXPECT_EQ(read(m1, 300000, 10), Bytes(10, 0xA2));
  EXPECT_EQ(read(m1, 5000, 4), Bytes(4, 0));
  EXPECT_EQ(read(m2, 8990, 10), Bytes(10, 0));
  EXPECT_EQ(read(m2, 0, 7000 - 0), Bytes(7000, 0x22));
  EXPECT_EQ(read(m2, 9000, 20), Bytes(20, 0xB2));
  EXPECT_EQ(read(m3, 0, 3000), Bytes(3000, 0x33));
  ASSERT_OK_AND_ASSIGN(Bytes bc3, reader->Bytecode(m3));
  EXPECT_EQ(bc3, code3);
}

}  // namespace
}  // namespace crust
