// Copyright (c) crust authors. Licensed under the MIT license.
//
// Page inclusion proofs: made from commits, checked with nothing but a root.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "crust/proof.h"
#include "crust/session.h"
#include "crust/store.h"
#include "src/store/format.h"
#include "src/store/page_proof.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
using store::kPageSize;
using store::kWasmPageSize;

ModuleId Id(uint8_t fill) {
  ModuleId id;
  id.bytes.fill(fill);
  return id;
}

// The memory of docs/format.md's test vectors: byte x is (31x + 7) mod 256,
// except page 3, which is all zero.
Bytes SpecMemory() {
  Bytes mem(kWasmPageSize);
  for (size_t x = 0; x < mem.size(); x++) mem[x] = x / kPageSize == 3 ? 0 : static_cast<uint8_t>((x * 31 + 7) % 256);
  return mem;
}

// The spec memory with byte 0 set to `f` and byte 1 of each page p != 3 set
// to p, so that no two pages are alike.
Bytes ModuleMemory(uint8_t f) {
  Bytes mem = SpecMemory();
  mem[0] = f;
  for (size_t p = 1; p < mem.size() / kPageSize; p++) {
    if (p != 3) mem[p * kPageSize + 1] = static_cast<uint8_t>(p);
  }
  return mem;
}

const Bytes kBytecode = {0, 'a', 's', 'm', 1, 0, 0, 0};

class PageProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions opt;
    opt.sync = false;
    auto s = Store::Open(dir_.Sub("store"), opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  // Commits modules with ids Id(f) for each f in `fills` (memory: two wasm
  // pages, the first ModuleMemory(f); metadata: {f}).
  Root CommitModules(const std::vector<uint8_t>& fills) {
    auto g = store_->StartGenesis();
    EXPECT_TRUE(g.ok());
    for (uint8_t f : fills) {
      Bytes mem = ModuleMemory(f);
      EXPECT_OK((*g)->AddModule(Id(f), kBytecode, mem, 2 * kWasmPageSize));
      EXPECT_OK((*g)->SetMetadata(Id(f), Bytes{f}));
    }
    auto root = (*g)->Commit();
    EXPECT_TRUE(root.ok()) << root.status().ToString();
    return root.ok() ? *root : Root();
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// docs/format.md's one-module state: the proof of page 0 has no audit path,
// and its siblings are the spec memory's tree nodes.
TEST_F(PageProofTest, SpecStateProof) {
  auto g = store_->StartGenesis();
  ASSERT_TRUE(g.ok());
  ASSERT_OK((*g)->AddModule(Id(1), kBytecode, SpecMemory(), kWasmPageSize));
  auto root = (*g)->Commit();
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->ToHex(), "85a0a77ca9aef5d335f97011d3fba94946bd9e9037922b19c3755dc712c14ee1");
  auto proof = store_->ProvePage(*root, Id(1), 3);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_TRUE(proof->audit_path.empty());
  EXPECT_EQ(proof->leaf_count, 1u);
  EXPECT_EQ(proof->data, (std::array<uint8_t, kProofPageSize>{}));
  EXPECT_EQ(proof->siblings[19], store::ZeroHash(19));  // 16 pages: the upper half is zero
  EXPECT_OK(VerifyPageProof(*root, *proof));
  Bytes encoded = EncodePageProof(*proof);
  EXPECT_EQ(encoded.size(), 4900u);
  // docs/format.md, "Page proof": the test vector.
  EXPECT_EQ(Sha256Of(encoded).ToHex(), "9ea6b211333916b26cc197ac540c879df245cb80401d8ab8506c0a0c229f21e6");
}

TEST_F(PageProofTest, EveryPageOfEveryModuleProves) {
  Root root = CommitModules({1, 2, 3, 4, 5});
  for (uint8_t f = 1; f <= 5; f++) {
    for (uint32_t page : {0u, 1u, 3u, 16u, 31u}) {
      auto proof = store_->ProvePage(root, Id(f), page);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(proof->leaf_index, f - 1u);
      EXPECT_EQ(proof->leaf_count, 5u);
      SCOPED_TRACE("module " + std::to_string(f) + " page " + std::to_string(page));
      EXPECT_OK(VerifyPageProof(root, *proof));
      auto decoded = DecodePageProof(EncodePageProof(*proof));
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_OK(VerifyPageProof(root, *decoded));
      Bytes expect = ModuleMemory(f);
      if (page < 16) {
        EXPECT_EQ(0, std::memcmp(proof->data.data(), expect.data() + page * kPageSize, kPageSize));
      } else {
        EXPECT_EQ(proof->data, (std::array<uint8_t, kProofPageSize>{}));  // grown: zero
      }
    }
  }
}

// The three-module state's vector (docs/format.md): a proof with an audit path.
TEST_F(PageProofTest, AuditPathVector) {
  Root root = CommitModules({1, 2, 3});
  auto proof = store_->ProvePage(root, Id(3), 0);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(proof->audit_path.size(), 1u);  // leaf 2 of 3: MTH(leaves 0..1)
  EXPECT_EQ(root.ToHex(), "39ed9c0d5bdbaf02d9518081dc30b1c2d1380d843ad0fe16e76d9a54376f8671");
  EXPECT_EQ(Sha256Of(EncodePageProof(*proof)).ToHex(), "91c6e5d834909f736ddcc788569e07303ec9b28d4d641e6db614c24455da15e3");
  auto first = store_->ProvePage(root, Id(1), 0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->audit_path.size(), 2u);  // leaf 0 of 3: leaf 1, then leaf 2
}

TEST_F(PageProofTest, WrongPageModuleOrRootFails) {
  Root root = CommitModules({1, 2, 3});
  Root other = CommitModules({1, 2});
  auto proof = store_->ProvePage(root, Id(2), 5);
  ASSERT_TRUE(proof.ok());
  ASSERT_OK(VerifyPageProof(root, *proof));

  PageProof p = *proof;
  p.data[100] ^= 1;  // a page that does not match
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.page = 6;  // claimed for another page
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.module = Id(1);  // claimed for another module
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.metadata_hash = Sha256Of(Bytes{9});
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.siblings[7].bytes[0] ^= 1;
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.audit_path[0].bytes[0] ^= 1;
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  p = *proof;
  p.leaf_index = 0;  // same path length, another position
  EXPECT_TRUE(VerifyPageProof(root, p).IsCorruption());
  EXPECT_TRUE(VerifyPageProof(other, *proof).IsCorruption());  // another root
  p = *proof;
  p.root = other;
  EXPECT_TRUE(VerifyPageProof(other, p).IsCorruption());
}

TEST_F(PageProofTest, MalformedEncodingsAreRefused) {
  Root root = CommitModules({1, 2, 3});
  auto proof = store_->ProvePage(root, Id(1), 0);
  ASSERT_TRUE(proof.ok());
  Bytes good = EncodePageProof(*proof);
  ASSERT_TRUE(DecodePageProof(good).ok());
  EXPECT_TRUE(DecodePageProof(Bytes(good.begin(), good.end() - 1)).status().IsCorruption());
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_TRUE(DecodePageProof(longer).status().IsCorruption());
  Bytes bad_magic = good;
  bad_magic[0] = 'x';
  EXPECT_TRUE(DecodePageProof(bad_magic).status().IsCorruption());
  Bytes bad_version = good;
  bad_version[8] = 9;
  EXPECT_TRUE(DecodePageProof(bad_version).status().IsCorruption());
  EXPECT_TRUE(DecodePageProof(Bytes{}).status().IsCorruption());
}

TEST_F(PageProofTest, ErrorsNameWhatIsMissing) {
  Root root = CommitModules({1});
  auto no_module = store_->ProvePage(root, Id(7), 0);
  EXPECT_TRUE(no_module.status().IsNotFound()) << no_module.status().ToString();
  auto past_end = store_->ProvePage(root, Id(1), 32);
  EXPECT_TRUE(past_end.status().code() == Status::Code::kInvalidArgument) << past_end.status().ToString();
  Root missing;
  missing.bytes.fill(0xab);
  EXPECT_TRUE(store_->ProvePage(missing, Id(1), 0).status().IsNotFound());
}

// A proof made through a session is the base commit's; a session with
// uncommitted changes is refused until it commits.
TEST_F(PageProofTest, SessionProvesItsCommittedState) {
  Root root = CommitModules({1, 2});
  auto s = store_->StartSession(root);
  ASSERT_TRUE(s.ok());
  auto proof = (*s)->ProvePage(Id(2), 1);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_OK(VerifyPageProof(root, *proof));
  ASSERT_OK((*s)->WriteMemory(Id(2), 4096 + 5, Bytes{0xee}));
  EXPECT_TRUE((*s)->ProvePage(Id(2), 1).status().code() == Status::Code::kInvalidArgument);
  auto next = (*s)->Commit();
  ASSERT_TRUE(next.ok());
  auto after = (*s)->ProvePage(Id(2), 1);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->root, *next);
  EXPECT_EQ(after->data[5], 0xee);
  EXPECT_OK(VerifyPageProof(*next, *after));
  EXPECT_TRUE(VerifyPageProof(root, *after).IsCorruption());
}

// A damaged page in the commit's image gives Corruption, never a bad proof.
TEST_F(PageProofTest, DamagedFileIsReportedNotProved) {
  Root root = CommitModules({1});
  std::string image = store_->dir() + "/" + root.ToHex() + "/" + store::MemoryName(Id(1));
  ASSERT_EQ(0, ::chmod(image.c_str(), 0644));
  FILE* f = std::fopen(image.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 2 * kPageSize + 17, SEEK_SET);
  std::fputc(0x5a, f);
  std::fclose(f);
  auto proof = store_->ProvePage(root, Id(1), 2);
  EXPECT_TRUE(proof.status().IsCorruption()) << proof.status().ToString();
}

}  // namespace
}  // namespace crust
