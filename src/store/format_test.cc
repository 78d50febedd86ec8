// Copyright (c) crust authors. Licensed under the MIT license.
//
// Unit tests of the on-disk formats: page tree, index, root, memory image,
// delta layers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

#include "src/os/env.h"
#include "src/store/delta.h"
#include "src/store/format.h"
#include "src/store/index.h"
#include "src/store/memory_image.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

using crust::testing::TempDir;

Bytes RandomMemory(uint64_t length, uint64_t seed, int nonzero_pages) {
  Bytes m(length, 0);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < nonzero_pages; i++) {
    uint64_t p = rng() % (length / kPageSize);
    for (int j = 0; j < 64; j++) m[p * kPageSize + rng() % kPageSize] = static_cast<uint8_t>(rng());
  }
  return m;
}

Hash32 RootOf(const Bytes& m) {
  std::vector<Hash32> leaves(m.size() / kPageSize);
  for (size_t p = 0; p < leaves.size(); p++) leaves[p] = PageLeafHash(m.data() + p * kPageSize);
  if (leaves.empty()) return ZeroHash(kTreeDepth);
  return BuildTree(std::move(leaves))[kTreeDepth][0];
}

TEST(PageTree, ZeroMemoryHashesToZeroSubtree) {
  Bytes m(4 * kWasmPageSize, 0);
  EXPECT_EQ(RootOf(m), ZeroHash(kTreeDepth));
  // Independent of length: a longer all-zero memory has the same tree root,
  // and the memory hash tells them apart through the length.
  Bytes m2(kWasmPageSize, 0);
  EXPECT_EQ(RootOf(m2), RootOf(m));
  EXPECT_NE(MemoryHash(m.size(), RootOf(m)), MemoryHash(m2.size(), RootOf(m2)));
}

TEST(PageTree, LeafDefinition) {
  Bytes page(kPageSize, 7);
  Bytes input{kTagLeaf};
  input.insert(input.end(), page.begin(), page.end());
  EXPECT_EQ(PageLeafHash(page.data()), Sha256Of(input));
}

TEST(PageTree, UpdatePathsMatchesFullRebuild) {
  const uint64_t len = 16 * kWasmPageSize;  // 256 pages
  Bytes m = RandomMemory(len, 1, 40);
  std::vector<Hash32> leaves(len / kPageSize);
  for (size_t p = 0; p < leaves.size(); p++) leaves[p] = PageLeafHash(m.data() + p * kPageSize);
  auto levels = BuildTree(leaves);
  auto lookup = [&](NodeKey k) {
    int lv = NodeLevel(k);
    uint32_t i = NodeIndex(k);
    return i < levels[lv].size() ? levels[lv][i] : ZeroHash(lv);
  };
  // Change a few pages, including adjacent ones and the last.
  std::vector<uint32_t> changed = {0, 1, 7, 100, 255};
  std::vector<std::pair<uint32_t, Hash32>> new_leaves;
  for (uint32_t p : changed) {
    m[p * kPageSize + 5] ^= 0x5a;
    new_leaves.push_back({p, PageLeafHash(m.data() + p * kPageSize)});
  }
  auto nodes = UpdatePaths(new_leaves, lookup);
  ASSERT_FALSE(nodes.empty());
  EXPECT_EQ(nodes.back().key, kRootKey);
  EXPECT_EQ(nodes.back().hash, RootOf(m));
  for (size_t i = 1; i < nodes.size(); i++) EXPECT_LT(nodes[i - 1].key, nodes[i].key);
  // Growing: a page past the old end changes the root as a full rebuild says.
  Bytes grown = m;
  grown.resize(len * 2, 0);
  grown[len + 3] = 1;
  auto nodes2 = UpdatePaths({{static_cast<uint32_t>(len / kPageSize), PageLeafHash(grown.data() + len)}},
                            [&](NodeKey k) {
                              for (auto& n : nodes)
                                if (n.key == k) return n.hash;
                              return lookup(k);
                            });
  EXPECT_EQ(nodes2.back().hash, RootOf(grown));
}

TEST(PageTree, SplitPathUpdateEqualsUpdatePaths) {
  const uint64_t pages = 4096;
  Bytes m = RandomMemory(pages * kPageSize, 3, 300);
  std::vector<Hash32> leaves(pages);
  for (size_t p = 0; p < pages; p++) leaves[p] = PageLeafHash(m.data() + p * kPageSize);
  auto levels = BuildTree(leaves);
  NodeLookup lookup = [&](NodeKey k) {
    int lv = NodeLevel(k);
    uint32_t i = NodeIndex(k);
    return i < levels[lv].size() ? levels[lv][i] : ZeroHash(lv);
  };
  std::mt19937_64 rng(9);
  // Sets of changed pages: empty, one, two neighbours, scattered, a dense run,
  // a run plus one far page (a lopsided split), and every page.
  std::vector<std::vector<uint32_t>> sets = {{}, {17}, {6, 7}, {}, {}, {}, {}};
  for (int i = 0; i < 500; i++) sets[3].push_back(static_cast<uint32_t>(rng() % pages));
  for (uint32_t p = 1000; p < 1600; p++) sets[4].push_back(p);
  sets[5] = sets[4];
  sets[5].push_back(4000);
  for (uint32_t p = 0; p < pages; p++) sets[6].push_back(p);
  for (auto& set : sets) {
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    LevelNodes changed;
    for (uint32_t p : set) changed.push_back({p, Sha256Of(ByteView(reinterpret_cast<const uint8_t*>(&p), 4))});
    const std::vector<TreeNode> want = UpdatePaths(changed, lookup);
    SplitPathUpdate split(changed, lookup);
    std::thread other([&] { split.RunPart(1); });
    split.RunPart(0);
    other.join();
    const std::vector<TreeNode> got = split.Finish();
    ASSERT_EQ(got.size(), want.size()) << set.size() << " pages, split at level " << split.split_level();
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].key, want[i].key);
      EXPECT_EQ(got[i].hash, want[i].hash);
    }
  }
}

IndexEntry Entry(uint8_t id, uint64_t len) {
  IndexEntry e;
  e.id.bytes[0] = id;
  e.bytecode_hash.bytes[1] = id;
  e.memory_hash.bytes[2] = id;
  e.memory_length = len;
  e.layer_count = id % 3;
  e.metadata = {id, 1, 2};
  return e;
}

TEST(Index, RoundTrip) {
  Index idx{12345, {Entry(1, kWasmPageSize), Entry(2, 0), Entry(9, 3 * kWasmPageSize)}};
  Bytes b = EncodeIndex(idx);
  ASSERT_OK_AND_ASSIGN(Index back, DecodeIndex(b, "x/index"));
  EXPECT_EQ(back.created_unix_ns, 12345u);
  EXPECT_EQ(back.entries, idx.entries);
}

TEST(Index, EveryFlippedByteOrTruncationIsCorruption) {
  Index idx{1, {Entry(1, kWasmPageSize), Entry(2, 2 * kWasmPageSize)}};
  Bytes b = EncodeIndex(idx);
  for (size_t i = 0; i < b.size(); i++) {
    Bytes c = b;
    c[i] ^= 0x01;
    auto r = DecodeIndex(c, "x/index");
    ASSERT_FALSE(r.ok()) << "flip at " << i;
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_NE(r.status().ToString().find("x/index"), std::string::npos);
  }
  for (size_t n = 0; n < b.size(); n++) {
    EXPECT_FALSE(DecodeIndex(ByteView(b.data(), n), "x/index").ok()) << "length " << n;
  }
}

TEST(Root, OrderAndStructure) {
  EXPECT_EQ(ComputeRoot({}), Sha256Of({}));
  auto a = Entry(1, 0), b = Entry(2, 0), c = Entry(3, 0);
  EXPECT_EQ(ComputeRoot({a}), StateLeaf(a));
  EXPECT_EQ(ComputeRoot({a, b}), HashNode(kTagNode, StateLeaf(a), StateLeaf(b)));
  // RFC 6962 split: 3 leaves = node(node(a,b), c).
  EXPECT_EQ(ComputeRoot({a, b, c}),
            HashNode(kTagNode, HashNode(kTagNode, StateLeaf(a), StateLeaf(b)), StateLeaf(c)));
  // The layer count is storage layout, not state.
  auto a2 = a;
  a2.layer_count = 7;
  EXPECT_EQ(StateLeaf(a), StateLeaf(a2));
  auto a3 = a;
  a3.metadata.push_back(9);
  EXPECT_NE(StateLeaf(a), StateLeaf(a3));
}

TEST(MemoryImage, WriteReadAndSparse) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  const uint64_t len = 64 * kWasmPageSize;  // 4 MiB
  Bytes m = RandomMemory(len, 2, 10);
  const std::string path = dir.Sub("img");
  ASSERT_OK_AND_ASSIGN(Hash32 root, WriteMemoryImage(env, path, m.data(), len, false));
  EXPECT_EQ(root, RootOf(m));
  ASSERT_OK_AND_ASSIGN(auto img, MemoryImage::Open(env, path));
  EXPECT_EQ(img->length(), len);
  EXPECT_EQ(img->Root(), root);
  EXPECT_OK(img->VerifyChecksum());
  Bytes page(kPageSize);
  for (uint32_t p = 0; p < len / kPageSize; p += 37) {
    ASSERT_OK(img->ReadPage(p, page.data()));
    EXPECT_EQ(0, std::memcmp(page.data(), m.data() + uint64_t{p} * kPageSize, kPageSize));
  }
  ASSERT_OK_AND_ASSIGN(os::FileInfo info, env->Stat(path));
  EXPECT_LT(info.allocated, len / 4) << "all-zero pages must be holes";
  EXPECT_FALSE(info.writable);
}

TEST(MemoryImage, TruncatedOrFlippedFooterIsCorruption) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  Bytes m = RandomMemory(kWasmPageSize, 3, 4);
  ASSERT_OK(WriteMemoryImage(env, dir.Sub("img"), m.data(), m.size(), false));
  ASSERT_OK_AND_ASSIGN(Bytes file, env->ReadFile(dir.Sub("img")));
  for (size_t cut : {size_t{0}, size_t{10}, file.size() - 1, file.size() - 41}) {
    std::string p = dir.Sub("cut" + std::to_string(cut));
    ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(p));
    ASSERT_OK(f->Append(ByteView(file.data(), cut)));
    ASSERT_OK(f->Close());
    auto r = MemoryImage::Open(env, p);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  }
}

TEST(Delta, RoundTripAndMerge) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  auto make = [](std::vector<uint32_t> pages, uint8_t fill) {
    auto x = DeltaLayer::NewPageBuffer(pages.size());
    std::memset(x.get(), fill, pages.size() * kPageSize);
    std::vector<TreeNode> nodes;
    for (uint32_t p : pages) nodes.push_back({MakeNodeKey(0, p), Hash32{{fill}}});
    nodes.push_back({kRootKey, Hash32{{fill, 1}}});
    return DeltaLayer::Build(pages, std::move(x), nodes);
  };
  auto a = make({1, 5, 9}, 0xAA);
  auto b = make({5, 10}, 0xBB);
  ASSERT_OK(a->Write(env, dir.Sub("a.diff"), 1, false));
  ASSERT_OK_AND_ASSIGN(auto a2, DeltaLayer::Open(env, dir.Sub("a.diff")));
  EXPECT_EQ(a2->pages(), a->pages());
  ASSERT_EQ(a2->nodes().size(), a->nodes().size());
  EXPECT_EQ(0, std::memcmp(a2->xor_page(2), a->xor_page(2), kPageSize));
  auto m = DeltaLayer::Merge(*a, *b);
  EXPECT_EQ(m->pages(), (std::vector<uint32_t>{1, 5, 9, 10}));
  EXPECT_EQ(m->xor_page(1)[0], 0xBB);  // newer wins
  EXPECT_EQ(m->xor_page(0)[0], 0xAA);
  EXPECT_EQ(*m->FindNode(kRootKey), (Hash32{{0xBB, 1}}));
  EXPECT_EQ(*m->FindNode(MakeNodeKey(0, 9)), (Hash32{{0xAA}}));
}

TEST(Delta, PagesPastTheMemoryAreRefusedBeforeAllocating) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  auto buf = DeltaLayer::NewPageBuffer(1);
  std::memset(buf.get(), 2, kPageSize);
  auto d = DeltaLayer::Build({40}, std::move(buf), {{MakeNodeKey(0, 40), Hash32{}}});
  ASSERT_OK(d->Write(env, dir.Sub("d"), 1, false));
  EXPECT_OK(DeltaLayer::Open(env, dir.Sub("d"), 41));
  auto r = DeltaLayer::Open(env, dir.Sub("d"), 40);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST(Delta, EveryFlippedByteOrTruncationIsCorruption) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  auto buf = DeltaLayer::NewPageBuffer(1);
  std::memset(buf.get(), 1, kPageSize);
  auto d = DeltaLayer::Build({3}, std::move(buf), {{MakeNodeKey(0, 3), Hash32{}}});
  ASSERT_OK(d->Write(env, dir.Sub("d"), 1, false));
  ASSERT_OK_AND_ASSIGN(Bytes file, env->ReadFile(dir.Sub("d")));
  for (size_t i = 0; i < file.size(); i += 3) {
    Bytes c = file;
    c[i] ^= 0x40;
    std::string p = dir.Sub("f" + std::to_string(i));
    ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(p));
    ASSERT_OK(f->Append(c));
    ASSERT_OK(f->Close());
    auto r = DeltaLayer::Open(env, p);
    ASSERT_FALSE(r.ok()) << "flip at " << i;
    EXPECT_TRUE(r.status().IsCorruption());
  }
}

}  // namespace
}  // namespace crust::store
