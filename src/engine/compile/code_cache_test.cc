// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/code_cache.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "src/engine/compile/compiler_tcc.h"
#include "src/engine/runtime/instance.h"
#include "src/testing/runtime_test_util.h"
#include "src/os/env.h"
#include "src/util/sha256.h"
#include "tests/child_process.h"
#include "tests/fault_env.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

// A module unique to each test (the constant), so the shared on-disk state
// of other tests does not matter.
Bytes Module(int n) {
  auto r = testing::WatToWasm("(module (func (export \"f\") (param i32) (result i32) (i32.add (local.get 0) (i32.const " +
                              std::to_string(n) + "))))");
  EXPECT_TRUE(r.ok());
  return r.ok() ? r.value() : Bytes();
}

uint32_t CallF(const std::shared_ptr<const Code>& code, uint32_t arg) {
  auto inst = Instance::Create(code, InstanceOptions{});
  EXPECT_TRUE(inst.ok()) << inst.status().ToString();
  if (!inst.ok()) return 0;
  auto r = inst.value()->CallI32("f", arg, nullptr);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : 0;
}

class CodeCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<CodeCache> Open() {
    CodeCacheOptions o;
    o.dir = dir_.Sub("store/.cache/code");
    o.compiler.opt_level = OptLevel::kO0;
    auto r = CodeCache::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  crust::testing::TempDir dir_;
};

// On a full (or read-only) disk the fingerprint is the same, so the objects
// already compiled are still found: identifying the compiler writes nothing.
TEST_F(CodeCacheTest, FingerprintNeedsNoWrites) {
  const Bytes wasm = Module(7);
  auto cache = Open();
  ASSERT_OK_AND_ASSIGN(auto code, cache->Get(wasm));
  EXPECT_EQ(CallF(code, 1), 8u);

  crust::testing::FaultEnv full;
  for (auto op : {crust::testing::FaultOp::kCreateFile, crust::testing::FaultOp::kCreateDir,
                  crust::testing::FaultOp::kWrite, crust::testing::FaultOp::kRename}) {
    full.FailAlways(op);
  }
  CodeCacheOptions o;
  o.dir = dir_.Sub("store/.cache/code");
  o.compiler.opt_level = OptLevel::kO0;
  o.env = &full;
  ASSERT_OK_AND_ASSIGN(auto on_full, CodeCache::Open(o));
  EXPECT_EQ(on_full->compiler().fingerprint(), cache->compiler().fingerprint());
  EXPECT_EQ(full.Count(crust::testing::FaultOp::kCreateFile), 0);
  ASSERT_OK_AND_ASSIGN(auto again, on_full->Get(wasm));
  EXPECT_EQ(CallF(again, 2), 9u);
  EXPECT_EQ(on_full->stats().disk_hits, 1u);
  EXPECT_EQ(on_full->stats().compiled, 0u);
  // A new module cannot be compiled there: an error, not a crash.
  EXPECT_FALSE(on_full->Get(Module(8)).ok());
}

TEST_F(CodeCacheTest, MissThenHitThenDiskHit) {
  auto cache = Open();
  const Bytes wasm = Module(1);
  ASSERT_OK_AND_ASSIGN(auto code, cache->Get(wasm));
  EXPECT_EQ(CallF(code, 41), 42u);
  EXPECT_EQ(cache->stats().compiled, 1u);
  ASSERT_OK_AND_ASSIGN(auto again, cache->Get(wasm));
  EXPECT_EQ(again.get(), code.get());
  EXPECT_EQ(cache->stats().memory_hits, 1u);
  auto other = Open();  // a new process would see the published object
  ASSERT_OK_AND_ASSIGN(auto third, other->Get(wasm));
  EXPECT_EQ(other->stats().compiled, 0u);
  EXPECT_EQ(other->stats().disk_hits, 1u);
  EXPECT_EQ(CallF(third, 1), 2u);
  printf("compiler: %s\n", cache->compiler().description().c_str());
}

// A machine without the C compiler: opening the cache (what Vm::Open and a
// deploy need) fails with a message naming the compiler and what to install,
// whether the name is a missing path, a name not in PATH, or "cc" with a PATH
// that holds no compiler.
TEST_F(CodeCacheTest, MissingCompilerSaysWhatToInstall) {
  auto open_with = [&](const std::string& cc) {
    CodeCacheOptions o;
    o.dir = dir_.Sub("nocc/.cache/code");
    o.compiler.cc = cc;
    return CodeCache::Open(o);
  };
  auto check = [](const Result<std::unique_ptr<CodeCache>>& r, const std::string& cc) {
    ASSERT_FALSE(r.ok()) << cc;
    EXPECT_EQ(r.status().code(), Status::Code::kIOError);
    const std::string m(r.status().message());
    EXPECT_NE(m.find("\"" + cc + "\" cannot be run"), std::string::npos) << m;
    EXPECT_NE(m.find("no such file"), std::string::npos) << m;
    EXPECT_NE(m.find("apt-get install gcc"), std::string::npos) << m;
  };
  check(open_with("/nonexistent/bin/cc"), "/nonexistent/bin/cc");
  // A PATH of our own: a directory in the caller's that this user may not
  // search (root's, for a test run as another user) makes the lookup end in
  // "permission denied" instead.
  const char* old = std::getenv("PATH");
  const std::string saved = old != nullptr ? old : "";
  ASSERT_EQ(::setenv("PATH", (dir_.Sub("empty-bin") + ":/usr/bin:/bin").c_str(), 1), 0);
  auto not_in_path = open_with("crust-no-such-compiler");
  ASSERT_EQ(::setenv("PATH", dir_.Sub("empty-bin").c_str(), 1), 0);
  auto r = open_with("cc");
  ::setenv("PATH", saved.c_str(), 1);
  check(not_in_path, "crust-no-such-compiler");
  check(r, "cc");
}

// A compiled frame over the bound its module's wasm frames allow is a host
// defect, reported as Internal naming the function (never a deploy
// decision): the fast tier's object checked against a bound it cannot meet.
TEST_F(CodeCacheTest, TccFrameOverTheBoundIsInternalNamingTheFunction) {
  os::Env* env = os::Env::Default();
  auto compiler = Compiler::Create(env, CompilerOptions{.cc = "tcc", .flavor = CompilerFlavor::kTcc});
  if (!compiler.ok()) GTEST_SKIP() << "no tcc: " << compiler.status().ToString();
  const std::string so = dir_.Sub("m.so");
  ASSERT_OK((*compiler)->Compile(Module(3), dir_.Sub("work"), so));
  ASSERT_OK(CheckTccFrames(so, 1 << 20));
  Status s = CheckTccFrames(so, 8);
  EXPECT_EQ(s.code(), Status::Code::kInternal) << s.ToString();
  EXPECT_NE(s.ToString().find("compiled function "), std::string::npos) << s.ToString();
  EXPECT_EQ(s.ToString().find("function ? "), std::string::npos) << s.ToString();  // named
  EXPECT_NE(s.ToString().find("NativeFrameBound"), std::string::npos) << s.ToString();
}

// ---- code tiers ----

std::unique_ptr<CodeCache> OpenTiered(const std::string& dir, bool background, const std::string& tcc = "tcc",
                                      size_t max_loaded = CodeCacheOptions{}.max_loaded_objects) {
  CodeCacheOptions o;
  o.dir = dir;
  o.compiler.opt_level = OptLevel::kO0;
  o.fast_compiler = CompilerOptions{.cc = tcc, .flavor = CompilerFlavor::kTcc};
  o.background_builds = background;
  o.max_loaded_objects = max_loaded;
  auto r = CodeCache::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST_F(CodeCacheTest, TieredGetAnswersFastThenOptimised) {
  auto cache = OpenTiered(dir_.Sub("tiers"), /*background=*/true);
  ASSERT_NE(cache, nullptr);
  if (!cache->has_fast_tier()) GTEST_SKIP() << "no tcc: " << cache->fast_tier_status().ToString();
  const Bytes wasm = Module(11);
  EXPECT_NE(cache->KeyFor(wasm, Tier::kFast), cache->KeyFor(wasm, Tier::kOptimised));
  ASSERT_OK_AND_ASSIGN(TieredCode first, cache->GetTiered(wasm));
  EXPECT_EQ(first.optimised_key, cache->KeyFor(wasm));
  EXPECT_EQ(CallF(first.code, 41), 52u);
  if (first.tier == Tier::kFast) {
    EXPECT_EQ(cache->stats().fast_compiled, 1u);
  }
  cache->WaitForBackground();
  EXPECT_TRUE(cache->Settled(first.optimised_key));
  EXPECT_GE(cache->background_done(), 1u);
  ASSERT_OK_AND_ASSIGN(TieredCode second, cache->GetTiered(wasm));
  EXPECT_EQ(second.tier, Tier::kOptimised);
  EXPECT_TRUE(second.final);
  EXPECT_EQ(CallF(second.code, 41), 52u);
  EXPECT_EQ(cache->stats().background_built + (first.tier == Tier::kFast ? 0u : 1u), 1u);
  // Both objects are published under their own keys.
  os::Env* env = os::Env::Default();
  EXPECT_TRUE(env->Exists(cache->PathFor(cache->KeyFor(wasm, Tier::kFast))));
  EXPECT_TRUE(env->Exists(cache->PathFor(cache->KeyFor(wasm, Tier::kOptimised))));
  // Another process finds the optimised object on disk: final at once.
  auto other = OpenTiered(dir_.Sub("tiers"), true);
  ASSERT_OK_AND_ASSIGN(TieredCode third, other->GetTiered(wasm));
  EXPECT_EQ(third.tier, Tier::kOptimised);
  EXPECT_TRUE(third.final);
  EXPECT_EQ(other->stats().compiled, 0u);
  printf("fast compiler: %s\n", cache->fast_compiler().description().c_str());
}

TEST_F(CodeCacheTest, TieredGetWithoutBackgroundBuildsKeepsFastCode) {
  auto cache = OpenTiered(dir_.Sub("fast-only"), /*background=*/false);
  ASSERT_NE(cache, nullptr);
  if (!cache->has_fast_tier()) GTEST_SKIP() << "no tcc";
  const Bytes wasm = Module(12);
  ASSERT_OK_AND_ASSIGN(TieredCode code, cache->GetTiered(wasm));
  EXPECT_EQ(code.tier, Tier::kFast);
  EXPECT_TRUE(code.final);
  EXPECT_EQ(CallF(code.code, 1), 13u);
  cache->WaitForBackground();  // nothing queued: returns at once
  EXPECT_FALSE(cache->Settled(code.optimised_key));
  EXPECT_EQ(cache->stats().compiled, 1u);
  EXPECT_EQ(cache->stats().fast_compiled, 1u);
}

TEST_F(CodeCacheTest, MissingFastCompilerLeavesOnlyTheOptimisedTier) {
  auto cache = OpenTiered(dir_.Sub("no-tcc"), true, "crust-no-such-tcc");
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->has_fast_tier());
  EXPECT_FALSE(cache->fast_tier_status().ok());
  ASSERT_OK_AND_ASSIGN(TieredCode code, cache->GetTiered(Module(13)));
  EXPECT_EQ(code.tier, Tier::kOptimised);
  EXPECT_TRUE(code.final);
  EXPECT_EQ(CallF(code.code, 1), 14u);
}

TEST_F(CodeCacheTest, ClosingCancelsQueuedBackgroundBuilds) {
  // Destroying the cache right after queuing must neither hang nor crash.
  auto cache = OpenTiered(dir_.Sub("cancel"), true);
  ASSERT_NE(cache, nullptr);
  if (!cache->has_fast_tier()) GTEST_SKIP() << "no tcc";
  for (int i = 20; i < 24; ++i) ASSERT_OK(cache->GetTiered(Module(i)).status());
  cache.reset();
}

// A pid no process has now (a child that exited and was reaped).
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

// Sweep keeps the objects of the modules named (both tiers) and those
// loaded here, and removes the rest: other modules' objects, objects of
// other fingerprints, and tmp/ leftovers of processes that are gone.
TEST_F(CodeCacheTest, SweepKeepsWhatIsNeededAndRemovesTheRest) {
  const std::string dir = dir_.Sub("sweep");
  const Bytes a = Module(9301), b = Module(9302), c = Module(9303), d = Module(9304);
  size_t tiers = 1;
  {
    auto build = OpenTiered(dir, /*background=*/true);
    ASSERT_NE(build, nullptr);
    if (build->has_fast_tier()) tiers = 2;
    for (const Bytes* m : {&a, &b, &c, &d}) ASSERT_OK(build->GetTiered(*m).status());
    build->WaitForBackground();
    for (const Bytes* m : {&a, &b, &c, &d}) ASSERT_OK(build->Get(*m).status());  // the optimised objects exist
  }
  os::Env* env = os::Env::Default();
  auto Put = [env](const std::string& path, size_t n) {
    const Bytes bytes(n, 1);
    return os::WriteFileAtomically(env, path, ByteView(bytes.data(), bytes.size()));
  };
  const std::string stale = dir + "/" + std::string(64, 'a') + ".so";  // another fingerprint's key
  ASSERT_OK(Put(stale, 100));
  ASSERT_OK(Put(dir + "/README", 3));  // not the cache's: untouched
  const pid_t dead_pid = DeadPid();
  const std::string dead = dir + "/tmp/0123456789abcdef." + std::to_string(dead_pid) + ".0.work";
  ASSERT_OK(env->CreateDirs(dead));
  ASSERT_OK(Put(dead + "/module.c", 5));
  std::filesystem::last_write_time(dead, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  // The same, but recent: perhaps a build of a process in another PID namespace.
  const std::string recent = dir + "/tmp/0123456789abcdef." + std::to_string(dead_pid) + ".1.obj";
  ASSERT_OK(Put(recent, 5));
  const std::string own = dir + "/tmp/0123456789abcdef." + std::to_string(::getpid()) + ".7.obj";
  const std::string running = dir + "/tmp/0123456789abcdef.1.8.obj";  // init runs
  ASSERT_OK(Put(own, 5));
  ASSERT_OK(Put(running, 5));

  auto cache = OpenTiered(dir, /*background=*/false);
  ASSERT_NE(cache, nullptr);
  ASSERT_OK_AND_ASSIGN(auto held, cache->Get(b));  // loaded here: kept although not needed
  const std::unordered_set<Hash32, Hash32Hasher> needed = {Sha256Of(a), Sha256Of(c)};
  std::vector<std::string> removed = {stale, cache->PathFor(cache->KeyFor(d)), dead};
  if (tiers == 2) {
    removed.push_back(cache->PathFor(cache->KeyFor(d, Tier::kFast)));
    removed.push_back(cache->PathFor(cache->KeyFor(b, Tier::kFast)));  // only b's optimised code is loaded
  }
  std::vector<std::string> kept = {cache->PathFor(cache->KeyFor(a)), cache->PathFor(cache->KeyFor(b)),
                                   cache->PathFor(cache->KeyFor(c)), dir + "/README", own, running, recent};
  if (tiers == 2) {
    kept.push_back(cache->PathFor(cache->KeyFor(a, Tier::kFast)));
    kept.push_back(cache->PathFor(cache->KeyFor(c, Tier::kFast)));
  }
  for (bool dry_run : {true, false}) {
    SCOPED_TRACE(dry_run ? "dry run" : "sweep");
    SweepCounts objects, prepared;
    ASSERT_OK(cache->Sweep(needed, dry_run, &objects, &prepared));
    EXPECT_EQ(objects.kept, 2 * tiers + 1);
    EXPECT_EQ(objects.removed, 2 * tiers);
    EXPECT_EQ(objects.leftovers, 1u);
    EXPECT_GE(objects.removed_bytes, 100u);
    EXPECT_GT(objects.kept_bytes, 0u);
    for (const std::string& p : kept) EXPECT_TRUE(env->Exists(p)) << p;
    for (const std::string& p : removed) EXPECT_EQ(env->Exists(p), dry_run) << p;
  }
  // What stays serves without compiling; what went is compiled again.
  ASSERT_OK_AND_ASSIGN(auto code_a, cache->Get(a));
  EXPECT_EQ(CallF(code_a, 1), 9302u);
  EXPECT_EQ(cache->stats().compiled, 0u);
  ASSERT_OK_AND_ASSIGN(auto code_d, cache->Get(d));
  EXPECT_EQ(CallF(code_d, 1), 9305u);
  EXPECT_EQ(cache->stats().compiled, 1u);
}

TEST_F(CodeCacheTest, DeletedObjectIsRebuilt) {
  const Bytes wasm = Module(2);
  {
    auto cache = Open();
    ASSERT_OK(cache->Get(wasm));
  }
  auto cache = Open();
  ASSERT_OK(os::Env::Default()->RemoveFile(cache->PathFor(cache->KeyFor(wasm))));
  ASSERT_OK_AND_ASSIGN(auto code, cache->Get(wasm));
  EXPECT_EQ(cache->stats().compiled, 1u);
  EXPECT_EQ(cache->stats().rebuilt, 0u);
  EXPECT_EQ(CallF(code, 1), 3u);
}

void Damage(const std::string& path, bool truncate) {
  os::Env* env = os::Env::Default();
  auto bytes = env->ReadFile(path);
  ASSERT_TRUE(bytes.ok());
  Bytes b = bytes.value();
  if (truncate) {
    b.resize(b.size() / 2);
  } else {
    b[b.size() / 3] ^= 0x40;
  }
  ASSERT_OK(env->RemoveFile(path));
  ASSERT_OK_AND_ASSIGN(auto f, env->NewWritableFile(path));
  ASSERT_OK(f->Append(b));
  ASSERT_OK(f->Close());
}

TEST_F(CodeCacheTest, CorruptOrTruncatedObjectIsRebuilt) {
  for (bool truncate : {false, true}) {
    const Bytes wasm = Module(truncate ? 3 : 4);
    {
      auto cache = Open();
      ASSERT_OK(cache->Get(wasm));
    }
    auto cache = Open();
    Damage(cache->PathFor(cache->KeyFor(wasm)), truncate);
    ASSERT_OK_AND_ASSIGN(auto code, cache->Get(wasm));
    EXPECT_EQ(cache->stats().rebuilt, 1u);
    EXPECT_EQ(cache->stats().compiled, 1u);
    EXPECT_EQ(CallF(code, 0), truncate ? 3u : 4u);
  }
}

TEST_F(CodeCacheTest, ConcurrentGetsCompileOnce) {
  auto cache = Open();
  const Bytes wasm = Module(5);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::vector<const Code*> seen(8);
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
  EXPECT_EQ(cache->stats().compiled, 1u);
  for (const Code* c : seen) EXPECT_EQ(c, seen[0]);
}

TEST_F(CodeCacheTest, InvalidWasmIsAnError) {
  auto cache = Open();
  const Bytes junk = {0, 'a', 's', 'm', 1, 0, 0, 0, 0xff};
  EXPECT_EQ(cache->Get(junk).status().code(), Status::Code::kInvalidModule);
}

TEST_F(CodeCacheTest, CompilerLimitsAreEnforced) {
  CodeCacheOptions o;
  o.dir = dir_.Sub("limited");
  o.compiler.limits.address_space_bytes = 16 << 20;  // far too little for cc1
  auto cache = CodeCache::Open(o);
  if (!cache.ok()) GTEST_SKIP() << "compiler cannot even start: " << cache.status().ToString();
  auto r = cache.value()->Get(Module(6));
  EXPECT_FALSE(r.ok());
}

// Code compiled without the write barrier must never be taken for code with
// it: the option is part of the fingerprint, so the two never share objects.
TEST_F(CodeCacheTest, WriteBarrierIsPartOfTheFingerprint) {
  CodeCacheOptions o;
  o.dir = dir_.Sub("store/.cache/code");
  o.compiler.opt_level = OptLevel::kO0;
  ASSERT_OK_AND_ASSIGN(auto with, CodeCache::Open(o));
  o.compiler.write_barrier = false;
  ASSERT_OK_AND_ASSIGN(auto without, CodeCache::Open(o));
  EXPECT_NE(with->compiler().fingerprint(), without->compiler().fingerprint());
  const Bytes wasm = Module(7);
  ASSERT_OK(with->Get(wasm).status());
  ASSERT_OK(without->Get(wasm).status());
  EXPECT_EQ(without->stats().compiled, 1u);  // not a disk hit on the other's object
}

// Every contract a node ever ran would otherwise stay loaded for the life of
// the process: each object costs mappings (vm.max_map_count) and memory, so
// thousands of distinct contracts — a hostile deployer's, say — would
// exhaust them. Beyond the limit, objects nobody holds are unloaded, least
// recently used first, and loaded again from disk (not rebuilt) when asked.
TEST_F(CodeCacheTest, LoadedObjectsBeyondTheLimitAreUnloadedLeastRecentlyUsedFirst) {
  CodeCacheOptions o;
  o.dir = dir_.Sub("store/.cache/code");
  o.compiler.opt_level = OptLevel::kO0;
  o.max_loaded_objects = 2;
  ASSERT_OK_AND_ASSIGN(auto cache, CodeCache::Open(o));
  ASSERT_OK_AND_ASSIGN(auto held, cache->Get(Module(9201)));  // a live module's code: never unloaded
  for (int n : {9202, 9203, 9204}) {
    ASSERT_OK_AND_ASSIGN(auto code, cache->Get(Module(n)));
    EXPECT_EQ(CallF(code, 1), static_cast<uint32_t>(n + 1));
  }
  // Four loaded, two allowed: 9202 and 9203 (idle, used least recently) went.
  EXPECT_EQ(cache->stats().unloaded, 2u);
  ASSERT_OK_AND_ASSIGN(auto again, cache->Get(Module(9201)));
  EXPECT_EQ(again.get(), held.get());
  EXPECT_EQ(CallF(held, 1), 9202u);
  ASSERT_OK_AND_ASSIGN(auto last, cache->Get(Module(9204)));  // the newest stayed
  const CodeCache::Stats before = cache->stats();
  EXPECT_EQ(before.memory_hits, 2u);
  last.reset();
  ASSERT_OK_AND_ASSIGN(auto back, cache->Get(Module(9202)));
  EXPECT_EQ(CallF(back, 1), 9203u);
  EXPECT_EQ(cache->stats().disk_hits, before.disk_hits + 1);
  EXPECT_EQ(cache->stats().compiled, before.compiled);
  EXPECT_EQ(cache->stats().unloaded, 3u);  // 9204 (idle once more) made room
}

// An optimised build unloaded before its module swapped to it still counts
// as settled, and the next GetTiered loads it from disk.
TEST_F(CodeCacheTest, UnloadedOptimisedBuildStillSettles) {
  auto cache = OpenTiered(dir_.Sub("tiers"), /*background=*/true, "tcc", /*max_loaded=*/1);
  ASSERT_NE(cache, nullptr);
  if (!cache->has_fast_tier()) GTEST_SKIP() << "no tcc: " << cache->fast_tier_status().ToString();
  const Bytes wasm = Module(9301);
  ASSERT_OK_AND_ASSIGN(TieredCode first, cache->GetTiered(wasm));
  cache->WaitForBackground();
  for (int n : {9302, 9303}) ASSERT_OK(cache->Get(Module(n)).status());  // the optimised object is unloaded
  EXPECT_GE(cache->stats().unloaded, 1u);
  EXPECT_TRUE(cache->Settled(first.optimised_key));
  ASSERT_OK_AND_ASSIGN(TieredCode second, cache->GetTiered(wasm));
  EXPECT_EQ(second.tier, Tier::kOptimised);
  EXPECT_TRUE(second.final);
  EXPECT_EQ(CallF(second.code, 1), 9302u);
}

// A store on a file system mounted noexec (hardened hosts mount /tmp, /var
// or data volumes so): the kernel refuses to map any of its files
// executable, so dlopen of the cached object fails whatever its bytes. The
// cache loads an anonymous copy instead; where that is refused too (memfds
// blocked), the error says what to change, and the object is not rebuilt
// again and again. The restricted process is this binary again: fork, a
// private mount namespace (a user namespace too when not root) with a
// noexec tmpfs, optionally a seccomp filter refusing memfd_create, exec
// (tests/child_process.h).
constexpr char kNoexecDirEnv[] = "CRUST_TEST_NOEXEC_DIR";
constexpr char kNoexecMemfdEnv[] = "CRUST_TEST_NOEXEC_MEMFD";  // "allowed" or "refused"
constexpr char kNoexecTestName[] = "CodeCacheNoexec.LoadsFromACopyOrSaysWhatToChange";

bool WriteProcFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// In the child, between fork and exec (system calls only): a mount namespace
// of its own in which the directory is a noexec tmpfs, and memfd_create
// refused unless memfds are allowed. As root a mount namespace is enough;
// otherwise a user namespace maps this user to root in it (where the kernel
// allows unprivileged ones).
struct NoexecChild {
  const char* dir;
  std::string uid_map, gid_map;
  bool memfd;
};

int RestrictNoexecChild(void* arg) {
  const auto* c = static_cast<const NoexecChild*>(arg);
  if (::unshare(CLONE_NEWNS) != 0) {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return 90;
    WriteProcFile("/proc/self/setgroups", "deny");
    if (!WriteProcFile("/proc/self/uid_map", c->uid_map) || !WriteProcFile("/proc/self/gid_map", c->gid_map)) return 90;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 90;
  if (::mount("tmpfs", c->dir, "tmpfs", MS_NOEXEC | MS_NOSUID | MS_NODEV, "size=64m") != 0) return 90;
  if (!c->memfd && !crust::testing::RefuseSyscall(SYS_memfd_create)) return 91;
  return 0;
}

TEST(CodeCacheNoexec, LoadsFromACopyOrSaysWhatToChange) {
  if (const char* dir = std::getenv(kNoexecDirEnv)) {
    // The restricted process: `dir` is a noexec mount.
    struct statvfs st = {};
    ASSERT_EQ(::statvfs(dir, &st), 0);
    ASSERT_NE(st.f_flag & ST_NOEXEC, 0u) << dir << " is not mounted noexec";
    const bool memfd = std::string(std::getenv(kNoexecMemfdEnv)) == "allowed";
    CodeCacheOptions o;
    o.dir = std::string(dir) + "/store/.cache/code";
    o.compiler.opt_level = OptLevel::kO0;
    const Bytes wasm = Module(9101);
    {
      ASSERT_OK_AND_ASSIGN(auto cache, CodeCache::Open(o));
      Result<std::shared_ptr<const Code>> code = cache->Get(wasm);
      EXPECT_EQ(cache->stats().compiled, 1u);
      if (memfd) {
        ASSERT_OK(code);
        EXPECT_EQ(CallF(code.value(), 1), 9102u);
        // Other objects loaded the same way, beside it and after one is
        // unloaded, run their own code: each copy is its own object to the
        // loader (which would hand back an object already loaded under the
        // same /proc/self/fd/N name).
        for (int n : {9111, 9112}) {
          ASSERT_OK_AND_ASSIGN(auto other, cache->Get(Module(n)));
          EXPECT_EQ(CallF(other, 1), static_cast<uint32_t>(n + 1));
        }
        code = std::shared_ptr<const Code>();  // now only the cache holds 9101's object
        cache->ForgetLoaded();                 // and unloads every object
        ASSERT_OK_AND_ASSIGN(auto again, cache->Get(Module(9113)));
        EXPECT_EQ(CallF(again, 1), 9114u);
        ASSERT_OK_AND_ASSIGN(auto first, cache->Get(wasm));
        EXPECT_EQ(CallF(first, 1), 9102u);
      } else {
        ASSERT_FALSE(code.ok());
        EXPECT_EQ(code.status().code(), Status::Code::kNotSupported) << code.status().ToString();
        for (const char* part : {"noexec", "memfd_create", "--code-cache", ".so"}) {
          EXPECT_NE(code.status().ToString().find(part), std::string::npos) << part << ": " << code.status().ToString();
        }
        // Asked again: the same answer, without compiling again.
        EXPECT_FALSE(cache->Get(wasm).ok());
        EXPECT_EQ(cache->stats().compiled, 1u);
        EXPECT_EQ(cache->stats().rebuilt, 0u);
      }
    }
    if (memfd) {
      // Another process's view: the object on disk is used, not rebuilt.
      ASSERT_OK_AND_ASSIGN(auto again, CodeCache::Open(o));
      ASSERT_OK_AND_ASSIGN(auto code, again->Get(wasm));
      EXPECT_EQ(CallF(code, 2), 9103u);
      EXPECT_EQ(again->stats().disk_hits, 1u);
      EXPECT_EQ(again->stats().compiled, 0u);
      EXPECT_EQ(again->stats().rebuilt, 0u);
    }
    return;
  }
  for (const bool memfd : {true, false}) {
    SCOPED_TRACE(memfd ? "memfd allowed" : "memfd refused");
    crust::testing::TempDir there;
    NoexecChild child{there.path().c_str(), "0 " + std::to_string(::getuid()) + " 1",
                      "0 " + std::to_string(::getgid()) + " 1", memfd};
    const int status = crust::testing::RunTestInChild(
        kNoexecTestName,
        {std::string(kNoexecDirEnv) + "=" + there.path(),
         std::string(kNoexecMemfdEnv) + "=" + (memfd ? "allowed" : "refused")},
        &RestrictNoexecChild, &child);
    if (status == 90) GTEST_SKIP() << "cannot mount a noexec tmpfs in a namespace of its own here";
    if (status == 91) GTEST_SKIP() << "no seccomp filter on this architecture or kernel";
    ASSERT_EQ(status, 0) << "the child on a noexec mount failed (its output is above)";
  }
}

}  // namespace
}  // namespace crust::engine
