// Copyright (c) crust authors. Licensed under the MIT license.
//
// A process that may not open a userfaultfd taking kernel faults — an
// unprivileged process while vm.unprivileged_userfaultfd = 0 (Debian's
// default) — fills lazily from user-mode faults only; one that may open none
// (a container whose seccomp profile blocks the call) maps memories eagerly.
// Either way sessions on commits with delta layers read, write and commit
// the same bytes and roots as a process that fills lazily with kernel
// faults.
//
// The restricted process is this test binary again (fork, a seccomp filter
// refusing with EPERM userfaultfd without UFFD_USER_MODE_ONLY — exactly what
// the kernel's policy does to an unprivileged process — or every
// userfaultfd, then exec), so that no process-wide state (the fill thread,
// the write tracker) is inherited.
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/lazy_fill.h"
#include "src/os/linux_uapi.h"
#include "tests/child_process.h"
#include "tests/test_util.h"

namespace crust::store {
namespace {

using crust::testing::TempDir;
constexpr uint64_t kKiB = 1024;
constexpr char kChildDirEnv[] = "CRUST_TEST_NO_KERNEL_UFFD_DIR";
constexpr char kChildPolicyEnv[] = "CRUST_TEST_NO_KERNEL_UFFD_POLICY";  // "user-mode" or "none"
constexpr char kTestName[] = "NoKernelUserfaultfd.SameRootsWithUserModeFaultsOrEagerMapping";

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[31] = n;
  return id;
}

// Commits a history whose later sessions open memories held in delta layers
// (what lazy filling serves), checks every byte read against a model, and
// returns the roots, one per line, or the first failure.
Result<std::string> RunHistory(const std::string& dir) {
  StoreOptions opt;
  opt.sync = false;
  ASSIGN_OR_RETURN(auto store, Store::Open(dir + "/store", opt));
  std::mt19937 rng(11);
  Bytes model(192 * kKiB);
  for (auto& b : model) b = static_cast<uint8_t>(rng() % 3 == 0 ? rng() : 0);
  ASSIGN_OR_RETURN(auto g, store->StartGenesis());
  RETURN_IF_ERROR(g->AddModule(Id(1), Bytes{1, 2, 3}, model, 256 * kKiB));
  ASSIGN_OR_RETURN(Root root, g->Commit());
  g.reset();
  model.resize(256 * kKiB, 0);
  std::string roots = root.ToHex() + "\n";
  for (int c = 0; c < 8; c++) {
    ASSIGN_OR_RETURN(auto s, store->StartSession(root));
    Bytes got(model.size());
    RETURN_IF_ERROR(s->ReadMemory(Id(1), 0, got));
    if (got != model) return Status::Corruption("session " + std::to_string(c) + " read other bytes than committed");
    for (int w = 0; w < 12; w++) {
      const uint64_t off = rng() % (model.size() - 64);
      Bytes data(1 + rng() % 64);
      for (auto& b : data) b = static_cast<uint8_t>(rng());
      RETURN_IF_ERROR(s->WriteMemory(Id(1), off, data));
      std::memcpy(model.data() + off, data.data(), data.size());
    }
    ASSIGN_OR_RETURN(root, s->Commit());
    roots += root.ToHex() + "\n";
  }
  return roots;
}

// In the child, before exec: refuse userfaultfd(2) with EPERM, unless the
// caller asks for user-mode faults only (policy "user-mode").
int RefuseUserfaultfd(void* user_mode) {
  return crust::testing::RefuseSyscall(SYS_userfaultfd, *static_cast<bool*>(user_mode) ? UFFD_USER_MODE_ONLY : 0u)
             ? 0
             : 90;
}

TEST(NoKernelUserfaultfd, SameRootsWithUserModeFaultsOrEagerMapping) {
  if (const char* child_dir = std::getenv(kChildDirEnv)) {
    // The restricted process.
    const bool user_mode = std::string(std::getenv(kChildPolicyEnv)) == "user-mode";
    const Status lazy = os::LazyFillStatus();
    if (user_mode) {
      ASSERT_OK(lazy);
      EXPECT_TRUE(os::LazyFillUserModeOnly());
    } else {
      ASSERT_EQ(lazy.code(), Status::Code::kNotSupported) << lazy.ToString();
      EXPECT_NE(lazy.ToString().find("mapped eagerly"), std::string::npos) << lazy.ToString();
    }
    ASSERT_OK_AND_ASSIGN(std::string roots, RunHistory(child_dir));
    std::ofstream(std::string(child_dir) + "/roots") << roots;
    return;
  }
  TempDir here;
  ASSERT_OK_AND_ASSIGN(std::string roots, RunHistory(here.path()));
  for (bool user_mode : {true, false}) {
    SCOPED_TRACE(user_mode ? "userfaultfd for user-mode faults only" : "no userfaultfd");
    TempDir there;
    const int status = crust::testing::RunTestInChild(
        kTestName,
        {std::string(kChildDirEnv) + "=" + there.path(),
         std::string(kChildPolicyEnv) + "=" + (user_mode ? "user-mode" : "none")},
        &RefuseUserfaultfd, &user_mode);
    if (status == 90) GTEST_SKIP() << "no seccomp filter on this architecture or kernel";
    ASSERT_EQ(status, 0) << "the restricted child failed (its output is above)";
    std::stringstream theirs;
    theirs << std::ifstream(there.Sub("roots")).rdbuf();
    EXPECT_EQ(theirs.str(), roots);
  }
}

}  // namespace
}  // namespace crust::store
