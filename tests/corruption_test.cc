// Copyright (c) crust authors. Licensed under the MIT license.
//
// Corruption: a commit holding every kind of file — index, bytecode, a base
// memory image (data pages, holes, tree trailer, footer), a first delta layer
// `memory/<id>.diff` and a second `memory/<id>.diff.2` — is damaged one way at
// a time: a byte flipped (in the header, the data, the trailer/footer), the
// file truncated or extended, removed, an extra file added, the directory
// renamed, the index replaced by a well-formed but wrong one. VerifyCommit
// must report Corruption naming the damaged file, and opening the store,
// listing, ShowCommit, StartSession, reading memory and committing on top
// must never crash (they may fail; a flipped page byte may read back wrong).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/env.h"
#include "src/store/format.h"
#include "src/store/index.h"
#include "src/util/coding.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using testing::FileSize;
using testing::FlipByte;
using testing::kMiB;
using testing::kWasmPage;
using testing::MakeWritable;
using testing::Pattern;
using testing::TempDir;
using testing::TestModuleId;
using testing::TruncateFile;

const ModuleId kA = TestModuleId(1);  // 1 MiB: base image + .diff + .diff.2
const ModuleId kB = TestModuleId(2);  // 256 KiB: base image only
constexpr uint64_t kLenA = kMiB;
constexpr uint64_t kLenB = 4 * kWasmPage;
constexpr uint64_t kFooter = 40;

// A store whose newest commit (`root`) holds every kind of file.
struct Fixture {
  TempDir tmp;
  std::string dir = tmp.Sub("store");
  Root root;
  std::string commit;  // dir/<root>

  std::string Path(const std::string& name) const { return commit + "/" + name; }
  std::string Index() const { return Path("index"); }
  std::string BytecodeA() const { return Path(store::BytecodeName(kA)); }
  std::string ImageA() const { return Path(store::MemoryName(kA)); }
  std::string ImageB() const { return Path(store::MemoryName(kB)); }
  std::string Diff1() const { return Path(store::LayerName(kA, 1)); }
  std::string Diff2() const { return Path(store::LayerName(kA, 2)); }
};

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions opt;
  opt.sync = false;
  auto s = Store::Open(dir, opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

void Build(Fixture* f) {
  auto store = OpenStore(f->dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  // A: three data pages, then holes.
  ASSERT_OK(s->AddModule(kA, Pattern(1, 333), Pattern(2, 3 * 4096), kLenA, Pattern(3, 5)));
  ASSERT_OK(s->AddModule(kB, Pattern(4, 77), Pattern(5, 6000), kLenB));
  ASSERT_OK(s->Commit().status());
  // .diff: 8 pages of A.
  for (int p = 0; p < 8; p++) ASSERT_OK(s->WriteMemory(kA, (10 + 7 * p) * 4096, Pattern(10 + p, 4096)));
  ASSERT_OK(s->Commit().status());
  // .diff.2: 1 page of A (not merged into the 8-page layer below).
  ASSERT_OK(s->WriteMemory(kA, 1 * 4096 + 100, Pattern(20, 50)));
  ASSERT_OK_AND_ASSIGN(f->root, s->Commit());
  s.reset();
  f->commit = f->dir + "/" + f->root.ToHex();
  // Preconditions: the layout this test damages.
  ASSERT_OK_AND_ASSIGN(CommitInfo info, store->ShowCommit(f->root));
  ASSERT_EQ(info.modules.size(), 2u);
  ASSERT_EQ(info.modules[0].delta_layers, 2u) << "the layer policy changed; adjust Build()";
  ASSERT_EQ(info.modules[1].delta_layers, 0u);
  for (const std::string& p : {f->Index(), f->BytecodeA(), f->ImageA(), f->ImageB(), f->Diff1(), f->Diff2()}) {
    ASSERT_GT(FileSize(p), 0u) << p;
  }
  ASSERT_OK(store->VerifyCommit(f->root));
}

bool Names(const Status& s, const std::string& path) {
  const std::string_view m = s.message();
  return m.find(path + ":") != std::string_view::npos || m.find(path + " ") != std::string_view::npos ||
         (m.size() >= path.size() && m.substr(m.size() - path.size()) == path);
}

// Everything a user might do with the damaged commit; none of it may crash.
// Errors are fine; results are not checked (a flipped page byte reads back
// wrong, and that is what VerifyCommit is for).
void ExerciseWithoutCrashing(const std::string& dir, const Root& root) {
  auto store = OpenStore(dir);
  if (store == nullptr) return;
  auto list = store->ListCommits();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  store->ShowCommit(root).status().IgnoreError();
  auto s = store->StartSession(root);
  if (s.ok()) {
    Session& session = **s;
    for (const ModuleId& id : session.Modules()) {
      session.Bytecode(id).status().IgnoreError();
      auto len = session.MemoryLength(id);
      if (!len.ok()) continue;
      Bytes mem(*len);
      session.ReadMemory(id, 0, mem).IgnoreError();
    }
    // Committing on top of a damaged base: may fail, must not crash.
    if (session.WriteMemory(kA, 5 * 4096, Pattern(99, 4096)).ok()) {
      auto r = session.Commit();
      if (r.ok()) store->VerifyCommit(*r).IgnoreError();
    }
  }
  // The read-only path of the tool.
  StoreOptions ro;
  ro.read_only = true;
  auto ro_store = Store::Open(dir, ro);
  if (ro_store.ok()) {
    (*ro_store)->ListCommits().status().IgnoreError();
    (*ro_store)->VerifyCommit(root).IgnoreError();
  }
}

void ExpectCorruptionNaming(const Fixture& f, const std::string& path, const std::string& what) {
  auto store = OpenStore(f.dir);
  ASSERT_NE(store, nullptr) << what;
  Status v = store->VerifyCommit(f.root);
  EXPECT_TRUE(v.IsCorruption()) << what << ": VerifyCommit -> " << v.ToString();
  EXPECT_TRUE(Names(v, path)) << what << ": the error does not name " << path << ": " << v.ToString();
  // Still listed, so that verifying every commit (`crust verify`) finds it.
  auto list = store->ListCommits();
  ASSERT_TRUE(list.ok()) << what << ": " << list.status().ToString();
  bool listed = false;
  for (const CommitInfo& c : *list) listed |= c.root == f.root;
  EXPECT_TRUE(listed) << what << ": the damaged commit is not listed";
}

// One damage per fresh store.
void RunCase(const std::string& what, const std::function<std::string(const Fixture&)>& damage) {
  SCOPED_TRACE(what);
  Fixture f;
  Build(&f);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const std::string path = damage(f);
  ASSERT_FALSE(path.empty()) << what << ": could not damage the file";
  ExpectCorruptionNaming(f, path, what);
  ExerciseWithoutCrashing(f.dir, f.root);
}

enum class Kind { kIndex, kBytecode, kImage, kImageB, kDiff1, kDiff2 };

std::string KindPath(const Fixture& f, Kind k) {
  switch (k) {
    case Kind::kIndex: return f.Index();
    case Kind::kBytecode: return f.BytecodeA();
    case Kind::kImage: return f.ImageA();
    case Kind::kImageB: return f.ImageB();
    case Kind::kDiff1: return f.Diff1();
    case Kind::kDiff2: return f.Diff2();
  }
  return "";
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kIndex: return "index";
    case Kind::kBytecode: return "bytecode";
    case Kind::kImage: return "memory image";
    case Kind::kImageB: return "memory image (no layers)";
    case Kind::kDiff1: return ".diff";
    case Kind::kDiff2: return ".diff.2";
  }
  return "";
}

// Offsets to flip, as functions of the file size (so the cases do not depend
// on exact sizes). Named by region.
struct Spot {
  const char* region;
  std::function<uint64_t(uint64_t size)> offset;
};

std::vector<Spot> Spots(Kind k) {
  auto at = [](uint64_t o) { return [o](uint64_t) { return o; }; };
  auto from_end = [](uint64_t o) { return [o](uint64_t size) { return size - o; }; };
  switch (k) {
    case Kind::kIndex:
      return {{"magic", at(0)},           {"version", at(8)},         {"count", at(12)},
              {"created time", at(16)},   {"module id", at(24 + 31)}, {"bytecode hash", at(24 + 40)},
              {"memory hash", at(24 + 70)}, {"memory length", at(24 + 97)}, {"layer count", at(24 + 104)},
              {"middle", [](uint64_t s) { return s / 2; }}, {"checksum", from_end(1)}};
    case Kind::kBytecode:
      return {{"first byte", at(0)}, {"middle", [](uint64_t s) { return s / 2; }}, {"last byte", from_end(1)}};
    case Kind::kImage:
      return {{"data page 0", at(10)},
              {"data page 1 (overridden by .diff.2)", at(4096 + 120)},
              {"data page 10 (overridden by .diff)", at(10 * 4096 + 5)},
              {"hole page 200", at(200 * 4096 + 7)},
              {"tree leaf 0", at(kLenA + 3)},
              {"tree root node", [](uint64_t s) { return s - kFooter - 1; }},
              {"footer magic", from_end(kFooter)},
              {"footer version", from_end(kFooter - 8)},
              {"footer nodes crc", from_end(kFooter - 12)},
              {"footer length", from_end(kFooter - 17)},
              {"footer node count", from_end(kFooter - 24)},
              {"footer reserved", from_end(kFooter - 32)},
              {"footer crc", from_end(1)}};
    case Kind::kImageB:
      return {{"data page 0", at(0)}, {"hole page 5", at(5 * 4096)}, {"tree", at(kLenB + 40)},
              {"footer", from_end(20)}};
    case Kind::kDiff1:
    case Kind::kDiff2:
      return {{"magic", at(3)},           {"version", at(8)},          {"page count", at(12)},
              {"node count", at(16)},     {"flags", at(20)},           {"compressed size", at(24)},
              {"first page index", at(32)}, {"middle", [](uint64_t s) { return s / 2; }},
              {"last block checksum", from_end(13)}, {"footer body size", from_end(5)},
              {"footer checksum", from_end(1)}};
  }
  return {};
}

const Kind kKinds[] = {Kind::kIndex, Kind::kBytecode, Kind::kImage, Kind::kImageB, Kind::kDiff1, Kind::kDiff2};

TEST(CorruptionTest, FlippedByteInEachFileKindIsReported) {
  for (Kind k : kKinds) {
    for (const Spot& spot : Spots(k)) {
      RunCase(std::string("flip ") + KindName(k) + " " + spot.region, [&](const Fixture& f) {
        const std::string path = KindPath(f, k);
        const uint64_t off = spot.offset(FileSize(path));
        return FlipByte(path, off) ? path : std::string();
      });
    }
  }
}

TEST(CorruptionTest, TruncatedOrExtendedFileOfEachKindIsReported) {
  for (Kind k : kKinds) {
    std::vector<std::pair<std::string, std::function<uint64_t(uint64_t)>>> lengths = {
        {"to 0", [](uint64_t) { return 0; }},
        {"to 1", [](uint64_t) { return 1; }},
        {"to half", [](uint64_t s) { return s / 2; }},
        {"by 1", [](uint64_t s) { return s - 1; }},
        {"by 4", [](uint64_t s) { return s - 4; }},
        {"extended by 1", [](uint64_t s) { return s + 1; }},
        {"extended by 4096", [](uint64_t s) { return s + 4096; }},
    };
    if (k == Kind::kImage) {
      lengths.push_back({"to the memory (no trailer)", [](uint64_t) { return kLenA; }});
      lengths.push_back({"into the tree", [](uint64_t) { return kLenA + 100; }});
      lengths.push_back({"by the footer", [](uint64_t s) { return s - kFooter; }});
    }
    if (k == Kind::kIndex || k == Kind::kDiff1 || k == Kind::kDiff2) {
      lengths.push_back({"to the header", [k](uint64_t) { return k == Kind::kIndex ? 24 : 32; }});
    }
    for (const auto& entry : lengths) {
      const auto& length = entry.second;  // (clang 14 cannot capture a structured binding)
      RunCase(std::string("truncate ") + KindName(k) + " " + entry.first, [&](const Fixture& f) {
        const std::string path = KindPath(f, k);
        return TruncateFile(path, length(FileSize(path))) ? path : std::string();
      });
    }
  }
}

TEST(CorruptionTest, MissingFileIsReported) {
  for (Kind k : kKinds) {
    RunCase(std::string("remove ") + KindName(k), [&](const Fixture& f) {
      const std::string path = KindPath(f, k);
      return std::filesystem::remove(path) ? path : std::string();
    });
  }
  RunCase("remove bytecode of B", [](const Fixture& f) {
    const std::string path = f.Path(store::BytecodeName(kB));
    return std::filesystem::remove(path) ? path : std::string();
  });
  for (const char* sub : {"memory", "bytecode"}) {
    RunCase(std::string("remove directory ") + sub, [&](const Fixture& f) {
      const std::string path = f.Path(sub);
      std::error_code ec;
      return std::filesystem::remove_all(path, ec) > 0 ? path : std::string();
    });
  }
}

TEST(CorruptionTest, ExtraFileIsReported) {
  for (std::string name : {std::string("index.tmp"), std::string("junk"), store::LayerName(kA, 3),
                           store::LayerName(kB, 1), std::string("memory/") + TestModuleId(9).ToHex(),
                           std::string("bytecode/") + TestModuleId(9).ToHex(), std::string("memory/x.diff")}) {
    RunCase("extra file " + name, [&](const Fixture& f) {
      const std::string path = f.Path(name);
      return testing::WriteWholeFile(path, Pattern(7, 100)) ? path : std::string();
    });
  }
  RunCase("extra directory", [](const Fixture& f) {
    const std::string path = f.Path("memory/sub");
    return std::filesystem::create_directory(path) ? path : std::string();
  });
}

// Regression: a commit directory without its index was skipped by
// ListCommits (taken for a commit deleted meanwhile) and VerifyCommit said
// NotFound, so verifying every commit passed with a damaged one in the store.
TEST(CorruptionTest, CommitWithoutIndexIsListedAndCorrupt) {
  Fixture f;
  Build(&f);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(std::filesystem::remove(f.Index()));
  ExpectCorruptionNaming(f, f.Index(), "index removed");
}

// The commit directory's name is the root its index must hash to.
TEST(CorruptionTest, DirectoryNameNotMatchingIndexRootIsReported) {
  Fixture f;
  Build(&f);
  ASSERT_FALSE(HasFatalFailure());
  Root fake = f.root;
  fake.bytes[0] ^= 1;
  const std::string fake_dir = f.dir + "/" + fake.ToHex();
  std::filesystem::rename(f.commit, fake_dir);
  auto store = OpenStore(f.dir);
  ASSERT_NE(store, nullptr);
  Status v = store->VerifyCommit(fake);
  EXPECT_TRUE(v.IsCorruption()) << v.ToString();
  EXPECT_NE(v.message().find(fake.ToHex()), std::string_view::npos) << v.ToString();
  EXPECT_TRUE(Names(v, fake_dir + "/index")) << v.ToString();
  EXPECT_TRUE(store->VerifyCommit(f.root).IsNotFound());
  store.reset();
  ExerciseWithoutCrashing(f.dir, fake);
}

// Well-formed files (valid checksums) that disagree with the rest.
TEST(CorruptionTest, WellFormedButWrongIndexIsReported) {
  auto rewrite_index = [](const Fixture& f, const std::function<void(store::Index*)>& change) {
    auto bytes = os::Env::Default()->ReadFile(f.Index());
    if (!bytes.ok()) return std::string();
    auto index = store::DecodeIndex(*bytes, f.Index());
    if (!index.ok()) return std::string();
    change(&*index);
    if (!MakeWritable(f.Index())) return std::string();
    return testing::WriteWholeFile(f.Index(), store::EncodeIndex(*index)) ? f.Index() : std::string();
  };
  // Layer counts are not covered by the root: the file set must catch them.
  RunCase("index claims one layer fewer", [&](const Fixture& f) {
    rewrite_index(f, [](store::Index* i) { i->entries[0].layer_count = 1; });
    return f.Diff2();  // now an unexpected file
  });
  RunCase("index claims one layer more", [&](const Fixture& f) {
    rewrite_index(f, [](store::Index* i) { i->entries[0].layer_count = 3; });
    return f.Path(store::LayerName(kA, 3));  // missing
  });
  RunCase("index claims no layers, layer files removed", [&](const Fixture& f) {
    rewrite_index(f, [](store::Index* i) { i->entries[0].layer_count = 0; });
    std::filesystem::remove(f.Diff1());
    std::filesystem::remove(f.Diff2());
    return f.ImageA();  // the base image alone has another memory hash
  });
  RunCase("index has another memory hash", [&](const Fixture& f) {
    return rewrite_index(f, [](store::Index* i) { i->entries[1].memory_hash.bytes[3] ^= 1; });
  });
  RunCase("index has another memory length", [&](const Fixture& f) {
    // The length no longer matches the memory hash next to it; verify cannot
    // tell which of the two is wrong and names the memory.
    return rewrite_index(f, [](store::Index* i) { i->entries[0].memory_length += kWasmPage; }).empty()
               ? std::string()
               : f.ImageA();
  });
  RunCase("index has other metadata", [&](const Fixture& f) {
    return rewrite_index(f, [](store::Index* i) { i->entries[0].metadata.push_back(1); });
  });
  RunCase("layers swapped", [&](const Fixture& f) {
    MakeWritable(f.Diff1());
    MakeWritable(f.Diff2());
    const std::string tmp = f.Diff1() + ".swap";
    std::filesystem::rename(f.Diff1(), tmp);
    std::filesystem::rename(f.Diff2(), f.Diff1());
    std::filesystem::rename(tmp, f.Diff2());
    // Same pages, but the newer layer now holds the stale tree nodes of the
    // older one: the first wrong node is found in it.
    return f.Diff2();
  });
}

}  // namespace
}  // namespace crust
