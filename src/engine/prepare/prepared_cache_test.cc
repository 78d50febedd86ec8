// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepared_cache.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "src/engine/prepare/prepared_format.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "src/util/sha256.h"
#include "tests/hostile_modules.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

// A contract unique to `n`, with data, a state global, exports and a host
// import (so every field of the prepared module is exercised).
Bytes Contract(int n, int pages = 2) {
  auto r = WatToWasm("(module (import \"env\" \"limit\" (func $l (result i64))) (memory (export \"memory\") " +
                     std::to_string(pages) + ") (global (export \"A\") i32 (i32.const 65536)) "
                     "(global $g (mut i64) (i64.const " + std::to_string(n) + ")) (data (i32.const 8) \"seed\") "
                     "(func (export \"f\") (param i32) (result i32) (global.set $g (call $l)) "
                     "(i32.add (local.get 0) (i32.const " + std::to_string(n) + "))))");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Bytes();
}

// What PrepareModule gives, serialized: "equal results" below means equal bodies.
Bytes Body(const PreparedModule& m) { return EncodePreparedModule(m); }
Bytes Fresh(ByteView wasm, const PrepareOptions& o = {}) {
  auto r = PrepareModule(wasm, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? Body(*r) : Bytes();
}

void Rewrite(const std::string& path, const Bytes& b) {
  os::Env* env = os::Env::Default();
  ASSERT_OK(env->RemoveFile(path));
  ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(path));
  ASSERT_OK(f->Append(b));
  ASSERT_OK(f->Close());
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  auto names = os::Env::Default()->ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (n.size() > 5 && n.ends_with(".prep")) out.push_back(n);
  }
  return out;
}

// Fails Rename (so publishing fails) while `fail_rename` is set.
class NoRenameEnv : public os::EnvWrapper {
 public:
  NoRenameEnv() : EnvWrapper(os::Env::Default()) {}
  Status Rename(const std::string& f, const std::string& t) override {
    if (fail_rename) return Status::IOError("rename refused by the test");
    return EnvWrapper::Rename(f, t);
  }
  std::atomic<bool> fail_rename{true};
};

class PreparedCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<PreparedCache> Open(PreparationVersions v = {}, size_t budget = size_t{256} << 20,
                                      os::Env* env = nullptr) {
    PreparedCacheOptions o;
    o.dir = Dir();
    o.env = env;
    o.memory_budget_bytes = budget;
    o.versions = v;
    auto r = PreparedCache::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string Dir() const { return dir_.Sub("store/.cache/code/prepared"); }
  crust::testing::TempDir dir_;
};

TEST_F(PreparedCacheTest, MissThenMemoryHitThenDiskHit) {
  const Bytes wasm = Contract(1);
  auto cache = Open();
  ASSERT_OK_AND_ASSIGN(auto first, cache->Get(wasm));
  EXPECT_EQ(cache->stats().prepared, 1u);
  EXPECT_EQ(Body(*first), Fresh(wasm));
  EXPECT_TRUE(os::Env::Default()->Exists(cache->PathFor(cache->KeyFor(wasm))));
  ASSERT_OK_AND_ASSIGN(auto second, cache->Get(wasm));
  EXPECT_EQ(second.get(), first.get());
  EXPECT_EQ(cache->stats().memory_hits, 1u);
  EXPECT_EQ(cache->stats().prepared, 1u);

  auto other = Open();  // another process sees the published entry
  ASSERT_OK_AND_ASSIGN(auto third, other->Get(wasm));
  EXPECT_EQ(other->stats().disk_hits, 1u);
  EXPECT_EQ(other->stats().prepared, 0u);
  EXPECT_EQ(Body(*third), Fresh(wasm));
  other->ForgetLoaded();
  ASSERT_OK(other->Get(wasm));
  EXPECT_EQ(other->stats().disk_hits, 2u);
  EXPECT_EQ(Entries(Dir()).size(), 1u);
}

TEST_F(PreparedCacheTest, MissingEntryIsPreparedAgain) {
  const Bytes wasm = Contract(2);
  ASSERT_OK(Open()->Get(wasm));
  auto cache = Open();
  const std::string path = cache->PathFor(cache->KeyFor(wasm));
  ASSERT_OK(os::Env::Default()->RemoveFile(path));
  ASSERT_OK_AND_ASSIGN(auto m, cache->Get(wasm));
  EXPECT_EQ(cache->stats().prepared, 1u);
  EXPECT_EQ(cache->stats().rebuilt, 0u);
  EXPECT_EQ(Body(*m), Fresh(wasm));
  EXPECT_TRUE(os::Env::Default()->Exists(path));
}

TEST_F(PreparedCacheTest, DamagedEntryIsPreparedAgainAndReplaced) {
  const Bytes wasm = Contract(3), other_wasm = Contract(4);
  const Bytes expected = Fresh(wasm);
  {
    auto cache = Open();
    ASSERT_OK(cache->Get(wasm));
    ASSERT_OK(cache->Get(other_wasm));
  }
  auto probe = Open();
  const std::string path = probe->PathFor(probe->KeyFor(wasm));
  ASSERT_OK_AND_ASSIGN(const Bytes good, os::Env::Default()->ReadFile(path));
  ASSERT_OK_AND_ASSIGN(const Bytes other_entry,
                       os::Env::Default()->ReadFile(probe->PathFor(probe->KeyFor(other_wasm))));
  const std::vector<std::pair<std::string, std::function<Bytes()>>> damages = {
      {"empty", [] { return Bytes(); }},
      {"header only", [&] { return Bytes(good.begin(), good.begin() + kPreparedEntryHeaderSize); }},
      {"half", [&] { return Bytes(good.begin(), good.begin() + good.size() / 2); }},
      {"last byte missing", [&] { return Bytes(good.begin(), good.end() - 1); }},
      {"byte flipped in the header", [&] { Bytes b = good; b[20] ^= 1; return b; }},
      {"byte flipped in the body", [&] { Bytes b = good; b[good.size() / 2] ^= 0x40; return b; }},
      {"another module's entry", [&] { return other_entry; }},
      {"garbage", [] { return Bytes(4096, 0xab); }},
  };
  for (const auto& [what, damage] : damages) {
    SCOPED_TRACE(what);
    Rewrite(path, damage());
    auto cache = Open();
    ASSERT_OK_AND_ASSIGN(auto m, cache->Get(wasm));
    EXPECT_EQ(cache->stats().rebuilt, 1u);
    EXPECT_EQ(cache->stats().prepared, 1u);
    EXPECT_EQ(cache->stats().disk_hits, 0u);
    EXPECT_EQ(Body(*m), expected);
    // Republished: the next process reads a good entry.
    auto next = Open();
    ASSERT_OK_AND_ASSIGN(auto n, next->Get(wasm));
    EXPECT_EQ(next->stats().disk_hits, 1u);
    EXPECT_EQ(Body(*n), expected);
    ASSERT_OK_AND_ASSIGN(Bytes now, os::Env::Default()->ReadFile(path));
    EXPECT_EQ(now, good);
  }
}

// Sweep keeps the entries whose prepared wasm is needed and those held in
// memory, and removes the others and damaged ones; the leftover of a
// process that is gone goes too.
TEST_F(PreparedCacheTest, SweepKeepsNeededAndLoadedEntries) {
  const Bytes needed_wasm = Contract(41), loaded_wasm = Contract(42), gone_wasm = Contract(43),
              damaged_wasm = Contract(44);
  {
    auto build = Open();
    for (const Bytes* w : {&needed_wasm, &loaded_wasm, &gone_wasm, &damaged_wasm}) ASSERT_OK(build->Get(*w));
  }
  auto cache = Open();
  os::Env* env = os::Env::Default();
  const std::string damaged = cache->PathFor(cache->KeyFor(damaged_wasm));
  ASSERT_OK_AND_ASSIGN(Bytes entry, env->ReadFile(damaged));
  entry[entry.size() - 1] ^= 1;
  Rewrite(damaged, entry);
  ASSERT_OK(cache->Get(loaded_wasm));  // held in memory now
  // A process that exits at once leaves a pid nobody has.
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  const std::string leftover = Dir() + "/tmp/0123456789abcdef." + std::to_string(pid) + ".0.prep";
  ASSERT_OK(os::WriteFileAtomically(env, leftover, ByteView(entry.data(), 10)));
  std::filesystem::last_write_time(leftover, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));

  ASSERT_OK_AND_ASSIGN(auto prepared, PrepareModule(needed_wasm));
  const std::unordered_set<Hash32, Hash32Hasher> needed = {Sha256Of(prepared.wasm)};
  for (bool dry_run : {true, false}) {
    SCOPED_TRACE(dry_run ? "dry run" : "sweep");
    SweepCounts counts;
    ASSERT_OK(cache->Sweep(needed, dry_run, &counts));
    EXPECT_EQ(counts.kept, 2u);
    EXPECT_EQ(counts.removed, 2u);
    EXPECT_EQ(counts.leftovers, 1u);
    EXPECT_GT(counts.removed_bytes, 0u);
    EXPECT_TRUE(env->Exists(cache->PathFor(cache->KeyFor(needed_wasm))));
    EXPECT_TRUE(env->Exists(cache->PathFor(cache->KeyFor(loaded_wasm))));
    EXPECT_EQ(env->Exists(cache->PathFor(cache->KeyFor(gone_wasm))), dry_run);
    EXPECT_EQ(env->Exists(damaged), dry_run);
    EXPECT_EQ(env->Exists(leftover), dry_run);
  }
  EXPECT_EQ(Entries(Dir()).size(), 2u);
  ASSERT_OK(cache->Get(gone_wasm));  // prepared again when asked for
  EXPECT_EQ(cache->stats().prepared, 1u);
}

TEST_F(PreparedCacheTest, RejectionsAreRememberedInMemoryOnly) {
  auto cache = Open();
  const Bytes junk = {0, 'a', 's', 'm', 1, 0, 0, 0, 0xff};
  ASSERT_OK_AND_ASSIGN(const Bytes no_a,  // violates the contract ABI (no global A)
                       WatToWasm("(module (memory (export \"memory\") 1))"));
  const Bytes locals = hostile::ManyLocals({{0x0FFFFFFF, hostile::kI32}});  // a deploy budget
  for (const Bytes* wasm : {&junk, &no_a, &locals}) {
    const Status expected = PrepareModule(*wasm).status();
    ASSERT_FALSE(expected.ok());
    for (int i = 0; i < 3; ++i) {
      Result<std::shared_ptr<const PreparedModule>> r = cache->Get(*wasm);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().ToString(), expected.ToString());
    }
    EXPECT_FALSE(os::Env::Default()->Exists(cache->PathFor(cache->KeyFor(*wasm))));
  }
  EXPECT_EQ(cache->stats().rejected, 3u);  // prepared once each
  EXPECT_EQ(cache->stats().rejection_hits, 6u);
  EXPECT_EQ(cache->stats().prepared, 0u);
  EXPECT_EQ(cache->stats().memory_hits, 0u);
  EXPECT_TRUE(Entries(Dir()).empty());
  // A new cache (another process) prepares them again.
  auto again = Open();
  EXPECT_FALSE(again->Get(no_a).ok());
  EXPECT_EQ(again->stats().rejected, 1u);
}

TEST_F(PreparedCacheTest, RememberedRejectionsAreBounded) {
  auto cache = Open();
  std::vector<Bytes> modules;
  for (size_t i = 0; i <= kRememberedRejections; ++i) {
    modules.push_back(hostile::ManyLocals({{0x10000000 + i, hostile::kI32}}));
    ASSERT_FALSE(cache->Get(modules.back()).ok());
  }
  EXPECT_EQ(cache->stats().rejected, kRememberedRejections + 1);
  ASSERT_FALSE(cache->Get(modules.back()).ok());  // remembered
  EXPECT_EQ(cache->stats().rejection_hits, 1u);
  ASSERT_FALSE(cache->Get(modules.front()).ok());  // forgotten: the least recent
  EXPECT_EQ(cache->stats().rejected, kRememberedRejections + 2);
}

TEST_F(PreparedCacheTest, OptionsAndVersionsAreKeyed) {
  const Bytes wasm = Contract(5, /*pages=*/3);
  {
    auto cache = Open();
    ASSERT_OK(cache->Get(wasm));
    // Options that change the result or only whether it is accepted: each
    // its own entry, never another's.
    const std::vector<PrepareOptions> variants = {
        {.max_initial_pages = 4}, {.max_module_bytes = 1u << 20}, {.abi = Abi::kNone}};
    for (const PrepareOptions& o : variants) {
      EXPECT_NE(cache->KeyFor(wasm, o), cache->KeyFor(wasm));
      const uint64_t before = cache->stats().prepared;
      ASSERT_OK_AND_ASSIGN(auto m, cache->Get(wasm, o));
      EXPECT_EQ(cache->stats().prepared, before + 1);
      EXPECT_EQ(Body(*m), Fresh(wasm, o));
      ASSERT_OK(cache->Get(wasm, o));
      EXPECT_EQ(cache->stats().prepared, before + 1);  // now a hit
    }
    // A limit the module exceeds rejects it although it is cached under the
    // default limits.
    Result<std::shared_ptr<const PreparedModule>> small = cache->Get(wasm, {.max_initial_pages = 2});
    EXPECT_EQ(small.status().code(), Status::Code::kInvalidModule);
    EXPECT_EQ(cache->stats().rejected, 1u);
  }
  const uint64_t entries = Entries(Dir()).size();
  EXPECT_EQ(entries, 4u);
  // A bumped version finds none of those entries.
  for (PreparationVersions v : {PreparationVersions{.prepare = kPrepareVersion + 1},
                                PreparationVersions{.instrumentation = kInstrumentationVersion + 1}}) {
    auto cache = Open(v);
    EXPECT_NE(cache->KeyFor(wasm), Open()->KeyFor(wasm));
    ASSERT_OK_AND_ASSIGN(auto m, cache->Get(wasm));
    EXPECT_EQ(cache->stats().prepared, 1u);
    EXPECT_EQ(cache->stats().disk_hits, 0u);
    EXPECT_EQ(cache->stats().rebuilt, 0u);
    EXPECT_EQ(Body(*m), Fresh(wasm));
  }
  EXPECT_EQ(Entries(Dir()).size(), entries + 2);
  // The current versions still hit their entry.
  auto cache = Open();
  ASSERT_OK(cache->Get(wasm));
  EXPECT_EQ(cache->stats().disk_hits, 1u);
}

TEST_F(PreparedCacheTest, FingerprintCoversVersionsOptionsAndCanary) {
  const std::string d = PreparationDescription({});
  EXPECT_NE(d.find("prepare " + std::to_string(kPrepareVersion) + ";"), std::string::npos) << d;
  EXPECT_NE(d.find("instrumentation " + std::to_string(kInstrumentationVersion) + ";"), std::string::npos) << d;
  EXPECT_NE(d.find("; wabt "), std::string::npos) << d;
  // The canary must keep preparing, or it no longer guards anything.
  EXPECT_EQ(d.find("canary rejected"), std::string::npos) << d;
  const Hash32 base = PreparationFingerprint({});
  EXPECT_EQ(PreparationFingerprint({}), base);
  EXPECT_NE(PreparationFingerprint({.abi = Abi::kNone}), base);
  EXPECT_NE(PreparationFingerprint({.max_initial_pages = 1}), base);
  EXPECT_NE(PreparationFingerprint({.max_module_bytes = 1}), base);
  EXPECT_NE(PreparationFingerprint({}, {.prepare = kPrepareVersion + 1}), base);
  EXPECT_NE(PreparationFingerprint({}, {.instrumentation = kInstrumentationVersion + 1}), base);
  printf("preparation: %s\n", d.c_str());
}

TEST_F(PreparedCacheTest, ConcurrentGetsPrepareOnce) {
  auto cache = Open();
  const Bytes wasm = Contract(6);
  std::vector<std::thread> threads;
  std::vector<const PreparedModule*> seen(8);
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = cache->Get(wasm);
      if (r.ok()) {
        ok++;
        seen[i] = r.value().get();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(cache->stats().prepared, 1u);
  EXPECT_EQ(cache->stats().memory_hits, 7u);
  for (const PreparedModule* m : seen) EXPECT_EQ(m, seen[0]);
}

TEST_F(PreparedCacheTest, MemoryBudgetDropsLeastRecentlyUsed) {
  const Bytes a = Contract(7), b = Contract(8);  // the same size
  uint64_t one = 0;
  {
    auto probe = Open();
    ASSERT_OK(probe->Get(a));
    one = probe->stats().memory_bytes;
    ASSERT_GT(one, a.size());
    ASSERT_OK(probe->Get(b));
    EXPECT_EQ(probe->stats().memory_bytes, 2 * one);
    probe->ForgetLoaded();
    EXPECT_EQ(probe->stats().memory_bytes, 0u);
  }
  // Room for one module, not two (the probe published both: all reads below
  // that are not memory hits are disk hits).
  auto cache = Open({}, one + one / 2);
  ASSERT_OK(cache->Get(a));
  ASSERT_OK(cache->Get(a));
  EXPECT_EQ(cache->stats().disk_hits, 1u);
  EXPECT_EQ(cache->stats().memory_hits, 1u);
  ASSERT_OK(cache->Get(b));  // drops a
  ASSERT_OK(cache->Get(b));
  EXPECT_EQ(cache->stats().disk_hits, 2u);
  EXPECT_EQ(cache->stats().memory_hits, 2u);
  ASSERT_OK(cache->Get(a));  // from disk again, drops b
  ASSERT_OK(cache->Get(b));
  EXPECT_EQ(cache->stats().disk_hits, 4u);
  EXPECT_EQ(cache->stats().memory_hits, 2u);
  EXPECT_EQ(cache->stats().prepared, 0u);
  EXPECT_EQ(cache->stats().memory_bytes, one);
  // No budget at all: nothing stays in memory, the disk still serves.
  auto none = Open({}, 0);
  ASSERT_OK(none->Get(a));
  ASSERT_OK(none->Get(a));
  EXPECT_EQ(none->stats().disk_hits, 2u);
  EXPECT_EQ(none->stats().memory_hits, 0u);
}

TEST_F(PreparedCacheTest, PublishFailureDoesNotFailGet) {
  NoRenameEnv env;
  const Bytes wasm = Contract(9);
  auto cache = Open({}, size_t{256} << 20, &env);
  ASSERT_OK_AND_ASSIGN(auto m, cache->Get(wasm));
  EXPECT_EQ(Body(*m), Fresh(wasm));
  EXPECT_EQ(cache->stats().publish_errors, 1u);
  EXPECT_TRUE(Entries(Dir()).empty());
  ASSERT_OK_AND_ASSIGN(auto tmp, os::Env::Default()->ListDir(Dir() + "/tmp"));
  EXPECT_TRUE(tmp.empty());  // the temporary file is removed
  ASSERT_OK(cache->Get(wasm));  // still served from memory
  EXPECT_EQ(cache->stats().memory_hits, 1u);
  env.fail_rename = false;
  auto later = Open({}, size_t{256} << 20, &env);
  ASSERT_OK(later->Get(wasm));
  EXPECT_EQ(later->stats().prepared, 1u);
  EXPECT_EQ(later->stats().publish_errors, 0u);
  EXPECT_EQ(Entries(Dir()).size(), 1u);
}

}  // namespace
}  // namespace crust::engine
