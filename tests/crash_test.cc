// Copyright (c) crust authors. Licensed under the MIT license.
//
// Crash safety: a child process (this test binary, re-executed on a hidden
// test) opens a store with sync = true and commits in a loop — sessions on
// the newest commit, a few modules, random pages, some growth, new modules
// now and then, deletion of old commits — announcing its progress on a pipe.
// The parent kills it with SIGKILL at a random moment (1-50 ms after it
// reported ready, or after it started, to hit Open and recovery too), then
// checks the store:
//  * it opens for writing (the kernel released the lock);
//  * after Open only commit directories (64 hex), LOCK and FORMAT remain:
//    leftovers of interrupted commits and deletions are gone;
//  * every commit ever seen (announced by the child, or listed after an
//    earlier kill) is still listed unless the child announced its deletion,
//    and a deletion the child reported finished is never undone;
//  * every listed commit verifies, and an announced commit holds the
//    sequence number the child wrote into it.
// Seeded (CRUST_TEST_SEED); the seed is printed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using testing::IsRootName;
using testing::kMiB;
using testing::kWasmPage;
using testing::ListNames;
using testing::Pattern;
using testing::TempDir;
using testing::TestModuleId;

constexpr char kStoreEnv[] = "CRUST_CRASH_CHILD_STORE";
constexpr char kFdEnv[] = "CRUST_CRASH_CHILD_FD";
constexpr char kSeedEnv[] = "CRUST_CRASH_CHILD_SEED";
constexpr char kChildTest[] = "CrashTest.DISABLED_ChildCommitLoop";
constexpr int kKills = 60;
constexpr uint64_t kMaxLength = 4 * kMiB;

// --- The child -------------------------------------------------------------

class Announcer {
 public:
  explicit Announcer(int fd) : fd_(fd) {}
  void Say(const std::string& line) {
    std::string l = line + "\n";
    // Lines are short (< PIPE_BUF): each write is atomic.
    if (::write(fd_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) _exit(3);
  }
  [[noreturn]] void Fail(const std::string& what, const Status& s) {
    Say("E " + what + ": " + s.ToString());
    _exit(2);
  }

 private:
  int fd_;
};

// Commits forever; only SIGKILL (or the parent's death) ends it.
[[noreturn]] void ChildMain(const std::string& dir, int fd, uint64_t seed) {
  Announcer out(fd);
  std::mt19937_64 rng(seed);
  // Every other child takes the large-commit path (staging and encoding
  // beside the hashing, before the root is known) for every commit.
  StoreOptions opt;
  if (seed % 2) opt.parallel_commit_pages = 1;
  opt.sync = true;
  auto store_or = Store::Open(dir, opt);
  if (!store_or.ok()) out.Fail("open", store_or.status());
  std::unique_ptr<Store> store = std::move(store_or).value();
  out.Say("R");
  uint64_t seq = (seed & 0xFFFF) << 32;
  for (;;) {
    auto list = store->ListCommits();
    if (!list.ok()) out.Fail("list", list.status());
    std::unique_ptr<Session> session;
    if (list->empty()) {
      auto g = store->StartGenesis();
      if (!g.ok()) out.Fail("genesis", g.status());
      session = std::move(g).value();
      for (uint32_t m = 0; m < 3; m++) {
        Status s = session->AddModule(TestModuleId(m), Pattern(m, 64 + m), Pattern(100 + m, 5000),
                                      (m + 1) * 4 * kWasmPage);
        if (!s.ok()) out.Fail("add module", s);
      }
    } else {
      auto s = store->StartSession(list->back().root);
      if (!s.ok()) out.Fail("start session on " + list->back().root.ToHex(), s.status());
      session = std::move(s).value();
    }
    const int commits = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < commits; c++) {
      std::vector<ModuleId> mods = session->Modules();
      const int touched = 1 + static_cast<int>(rng() % 2);
      for (int t = 0; t < touched; t++) {
        const ModuleId id = mods[rng() % mods.size()];
        auto len = session->MemoryLength(id);
        if (!len.ok()) out.Fail("length", len.status());
        uint64_t length = *len;
        if (rng() % 6 == 0 && length + kWasmPage <= kMaxLength) {
          length += kWasmPage * (1 + rng() % 4);
          if (length > kMaxLength) length = kMaxLength;
          Status s = session->GrowMemory(id, length);
          if (!s.ok()) out.Fail("grow", s);
        }
        const int pages = 1 + static_cast<int>(rng() % 24);
        for (int p = 0; p < pages; p++) {
          const uint64_t page = rng() % (length / 4096);
          Status s = session->WriteMemory(id, page * 4096, Pattern(rng(), 4096));
          if (!s.ok()) out.Fail("write", s);
        }
      }
      if (rng() % 20 == 0 && mods.size() < 6) {
        const ModuleId id = TestModuleId(static_cast<uint32_t>(mods.size()));
        Status s = session->AddModule(id, Pattern(rng(), 300), Pattern(rng(), 70000), 2 * kWasmPage);
        if (!s.ok()) out.Fail("add module", s);
      }
      ++seq;
      uint8_t seq_bytes[8];
      std::memcpy(seq_bytes, &seq, 8);
      Status s = session->WriteMemory(TestModuleId(0), 0, ByteView(seq_bytes, 8));
      if (!s.ok()) out.Fail("write seq", s);
      auto root = session->Commit();
      if (!root.ok()) out.Fail("commit", root.status());
      out.Say("C " + root->ToHex() + " " + std::to_string(seq));
    }
    session.reset();
    // Keep the store small: delete the oldest commits (often the base of the
    // newer ones) beyond 6.
    list = store->ListCommits();
    if (!list.ok()) out.Fail("list", list.status());
    for (size_t i = 0; i + 6 < list->size(); i++) {
      const Root victim = (*list)[i].root;
      out.Say("D " + victim.ToHex());
      Status s = rng() % 2 ? store->DeleteCommit(victim) : store->TryDeleteCommit(victim);
      if (!s.ok()) out.Fail("delete " + victim.ToHex(), s);
      out.Say("X " + victim.ToHex());
    }
  }
}

// Runs only when re-executed by the parent test below.
TEST(CrashTest, DISABLED_ChildCommitLoop) {
  const char* dir = std::getenv(kStoreEnv);
  const char* fd = std::getenv(kFdEnv);
  const char* seed = std::getenv(kSeedEnv);
  if (!dir || !fd || !seed) GTEST_SKIP() << "only run as the crash test's child";
  ChildMain(dir, std::atoi(fd), std::strtoull(seed, nullptr, 10));
}

// --- The parent ------------------------------------------------------------

uint64_t TestSeed() {
  const char* v = std::getenv("CRUST_TEST_SEED");
  if (v && *v) return std::strtoull(v, nullptr, 10);
  return std::random_device{}();
}

struct Child {
  pid_t pid = -1;
  int fd = -1;  // read end of the progress pipe
};

Child Spawn(const std::string& dir, uint64_t seed) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int wfd = ::dup(p[1]);  // without O_CLOEXEC: survives exec
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);  // the child's gtest chatter
    ::setenv(kStoreEnv, dir.c_str(), 1);
    ::setenv(kFdEnv, std::to_string(wfd).c_str(), 1);
    ::setenv(kSeedEnv, std::to_string(seed).c_str(), 1);
    std::string filter = std::string("--gtest_filter=") + kChildTest;
    char* argv[] = {const_cast<char*>("crust_tests"), filter.data(),
                    const_cast<char*>("--gtest_also_run_disabled_tests"), nullptr};
    ::execv("/proc/self/exe", argv);
    _exit(127);
  }
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    return {};
  }
  return Child{pid, p[0]};
}

// Reads whatever the child wrote, appending complete lines to *lines. With
// timeout_ms < 0, reads until EOF. Returns false on EOF.
bool ReadLines(int fd, int timeout_ms, std::string* buf, std::vector<std::string>* lines) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int wait = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      wait = static_cast<int>(left.count());
    }
    pollfd pfd{fd, POLLIN, 0};
    int n = ::poll(&pfd, 1, wait);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    char tmp[4096];
    ssize_t got = ::read(fd, tmp, sizeof(tmp));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buf->append(tmp, static_cast<size_t>(got));
    size_t nl;
    while ((nl = buf->find('\n')) != std::string::npos) {
      lines->push_back(buf->substr(0, nl));
      buf->erase(0, nl + 1);
    }
  }
}

TEST(CrashTest, KillDuringCommitLoop) {
  const uint64_t seed = TestSeed();
  std::cout << "[ seed ] CRUST_TEST_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const std::string dir = tmp.Sub("store");

  // The oracle. `known`: commits that exist and may only disappear through an
  // announced deletion; value: the sequence number written, 0 if unknown.
  std::map<Root, uint64_t> known;
  std::set<Root> deletion_started, deletion_done;
  int kills_mid_commit = 0, kills_mid_delete = 0, kills_before_ready = 0, total_commits = 0, total_deletes = 0;

  for (int kill = 0; kill < kKills; kill++) {
    const bool early = kill % 6 == 0;  // measure the delay from the start: hit Open/recovery
    const int delay_ms = 1 + static_cast<int>(rng() % 50);
    Child child = Spawn(dir, seed + kill);
    ASSERT_GT(child.pid, 0) << "fork failed";
    std::string buf;
    std::vector<std::string> lines;
    bool eof = false;
    if (!early) {
      // Wait for "R" (bounded: a child that never gets ready fails below).
      for (int i = 0; i < 300 && !eof; i++) {
        eof = !ReadLines(child.fd, 100, &buf, &lines);
        if (!lines.empty()) break;
      }
    }
    if (!eof) eof = !ReadLines(child.fd, delay_ms, &buf, &lines);
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
    if (!eof) ReadLines(child.fd, -1, &buf, &lines);  // what it wrote before dying
    ::close(child.fd);
    const std::string where = "kill " + std::to_string(kill) + " (delay " + std::to_string(delay_ms) + " ms" +
                              (early ? " from start" : " from ready") + ", child seed " +
                              std::to_string(seed + kill) + ")";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << where << ": the child ended by itself (status " << status << "): "
        << (lines.empty() ? std::string("no output") : lines.back());

    bool ready = false;
    for (const std::string& line : lines) {
      std::istringstream in(line);
      std::string tag, hex;
      in >> tag >> hex;
      if (tag == "R") {
        ready = true;
        continue;
      }
      ASSERT_NE(tag, "E") << where << ": child failed: " << line;
      auto root = Root::FromHex(hex);
      ASSERT_TRUE(root.ok()) << where << ": bad line from child: " << line;
      if (tag == "C") {
        uint64_t seq = 0;
        in >> seq;
        known[*root] = seq;
        total_commits++;
      } else if (tag == "D") {
        deletion_started.insert(*root);
      } else if (tag == "X") {
        deletion_done.insert(*root);
        total_deletes++;
      }
    }
    if (!ready) kills_before_ready++;

    // Before Open: what the kill left behind (for the statistics only).
    bool staging = false, deleting = false;
    for (const std::string& name : ListNames(dir + "/.pending")) {
      if (name.rfind("staging-", 0) == 0) staging = true;
      if (name.rfind("deleting-", 0) == 0) deleting = true;
    }
    kills_mid_commit += staging;
    kills_mid_delete += deleting;

    {
      auto store_or = Store::Open(dir);  // write mode: takes the lock, recovers
      ASSERT_TRUE(store_or.ok()) << where << ": " << store_or.status().ToString();
      Store& store = **store_or;
      for (const std::string& name : ListNames(dir)) {
        EXPECT_TRUE(IsRootName(name) || name == "LOCK" || name == "FORMAT" || name == ".pending")
            << where << ": leftover after Open: " << name;
      }
      for (const std::string& name : ListNames(dir + "/.pending")) {
        ADD_FAILURE() << where << ": leftover after Open: .pending/" << name;
      }
      auto list = store.ListCommits();
      ASSERT_TRUE(list.ok()) << where << ": " << list.status().ToString();
      std::set<Root> listed;
      for (const CommitInfo& c : *list) listed.insert(c.root);
      for (const auto& [root, seq] : known) {
        if (deletion_started.count(root)) continue;
        EXPECT_TRUE(listed.count(root)) << where << ": commit lost: " << root.ToHex();
      }
      for (const Root& r : deletion_done) {
        EXPECT_FALSE(listed.count(r)) << where << ": deleted commit came back: " << r.ToHex();
      }
      for (const Root& r : listed) {
        Status v = store.VerifyCommit(r);
        EXPECT_TRUE(v.ok()) << where << ": " << v.ToString();
        auto it = known.find(r);
        if (it != known.end() && it->second != 0 && v.ok()) {
          auto s = store.StartSession(r);
          ASSERT_TRUE(s.ok()) << where << ": " << s.status().ToString();
          uint64_t seq = 0;
          uint8_t b[8];
          ASSERT_OK((*s)->ReadMemory(TestModuleId(0), 0, b));
          std::memcpy(&seq, b, 8);
          EXPECT_EQ(seq, it->second) << where << ": commit " << r.ToHex() << " holds another state";
        }
        known.emplace(r, 0);  // listed now: must stay unless deleted
      }
      // A commit whose deletion started but was interrupted either survived
      // whole (and stays known) or is gone for good.
      for (auto it = known.begin(); it != known.end();) {
        if (deletion_started.count(it->first) && !listed.count(it->first)) {
          deletion_done.insert(it->first);
          it = known.erase(it);
        } else {
          ++it;
        }
      }
      deletion_started.clear();
    }
    ASSERT_FALSE(HasFailure()) << where;
  }
  std::cout << "[ stats ] kills=" << kKills << " commits=" << total_commits << " deletes=" << total_deletes
            << " kills-leaving-staging=" << kills_mid_commit << " kills-leaving-deleting=" << kills_mid_delete
            << " kills-before-ready=" << kills_before_ready << " commits-at-end=" << known.size() << "\n";
  EXPECT_GT(total_commits, 0);
}

}  // namespace
}  // namespace crust
