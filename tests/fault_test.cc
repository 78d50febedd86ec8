// Copyright (c) crust authors. Licensed under the MIT license.
//
// Fault injection (tests/fault_env.h): every operating-system step of a
// commit — mkdir, create file, write, sync, close, chmod, link, fsync dir,
// rename, and the reads around them — fails in turn, the n-th call for every
// n a fault-free commit makes. After each failure:
//  * Commit returns the error (for the steps that must not fail silently);
//  * no partial commit is visible: only complete commits that verify;
//  * no staging directory is left behind (a spare one made ahead for the
//    next commit, src/store/spare_staging.h, may be: complete and empty);
//  * a failure while making that spare is not the commit's: it succeeds;
//  * the same session retries Commit successfully, producing the root a
//    session that never failed would produce, with the same contents, and
//    keeps working afterwards (a further commit is right too).
// Also: a failure while deleting leaves every other commit intact, and a
// failure while opening releases the lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/env.h"
#include "src/store/open_env.h"
#include "tests/fault_env.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using testing::FaultEnv;
using testing::FaultOp;
using testing::FaultOpName;
using testing::IsRootName;
using testing::kMiB;
using testing::kWasmPage;
using testing::ListNames;
using testing::Pattern;
using testing::TempDir;
using testing::TestModuleId;

const ModuleId kA = TestModuleId(1);  // 1 MiB; the base has a .diff; the commit adds .diff.2
const ModuleId kU = TestModuleId(2);  // unchanged memory (links), new metadata
const ModuleId kG = TestModuleId(3);  // grown, written in the new part
const ModuleId kR = TestModuleId(4);  // 64 KiB, most pages written: a fresh base image
const ModuleId kN = TestModuleId(5);  // added by the session: full files

// Store options plus the OS interface to open the store on.
struct EnvOptions {
  StoreOptions store;
  os::Env* env = nullptr;
};

EnvOptions Options(os::Env* env, bool sync) {
  EnvOptions opt;
  opt.env = env;
  opt.store.sync = sync;
  return opt;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& dir, const EnvOptions& options) {
  return store::OpenWithEnv(dir, options.store, options.env);
}

// The base commit every case starts from.
Root BuildBase(const std::string& dir) {
  auto store = OpenStore(dir, Options(nullptr, /*sync=*/false));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return {};
  auto s = std::move((*store)->StartGenesis()).value();
  EXPECT_OK(s->AddModule(kA, Pattern(1, 100), Pattern(11, 20000), kMiB));
  EXPECT_OK(s->AddModule(kU, Pattern(2, 200), Pattern(12, 5000), 2 * kWasmPage, Pattern(22, 3)));
  EXPECT_OK(s->AddModule(kG, Pattern(3, 300), Pattern(13, 100), kWasmPage));
  EXPECT_OK(s->AddModule(kR, Pattern(4, 400), Pattern(14, 8000), kWasmPage));
  EXPECT_OK(s->Commit().status());
  for (int p = 0; p < 8; p++) EXPECT_OK(s->WriteMemory(kA, (20 + 9 * p) * 4096, Pattern(30 + p, 4096)));
  auto r = s->Commit();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Root{};
}

// The session's changes (the same for the failing session and its twin).
void ApplyChanges(Session& s) {
  EXPECT_OK(s.WriteMemory(kA, 3 * 4096 + 10, Pattern(40, 300)));
  EXPECT_OK(s.SetMetadata(kU, Pattern(41, 7)));
  EXPECT_OK(s.GrowMemory(kG, 2 * kWasmPage));
  EXPECT_OK(s.WriteMemory(kG, kWasmPage + 4096, Pattern(42, 5000)));
  for (int p = 0; p < 10; p++) EXPECT_OK(s.WriteMemory(kR, p * 4096 + 1, Pattern(50 + p, 4000)));
  EXPECT_OK(s.AddModule(kN, Pattern(5, 500), Pattern(15, 9000), 2 * kWasmPage, Pattern(25, 4)));
}

// A change made after the retried commit, to check the session still works.
void ApplyMoreChanges(Session& s) {
  EXPECT_OK(s.WriteMemory(kA, 100 * 4096, Pattern(60, 4096)));
  EXPECT_OK(s.WriteMemory(kN, 7, Pattern(61, 20)));
  EXPECT_OK(s.WriteMemory(kR, 4096 * 15, Pattern(62, 10)));
}

void ExpectSameContents(Session& got, Session& want, const std::string& what) {
  ASSERT_EQ(got.Modules(), want.Modules()) << what;
  for (const ModuleId& id : want.Modules()) {
    ASSERT_OK_AND_ASSIGN(uint64_t len, want.MemoryLength(id));
    ASSERT_OK_AND_ASSIGN(uint64_t got_len, got.MemoryLength(id));
    ASSERT_EQ(got_len, len) << what;
    Bytes a(len), b(len);
    ASSERT_OK(got.ReadMemory(id, 0, a));
    ASSERT_OK(want.ReadMemory(id, 0, b));
    EXPECT_TRUE(a == b) << what << ": memory of module " << id.ToHex() << " differs";
    ASSERT_OK_AND_ASSIGN(Bytes bc1, got.Bytecode(id));
    ASSERT_OK_AND_ASSIGN(Bytes bc2, want.Bytecode(id));
    EXPECT_EQ(bc1, bc2) << what;
    ASSERT_OK_AND_ASSIGN(Bytes m1, got.Metadata(id));
    ASSERT_OK_AND_ASSIGN(Bytes m2, want.Metadata(id));
    EXPECT_EQ(m1, m2) << what;
  }
}

bool IsSpareName(const std::string& name) { return name.rfind("spare-", 0) == 0; }

// The spare staging directories in .pending (made ahead for the next commit).
std::set<std::string> Spares(const std::string& dir) {
  std::set<std::string> spares;
  for (const std::string& name : ListNames(dir + "/.pending")) {
    if (IsSpareName(name)) spares.insert(name);
  }
  return spares;
}

// Commit directories in the store; fails on any other entry but LOCK,
// FORMAT and .pending holding at most one complete, empty spare staging
// directory (bytecode/, memory/ and an empty index).
std::set<std::string> CommitDirs(const std::string& dir, const std::string& what) {
  std::set<std::string> roots;
  for (const std::string& name : ListNames(dir)) {
    if (IsRootName(name)) {
      roots.insert(name);
    } else {
      EXPECT_TRUE(name == "LOCK" || name == "FORMAT" || name == ".pending")
          << what << ": leftover in the store: " << name;
    }
  }
  int spares = 0;
  for (const std::string& name : ListNames(dir + "/.pending")) {
    if (!IsSpareName(name)) {
      ADD_FAILURE() << what << ": leftover in the store: .pending/" << name;
      continue;
    }
    spares++;
    const std::string spare = dir + "/.pending/" + name;
    EXPECT_EQ(ListNames(spare), (std::vector<std::string>{"bytecode", "index", "layer.spare", "memory"}))
        << what << ": spare .pending/" << name << " is not complete";
    EXPECT_TRUE(ListNames(spare + "/bytecode").empty() && ListNames(spare + "/memory").empty())
        << what << ": spare .pending/" << name << " is not empty";
    EXPECT_EQ(std::filesystem::file_size(spare + "/index"), 0u) << what << ": spare .pending/" << name;
  }
  EXPECT_LE(spares, 1) << what << ": more than one spare staging directory";
  return roots;
}

// True if the last injected fault hit a spare staging directory being made
// during the commit (one not in `before`): that step prepares the next
// commit and is not the commit's own.
bool FaultHitNewSpare(const FaultEnv& env, const std::string& dir, const std::set<std::string>& before) {
  const std::string failure = env.LastFailure();
  const std::string marker = dir + "/.pending/";
  const size_t at = failure.find(marker);
  if (at == std::string::npos) return false;
  const std::string rest = failure.substr(at + marker.size());
  const std::string name = rest.substr(0, rest.find_first_of("/ "));
  return IsSpareName(name) && !before.count(name);
}

struct OpCounts {
  int counts[static_cast<int>(FaultOp::kNumOps)] = {};
  bool published = false;  // the failed commit's directory became visible anyway
};

// Steps a commit must not survive silently: their failure is the commit's.
const FaultOp kStrictOps[] = {FaultOp::kCreateDir, FaultOp::kCreateFile, FaultOp::kWrite,   FaultOp::kSync,
                              FaultOp::kClose,     FaultOp::kSetReadOnly, FaultOp::kLink,   FaultOp::kSyncDir,
                              FaultOp::kRename};
// Steps a commit may tolerate (e.g. a failed existence check), but whose
// failure must never leave a broken store or session either.
const FaultOp kOtherOps[] = {FaultOp::kOpenFile, FaultOp::kRead, FaultOp::kStat, FaultOp::kMapMemory,
                             FaultOp::kListDir, FaultOp::kTruncate, FaultOp::kRemoveDir};

// What happens between the failed commit and its retry.
enum class Then {
  kRetry,             // retry at once
  kWriteThenRetry,    // the session goes on writing, then commits
  kDeleteThenRetry,   // the commit published despite the error is deleted, then the session retries
};

const char* ThenName(Then t) {
  switch (t) {
    case Then::kRetry: return "retry";
    case Then::kWriteThenRetry: return "write, then retry";
    case Then::kDeleteThenRetry: return "delete the published commit, then retry";
  }
  return "";
}

class FaultTest : public ::testing::Test {
 protected:
  // StoreOptions::parallel_commit_pages of the store whose commit fails.
  uint64_t parallel_commit_pages_ = StoreOptions{}.parallel_commit_pages;
  // Before the failing commit, another session commits, so that the failing
  // commit takes the spare staging directory that one made (as every commit
  // but a store's first does) instead of making its own.
  bool spare_ready_ = false;

  // Runs one case: the n-th call of `op` during the commit fails (n = 0: none).
  // Returns the number of calls of each op the commit made.
  OpCounts RunCase(FaultOp op, int n, bool strict, Then then = Then::kRetry) {
    OpCounts counts;
    const std::string what =
        (n == 0 ? std::string("no fault") : std::string("fail ") + FaultOpName(op) + " #" + std::to_string(n)) +
        ", " + ThenName(then);
    SCOPED_TRACE(what);
    TempDir tmp;
    const std::string dir = tmp.Sub("store");
    const Root base = BuildBase(dir);
    if (HasFailure()) return counts;
    FaultEnv env;
    EnvOptions options = Options(&env, /*sync=*/true);
    options.store.parallel_commit_pages = parallel_commit_pages_;
    auto store_or = OpenStore(dir, options);
    EXPECT_TRUE(store_or.ok()) << store_or.status().ToString();
    if (!store_or.ok()) return counts;
    Store& store = **store_or;
    auto s_or = store.StartSession(base);
    auto twin_or = store.StartSession(base);
    EXPECT_TRUE(s_or.ok() && twin_or.ok());
    if (!s_or.ok() || !twin_or.ok()) return counts;
    Session& s = **s_or;
    Session& twin = **twin_or;
    if (spare_ready_) {
      auto other = store.StartSession(base);
      EXPECT_TRUE(other.ok()) << other.status().ToString();
      if (!other.ok()) return counts;
      EXPECT_OK((*other)->WriteMemory(kA, 200 * 4096, Pattern(70, 4096)));
      auto r = (*other)->Commit();
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      store::WaitForBackgroundWork(&store);
      EXPECT_EQ(Spares(dir).size(), 1u) << "a commit made no spare staging directory";
    }
    ApplyChanges(s);
    ApplyChanges(twin);
    auto want_root = twin.CurrentRoot();
    EXPECT_TRUE(want_root.ok()) << want_root.status().ToString();
    if (!want_root.ok()) return counts;

    const std::set<std::string> before = CommitDirs(dir, what + ", before");
    const std::set<std::string> spares_before = Spares(dir);
    env.ResetCounts();
    if (n > 0) env.FailNth(op, n);
    auto first = s.Commit();
    store::WaitForBackgroundWork(&store);  // the spare it asked for: its steps count as the commit's
    for (int i = 0; i < static_cast<int>(FaultOp::kNumOps); i++) counts.counts[i] = env.Count(static_cast<FaultOp>(i));
    env.ClearFaults();
    if (n > 0) {
      EXPECT_EQ(env.Failures(op), 1) << "the fault did not fire";
      if (FaultHitNewSpare(env, dir, spares_before)) {
        EXPECT_TRUE(first.ok()) << "a failure making the next commit's spare staging directory failed the commit: "
                                << first.status().ToString();
      } else if (strict) {
        EXPECT_FALSE(first.ok()) << "Commit succeeded although a step failed";
      }
      if (!first.ok()) {
        EXPECT_NE(first.status().message().find("injected fault"), std::string_view::npos)
            << "the error does not carry the cause: " << first.status().ToString();
      }
    } else {
      EXPECT_TRUE(first.ok()) << first.status().ToString();
    }
    if (first.ok()) {
      EXPECT_EQ(*first, *want_root);
    }

    // Only complete commits are visible, no staging leftovers.
    std::set<std::string> dirs = CommitDirs(dir, what);
    for (const std::string& name : dirs) {
      EXPECT_TRUE(before.count(name) || name == want_root->ToHex()) << what << ": unexpected commit " << name;
      EXPECT_OK(store.VerifyCommit(Root::FromHex(name).value()));
    }
    for (const std::string& name : before) EXPECT_TRUE(dirs.count(name)) << what << ": commit vanished: " << name;
    counts.published = !first.ok() && dirs.count(want_root->ToHex());

    Root expected = *want_root;
    if (then == Then::kWriteThenRetry) {
      ApplyMoreChanges(s);
      ApplyMoreChanges(twin);
      auto r = twin.CurrentRoot();
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) return counts;
      expected = *r;
    } else if (then == Then::kDeleteThenRetry && counts.published) {
      // Nothing pins a commit whose Commit() failed: it can be deleted.
      Status d = store.TryDeleteCommit(*want_root);
      EXPECT_TRUE(d.ok() || d.IsBusy()) << d.ToString();
    }

    // Retry on the same session.
    auto retry = s.Commit();
    EXPECT_TRUE(retry.ok()) << "retry: " << retry.status().ToString();
    if (!retry.ok()) return counts;
    EXPECT_EQ(*retry, expected) << "the retried commit differs from a fault-free one";
    EXPECT_OK(store.VerifyCommit(*retry));
    {
      auto check = store.StartSession(*retry);
      EXPECT_TRUE(check.ok()) << check.status().ToString();
      if (check.ok()) ExpectSameContents(**check, twin, what + ", retried commit");
    }
    if (then == Then::kRetry) {
      // The session goes on working after the failure and the retry.
      ApplyMoreChanges(s);
      ApplyMoreChanges(twin);
      auto next = s.Commit();
      EXPECT_TRUE(next.ok()) << "commit after the retry: " << next.status().ToString();
      auto twin_next = twin.CurrentRoot();
      EXPECT_TRUE(twin_next.ok());
      if (next.ok() && twin_next.ok()) {
        EXPECT_EQ(*next, *twin_next) << "the commit after the retry differs from a fault-free one";
        EXPECT_OK(store.VerifyCommit(*next));
        auto check = store.StartSession(*next);
        EXPECT_TRUE(check.ok()) << check.status().ToString();
        if (check.ok()) ExpectSameContents(**check, twin, what + ", next commit");
      }
    }
    store::WaitForBackgroundWork(&store);
    CommitDirs(dir, what);
    return counts;
  }

  void RunEveryStepFailing() {
    const OpCounts counts = RunCase(FaultOp::kNumOps, 0, false);
    ASSERT_FALSE(HasFailure());
    std::cout << "[ calls ] a fault-free commit:";
    for (int i = 0; i < static_cast<int>(FaultOp::kNumOps); i++) {
      if (counts.counts[i]) std::cout << " " << FaultOpName(static_cast<FaultOp>(i)) << "=" << counts.counts[i];
    }
    std::cout << "\n";
    for (FaultOp op : kStrictOps) {
      EXPECT_GT(counts.counts[static_cast<int>(op)], 0) << FaultOpName(op) << " is never called by a commit";
    }
    int cases = 0, published = 0;
    auto run_all = [&](FaultOp op, bool strict) {
      const int calls = counts.counts[static_cast<int>(op)];
      if (calls == 0) return;
      // Every call, or an even sample of 24 of them for frequent ops.
      std::set<int> ns;
      for (int k = 0; k < std::min(calls, 24); k++) ns.insert(1 + static_cast<int>(int64_t{k} * calls / std::min(calls, 24)));
      ns.insert(calls);
      for (int n : ns) {
        const OpCounts c = RunCase(op, n, strict, Then::kRetry);
        RunCase(op, n, strict, Then::kWriteThenRetry);
        cases += 2;
        if (c.published) {
          // The failure came after the commit became visible.
          published++;
          RunCase(op, n, strict, Then::kDeleteThenRetry);
          cases++;
        }
        if (HasFailure()) return;
      }
    };
    for (FaultOp op : kStrictOps) {
      run_all(op, true);
      ASSERT_FALSE(HasFailure());
    }
    for (FaultOp op : kOtherOps) {
      run_all(op, false);
      ASSERT_FALSE(HasFailure());
    }
    std::cout << "[ cases ] " << cases << " runs with an injected fault; " << published
              << " faults hit after the commit was published\n";
  }
};

TEST_F(FaultTest, EachCommitStepFailingInTurn) { RunEveryStepFailing(); }

// The same with the spare staging directory of an earlier commit ready: the
// failing commit writes into it (and makes the next one beside its fsyncs).
TEST_F(FaultTest, EachCommitStepFailingInTurnWithSpareReady) {
  spare_ready_ = true;
  RunEveryStepFailing();
}

// The same with every commit taking the path of large commits: staging
// directory and links made, and delta layers encoded, beside the hashing on
// the store's threads, before the root is known.
TEST_F(FaultTest, EachCommitStepFailingInTurnParallelPath) {
  parallel_commit_pages_ = 1;
  RunEveryStepFailing();
}

// Regression: when opening the new commit's files failed after it was
// published (AfterCommit), the session was left half-moved to it — a slot
// with no committed memory and its dirty pages dropped — and the next commit
// touching that module dereferenced null (SIGSEGV in HashChanges).
TEST_F(FaultTest, FailureAfterPublishLeavesSessionUsable) {
  TempDir tmp;
  FaultEnv env;
  ASSERT_OK_AND_ASSIGN(auto store, OpenStore(tmp.Sub("store"), Options(&env, false)));
  ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
  ASSERT_OK_AND_ASSIGN(auto twin, store->StartGenesis());
  for (Session* x : {s.get(), twin.get()}) {
    ASSERT_OK(x->AddModule(kA, Pattern(1, 10), Pattern(2, 5000), kWasmPage));
    ASSERT_OK(x->AddModule(kN, Pattern(3, 10), Pattern(4, 5000), kWasmPage));
  }
  env.FailNth(FaultOp::kOpenFile, 2);  // the second module's new image, once published
  auto failed = s->Commit();
  env.ClearFaults();
  ASSERT_EQ(env.Failures(FaultOp::kOpenFile), 1);
  EXPECT_FALSE(failed.ok());
  for (Session* x : {s.get(), twin.get()}) {
    ASSERT_OK(x->WriteMemory(kA, 100, Pattern(5, 10)));
    ASSERT_OK(x->WriteMemory(kN, 8000, Pattern(6, 10)));
  }
  ASSERT_OK_AND_ASSIGN(Root want, twin->CurrentRoot());
  ASSERT_OK_AND_ASSIGN(Root got, s->Commit());
  EXPECT_EQ(got, want);
  EXPECT_OK(store->VerifyCommit(got));
}

// A commit that finds its root already published (no files written) fails
// in its own steps (reading the existing index) and is retried.
TEST_F(FaultTest, CommitOfExistingStateFailingReadsIsRetried) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const Root base = BuildBase(dir);
  ASSERT_FALSE(HasFailure());
  FaultEnv env;
  ASSERT_OK_AND_ASSIGN(auto store, OpenStore(dir, Options(&env, true)));
  ASSERT_OK_AND_ASSIGN(auto first, store->StartSession(base));
  ApplyChanges(*first);
  ASSERT_OK_AND_ASSIGN(Root root, first->Commit());
  for (FaultOp op : {FaultOp::kOpenFile, FaultOp::kRead, FaultOp::kMapMemory, FaultOp::kStat}) {
    SCOPED_TRACE(FaultOpName(op));
    ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(base));
    ApplyChanges(*s);
    env.FailNth(op, 1);
    auto r = s->Commit();
    env.ClearFaults();
    if (r.ok()) {
      EXPECT_EQ(*r, root);
    }
    ASSERT_OK_AND_ASSIGN(Root again, s->Commit());
    EXPECT_EQ(again, root);
    ApplyMoreChanges(*s);
    ASSERT_OK_AND_ASSIGN(Root next, s->Commit());
    EXPECT_OK(store->VerifyCommit(next));
    s.reset();  // it pins `next`
    EXPECT_OK(store->DeleteCommit(next));
  }
}

// Deleting C2 (base of C3, child of C1) fails at each step; C1 and C3 stay
// intact, C2 is either whole or gone, and the store recovers on reopen.
TEST_F(FaultTest, FailedDeleteLeavesOtherCommitsIntact) {
  for (FaultOp op : {FaultOp::kStat, FaultOp::kRename, FaultOp::kSyncDir, FaultOp::kRemoveDir, FaultOp::kRemoveFile}) {
    SCOPED_TRACE(FaultOpName(op));
    TempDir tmp;
    const std::string dir = tmp.Sub("store");
    FaultEnv env;
    Root c1, c2, c3;
    {
      ASSERT_OK_AND_ASSIGN(auto store, OpenStore(dir, Options(&env, true)));
      ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
      ASSERT_OK(s->AddModule(kA, Pattern(1, 100), Pattern(11, 20000), kMiB));
      ASSERT_OK(s->AddModule(kU, Pattern(2, 100), Pattern(12, 20000), kWasmPage));
      ASSERT_OK_AND_ASSIGN(c1, s->Commit());
      ASSERT_OK(s->WriteMemory(kA, 5 * 4096, Pattern(3, 4096)));
      ASSERT_OK_AND_ASSIGN(c2, s->Commit());
      ASSERT_OK(s->WriteMemory(kA, 9 * 4096, Pattern(4, 4096)));
      ASSERT_OK_AND_ASSIGN(c3, s->Commit());
      s.reset();
      env.ResetCounts();
      env.FailNth(op, 1);
      Status d = store->DeleteCommit(c2);
      env.ClearFaults();
      const bool fired = env.Failures(op) == 1;
      if (fired && op != FaultOp::kRemoveFile) {
        EXPECT_FALSE(d.ok()) << "delete succeeded although a step failed";
      }
      ASSERT_OK(store->VerifyCommit(c1));
      ASSERT_OK(store->VerifyCommit(c3));
      ASSERT_OK_AND_ASSIGN(auto check, store->StartSession(c3));
      Bytes page(4096);
      ASSERT_OK(check->ReadMemory(kA, 5 * 4096, page));
      EXPECT_EQ(page, Pattern(3, 4096));
      ASSERT_OK(check->ReadMemory(kA, 9 * 4096, page));
      EXPECT_EQ(page, Pattern(4, 4096));
      check.reset();
      // C2 whole, or gone: never half there.
      auto list = store->ListCommits();
      ASSERT_TRUE(list.ok());
      bool listed = false;
      for (const CommitInfo& c : *list) listed |= c.root == c2;
      if (listed) {
        EXPECT_OK(store->VerifyCommit(c2));
        ASSERT_OK_AND_ASSIGN(auto s2, store->StartSession(c2));  // not stuck "being deleted"
        s2.reset();
        EXPECT_OK(store->TryDeleteCommit(c2));
      } else {
        EXPECT_TRUE(store->StartSession(c2).status().IsNotFound());
      }
    }
    // Reopen: leftovers of the failed deletion are gone, C1 and C3 intact.
    ASSERT_OK_AND_ASSIGN(auto store, OpenStore(dir, Options(&env, true)));
    std::set<std::string> dirs = CommitDirs(dir, FaultOpName(op));
    EXPECT_EQ(dirs, (std::set<std::string>{c1.ToHex(), c3.ToHex()}));
    EXPECT_OK(store->VerifyCommit(c1));
    EXPECT_OK(store->VerifyCommit(c3));
  }
}

// A failure while opening (cleaning leftovers) releases the lock: the next
// open succeeds and cleans up.
TEST_F(FaultTest, FailedOpenReleasesLock) {
  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  const Root base = BuildBase(dir);
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> commits = CommitDirs(dir, "before");
  ASSERT_TRUE(std::filesystem::create_directory(dir + "/.pending/staging-1-2-3"));
  ASSERT_TRUE(testing::WriteWholeFile(dir + "/.pending/staging-1-2-3/index", Pattern(1, 10)));
  FaultEnv env;
  env.FailNth(FaultOp::kRemoveDir, 1);
  auto failed = OpenStore(dir, Options(&env, true));
  EXPECT_FALSE(failed.ok());
  ASSERT_OK_AND_ASSIGN(auto store, OpenStore(dir, Options(&env, true)));
  EXPECT_EQ(CommitDirs(dir, "reopen"), commits);
  EXPECT_OK(store->VerifyCommit(base));
}

}  // namespace
}  // namespace crust
