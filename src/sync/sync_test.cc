// Copyright (c) crust authors. Licensed under the MIT license.
//
// Export, import and serve (crust/sync.h, docs/sync.md): a commit travels
// to another store verified by its root alone, incrementally, resumably, from
// a directory, from `crust serve` and from a real nginx; a manifest or chunk
// that does not match is refused by name and nothing is published.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "crust/session.h"
#include "crust/store.h"
#include "crust/sync.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr uint64_t kWasmPage = 64 * 1024;
constexpr size_t kPage = 4096;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes.fill(n);
  return id;
}

Bytes Code(uint8_t n) { return Bytes{0, 'a', 's', 'm', 1, 0, 0, 0, n}; }

Bytes PageOf(uint32_t page, uint8_t salt) {
  Bytes b(kPage);
  for (size_t i = 0; i < kPage; i++) b[i] = static_cast<uint8_t>(page * 31 + i * 7 + salt);
  return b;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

std::string FindNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

// nginx on a loopback port with its own prefix and config, serving `root`
// (an export directory); `extra` goes inside the server block.
class Nginx {
 public:
  Nginx(const std::string& binary, const std::string& prefix, const std::string& root, const std::string& extra)
      : port_(testing::FreePort()) {
    fs::create_directories(prefix + "/logs");
    fs::create_directories(prefix + "/tmp");
    const std::string conf = prefix + "/nginx.conf";
    WriteFile(conf, "daemon off;\nmaster_process off;\npid " + prefix + "/nginx.pid;\nerror_log " + prefix +
                        "/logs/error.log;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
                        "  default_type application/octet-stream;\n  client_body_temp_path " + prefix +
                        "/tmp/body;\n  proxy_temp_path " + prefix + "/tmp/proxy;\n  fastcgi_temp_path " + prefix +
                        "/tmp/fastcgi;\n  uwsgi_temp_path " + prefix + "/tmp/uwsgi;\n  scgi_temp_path " + prefix +
                        "/tmp/scgi;\n  server {\n    listen 127.0.0.1:" + std::to_string(port_) + ";\n    root " +
                        root + ";\n" + extra + "  }\n}\n");
    child_ = std::make_unique<testing::Child>(std::vector<std::string>{binary, "-p", prefix, "-c", conf, "-e",
                                                              prefix + "/logs/error.log"},
                                     prefix + "/out", prefix + "/err");
    ready_ = child_->started() && testing::WaitListening(port_);
  }
  bool ready() const { return ready_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void Stop() { child_->Stop(); }

 private:
  int port_;
  std::unique_ptr<testing::Child> child_;
  bool ready_ = false;
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_dir_ = tmp_.Sub("src");
    auto store = Store::Open(src_dir_, StoreOptions{.sync = false});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    src_ = std::move(store).value();
    auto g = src_->StartGenesis();
    ASSERT_TRUE(g.ok());
    // Module 1: 8 wasm pages (128 pages); pages 0..99 hold data but 10 and 11.
    ASSERT_OK((*g)->AddModule(Id(1), Code(1), {}, 8 * kWasmPage, Bytes{'m', '1'}));
    for (uint32_t p = 0; p < 100; p++) {
      if (p == 10 || p == 11) continue;
      ASSERT_OK((*g)->WriteMemory(Id(1), p * kPage, PageOf(p, 1)));
    }
    ASSERT_OK((*g)->AddModule(Id(2), Code(2), Bytes(100, 2), kWasmPage, Bytes{'m', '2'}));
    ASSERT_OK_AND_ASSIGN(root1_, (*g)->Commit());
    // Second commit: three pages of module 1 change, one becomes zero,
    // module 2's metadata changes, module 3 arrives with two pages.
    for (uint32_t p : {5u, 70u, 100u}) ASSERT_OK((*g)->WriteMemory(Id(1), p * kPage, PageOf(p, 9)));
    ASSERT_OK((*g)->WriteMemory(Id(1), 3 * kPage, Bytes(kPage, 0)));
    ASSERT_OK((*g)->SetMetadata(Id(2), Bytes{'n', 'e', 'w'}));
    ASSERT_OK((*g)->AddModule(Id(3), Code(3), Bytes(2 * kPage, 3), kWasmPage));
    ASSERT_OK_AND_ASSIGN(root2_, (*g)->Commit());
  }

  std::unique_ptr<Store> NewStore(const std::string& name) {
    auto s = Store::Open(tmp_.Sub(name), StoreOptions{.sync = false});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // The store holds `root`, verified, and with the source's memories.
  void ExpectSameCommit(Store* dst, const Root& root) {
    ASSERT_OK(dst->VerifyCommit(root));
    ASSERT_OK_AND_ASSIGN(CommitInfo a, src_->ShowCommit(root));
    ASSERT_OK_AND_ASSIGN(CommitInfo b, dst->ShowCommit(root));
    ASSERT_EQ(a.modules.size(), b.modules.size());
    auto sa = src_->StartSession(root);
    auto sb = dst->StartSession(root);
    ASSERT_TRUE(sa.ok() && sb.ok());
    for (size_t i = 0; i < a.modules.size(); i++) {
      EXPECT_EQ(a.modules[i].id, b.modules[i].id);
      EXPECT_EQ(a.modules[i].metadata, b.modules[i].metadata);
      Bytes ma(a.modules[i].memory_length), mb(b.modules[i].memory_length);
      ASSERT_OK((*sa)->ReadMemory(a.modules[i].id, 0, ma));
      ASSERT_OK((*sb)->ReadMemory(b.modules[i].id, 0, mb));
      EXPECT_TRUE(ma == mb) << "memory of module " << i;
      ASSERT_OK_AND_ASSIGN(Bytes ca, (*sa)->Bytecode(a.modules[i].id));
      ASSERT_OK_AND_ASSIGN(Bytes cb, (*sb)->Bytecode(b.modules[i].id));
      EXPECT_EQ(ca, cb);
    }
  }

  std::vector<std::string> Chunks(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir + "/chunk")) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::TempDir tmp_;
  std::string src_dir_;
  std::unique_ptr<Store> src_;
  Root root1_, root2_;
};

TEST_F(SyncTest, ExportThenImportFromDirectory) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK_AND_ASSIGN(ExportStats e, ExportCommit(src_.get(), root1_, exp));
  // Module 1: runs 0..9, 12..63, 64..99 (zero pages 10, 11 and 100.. not
  // stored); module 2: one run; two bytecodes.
  EXPECT_EQ(e.chunks_written, 6u);
  EXPECT_EQ(e.bytes_written, (98u + 1u) * kPage + Code(1).size() + Code(2).size());
  EXPECT_TRUE(fs::exists(exp + "/manifest/" + root1_.ToHex()));
  auto dst = NewStore("dst");
  ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), exp, root1_));
  EXPECT_FALSE(s.already_present);
  EXPECT_EQ(s.pages_fetched, 99u);
  EXPECT_EQ(s.bytes_fetched, 99u * kPage + Code(1).size() + Code(2).size());
  ExpectSameCommit(dst.get(), root1_);
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/.sync-import/" + root1_.ToHex()))) << "staging removed";
  ASSERT_OK_AND_ASSIGN(ImportStats again, ImportCommit(dst.get(), exp, root1_));
  EXPECT_TRUE(again.already_present);
}

// The manifest's bytes as docs/format.md ("Sync manifest") lays them out,
// read here without the library's reader, and the chunk names it implies.
TEST_F(SyncTest, ManifestBytesAreAsDocumented) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  const std::string m = ReadFile(exp + "/manifest/" + root1_.ToHex());
  size_t at = 0;
  auto take = [&](size_t n) {
    EXPECT_LE(at + n, m.size());
    std::string out = m.substr(at, n);
    at += n;
    return out;
  };
  auto u32 = [&] {
    std::string b = take(4);
    return uint32_t(uint8_t(b[0])) | uint32_t(uint8_t(b[1])) << 8 | uint32_t(uint8_t(b[2])) << 16 |
           uint32_t(uint8_t(b[3])) << 24;
  };
  auto u64 = [&] {
    uint64_t lo = u32();
    return lo | uint64_t{u32()} << 32;
  };
  auto hash = [](const Bytes& b) {
    Hash32 h = Sha256Of(b);
    return std::string(h.bytes.begin(), h.bytes.end());
  };
  EXPECT_EQ(take(8), "crustsyn");
  EXPECT_EQ(u32(), 1u);
  EXPECT_EQ(u32(), 2u);
  EXPECT_EQ(take(32), std::string(root1_.bytes.begin(), root1_.bytes.end()));
  // Module 1.
  EXPECT_EQ(take(32), std::string(32, '\x01'));
  EXPECT_EQ(take(32), hash(Code(1)));
  EXPECT_EQ(u64(), Code(1).size());
  EXPECT_EQ(u64(), 8 * kWasmPage);
  EXPECT_EQ(u32(), 2u);
  EXPECT_EQ(take(2), "m1");
  ASSERT_EQ(u32(), 3u);
  const std::pair<uint32_t, uint32_t> runs[] = {{0, 10}, {12, 52}, {64, 36}};
  for (const auto& [first, count] : runs) {
    EXPECT_EQ(u32(), first);
    ASSERT_EQ(u32(), count);
    Bytes named{0x02};
    for (uint32_t k = 0; k < count; k++) {
      const std::string leaf = take(32);
      named.insert(named.end(), leaf.begin(), leaf.end());
    }
    // The chunk SHA-256(0x02 || leaves) holds the run's pages.
    const std::string chunk = ReadFile(exp + "/chunk/" + Sha256Of(named).ToHex());
    ASSERT_EQ(chunk.size(), count * kPage);
    for (uint32_t k = 0; k < count; k++) {
      const Bytes want = PageOf(first + k, 1);
      EXPECT_EQ(chunk.substr(k * kPage, kPage), std::string(want.begin(), want.end())) << "page " << first + k;
    }
  }
  // Module 2: one run of one page.
  EXPECT_EQ(take(32), std::string(32, '\x02'));
  EXPECT_EQ(take(32), hash(Code(2)));
  EXPECT_EQ(u64(), Code(2).size());
  EXPECT_EQ(u64(), kWasmPage);
  EXPECT_EQ(u32(), 2u);
  EXPECT_EQ(take(2), "m2");
  EXPECT_EQ(u32(), 1u);
  EXPECT_EQ(u32(), 0u);
  EXPECT_EQ(u32(), 1u);
  take(32);
  EXPECT_EQ(at, m.size()) << "nothing after the last module";
  // The bytecode chunk is named by the bytecode's hash.
  const Bytes code(Code(2));
  const std::string c = ReadFile(exp + "/chunk/" + Sha256Of(code).ToHex());
  EXPECT_EQ(c, std::string(code.begin(), code.end()));
}

TEST_F(SyncTest, SecondExportAddsOnlyMissingChunks) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  const size_t before = Chunks(exp).size();
  ASSERT_OK_AND_ASSIGN(ExportStats e, ExportCommit(src_.get(), root2_, exp));
  // New: module 1's runs 0..2 and 4..9 (page 3 is zero now), 64..100 (70
  // and 100 changed; one run, as 64..127 is one 64-page group), module 3's
  // run and bytecode. Shared: module 1's 12..63, module 2's run, two bytecodes.
  EXPECT_EQ(e.chunks_written, 5u);
  EXPECT_EQ(e.chunks_present, 4u);
  EXPECT_EQ(Chunks(exp).size(), before + 5);
}

TEST_F(SyncTest, IncrementalImportFetchesOnlyChangedPages) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  ASSERT_OK(ExportCommit(src_.get(), root2_, exp));
  auto dst = NewStore("dst");
  ASSERT_OK(ImportCommit(dst.get(), exp, root1_));
  ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), exp, root2_));
  // Pages 5, 70, 100 of module 1 and module 3's two pages; its bytecode.
  EXPECT_EQ(s.pages_fetched, 5u);
  EXPECT_EQ(s.bytes_fetched, 5u * kPage + Code(3).size());
  EXPECT_EQ(s.memories_linked, 1u);  // module 2: same memory, new metadata
  EXPECT_EQ(s.deltas_written, 1u);   // module 1: a layer on root1's image
  EXPECT_EQ(s.bytecodes_linked, 2u);
  EXPECT_TRUE(fs::exists(tmp_.Sub("dst/" + root2_.ToHex() + "/memory/" + Id(1).ToHex() + ".diff")));
  ExpectSameCommit(dst.get(), root2_);
  // Linked, not copied: module 2's memory file is shared with root1.
  struct stat a, b;
  ASSERT_EQ(stat(tmp_.Sub("dst/" + root1_.ToHex() + "/memory/" + Id(2).ToHex()).c_str(), &a), 0);
  ASSERT_EQ(stat(tmp_.Sub("dst/" + root2_.ToHex() + "/memory/" + Id(2).ToHex()).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(SyncTest, ManifestNotYieldingRootIsRefusedBeforeAnyChunk) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  ASSERT_OK(ExportCommit(src_.get(), root2_, exp));
  // root2's manifest offered as root1's, and no chunk at all: any fetch
  // would fail NotFound, so Corruption shows none was attempted.
  fs::copy_file(exp + "/manifest/" + root2_.ToHex(), exp + "/manifest/" + root1_.ToHex(),
                fs::copy_options::overwrite_existing);
  fs::remove_all(exp + "/chunk");
  auto dst = NewStore("dst");
  auto s = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(s.status().IsCorruption()) << s.status().ToString();
  EXPECT_THAT(s.status().ToString(), HasSubstr("manifest/" + root1_.ToHex()));
  EXPECT_THAT(s.status().ToString(), HasSubstr("before fetching any chunk"));
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root1_.ToHex())));
  // A flipped byte of a leaf: the same.
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  std::string m = ReadFile(exp + "/manifest/" + root1_.ToHex());
  m[m.size() - 5] ^= 1;
  WriteFile(exp + "/manifest/" + root1_.ToHex(), m);
  auto flipped = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(flipped.status().IsCorruption()) << flipped.status().ToString();
  // Truncated: malformed, refused.
  WriteFile(exp + "/manifest/" + root1_.ToHex(), m.substr(0, m.size() / 2));
  EXPECT_TRUE(ImportCommit(dst.get(), exp, root1_).status().IsCorruption());
}

TEST_F(SyncTest, SubstitutedOrTruncatedChunkIsRefusedByNameThenResumes) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  // The chunks of module 1 are the page runs of 36 and 52 pages (and 10):
  // find the largest, and put another chunk's bytes in its place.
  std::vector<std::string> chunks = Chunks(exp);
  std::string big, other;
  for (const auto& c : chunks) {
    if (fs::file_size(c) == 52 * kPage) big = c;
    if (fs::file_size(c) == 36 * kPage) other = c;
  }
  ASSERT_FALSE(big.empty() || other.empty());
  const std::string good = ReadFile(big);
  std::string bad = good;
  bad.replace(20 * kPage, kPage, ReadFile(other).substr(0, kPage));  // page 20 of the run substituted
  WriteFile(big, bad);
  auto dst = NewStore("dst");
  auto s = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(s.status().IsCorruption()) << s.status().ToString();
  const std::string name = fs::path(big).filename().string();
  EXPECT_THAT(s.status().ToString(), HasSubstr("chunk " + name));
  EXPECT_THAT(s.status().ToString(), HasSubstr("page 32 "));  // run 12..63, its 21st page
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root1_.ToHex())));
  // Truncated: named too.
  WriteFile(big, good.substr(0, 30 * kPage + 100));
  auto t = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(t.status().IsCorruption()) << t.status().ToString();
  EXPECT_THAT(t.status().ToString(), HasSubstr("chunk " + name));
  EXPECT_THAT(t.status().ToString(), HasSubstr("truncated"));
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root1_.ToHex())));
  // The 30 pages that arrived whole are staged, and the 100 bytes of the
  // page the chunk broke off in. A staged prefix that does not complete its
  // page is refused naming the chunk (and dropped).
  const std::string partial = tmp_.Sub("dst/.sync-import/" + root1_.ToHex() + "/partial/" + name + ".30");
  ASSERT_EQ(fs::file_size(partial), 100u);
  const std::string staged = ReadFile(partial);
  std::string flipped = staged;
  flipped[7] ^= 1;
  WriteFile(partial, flipped);
  WriteFile(big, good);
  auto p = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(p.status().IsCorruption()) << p.status().ToString();
  EXPECT_THAT(p.status().ToString(), HasSubstr("chunk " + name));
  EXPECT_THAT(p.status().ToString(), HasSubstr("page 42 "));
  EXPECT_THAT(p.status().ToString(), HasSubstr("first 100 bytes were staged by an earlier attempt"));
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root1_.ToHex())));
  // Truncated again at the same byte, then repaired: the retry continues
  // from byte 100 of page 42 (a read at that offset), fetching only what was
  // not verified and staged.
  WriteFile(big, good.substr(0, 30 * kPage + 100));
  ASSERT_FALSE(ImportCommit(dst.get(), exp, root1_).ok());
  ASSERT_EQ(ReadFile(partial), staged);
  WriteFile(big, good);
  ASSERT_OK_AND_ASSIGN(ImportStats r, ImportCommit(dst.get(), exp, root1_));
  EXPECT_GE(r.pages_resumed, 30u);
  EXPECT_EQ(r.pages_fetched + r.pages_resumed, 99u);
  EXPECT_EQ(r.bytes_resumed, 100u);
  // Module 2 was not reached before: its page and bytecode come now.
  EXPECT_EQ(r.bytes_fetched, (99u - r.pages_resumed) * kPage - 100u + Code(2).size());
  ExpectSameCommit(dst.get(), root1_);
}

// A bytecode chunk cut off continues from its last byte; one whose bytes
// then do not hash to the bytecode hash is refused naming it.
TEST_F(SyncTest, PartialBytecodeResumesFromItsLastByte) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  const Bytes code = Code(1);
  const std::string name = Sha256Of(code).ToHex();
  const std::string chunk = exp + "/chunk/" + name;
  const std::string whole = ReadFile(chunk);
  auto dst = NewStore("dst");
  WriteFile(chunk, whole.substr(0, 5));
  auto t = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(t.status().IsCorruption()) << t.status().ToString();
  EXPECT_THAT(t.status().ToString(), HasSubstr("chunk " + name));
  const std::string part = tmp_.Sub("dst/.sync-import/" + root1_.ToHex() + "/chunk/" + name + ".part");
  ASSERT_EQ(ReadFile(part), whole.substr(0, 5));
  // The rest from another byte 5 on: the whole does not match; refused by name.
  std::string other = whole;
  other[7] ^= 1;
  WriteFile(chunk, other);
  auto bad = ImportCommit(dst.get(), exp, root1_);
  ASSERT_TRUE(bad.status().IsCorruption()) << bad.status().ToString();
  EXPECT_THAT(bad.status().ToString(), HasSubstr("chunk " + name));
  EXPECT_THAT(bad.status().ToString(), HasSubstr("first 5 bytes were staged by an earlier attempt"));
  EXPECT_FALSE(fs::exists(part));
  WriteFile(chunk, whole.substr(0, 5));
  ASSERT_FALSE(ImportCommit(dst.get(), exp, root1_).ok());
  WriteFile(chunk, whole);
  ASSERT_OK_AND_ASSIGN(ImportStats r, ImportCommit(dst.get(), exp, root1_));
  EXPECT_EQ(r.bytes_resumed, 5u);
  ExpectSameCommit(dst.get(), root1_);
}

// The same commit whatever the number of fetches in flight.
TEST_F(SyncTest, ParallelFetchesGiveTheSameCommit) {
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root2_, exp));
  for (int parallel : {1, 2, 8}) {
    auto dst = NewStore("dst" + std::to_string(parallel));
    ImportOptions o;
    o.parallel_fetches = parallel;
    ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), exp, root2_, o));
    EXPECT_EQ(s.pages_fetched, 101u);
    EXPECT_EQ(s.requests, 9u);  // 3 bytecodes, 4 runs of module 1, 1 of module 2, 1 of module 3
    ExpectSameCommit(dst.get(), root2_);
    const std::string image = "/memory/" + Id(1).ToHex();
    EXPECT_EQ(ReadFile(tmp_.Sub("dst" + std::to_string(parallel) + "/" + root2_.ToHex() + image)),
              ReadFile(tmp_.Sub("dst1/" + root2_.ToHex() + image)));
  }
}

// An image written in more batches than the import keeps under writeback
// (docs/sync.md, "Writing the image"): 600 runs of one page each, one
// request each, so 10 batches of up to 64 requests whose pages are written
// back and dropped from the page cache before the last batch, with a
// background fdatasync after the 8th. The commit, and the image's bytes, are
// the same whatever the parallelism.
TEST_F(SyncTest, ImageWrittenBackBatchByBatchGivesTheSameCommit) {
  constexpr uint32_t kRuns = 600;
  auto g = src_->StartGenesis();
  ASSERT_TRUE(g.ok());
  ASSERT_OK((*g)->AddModule(Id(4), Code(4), {}, uint64_t{kRuns} * 64 * kPage));
  for (uint32_t k = 0; k < kRuns; k++) {
    const uint32_t p = k * 64 + k % 64;  // one page in every 64-page stretch, so one run each
    ASSERT_OK((*g)->WriteMemory(Id(4), uint64_t{p} * kPage, PageOf(p, 4)));
  }
  ASSERT_OK_AND_ASSIGN(Root root, (*g)->Commit());
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root, exp));
  const std::string image = "/" + root.ToHex() + "/memory/" + Id(4).ToHex();
  for (int parallel : {1, 4}) {
    const std::string name = "dst-batches" + std::to_string(parallel);
    auto dst = NewStore(name);
    ImportOptions o;
    o.parallel_fetches = parallel;
    ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), exp, root, o));
    EXPECT_EQ(s.pages_fetched, kRuns);
    EXPECT_EQ(s.requests, kRuns + 1);  // and the bytecode
    ExpectSameCommit(dst.get(), root);
    EXPECT_EQ(ReadFile(tmp_.Sub(name) + image), ReadFile(tmp_.Sub("dst-batches1") + image));
  }
}

TEST_F(SyncTest, ImportFromSyncServerAndResumeAfterItStops) {
  ASSERT_OK_AND_ASSIGN(auto server, SyncServer::Start(src_.get(), "127.0.0.1", 0));
  const int port = server->port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  // An interrupted start: half the chunks from an export, then the source
  // vanishes (NotFound mid-transfer); the rest comes from the server.
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root2_, exp));
  for (const auto& c : Chunks(exp))
    if (fs::file_size(c) == 37 * kPage) fs::remove(c);  // module 1's pages 64..100
  auto dst = NewStore("dst");
  auto first = ImportCommit(dst.get(), exp, root2_);
  ASSERT_FALSE(first.ok());
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root2_.ToHex())));
  // The server stops: a retry fails (IOError), nothing published.
  server->Stop();
  auto stopped = ImportCommit(dst.get(), url, root2_);
  ASSERT_FALSE(stopped.ok());
  EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root2_.ToHex())));
  // It is back (same port): the import resumes and completes.
  ASSERT_OK_AND_ASSIGN(auto again, SyncServer::Start(src_.get(), "127.0.0.1", port));
  ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), url, root2_));
  EXPECT_GT(s.pages_resumed, 0u);
  ExpectSameCommit(dst.get(), root2_);
  // The manifest is streamed, whole or a range of it: the exported bytes.
  httplib::Client client("127.0.0.1", port);
  const std::string manifest = ReadFile(exp + "/manifest/" + root2_.ToHex());
  auto whole = client.Get("/manifest/" + root2_.ToHex());
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->body, manifest);
  auto range = client.Get("/manifest/" + root2_.ToHex(), {{"Range", "bytes=100-1999"}});
  ASSERT_TRUE(range) << httplib::to_string(range.error());
  EXPECT_EQ(range->status, 206);
  EXPECT_EQ(range->body, manifest.substr(100, 1900));
  // A chunk asked for without the importer's hint is found by a scan.
  for (const auto& c : Chunks(exp)) {
    auto got = client.Get("/chunk/" + fs::path(c).filename().string());
    ASSERT_TRUE(got);
    EXPECT_EQ(got->body, ReadFile(c)) << c;
  }
  // Incremental over HTTP: root1 after root2 fetches only what differs.
  ASSERT_OK_AND_ASSIGN(ImportStats inc, ImportCommit(dst.get(), url, root1_));
  EXPECT_EQ(inc.pages_fetched, 3u);  // pages 3, 5 and 70 of module 1 (100 is zero in root1)
  ExpectSameCommit(dst.get(), root1_);
  // Unknown names are 404 (NotFound).
  Root nothing;
  EXPECT_TRUE(ImportCommit(dst.get(), url, nothing).status().IsNotFound());
}

TEST_F(SyncTest, ImportFromNginxIncludingResumeAfterItStopsMidChunk) {
  const std::string nginx = FindNginx();
  ASSERT_FALSE(nginx.empty()) << "this test needs nginx: run scripts/install-deps.sh --test (Debian package 'nginx')";
  const std::string exp = tmp_.Sub("export");
  ASSERT_OK(ExportCommit(src_.get(), root1_, exp));
  ASSERT_OK(ExportCommit(src_.get(), root2_, exp));
  // What a whole import of root2 receives (from the directory).
  uint64_t total = 0;
  {
    auto ref = NewStore("ref");
    ASSERT_OK_AND_ASSIGN(ImportStats r, ImportCommit(ref.get(), exp, root2_));
    total = r.bytes_fetched;
  }
  // One request at a time, in manifest order: module 1's bytecode (9
  // bytes), its runs of 3 and 6 pages, then the run of pages 12..63. A slow
  // nginx (32 KiB/s) is stopped once 5000 bytes of that run have arrived.
  const uint64_t run_start = Code(1).size() + 9 * kPage, run_end = run_start + 52 * kPage;
  auto dst = NewStore("dst");
  uint64_t first = 0;
  {
    Nginx server(nginx, tmp_.Sub("nginx1"), exp, "    limit_rate 32k;\n");
    ASSERT_TRUE(server.ready()) << ReadFile(tmp_.Sub("nginx1/logs/error.log"));
    ImportOptions o;
    o.parallel_fetches = 1;
    bool stopped = false;
    o.progress = [&](uint64_t bytes) {
      first = bytes;
      if (!stopped && bytes >= run_start + 5000) {
        stopped = true;
        server.Stop();
      }
    };
    auto s = ImportCommit(dst.get(), server.url(), root2_, o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Status::Code::kIOError) << s.status().ToString();
    EXPECT_FALSE(fs::exists(tmp_.Sub("dst/" + root2_.ToHex())));
  }
  ASSERT_GE(first, run_start + 5000);
  ASSERT_LT(first, run_end) << "stopped in the middle of the chunk";
  RecordProperty("bytes_before_stop", std::to_string(first - run_start));
  Nginx server(nginx, tmp_.Sub("nginx2"), exp, "");
  ASSERT_TRUE(server.ready()) << ReadFile(tmp_.Sub("nginx2/logs/error.log"));
  ASSERT_OK_AND_ASSIGN(ImportStats s, ImportCommit(dst.get(), server.url(), root2_));
  // Resumed at the byte it stopped at: nothing received twice.
  EXPECT_EQ(s.bytes_resumed, (first - run_start) % kPage);
  EXPECT_EQ(s.pages_resumed, 9 + (first - run_start) / kPage);
  EXPECT_EQ(first + s.bytes_fetched, total);
  ExpectSameCommit(dst.get(), root2_);
  // Incremental through nginx (Range requests for the pages that differ).
  ASSERT_OK_AND_ASSIGN(ImportStats inc, ImportCommit(dst.get(), server.url() + "/", root1_));
  EXPECT_EQ(inc.pages_fetched, 3u);  // pages 3, 5 and 70 of module 1
  ExpectSameCommit(dst.get(), root1_);
}

}  // namespace
}  // namespace crust
