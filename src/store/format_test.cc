// Copyright (c) crust authors. Licensed under the MIT license.
//
// Unit tests of the on-disk formats: page tree, index, root, memory image,
// delta layers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "src/os/env.h"
#include "src/store/committed_memory.h"
#include "src/store/delta.h"
#include "src/store/format.h"
#include "src/store/image_cache.h"
#include "src/store/index.h"
#include "src/store/layer_build.h"
#include "src/store/layer_writer.h"
#include "src/store/memory_image.h"
#include "src/store/page_codec.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

// A layer's page list and node list as vectors; its node for `key`.
std::vector<uint32_t> PagesOf(const DeltaLayer& l) {
  auto r = l.PageList();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::vector<uint32_t>(r->begin(), r->end()) : std::vector<uint32_t>();
}
std::vector<TreeNode> NodesOf(const DeltaLayer& l) {
  auto r = l.NodeList();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::vector<TreeNode>(r->begin(), r->end()) : std::vector<TreeNode>();
}
Hash32 NodeOf(const DeltaLayer& l, NodeKey key) {
  auto r = l.FindNode(key);
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? **r : Hash32{};
}

// The nodes a layer of `pages` (ascending) holds: every node on their paths
// to the root, in key order, each with a made-up hash.
std::vector<TreeNode> PathNodes(const std::vector<uint32_t>& pages) {
  std::vector<TreeNode> nodes;
  for (int level = 0; level <= kTreeDepth; level++) {
    for (size_t i = 0; i < pages.size(); i++) {
      const uint32_t index = pages[i] >> level;
      if (i > 0 && (pages[i - 1] >> level) == index) continue;
      Hash32 h{};
      h.bytes[0] = static_cast<uint8_t>(level);
      std::memcpy(h.bytes.data() + 1, &index, sizeof(index));
      nodes.push_back({MakeNodeKey(level, index), h});
    }
  }
  return nodes;
}

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

// The vectors of docs/format.md ("Test vectors"), computed by an independent
// implementation (a Python script over the Rust b3sum 1.2.0 and hashlib, not
// crust's code): a 64 KiB memory whose byte x is (31x + 7) mod 256, except
// page 3, which is all zero.
TEST(PageTree, SpecVectors) {
  Bytes mem(kWasmPageSize);
  for (size_t x = 0; x < mem.size(); x++) mem[x] = x / kPageSize == 3 ? 0 : static_cast<uint8_t>((x * 31 + 7) % 256);
  EXPECT_EQ(ZeroHash(0).ToHex(), "eafce65c0dca534e375a9c692ac5bb0ed7022f36d27abdba4a57993498b1adec");
  EXPECT_EQ(ZeroHash(kTreeDepth).ToHex(), "ebd97aeebb7e36ed4c54b7a9f7078400ae4835b3fa7706f1386b5ae729661feb");
  EXPECT_EQ(PageLeafHash(mem.data()).ToHex(), "e1e7d07a08187adca280c894487b1767e307fb97642656444e0d69f8acd97e85");
  EXPECT_EQ(PageLeafHash(mem.data() + 3 * kPageSize), ZeroHash(0));
  std::vector<Hash32> leaves(mem.size() / kPageSize);
  PageLeafHashes(mem.data(), nullptr, 0, leaves.size(), leaves.data());
  const Hash32 tree_root = BuildTree(leaves)[kTreeDepth][0];
  EXPECT_EQ(tree_root.ToHex(), "97a704920a2d5429ff5486b2439775d1eda81dc0e98d4071636f8162160952e4");
  const Hash32 memory_hash = MemoryHash(mem.size(), tree_root);
  EXPECT_EQ(memory_hash.ToHex(), "011f7b6865036cb29d0e6604540edf17a0fa8b978db9fd9f7c6d2f5a5967380a");
  // One module: id 0x01 x 32, bytecode "\0asm\1\0\0\0", no metadata.
  IndexEntry e;
  e.id.bytes.fill(1);
  const uint8_t bytecode[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  e.bytecode_hash = Sha256Of(bytecode);
  e.memory_hash = memory_hash;
  e.memory_length = mem.size();
  EXPECT_EQ(ComputeRoot({e}).ToHex(), "85a0a77ca9aef5d335f97011d3fba94946bd9e9037922b19c3755dc712c14ee1");
}

// The batched leaf hashing (any batch size, zero pages among others) equals
// one page at a time.
TEST(PageTree, BatchedLeavesEqualSingle) {
  Bytes m = RandomMemory(8 * kWasmPageSize, 3, 60);
  const size_t n = m.size() / kPageSize;
  std::vector<Hash32> batched(n);
  PageLeafHashes(m.data(), nullptr, 0, n, batched.data());
  for (size_t p = 0; p < n; p++) EXPECT_EQ(batched[p], PageLeafHash(m.data() + p * kPageSize)) << "page " << p;
  std::vector<uint32_t> list = {1, 2, 5, 17, 18, 19, 64, 100, 127};
  std::vector<Hash32> listed(list.size());
  PageLeafHashes(m.data(), list.data(), 0, list.size(), listed.data());
  for (size_t i = 0; i < list.size(); i++) EXPECT_EQ(listed[i], batched[list[i]]);
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

// An independent reference for path updates: level by level, each changed
// node's parent from its two children (changed or looked up), one at a time.
std::vector<TreeNode> ReferencePaths(const LevelNodes& leaves, const NodeLookup& lookup) {
  std::vector<TreeNode> out;
  std::map<uint32_t, Hash32> cur(leaves.begin(), leaves.end());
  for (int level = 0;; level++) {
    for (const auto& [i, h] : cur) out.push_back({MakeNodeKey(level, i), h});
    if (level == kTreeDepth) break;
    std::map<uint32_t, Hash32> up;
    auto get = [&](uint32_t i) {
      auto it = cur.find(i);
      return it != cur.end() ? it->second : lookup(MakeNodeKey(level, i));
    };
    for (const auto& [i, h] : cur) {
      if (!up.count(i >> 1)) up[i >> 1] = TreeNodeHash(get(i & ~1u), get(i | 1u));
    }
    cur = std::move(up);
  }
  return out;
}

// Chunked path updates give exactly the reference's nodes (and UpdatePaths',
// the one-chunk case), whatever the page pattern (scattered, clustered, one
// run, a single page) and chunk size, and each chunk's nodes below min_top()
// are what the streamed layer writes at its precomputed place: the chunks'
// node counts add up to the level's.
TEST(PageTree, ChunkedPathUpdateEqualsUpdatePaths) {
  std::mt19937_64 rng(11);
  auto lookup = [](NodeKey k) {
    Hash32 h;  // arbitrary but fixed old values
    h.bytes[0] = static_cast<uint8_t>(k);
    h.bytes[1] = static_cast<uint8_t>(k >> 8);
    h.bytes[2] = static_cast<uint8_t>(k >> 16);
    h.bytes[3] = static_cast<uint8_t>(k >> 24);
    return h;
  };
  std::vector<std::vector<uint32_t>> sets;
  for (int t = 0; t < 6; t++) {
    std::set<uint32_t> set;
    const uint32_t span = t < 3 ? (1u << 20) : (1u << 12);
    while (set.size() < 700) set.insert(static_cast<uint32_t>(rng() % span));
    sets.emplace_back(set.begin(), set.end());
  }
  std::vector<uint32_t> run(1000);
  for (uint32_t i = 0; i < run.size(); i++) run[i] = 5000 + i;
  sets.push_back(run);
  sets.push_back({(1u << 20) - 1});
  sets.push_back({0, (1u << 20) - 1});
  for (const auto& pages : sets) {
    LevelNodes leaves;
    std::vector<Hash32> hashes;
    for (uint32_t p : pages) {
      Hash32 h;
      h.bytes[5] = static_cast<uint8_t>(p * 7);
      h.bytes[9] = static_cast<uint8_t>(p >> 3);
      leaves.push_back({p, h});
      hashes.push_back(h);
    }
    const std::vector<TreeNode> want = ReferencePaths(leaves, lookup);
    const std::vector<TreeNode> whole = UpdatePaths(leaves, lookup);
    ASSERT_EQ(whole.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
      ASSERT_EQ(whole[i].key, want[i].key) << i;
      ASSERT_EQ(whole[i].hash, want[i].hash) << "key " << want[i].key;
    }
    for (size_t target : {2, 16, 128, 5000}) {
      ChunkedPathUpdate u(pages, ChunkedPathUpdate::ChooseCuts(pages, target), lookup);
      ASSERT_EQ(u.first(0), 0u);
      ASSERT_EQ(u.end(u.chunks() - 1), pages.size());
      for (size_t c = 0; c < u.chunks(); c++) u.RunChunk(c, hashes.data() + u.first(c));
      for (int k = 0; k < u.min_top(); k++) {
        size_t sum = 0;
        for (size_t c = 0; c < u.chunks(); c++) {
          EXPECT_EQ(u.count(c, k), u.nodes(c, k).size());
          sum += u.nodes(c, k).size();
        }
        size_t level_nodes = 0;
        for (const TreeNode& n : want) level_nodes += NodeLevel(n.key) == k;
        EXPECT_EQ(sum, level_nodes) << "level " << k;
      }
      const std::vector<TreeNode> got = u.Finish();
      ASSERT_EQ(got.size(), want.size()) << "pages " << pages.size() << " target " << target;
      for (size_t i = 0; i < want.size(); i++) {
        ASSERT_EQ(got[i].key, want[i].key) << i;
        ASSERT_EQ(got[i].hash, want[i].hash) << "key " << want[i].key;
      }
    }
  }
}

// The two-halves cutting a large commit uses, its halves on two threads.
TEST(PageTree, HalvesPathUpdateEqualsReference) {
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
    const std::vector<TreeNode> want = ReferencePaths(changed, lookup);
    std::vector<Hash32> hashes;
    for (const auto& [p, h] : changed) hashes.push_back(h);
    ChunkedPathUpdate split(set, ChunkedPathUpdate::ChooseCuts(set, set.size() / 2), lookup);
    ASSERT_LE(split.chunks(), 2u);
    std::thread other([&] {
      if (split.chunks() == 2) split.RunChunk(1, hashes.data() + split.first(1));
    });
    if (split.chunks() >= 1) split.RunChunk(0, hashes.data());
    other.join();
    const std::vector<TreeNode> got = split.Finish();
    ASSERT_EQ(got.size(), want.size()) << set.size() << " pages, split at level " << split.min_top();
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

TEST(Delta, RoundTripAndLazyPages) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  auto x = DeltaLayer::NewPageBuffer(3);
  for (int i = 0; i < 3; i++) std::memset(x.get() + i * kPageSize, 0xA0 + i, kPageSize);
  std::vector<TreeNode> nodes = PathNodes({1, 5, 9});
  auto a = DeltaLayer::Build({1, 5, 9}, std::move(x), nodes);
  ASSERT_OK(a->Write(env, dir.Sub("a.diff"), 1, false));
  ASSERT_OK_AND_ASSIGN(auto a2, DeltaLayer::Open(env, dir.Sub("a.diff")));
  EXPECT_EQ(PagesOf(*a2), PagesOf(*a));
  ASSERT_EQ(NodesOf(*a2).size(), NodesOf(*a).size());
  EXPECT_OK(a2->VerifyAll());
  uint8_t one[kPageSize];
  ASSERT_OK(a2->ReadXorPage(2, one));  // zstd proper: decompressed whole, once
  EXPECT_EQ(0, std::memcmp(one, a->xor_page(2), kPageSize));
  ASSERT_OK(a2->LoadPages());
  EXPECT_EQ(0, std::memcmp(a2->xor_page(2), a->xor_page(2), kPageSize));
  // A layer made from its frame decompresses on demand and encodes to the
  // same file.
  ASSERT_OK_AND_ASSIGN(Bytes file, env->ReadFile(dir.Sub("a.diff")));
  ASSERT_OK_AND_ASSIGN(Bytes encoded, a->Encode(1, "a"));
  EXPECT_EQ(encoded, file);
  // Not sparse (zstd proper): no page map; the data ends where the block
  // checksums (one per 4 KiB of body) and the 12-byte footer begin.
  const size_t data_at = 32 + 3 * 4 + nodes.size() * 36;
  const size_t body = DecodeFixed64(file.data() + file.size() - 12);
  EXPECT_EQ(DecodeFixed32(file.data() + 20), 0u);  // flags: no page map
  EXPECT_EQ(file.size(), body + (body + 4095) / 4096 * 4 + 12);
  Bytes frame(file.begin() + static_cast<std::ptrdiff_t>(data_at), file.begin() + static_cast<std::ptrdiff_t>(body));
  auto lazy = DeltaLayer::FromFrame({1, 5, 9}, frame, nodes);
  ASSERT_OK_AND_ASSIGN(Bytes encoded2, lazy->Encode(1, "lazy"));
  EXPECT_EQ(encoded2, file);
  ASSERT_OK(lazy->LoadPages());
  EXPECT_EQ(0, std::memcmp(lazy->xor_page(1), a->xor_page(1), kPageSize));
  // A frame of the wrong size is Corruption when loaded.
  auto bad = DeltaLayer::FromFrame({1, 5}, frame, nodes);
  EXPECT_TRUE(bad->LoadPages().IsCorruption());
}

// Sparse frames are read one page at a time, exactly as decompressed whole.
TEST(Delta, SparseFrameIndexReadsEachPage) {
  std::mt19937 rng(3);
  for (size_t count : {1, 2, 7, 70}) {
    std::vector<Bytes> pages(count, Bytes(kPageSize, 0));
    for (Bytes& page : pages) {
      const int kind = static_cast<int>(rng() % 4);
      for (size_t b = 0; b < kPageSize; b++) {
        if (kind == 1 || (kind == 2 && rng() % 50 == 0) || (kind == 3 && b > 1000 && b < 1100)) {
          page[b] = static_cast<uint8_t>(rng() | 1);
        }
      }
      if (kind == 0 && rng() % 2) std::fill(page.begin(), page.end(), 0x5A);  // an RLE page of non-zero
    }
    std::vector<const uint8_t*> ptrs;
    for (const Bytes& page : pages) ptrs.push_back(page.data());
    // Two pieces, as a parallel encoder makes them.
    std::vector<Bytes> pieces(2);
    EncodeSparsePages(ptrs.data(), count / 2, &pieces[0]);
    EncodeSparsePages(ptrs.data() + count / 2, count - count / 2, &pieces[1]);
    const Bytes frame = JoinSparseFrame(count, pieces);
    auto index = SparseFrameIndex::Build(frame, count);
    ASSERT_TRUE(index.has_value()) << count;
    EXPECT_FALSE(SparseFrameIndex::Build(frame, count + 1).has_value());
    std::vector<uint8_t> whole(count * kPageSize);
    ASSERT_OK(DecompressPages(frame, count, whole.data(), "frame"));
    for (size_t i = 0; i < count; i++) {
      uint8_t out[kPageSize];
      index->ReadPage(frame, i, out);
      ASSERT_EQ(0, std::memcmp(out, pages[i].data(), kPageSize)) << count << " page " << i;
      ASSERT_EQ(0, std::memcmp(out, whole.data() + i * kPageSize, kPageSize));
    }
    // zstd proper is not indexed.
    ASSERT_OK_AND_ASSIGN(Bytes zframe, CompressPages(
                                           count, 3,
                                           [&](size_t first, size_t n, uint8_t* out) {
                                             for (size_t k = 0; k < n; k++)
                                               std::memcpy(out + k * kPageSize, ptrs[first + k], kPageSize);
                                             return Status::OK();
                                           },
                                           "z"));
    if (count > 1) {
      EXPECT_FALSE(SparseFrameIndex::Build(zframe, count).has_value());
    }
  }
}

Result<Bytes> Encode(const CommittedMemory& committed, const LayerPlan& plan, const std::vector<uint32_t>& dirty,
                     const uint8_t* memory) {
  LayerEncoder e(committed, plan, dirty, memory, 1, "test");
  RETURN_IF_ERROR(e.Start());
  for (size_t c = 0; c < e.chunks(); c++) RETURN_IF_ERROR(e.EncodeChunk(c));
  return e.Finish();
}

TEST(Delta, PlanEncodeAndAssembleMergeLayers) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  const uint64_t len = kWasmPageSize;  // 16 pages
  Bytes base = RandomMemory(len, 5, 16);
  ASSERT_OK(WriteMemoryImage(env, dir.Sub("img"), base.data(), len, false).status());
  ASSERT_OK_AND_ASSIGN(auto img, MemoryImage::Open(env, dir.Sub("img")));
  auto make = [](std::vector<uint32_t> pages, uint8_t fill) {
    auto x = DeltaLayer::NewPageBuffer(pages.size());
    std::memset(x.get(), fill, pages.size() * kPageSize);
    std::vector<TreeNode> nodes;
    for (uint32_t p : pages) nodes.push_back({MakeNodeKey(0, p), Hash32{{fill}}});
    nodes.push_back({kRootKey, Hash32{{fill, 1}}});
    return DeltaLayer::Build(pages, std::move(x), nodes);
  };
  CommittedMemory committed(img, {make({1, 5, 9}, 0xAA), make({5, 10}, 0xBB)}, img->path());
  // The session's memory: base with pages 2 and 10 changed.
  Bytes memory = base;
  for (uint64_t i = 0; i < kPageSize; i++) {
    memory[2 * kPageSize + i] ^= 0xCC;
    memory[10 * kPageSize + i] ^= 0xDD;
  }
  const std::vector<uint32_t> dirty = {2, 10};
  const std::vector<TreeNode> changed = {
      {MakeNodeKey(0, 2), Hash32{{0xCC}}}, {MakeNodeKey(0, 10), Hash32{{0xDD}}}, {kRootKey, Hash32{{0xCC, 1}}}};

  // Ratio 2: layer 2 (2 pages <= 2 x 2) merges, then layer 1 (3 <= 2 x 3).
  ASSERT_OK_AND_ASSIGN(LayerPlan plan, PlanLayer(committed, dirty, 2, kSealMinPages));
  EXPECT_EQ(plan.keep, 0u);
  EXPECT_EQ(plan.pages, (std::vector<uint32_t>{1, 2, 5, 9, 10}));
  ASSERT_OK_AND_ASSIGN(Bytes frame, Encode(committed, plan, dirty, memory.data()));
  ASSERT_OK_AND_ASSIGN(auto m, AssembleLayer(committed, plan, std::move(frame), changed));
  ASSERT_OK(m->LoadPages());
  EXPECT_EQ(PagesOf(*m), plan.pages);
  const uint8_t want[] = {0xAA, 0xCC, 0xBB, 0xAA, 0xDD};  // newest source wins
  for (size_t i = 0; i < 5; i++) {
    for (size_t b = 0; b < kPageSize; b += 1000) EXPECT_EQ(m->xor_page(i)[b], want[i]) << "page " << plan.pages[i];
  }
  EXPECT_EQ(NodeOf(*m, kRootKey), (Hash32{{0xCC, 1}}));
  EXPECT_EQ(NodeOf(*m, MakeNodeKey(0, 9)), (Hash32{{0xAA}}));
  EXPECT_EQ(NodeOf(*m, MakeNodeKey(0, 5)), (Hash32{{0xBB}}));
  EXPECT_EQ(NodeOf(*m, MakeNodeKey(0, 10)), (Hash32{{0xDD}}));
  const std::vector<TreeNode> mn = NodesOf(*m);
  for (size_t i = 1; i < mn.size(); i++) EXPECT_LT(mn[i - 1].key, mn[i].key);

  // Ratio 0: nothing merges; the new layer holds the dirty pages only.
  ASSERT_OK_AND_ASSIGN(LayerPlan alone, PlanLayer(committed, dirty, 0, kSealMinPages));
  EXPECT_EQ(alone.keep, 2u);
  EXPECT_EQ(alone.pages, dirty);
  ASSERT_OK_AND_ASSIGN(Bytes frame2, Encode(committed, alone, dirty, memory.data()));
  ASSERT_OK_AND_ASSIGN(auto n, AssembleLayer(committed, alone, std::move(frame2), changed));
  ASSERT_OK(n->LoadPages());
  EXPECT_EQ(n->xor_page(1)[7], 0xDD);
  EXPECT_EQ(NodesOf(*n).size(), changed.size());

  // Sealed layers (here: 3 pages or more) are never merged: layer 1 stays.
  ASSERT_OK_AND_ASSIGN(LayerPlan sealed, PlanLayer(committed, dirty, 2, 3));
  EXPECT_EQ(sealed.keep, 1u);
  EXPECT_EQ(sealed.pages, (std::vector<uint32_t>{2, 5, 10}));
  EXPECT_EQ(SealPages(4096), kSealMinPages);
  EXPECT_EQ(SealPages(65536), 4096u);
}

// Every way of writing a layer (layer_writer.h) gives the same layer: the
// policy picks each where it should, and the files read back with the same
// pages, nodes and page data. The ways that hash the leaves give the pages'
// leaf hashes.
TEST(LayerWriter, EveryWayWritesTheSameLayer) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  const uint64_t len = 4 * kWasmPageSize;  // 64 pages
  Bytes base = RandomMemory(len, 5, 64);
  ASSERT_OK(WriteMemoryImage(env, dir.Sub("img"), base.data(), len, false).status());
  ASSERT_OK_AND_ASSIGN(auto img, MemoryImage::Open(env, dir.Sub("img")));
  auto x = DeltaLayer::NewPageBuffer(2);
  std::memset(x.get(), 0x5A, 2 * kPageSize);
  Bytes older = base;  // the memory the older layer holds: pages 3 and 40 changed
  for (uint32_t p : {3u, 40u}) {
    for (uint64_t i = 0; i < kPageSize; i++) older[p * kPageSize + i] ^= 0x5A;
  }
  std::vector<Hash32> all(len / kPageSize);
  for (size_t p = 0; p < all.size(); p++) all[p] = PageLeafHash(older.data() + p * kPageSize);
  const auto levels = BuildTree(all);
  std::vector<TreeNode> older_nodes = UpdatePaths({{3, all[3]}, {40, all[40]}}, [&](NodeKey k) {
    return NodeIndex(k) < levels[NodeLevel(k)].size() ? levels[NodeLevel(k)][NodeIndex(k)] : ZeroHash(NodeLevel(k));
  });
  CommittedMemory committed(img, {DeltaLayer::Build({3, 40}, std::move(x), older_nodes)}, img->path());
  // The session's memory: pages 1, 2, 3 and 50 changed again.
  Bytes memory = older;
  const std::vector<uint32_t> dirty = {1, 2, 3, 50};
  for (uint32_t p : dirty) memory[p * kPageSize + 17] ^= static_cast<uint8_t>(p + 1);

  ASSERT_OK_AND_ASSIGN(LayerPlan merge, PlanLayer(committed, dirty, 2, kSealMinPages));
  ASSERT_OK_AND_ASSIGN(LayerPlan alone, PlanLayer(committed, dirty, 0, kSealMinPages));
  ASSERT_EQ(merge.keep, 0u);
  ASSERT_EQ(alone.keep, 1u);
  EXPECT_EQ(ChooseLayerWrite(committed, merge, false), LayerWriteMode::kBuffered);
  EXPECT_EQ(ChooseLayerWrite(committed, alone, false), LayerWriteMode::kBuffered);
  EXPECT_EQ(ChooseLayerWrite(committed, merge, true), LayerWriteMode::kMerged);
  EXPECT_EQ(ChooseLayerWrite(committed, alone, true), LayerWriteMode::kStreamed);

  std::vector<Hash32> dirty_leaves;
  for (uint32_t p : dirty) dirty_leaves.push_back(PageLeafHash(memory.data() + p * kPageSize));
  LevelNodes changed_leaves;
  for (size_t i = 0; i < dirty.size(); i++) changed_leaves.push_back({dirty[i], dirty_leaves[i]});
  const std::vector<TreeNode> changed = UpdatePaths(changed_leaves, [&](NodeKey k) { return committed.Node(k); });

  // Writes `plan` the given way; returns the layer read back from its file.
  auto write = [&](LayerWriteMode mode, const LayerPlan& plan, const std::string& name) {
    const std::string path = dir.Sub(name);
    auto w = NewLayerWriter(mode, LayerWriteArgs{env, committed, plan, dirty, memory.data(), 1, path, name});
    EXPECT_OK(w->Start());
    for (size_t c = 0; c < w->chunks(); c++) EXPECT_OK(w->RunChunk(c));
    if (mode == LayerWriteMode::kBuffered) {
      EXPECT_EQ(w->leaves(), nullptr);
    } else {
      EXPECT_NE(w->leaves(), nullptr);
      if (w->leaves()) {
        EXPECT_EQ(*w->leaves(), dirty_leaves) << name;
      }
    }
    EXPECT_EQ(w->computes_nodes(), mode == LayerWriteMode::kStreamed);
    if (w->computes_nodes()) {
      const std::vector<TreeNode> nodes = w->FinishNodes();
      EXPECT_EQ(nodes.size(), changed.size());
      for (size_t i = 0; i < nodes.size() && i < changed.size(); i++) {
        EXPECT_EQ(nodes[i].key, changed[i].key);
        EXPECT_EQ(nodes[i].hash, changed[i].hash);
      }
    }
    auto written = w->Finish(changed);
    EXPECT_OK(written.status());
    if (written.ok()) {
      EXPECT_OK(written->file->Close());
    }
    return DeltaLayer::Open(env, path);
  };
  auto same = [](const DeltaLayer& a, const DeltaLayer& b) {
    EXPECT_EQ(PagesOf(a), PagesOf(b));
    const auto an = NodesOf(a), bn = NodesOf(b);
    ASSERT_EQ(an.size(), bn.size());
    for (size_t i = 0; i < an.size(); i++) {
      EXPECT_EQ(an[i].key, bn[i].key);
      EXPECT_EQ(an[i].hash, bn[i].hash);
    }
    ASSERT_OK(a.LoadPages());
    ASSERT_OK(b.LoadPages());
    for (size_t i = 0; i < a.page_count(); i++) EXPECT_EQ(0, std::memcmp(a.xor_page(i), b.xor_page(i), kPageSize));
  };
  ASSERT_OK_AND_ASSIGN(auto buffered, write(LayerWriteMode::kBuffered, alone, "buffered"));
  ASSERT_OK_AND_ASSIGN(auto streamed, write(LayerWriteMode::kStreamed, alone, "streamed"));
  ASSERT_OK_AND_ASSIGN(auto merged_alone, write(LayerWriteMode::kMerged, alone, "merged_alone"));
  same(*buffered, *streamed);
  same(*buffered, *merged_alone);
  ASSERT_OK_AND_ASSIGN(auto buffered_merge, write(LayerWriteMode::kBuffered, merge, "buffered_merge"));
  ASSERT_OK_AND_ASSIGN(auto merged, write(LayerWriteMode::kMerged, merge, "merged"));
  same(*buffered_merge, *merged);
  EXPECT_EQ(PagesOf(*merged), (std::vector<uint32_t>{1, 2, 3, 40, 50}));
  // A streamed layer cannot merge: refused at Start.
  auto bad = NewLayerWriter(LayerWriteMode::kStreamed,
                            LayerWriteArgs{env, committed, merge, dirty, memory.data(), 1, dir.Sub("bad"), "bad"});
  EXPECT_FALSE(bad->Start().ok());
}

TEST(ImageCache, SharesImagesByInodeEvictsAndDropsDeleted) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  Bytes m = RandomMemory(kWasmPageSize, 1, 4);
  for (const char* name : {"a", "b", "c"}) ASSERT_OK(WriteMemoryImage(env, dir.Sub(name), m.data(), m.size(), false).status());
  ASSERT_OK(env->LinkFile(dir.Sub("a"), dir.Sub("a2")));  // a hard link: the same image
  ImageCache cache(2);
  ASSERT_OK_AND_ASSIGN(auto a, cache.Open(env, dir.Sub("a")));
  ASSERT_OK_AND_ASSIGN(auto a2, cache.Open(env, dir.Sub("a2")));
  EXPECT_EQ(a.get(), a2.get());
  ASSERT_OK_AND_ASSIGN(auto b, cache.Open(env, dir.Sub("b")));
  ASSERT_OK_AND_ASSIGN(auto c, cache.Open(env, dir.Sub("c")));  // evicts a, the least recently used
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto a3, cache.Open(env, dir.Sub("a")));
  EXPECT_NE(a3.get(), a.get());
  ASSERT_OK(env->RemoveFile(dir.Sub("c")));
  cache.DropDeleted(env);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.Open(env, dir.Sub("missing")).status().IsNotFound());
}

TEST(PageCodec, SparseFramesDecodeToTheirPages) {
  std::mt19937_64 rng(11);
  // Page sets: all zero (zero runs longer than a block), a few bytes per page,
  // short zero gaps (kept inside raw blocks), dense random (raw runs longer
  // than a block), and a mix; pieces of various sizes.
  auto make = [&](size_t pages, int kind) {
    Bytes m(pages * kPageSize, 0);
    for (size_t p = 0; p < pages; p++) {
      uint8_t* page = m.data() + p * kPageSize;
      const int k = kind == 4 ? static_cast<int>(p % 4) : kind;
      if (k == 1) {
        for (int j = 0; j < 3; j++) page[rng() % kPageSize] = static_cast<uint8_t>(rng() | 1);
      } else if (k == 2) {
        for (size_t b = 0; b < kPageSize; b += 24) page[b] = 7;  // non-zero every 24 bytes
      } else if (k == 3) {
        for (size_t b = 0; b < kPageSize; b++) page[b] = static_cast<uint8_t>(rng());
      }
    }
    return m;
  };
  for (int kind = 0; kind <= 4; kind++) {
    for (size_t pages : {size_t{1}, size_t{7}, size_t{40}, size_t{200}}) {
      Bytes m = make(pages, kind);
      std::vector<Bytes> pieces;
      for (size_t first = 0; first < pages; first += 13) {
        const size_t n = std::min<size_t>(13, pages - first);
        std::vector<const uint8_t*> ptrs;
        for (size_t i = 0; i < n; i++) ptrs.push_back(m.data() + (first + i) * kPageSize);
        pieces.emplace_back();
        EncodeSparsePages(ptrs.data(), n, &pieces.back());
      }
      Bytes frame = JoinSparseFrame(pages, pieces);
      Bytes out(pages * kPageSize, 0xEE);
      ASSERT_TRUE(DecompressPages(frame, pages, out.data(), "frame").ok()) << "kind " << kind << ", " << pages << " pages";
      EXPECT_TRUE(out == m) << "kind " << kind << ", " << pages << " pages";
      if (kind == 0 || kind == 1) {
        EXPECT_LT(frame.size(), pages * 64 + 32) << "kind " << kind;
      }
      EXPECT_TRUE(DecompressPages(frame, pages + 1, out.data(), "frame").IsCorruption());
    }
  }
  // An empty frame is valid too.
  Bytes empty = JoinSparseFrame(0, {});
  EXPECT_OK(DecompressPages(empty, 0, nullptr, "empty"));
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
  for (uint8_t fill : {1, 0}) {  // zstd proper (no page map); sparse (page map)
    auto buf = DeltaLayer::NewPageBuffer(2);
    std::memset(buf.get(), fill, 2 * kPageSize);
    buf[100] = 7;
    const std::vector<TreeNode> nodes = {{MakeNodeKey(0, 3), Hash32{}}, {MakeNodeKey(0, 8), Hash32{}}};
    std::shared_ptr<DeltaLayer> d;
    if (fill) {
      d = DeltaLayer::Build({3, 8}, std::move(buf), nodes);
    } else {
      const uint8_t* ps[2] = {buf.get(), buf.get() + kPageSize};
      Bytes piece;
      EncodeSparsePages(ps, 2, &piece);
      d = DeltaLayer::FromFrame({3, 8}, JoinSparseFrame(2, {piece}), nodes);
    }
    const std::string name = "d" + std::to_string(fill);
    ASSERT_OK(d->Write(env, dir.Sub(name), 1, false));
    ASSERT_OK_AND_ASSIGN(Bytes file, env->ReadFile(dir.Sub(name)));
    EXPECT_EQ(DecodeFixed32(file.data() + 20), fill ? 0u : kDeltaFlagPageMap) << "flags";
    // Opening checks the footer, the checksum table and the header; every
    // other byte is checked when used, and all of them by VerifyAll.
    for (size_t i = 0; i < file.size(); i++) {
      Bytes c = file;
      c[i] ^= 0x40;
      std::string p = dir.Sub("f" + std::to_string(i));
      ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(p));
      ASSERT_OK(f->Append(c));
      ASSERT_OK(f->Close());
      auto r = DeltaLayer::Open(env, p);
      Status s = r.ok() ? (*r)->VerifyAll() : r.status();
      ASSERT_FALSE(s.ok()) << "flip at " << i;
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(s.ToString().find(p), std::string::npos) << s.ToString();
      ASSERT_OK(env->RemoveFile(p));
    }
    for (size_t cut : {size_t{0}, size_t{20}, file.size() / 2, file.size() - 1}) {
      std::string p = dir.Sub("t" + std::to_string(fill) + "-" + std::to_string(cut));
      ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(p));
      ASSERT_OK(f->Append(ByteView(file.data(), cut)));
      ASSERT_OK(f->Close());
      auto r = DeltaLayer::Open(env, p);
      ASSERT_FALSE(r.ok()) << "cut at " << cut;
      EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
    }
  }
}

// A layer's nodes are exactly its pages' paths to the root (format.md);
// readers rely on it, so verification rejects a node on no path and a
// missing path node.
TEST(Delta, VerifyRequiresNodesOnExactlyThePagesPaths) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  const std::vector<uint32_t> pages = {3, 4, 700};
  auto write = [&](const std::string& name, std::vector<TreeNode> nodes) {
    auto x = DeltaLayer::NewPageBuffer(pages.size());
    std::memset(x.get(), 0x5A, pages.size() * kPageSize);
    EXPECT_OK(DeltaLayer::Build(pages, std::move(x), std::move(nodes))->Write(env, dir.Sub(name), 1, false));
    auto l = DeltaLayer::Open(env, dir.Sub(name));
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? (*l)->VerifyAll() : l.status();
  };
  const std::vector<TreeNode> exact = PathNodes(pages);
  EXPECT_OK(write("exact", exact));
  std::vector<TreeNode> extra = exact;
  extra.insert(extra.begin() + 2, TreeNode{MakeNodeKey(0, 5), Hash32{}});  // page 5 is not in the layer
  const Status e = write("extra", extra);
  EXPECT_TRUE(e.IsCorruption()) << e.ToString();
  EXPECT_NE(e.ToString().find(dir.Sub("extra")), std::string::npos) << e.ToString();
  std::vector<TreeNode> missing = exact;
  missing.erase(missing.begin() + 4);  // level 1, index 2: on page 4's path
  const Status m = write("missing", missing);
  EXPECT_TRUE(m.IsCorruption()) << m.ToString();
  std::vector<TreeNode> no_root = exact;
  no_root.pop_back();
  EXPECT_TRUE(write("no-root", no_root).IsCorruption());
}

// A layer of many sparse pages: its page list, nodes, page map and data span
// many 4 KiB blocks. Damage to one block is found when that block is first
// used, as Corruption naming the file; the rest of the layer stays readable.
TEST(Delta, DamagedBlocksAreFoundWhenUsed) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  const size_t n = 5000;
  std::vector<uint32_t> pages(n);
  auto x = DeltaLayer::NewPageBuffer(n);
  std::memset(x.get(), 0, n * kPageSize);
  for (size_t i = 0; i < n; i++) {
    pages[i] = static_cast<uint32_t>(2 * i + 1);
    std::memcpy(x.get() + i * kPageSize + (i * 37) % 4000, &i, sizeof(i));
  }
  const std::vector<TreeNode> nodes = PathNodes(pages);  // the leaves first: nodes[i] is page i's
  std::vector<const uint8_t*> ps(n);
  for (size_t i = 0; i < n; i++) ps[i] = x.get() + i * kPageSize;
  Bytes piece;
  EncodeSparsePages(ps.data(), n, &piece);
  auto sparse = DeltaLayer::FromFrame(pages, JoinSparseFrame(n, {piece}), nodes);
  auto layer = DeltaLayer::Build(pages, std::move(x), nodes);
  ASSERT_OK(sparse->Write(env, dir.Sub("ok"), 1, false));
  ASSERT_OK_AND_ASSIGN(Bytes file, env->ReadFile(dir.Sub("ok")));
  ASSERT_EQ(DecodeFixed32(file.data() + 20), kDeltaFlagPageMap);
  const uint64_t nodes_at = 32 + 4 * n, map_at = nodes_at + 36 * nodes.size(), data_at = map_at + 8 * n;
  ASSERT_OK(layer->LoadPages());

  // Undamaged: every page and node reads back, without loading the frame.
  ASSERT_OK_AND_ASSIGN(auto good, DeltaLayer::Open(env, dir.Sub("ok")));
  uint8_t page[kPageSize];
  for (size_t i = 0; i < n; i += 7) {
    ASSERT_OK_AND_ASSIGN(auto at, good->FindPage(pages[i]));
    ASSERT_TRUE(at.has_value());
    EXPECT_EQ(*at, i);
    ASSERT_OK(good->ReadXorPage(i, page));
    ASSERT_EQ(0, std::memcmp(page, layer->xor_page(i), kPageSize)) << "page " << i;
    EXPECT_EQ(NodeOf(*good, nodes[i].key), nodes[i].hash);
  }
  ASSERT_OK_AND_ASSIGN(auto missing, good->FindPage(2));
  EXPECT_FALSE(missing.has_value());
  EXPECT_OK(good->VerifyAll());

  auto damaged = [&](uint64_t offset, const std::string& name) -> std::shared_ptr<DeltaLayer> {
    Bytes c = file;
    c[offset] ^= 0x10;
    auto f = env->NewWritableFile(dir.Sub(name));
    EXPECT_TRUE(f.ok());
    EXPECT_OK((*f)->Append(c));
    EXPECT_OK((*f)->Close());
    auto r = DeltaLayer::Open(env, dir.Sub(name));  // the header and footer are intact
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r.ok() && (*r)->VerifyAll().IsCorruption());
    return r.ok() ? *r : nullptr;
  };
  auto expect_corrupt = [&](const Status& s, const std::string& name) {
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.ToString().find(dir.Sub(name)), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("block"), std::string::npos) << s.ToString();
  };
  const size_t far = n - 1;  // in the sections' last blocks
  {  // the page list: a search that reads the damaged block fails
    const size_t q = 1200;  // block 1 (block 0 and the last entry are checked at open)
    auto l = damaged(32 + 4 * q, "pages");
    ASSERT_NE(l, nullptr);
    expect_corrupt(l->FindPage(pages[q]).status(), "pages");
    ASSERT_OK_AND_ASSIGN(auto last, l->FindPage(pages[n - 1]));  // a search not reading it still works
    EXPECT_EQ(last, std::optional<size_t>(n - 1));
  }
  {  // the node list
    auto l = damaged(nodes_at + 36 * far + 10, "nodes");
    ASSERT_NE(l, nullptr);
    expect_corrupt(l->FindNode(nodes[far].key).status(), "nodes");
    EXPECT_EQ(NodeOf(*l, nodes[0].key), nodes[0].hash);
    expect_corrupt(l->NodeList().status(), "nodes");
  }
  {  // the page map
    auto l = damaged(map_at + 8 * far, "map");
    ASSERT_NE(l, nullptr);
    expect_corrupt(l->ReadXorPage(far, page), "map");
    EXPECT_OK(l->ReadXorPage(n / 2, page));
  }
  {  // the data
    auto l = damaged(data_at + (file.size() - 12 - data_at) * 3 / 4, "data");
    ASSERT_NE(l, nullptr);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !l->ReadXorPage(i, page).ok();
    EXPECT_GE(bad, 1u);
    EXPECT_LT(bad, n / 2);
    expect_corrupt(l->LoadPages(), "data");
  }
}

// Files of version 2 (whole-file CRC, no page map) are still read.
TEST(Delta, ReadsVersion2Files) {
  TempDir dir;
  os::Env* env = os::Env::Default();
  Bytes page(kPageSize, 0);
  page[9] = 0x5A;
  const uint8_t* one = page.data();
  Bytes frame;
  EncodeSparsePages(&one, 1, &frame);
  frame = JoinSparseFrame(1, {frame});
  const Hash32 leaf{{0x11}};
  Bytes file(32);
  EncodeDeltaHeader(file.data(), 1, 1, 0, frame.size());
  EncodeFixed32(file.data() + 8, 2);  // version 2
  Bytes tail(4 + 36);
  EncodeFixed32(tail.data(), 6);                    // page 6
  EncodeFixed32(tail.data() + 4, MakeNodeKey(0, 6));  // its leaf
  std::memcpy(tail.data() + 8, leaf.bytes.data(), 32);
  file.insert(file.end(), tail.begin(), tail.end());
  file.insert(file.end(), frame.begin(), frame.end());
  Bytes crc(4);
  EncodeFixed32(crc.data(), Crc32c(file.data(), file.size()));
  file.insert(file.end(), crc.begin(), crc.end());
  ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(dir.Sub("v2")));
  ASSERT_OK(f->Append(file));
  ASSERT_OK(f->Close());
  ASSERT_OK_AND_ASSIGN(auto l, DeltaLayer::Open(env, dir.Sub("v2")));
  EXPECT_EQ(PagesOf(*l), std::vector<uint32_t>{6});
  EXPECT_EQ(NodeOf(*l, MakeNodeKey(0, 6)), leaf);
  uint8_t out[kPageSize];
  ASSERT_OK(l->ReadXorPage(0, out));
  EXPECT_EQ(0, std::memcmp(out, page.data(), kPageSize));
  EXPECT_OK(l->VerifyAll());
  // Re-encoding writes version 3 with the same content.
  ASSERT_OK(l->Write(env, dir.Sub("v3"), 1, false));
  ASSERT_OK_AND_ASSIGN(auto l3, DeltaLayer::Open(env, dir.Sub("v3")));
  ASSERT_OK(l3->ReadXorPage(0, out));
  EXPECT_EQ(0, std::memcmp(out, page.data(), kPageSize));
  ASSERT_OK_AND_ASSIGN(Bytes v3, env->ReadFile(dir.Sub("v3")));
  EXPECT_EQ(DecodeFixed32(v3.data() + 8), 3u);
  // A damaged version-2 file is refused at open, as before.
  file[40] ^= 1;
  ASSERT_OK_AND_ASSIGN(auto g, env->NewWritableFile(dir.Sub("bad")));
  ASSERT_OK(g->Append(file));
  ASSERT_OK(g->Close());
  EXPECT_TRUE(DeltaLayer::Open(env, dir.Sub("bad")).status().IsCorruption());
}

}  // namespace
}  // namespace crust::store
