// Copyright (c) crust authors. Licensed under the MIT license.
//
// Concurrency: one Store shared by many threads. Worker threads start
// sessions from a shared base or the newest commit, write random spans in a
// few of 8 modules of 1 MiB (sometimes growing one), and commit, several times
// per session; a deleter thread deletes older commits with DeleteCommit
// (waits for pins) and TryDeleteCommit (may report Busy); reader threads list,
// show and verify commits, through the writing store and through a read-only
// store opened beside it. Every commit is recorded in a model (the writes
// that lead to it from genesis); at the end the store holds exactly the
// commits not deleted, each verifies and reads back its model contents.
//
// Time-bounded (CRUST_STRESS_SECONDS, default a few seconds) so that it also
// completes under ThreadSanitizer (`make tsan`).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/dirty_tracking.h"
#include "src/os/env.h"
#include "src/store/open_env.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using testing::FillPattern;
using testing::kMiB;
using testing::kWasmPage;
using testing::Pattern;
using testing::TempDir;
using testing::TestModuleId;

constexpr int kModules = 8;
constexpr uint64_t kInitialLength = kMiB;
constexpr uint64_t kMaxLength = 2 * kMiB;

double StressSeconds(double dflt) {
  const char* v = std::getenv("CRUST_STRESS_SECONDS");
  return v && *v ? std::atof(v) : dflt;
}

uint64_t TestSeed() {
  const char* v = std::getenv("CRUST_TEST_SEED");
  if (v && *v) return std::strtoull(v, nullptr, 10);
  return std::random_device{}();
}

// --- The model: what every commit must contain ----------------------------

struct Op {
  int module = 0;
  bool grow = false;
  uint64_t offset = 0;  // write offset, or the new length for a grow
  uint32_t len = 0;
  uint64_t seed = 0;
};

// A commit's contents = genesis + the ops of every node on its chain.
struct ModelNode {
  std::shared_ptr<const ModelNode> parent;
  std::vector<Op> ops;
};

Bytes GenesisBytecode(int m) { return Pattern(1000 + m, 100 + 17 * m); }
Bytes GenesisInit(int m) { return Pattern(2000 + m, 3 * 4096 + 123 * m); }

// Expected memories of the state at `node`.
std::vector<Bytes> Replay(const std::shared_ptr<const ModelNode>& node) {
  std::vector<const ModelNode*> chain;
  for (const ModelNode* n = node.get(); n != nullptr; n = n->parent.get()) chain.push_back(n);
  std::vector<Bytes> mem(kModules);
  for (int m = 0; m < kModules; m++) {
    mem[m].assign(kInitialLength, 0);
    Bytes init = GenesisInit(m);
    std::memcpy(mem[m].data(), init.data(), init.size());
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const Op& op : (*it)->ops) {
      Bytes& b = mem[op.module];
      if (op.grow) {
        b.resize(op.offset, 0);
      } else {
        FillPattern(op.seed, b.data() + op.offset, op.len);
      }
    }
  }
  return mem;
}

// Applies ops to a session (and to `lengths`, the session's current lengths).
void ApplyOps(Session& s, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (op.grow) {
      EXPECT_OK(s.GrowMemory(TestModuleId(op.module), op.offset));
    } else {
      EXPECT_OK(s.WriteMemory(TestModuleId(op.module), op.offset, Pattern(op.seed, op.len)));
    }
  }
}

std::vector<Op> RandomOps(std::mt19937_64& rng, std::vector<uint64_t>* lengths) {
  std::vector<Op> ops;
  const int nmod = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < nmod; i++) {
    const int m = static_cast<int>(rng() % kModules);
    if (rng() % 12 == 0 && (*lengths)[m] < kMaxLength) {
      (*lengths)[m] += kWasmPage;
      ops.push_back(Op{m, true, (*lengths)[m], 0, 0});
    }
    const int writes = 1 + static_cast<int>(rng() % 4);
    for (int w = 0; w < writes; w++) {
      Op op;
      op.module = m;
      op.len = 1 + static_cast<uint32_t>(rng() % (3 * 4096));
      op.offset = rng() % ((*lengths)[m] - op.len + 1);
      op.seed = rng();
      ops.push_back(op);
    }
  }
  return ops;
}

// Reads every module of a session and compares with the model.
void ExpectSessionMatches(Session& s, const std::vector<Bytes>& want, const std::string& what) {
  for (int m = 0; m < kModules; m++) {
    auto len = s.MemoryLength(TestModuleId(m));
    ASSERT_TRUE(len.ok()) << what << " module " << m << ": " << len.status().ToString();
    ASSERT_EQ(*len, want[m].size()) << what << " module " << m;
    Bytes got(*len);
    ASSERT_OK(s.ReadMemory(TestModuleId(m), 0, got));
    if (got != want[m]) {
      size_t i = 0;
      while (got[i] == want[m][i]) i++;
      ADD_FAILURE() << what << " module " << m << ": first wrong byte at offset " << i << " (page " << i / 4096
                    << "): got " << int(got[i]) << " want " << int(want[m][i]);
    }
  }
}

// --- The registry of commits shared by the threads -------------------------

enum class CommitState { kLive, kDeleting, kDeleted };

struct Registry {
  struct Entry {
    std::shared_ptr<const ModelNode> node;
    CommitState state = CommitState::kLive;
    uint64_t order = 0;
  };
  std::mutex mu;
  std::map<Root, Entry> commits;
  std::vector<Root> order;  // every commit, in the order recorded
  Root shared_base;
  uint64_t next_order = 0;

  void Add(const Root& root, std::shared_ptr<const ModelNode> node) {
    std::lock_guard<std::mutex> l(mu);
    auto [it, inserted] = commits.try_emplace(root);
    if (!inserted) {
      // Random writes make equal states (hence equal roots) practically impossible.
      ADD_FAILURE() << "commit " << root.ToHex() << " recorded twice";
      return;
    }
    it->second.node = std::move(node);
    it->second.order = next_order++;
    order.push_back(root);
  }

  CommitState State(const Root& root) {
    std::lock_guard<std::mutex> l(mu);
    auto it = commits.find(root);
    return it == commits.end() ? CommitState::kLive : it->second.state;
  }

  std::vector<Root> Live() {
    std::lock_guard<std::mutex> l(mu);
    std::vector<Root> out;
    for (const Root& r : order)
      if (commits[r].state == CommitState::kLive) out.push_back(r);
    return out;
  }

  // A base for a new session: the shared base, the newest live commit, or a
  // random live one.
  bool PickBase(std::mt19937_64& rng, Root* root, std::shared_ptr<const ModelNode>* node) {
    std::lock_guard<std::mutex> l(mu);
    const uint64_t dice = rng() % 10;
    auto live = [&](const Root& r) { return commits.count(r) && commits[r].state == CommitState::kLive; };
    if (rng() % 16 == 0) {
      // Any commit ever made, perhaps being deleted or deleted already: the
      // session must then be refused (NotFound), or pin it in time.
      *root = order[rng() % order.size()];
    } else if (dice < 4 && live(shared_base)) {
      *root = shared_base;
    } else {
      std::vector<Root> cands;
      for (auto it = order.rbegin(); it != order.rend() && cands.size() < 6; ++it)
        if (live(*it)) cands.push_back(*it);
      if (cands.empty()) return false;
      *root = dice < 8 ? cands[0] : cands[rng() % cands.size()];
    }
    *node = commits[*root].node;
    return true;
  }

  // An old live commit to delete (never among the newest `keep`), marked
  // kDeleting. Deleting the shared base moves it to the newest commit.
  bool PickVictim(std::mt19937_64& rng, size_t keep, Root* victim) {
    std::lock_guard<std::mutex> l(mu);
    std::vector<Root> live;
    for (const Root& r : order)
      if (commits[r].state == CommitState::kLive) live.push_back(r);
    if (live.size() <= keep) return false;
    // Mostly the oldest (often the base of others); sometimes any old one.
    const size_t i = rng() % 3 == 0 ? rng() % (live.size() - keep) : 0;
    *victim = live[i];
    commits[*victim].state = CommitState::kDeleting;
    if (*victim == shared_base) shared_base = live.back();
    return true;
  }

  void Finish(const Root& root, CommitState state) {
    std::lock_guard<std::mutex> l(mu);
    commits[root].state = state;
  }
};

// The tracking mode of the running ConcurrencyTest (its parameter).
DirtyTracking concurrency_test_tracking = DirtyTracking::kAuto;

class ConcurrencyTest : public ::testing::TestWithParam<os::TrackingMode> {
 protected:
  void SetUp() override {
    if (GetParam() == os::TrackingMode::kExact && !os::ExactTrackingAvailable()) GTEST_SKIP() << "no exact tracking";
    concurrency_test_tracking = crust::testing::ToDirtyTracking(GetParam());
  }
  void TearDown() override { concurrency_test_tracking = DirtyTracking::kAuto; }
};

std::unique_ptr<Store> MustOpen(const std::string& dir, bool read_only = false) {
  StoreOptions opt;
  opt.dirty_tracking = concurrency_test_tracking;
  opt.sync = false;  // crash safety is crash_test's business; this one is about threads
  opt.read_only = read_only;
  auto s = Store::Open(dir, opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

Root CommitGenesis(Store& store) {
  auto g = store.StartGenesis();
  EXPECT_TRUE(g.ok());
  for (int m = 0; m < kModules; m++) {
    EXPECT_OK((*g)->AddModule(TestModuleId(m), GenesisBytecode(m), GenesisInit(m), kInitialLength));
  }
  auto r = (*g)->Commit();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Root{};
}

// The full stress: workers commit, one thread deletes, readers list/verify.
TEST_P(ConcurrencyTest, CommitDeleteVerifyUnderLoad) {
  const uint64_t seed = TestSeed();
  const double seconds = StressSeconds(GetParam() == os::TrackingMode::kExact ? 4.0 : 2.0);
  std::cout << "[ seed ] CRUST_TEST_SEED=" << seed << " (" << seconds << " s)\n";
  TempDir dir;
  const std::string path = dir.Sub("store");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  auto ro_store = MustOpen(path, /*read_only=*/true);
  ASSERT_NE(ro_store, nullptr);

  Registry reg;
  const Root genesis = CommitGenesis(*store);
  ASSERT_FALSE(HasFailure());
  reg.Add(genesis, nullptr);
  reg.shared_base = genesis;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  auto running = [&] { return std::chrono::steady_clock::now() < deadline; };
  constexpr int kWorkers = 4;
  std::atomic<int> workers_done{0};
  std::atomic<bool> deleter_done{false};
  std::atomic<int> commits{0}, start_refused{0}, deletes{0}, busy{0}, verifies{0}, ro_missing{0};

  auto worker = [&](int t) {
    std::mt19937_64 rng(seed * 31 + t);
    while (running() && !::testing::Test::HasFatalFailure()) {
      Root base;
      std::shared_ptr<const ModelNode> node;
      if (!reg.PickBase(rng, &base, &node)) continue;
      auto s = store->StartSession(base);
      if (!s.ok()) {
        // Only a commit being deleted may refuse a session.
        EXPECT_TRUE(s.status().IsNotFound()) << s.status().ToString();
        EXPECT_NE(reg.State(base), CommitState::kLive) << "session refused on live commit " << base.ToHex() << ": "
                                                       << s.status().ToString();
        start_refused++;
        continue;
      }
      if (reg.State(base) == CommitState::kDeleted) {
        ADD_FAILURE() << "session started on deleted commit " << base.ToHex();
        start_refused++;
        continue;
      }
      Session& session = **s;
      std::vector<uint64_t> lengths(kModules);
      for (int m = 0; m < kModules; m++) {
        auto len = session.MemoryLength(TestModuleId(m));
        ASSERT_TRUE(len.ok()) << len.status().ToString();
        lengths[m] = *len;
      }
      const int rounds = 1 + static_cast<int>(rng() % 3);
      for (int r = 0; r < rounds; r++) {
        std::vector<Op> ops = RandomOps(rng, &lengths);
        ApplyOps(session, ops);
        auto child = std::make_shared<ModelNode>();
        child->parent = node;
        child->ops = std::move(ops);
        if (rng() % 16 == 0) {
          // Occasionally check what the session sees before committing.
          ExpectSessionMatches(session, Replay(child), "session on " + base.ToHex());
        }
        auto root = session.Commit();
        ASSERT_TRUE(root.ok()) << "commit on " << base.ToHex() << ": " << root.status().ToString();
        reg.Add(*root, child);
        node = child;
        commits++;
      }
    }
    workers_done++;
  };

  auto deleter = [&] {
    std::mt19937_64 rng(seed * 31 + 100);
    int n = 0;
    // Runs while the workers do, then drains the store down to `keep`.
    for (;;) {
      const bool workers_running = workers_done.load() < kWorkers;
      Root victim;
      if (!reg.PickVictim(rng, /*keep=*/6, &victim)) {
        if (!workers_running) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const bool wait = n++ % 2 == 0;
      Status s = wait ? store->DeleteCommit(victim) : store->TryDeleteCommit(victim);
      if (s.ok()) {
        reg.Finish(victim, CommitState::kDeleted);
        deletes++;
      } else if (!wait && s.IsBusy()) {
        reg.Finish(victim, CommitState::kLive);
        busy++;
      } else {
        reg.Finish(victim, CommitState::kLive);
        ADD_FAILURE() << (wait ? "DeleteCommit " : "TryDeleteCommit ") << victim.ToHex() << ": " << s.ToString();
      }
    }
    deleter_done = true;
  };

  // Readers: through the writing store (pins, so a commit can only vanish
  // before the pin: NotFound) and through a read-only store beside it (no
  // pins shared with the writer: the commit may vanish while being read, and
  // must then be reported NotFound, never Corruption).
  auto reader = [&](Store* st, bool read_only) {
    std::mt19937_64 rng(seed * 31 + (read_only ? 201 : 200));
    while (!deleter_done.load()) {
      auto list = st->ListCommits();
      ASSERT_TRUE(list.ok()) << list.status().ToString();
      if (list->empty()) continue;
      const Root r = (*list)[rng() % list->size()].root;
      Status v = st->VerifyCommit(r);
      verifies++;
      if (!v.ok()) {
        const CommitState state = reg.State(r);
        if (state != CommitState::kLive && v.IsNotFound()) {
          if (read_only) ro_missing++;
        } else {
          ADD_FAILURE() << (read_only ? "read-only " : "") << "VerifyCommit " << r.ToHex() << " (state "
                        << static_cast<int>(state) << "): " << v.ToString();
        }
      }
      auto info = st->ShowCommit(r);
      if (!info.ok()) {
        EXPECT_TRUE(info.status().IsNotFound() && reg.State(r) != CommitState::kLive) << info.status().ToString();
      } else {
        EXPECT_EQ(info->modules.size(), size_t{kModules});
      }
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; t++) threads.emplace_back(worker, t);
  threads.emplace_back(deleter);
  threads.emplace_back(reader, store.get(), false);
  threads.emplace_back(reader, ro_store.get(), true);
  for (auto& th : threads) th.join();
  std::cout << "[ stats ] commits=" << commits << " deletes=" << deletes << " try-busy=" << busy
            << " sessions-refused=" << start_refused << " verifies=" << verifies
            << " read-only-saw-deleted=" << ro_missing << "\n";
  ASSERT_FALSE(HasFailure());
  EXPECT_GT(commits.load(), kWorkers);
  EXPECT_GT(deletes.load(), 0);

  // Exactly the commits not deleted remain, each verifies and holds its model.
  auto check_final = [&](Store& st) {
    const auto t0 = std::chrono::steady_clock::now();
    std::set<Root> want;
    for (const Root& r : reg.Live()) want.insert(r);
    auto list = st.ListCommits();
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    std::set<Root> have;
    for (const CommitInfo& c : *list) have.insert(c.root);
    for (const Root& r : want) EXPECT_TRUE(have.count(r)) << "commit lost: " << r.ToHex();
    for (const Root& r : have) {
      EXPECT_TRUE(want.count(r)) << "unexpected commit (deleted or never returned): " << r.ToHex();
    }
    for (const Root& r : want) {
      EXPECT_OK(st.VerifyCommit(r));
      auto s = st.StartSession(r);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      std::shared_ptr<const ModelNode> node;
      {
        std::lock_guard<std::mutex> l(reg.mu);
        node = reg.commits[r].node;
      }
      ExpectSessionMatches(**s, Replay(node), "commit " + r.ToHex());
      for (int m = 0; m < kModules; m++) {
        auto bc = (*s)->Bytecode(TestModuleId(m));
        ASSERT_TRUE(bc.ok()) << bc.status().ToString();
        EXPECT_EQ(*bc, GenesisBytecode(m));
      }
    }
    std::cout << "[ final ] " << want.size() << " commits checked in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  };
  check_final(*store);
  ro_store.reset();
  store.reset();
  // And again after reopening.
  store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  check_final(*store);
}

// Many sessions from one base, each writing different bytes to the same
// pages, commit at the same moment: independent commits, each with its own
// contents, and the base unchanged. Sessions writing identical bytes commit
// the same root: both succeed and one directory holds it.
TEST_P(ConcurrencyTest, SessionsFromOneBaseCommitIndependently) {
  TempDir dir;
  auto store = MustOpen(dir.Sub("store"));
  ASSERT_NE(store, nullptr);
  const Root base = CommitGenesis(*store);
  ASSERT_FALSE(HasFailure());
  constexpr int kThreads = 4;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; round++) {
    // Threads 0,1 write the same bytes (same state); 2,3 write their own.
    std::vector<Root> roots(kThreads);
    std::barrier sync(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
      threads.emplace_back([&, t] {
        auto s = store->StartSession(base);
        sync.arrive_and_wait();
        if (!s.ok()) {
          ADD_FAILURE() << s.status().ToString();
          sync.arrive_and_wait();
          return;
        }
        const uint64_t who = t < 2 ? 0 : t;
        for (int p = 0; p < 8; p++) {
          EXPECT_OK((*s)->WriteMemory(TestModuleId(p % 3), p * 3 * 4096 + 100, Pattern(round * 100 + who * 10 + p, 5000)));
        }
        sync.arrive_and_wait();  // commit together
        auto r = (*s)->Commit();
        if (!r.ok()) {
          ADD_FAILURE() << "thread " << t << ": " << r.status().ToString();
          return;
        }
        roots[t] = *r;
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(roots[0], roots[1]) << "same state, same root";
    std::set<Root> distinct(roots.begin(), roots.end());
    EXPECT_EQ(distinct.size(), size_t{kThreads - 1});
    EXPECT_FALSE(distinct.count(base));
    for (int t = 1; t < kThreads; t++) {
      ASSERT_OK(store->VerifyCommit(roots[t]));
      ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(roots[t]));
      const uint64_t who = t < 2 ? 0 : t;
      for (int p = 0; p < 8; p++) {
        Bytes got(5000);
        ASSERT_OK(s->ReadMemory(TestModuleId(p % 3), p * 3 * 4096 + 100, got));
        EXPECT_EQ(got, Pattern(round * 100 + who * 10 + p, 5000)) << "round " << round << " thread " << t;
      }
    }
    // Next round starts from the same base: delete this round's commits, the
    // shared one included, with TryDelete first (no sessions: never Busy).
    for (const Root& r : distinct) ASSERT_OK(store->TryDeleteCommit(r));
  }
  ASSERT_OK(store->VerifyCommit(base));
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(base));
  for (int m = 0; m < 3; m++) {
    Bytes got(kInitialLength);
    ASSERT_OK(s->ReadMemory(TestModuleId(m), 0, got));
    Bytes want(kInitialLength, 0);
    Bytes init = GenesisInit(m);
    std::memcpy(want.data(), init.data(), init.size());
    EXPECT_EQ(got, want) << "base modified, module " << m;
  }
  auto list = store->ListCommits();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

// DeleteCommit blocks while a session in another thread pins the commit, and
// proceeds once it ends; commits made by that session from the doomed base
// survive it.
TEST_P(ConcurrencyTest, DeleteWaitsForSessionInAnotherThread) {
  TempDir dir;
  auto store = MustOpen(dir.Sub("store"));
  ASSERT_NE(store, nullptr);
  const Root base = CommitGenesis(*store);
  ASSERT_FALSE(HasFailure());
  ASSERT_OK_AND_ASSIGN(auto s, store->StartSession(base));
  std::atomic<bool> deleted{false};
  std::thread deleter([&] {
    EXPECT_OK(store->DeleteCommit(base));
    deleted = true;
  });
  // The deleter cannot finish while `s` pins the base, whenever it started.
  ASSERT_OK(s->WriteMemory(TestModuleId(1), 4096, Pattern(7, 4096)));
  ASSERT_OK_AND_ASSIGN(Root child, s->Commit());
  EXPECT_FALSE(deleted.load()) << "DeleteCommit returned while a session pinned the commit";
  ASSERT_OK(s->WriteMemory(TestModuleId(2), 8192, Pattern(8, 4096)));
  ASSERT_OK_AND_ASSIGN(Root child2, s->Commit());
  EXPECT_FALSE(deleted.load());
  s.reset();
  deleter.join();
  EXPECT_TRUE(deleted.load());
  EXPECT_TRUE(store->StartSession(base).status().IsNotFound());
  ASSERT_OK(store->VerifyCommit(child));
  ASSERT_OK(store->VerifyCommit(child2));
  ASSERT_OK_AND_ASSIGN(auto s2, store->StartSession(child2));
  Bytes got(4096);
  ASSERT_OK(s2->ReadMemory(TestModuleId(1), 4096, got));
  EXPECT_EQ(got, Pattern(7, 4096));
  ASSERT_OK(s2->ReadMemory(TestModuleId(2), 8192, got));
  EXPECT_EQ(got, Pattern(8, 4096));
}

// A read-only store (e.g. `crust verify` beside a running writer) verifying
// a commit that the writer deletes meanwhile must say NotFound (store.h), not
// report corruption. Deterministic: the deletion happens from inside the
// reader's Env at each step of the verification in turn.
class DeleteDuringCallEnv : public os::EnvWrapper {
 public:
  DeleteDuringCallEnv() : EnvWrapper(os::Env::Default()) {}
  std::function<void()> hook;  // runs once, at call number `at`
  int at = 0;
  int calls = 0;
  void Maybe() {
    if (++calls == at && hook) hook();
  }
  Result<std::unique_ptr<os::RandomAccessFile>> OpenReadable(const std::string& p) override {
    Maybe();
    return EnvWrapper::OpenReadable(p);
  }
  Result<Bytes> ReadFile(const std::string& p, uint64_t max) override {
    Maybe();
    return EnvWrapper::ReadFile(p, max);
  }
  Result<std::vector<std::string>> ListDir(const std::string& p) override {
    Maybe();
    return EnvWrapper::ListDir(p);
  }
  Result<os::FileInfo> Stat(const std::string& p) override {
    Maybe();
    return EnvWrapper::Stat(p);
  }
};

TEST(ConcurrencyReadOnly, VerifyOfCommitDeletedMeanwhileSaysNotFound) {
  for (int at = 1;; at++) {
    SCOPED_TRACE("deleted at reader call " + std::to_string(at));
    TempDir dir;
    const std::string path = dir.Sub("store");
    auto writer = MustOpen(path);
    ASSERT_NE(writer, nullptr);
    const Root genesis = CommitGenesis(*writer);
    ASSERT_OK_AND_ASSIGN(auto s, writer->StartSession(genesis));
    ASSERT_OK(s->WriteMemory(TestModuleId(1), 4096, Pattern(1, 100)));
    ASSERT_OK_AND_ASSIGN(Root root, s->Commit());
    s.reset();
    DeleteDuringCallEnv env;
    env.hook = [&] { EXPECT_OK(writer->DeleteCommit(root)); };
    StoreOptions ro;
    ro.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto reader, store::OpenWithEnv(path, ro, &env));
    env.calls = 0;
    env.at = at;  // counted from here: the verification's calls only
    Status v = reader->VerifyCommit(root);
    if (env.calls < at) {
      EXPECT_OK(v);  // verification finished before the deletion point: all steps covered
      break;
    }
    EXPECT_TRUE(v.ok() || v.IsNotFound()) << v.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Concurrency, ConcurrencyTest,
                         ::testing::Values(os::TrackingMode::kExact, os::TrackingMode::kPagemap),
                         [](const auto& info) {
                           return std::string(info.param == os::TrackingMode::kExact ? "Exact" : "Pagemap");
                         });

}  // namespace
}  // namespace crust
