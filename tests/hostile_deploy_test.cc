// Copyright (c) crust authors. Licensed under the MIT license.
//
// Attacks on deploy through the public API (issue 15): crafted modules that
// once made a deploy allocate until the OOM killer fired, recurse until
// SIGSEGV, abort with std::bad_alloc or run for minutes. Each deploy runs in
// a forked child whose address space is capped (RLIMIT_AS: what it already
// uses plus 1 GiB), so a regression fails this test instead of exhausting
// the machine; the child reports the deploy's status on a pipe. No timing
// assertions: the attacks must simply complete with a clear error.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "crust/vm.h"
#include "tests/hostile_modules.h"
#include "tests/test_util.h"

namespace crust {
namespace {

namespace h = crust::hostile;

constexpr uint64_t kHeadroom = uint64_t{1} << 30;

uint64_t AddressSpaceInUse() {
  unsigned long pages = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f != nullptr) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return uint64_t{pages} * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

struct Outcome {
  int exit_code = -1;  // of the child; 0 when it reported a status
  int signal = 0;      // that killed it, if any
  Status::Code code = Status::Code::kOk;
  std::string message;
};

// Deploys `wasm` (twice: the second answer comes from the remembered
// rejection) in a child with capped memory.
Outcome DeployInChild(const std::string& dir, const Bytes& wasm) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto report = [&](int code, const std::string& msg) {
      std::string out = std::to_string(code) + " " + msg;
      (void)!::write(fds[1], out.data(), out.size());
      ::_exit(0);
    };
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    auto vm = Vm::Open(dir, o);
    if (!vm.ok()) report(-1, vm.status().ToString());
    auto session = (*vm)->StartGenesis();
    if (!session.ok()) report(-1, session.status().ToString());
    const uint64_t cap = AddressSpaceInUse() + kHeadroom;
    struct rlimit as = {cap, cap};
    ::setrlimit(RLIMIT_AS, &as);
    Result<ModuleId> first = (*session)->Deploy(wasm);
    Result<ModuleId> second = (*session)->Deploy(wasm);
    if (first.ok() || second.ok()) report(0, "deployed");
    if (first.status().ToString() != second.status().ToString()) {
      report(-1, "second deploy differs: " + second.status().ToString());
    }
    report(static_cast<int>(first.status().code()), std::string(first.status().message()));
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome out;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  const size_t space = text.find(' ');
  if (space != std::string::npos) {
    out.code = static_cast<Status::Code>(std::stoi(text.substr(0, space)));
    out.message = text.substr(space + 1);
  }
  return out;
}

class HostileDeployTest : public ::testing::Test {
 protected:
  void Expect(const Bytes& wasm, Status::Code code, const std::string& needle) {
    const Outcome o = DeployInChild(dir_.Sub("store" + std::to_string(n_++)), wasm);
    ASSERT_EQ(o.signal, 0) << "deploy killed the process";
    ASSERT_EQ(o.exit_code, 0);
    EXPECT_EQ(o.code, code) << o.message;
    EXPECT_NE(o.message.find(needle), std::string::npos) << o.message;
  }
  testing::TempDir dir_;
  int n_ = 0;
};

TEST_F(HostileDeployTest, HugeLocalCounts) {
  Expect(h::ManyLocals({{0x0FFFFFFF, h::kI32}}), Status::Code::kResourceExhausted, "(locals per function)");
  Expect(h::ManyLocals({{16u << 20, h::kI32}}), Status::Code::kResourceExhausted, "16777216 locals");
  Expect(h::ManyLocals({{0x7FFFFFFF, h::kI32}, {0x7FFFFFFF, h::kI32}}), Status::Code::kResourceExhausted,
         "(locals per function)");
}

TEST_F(HostileDeployTest, DeepNesting) {
  Expect(h::Nested(20000, 0x02), Status::Code::kResourceExhausted, "(block nesting depth)");
  Expect(h::Nested(14000, 0x03), Status::Code::kResourceExhausted, "(block nesting depth)");
}

TEST_F(HostileDeployTest, ManyFunctionsExportsAndInstructions) {
  Expect(h::ManyFunctions(100000), Status::Code::kResourceExhausted, "(functions)");
  Expect(h::ManyExports(100000), Status::Code::kResourceExhausted, "(exports)");
  Expect(h::ManyInstructions(2000001), Status::Code::kResourceExhausted, "(instructions)");
}

TEST_F(HostileDeployTest, ModulesNoInstantiationCouldUse) {
  Expect(h::DataCountWithoutData(1), Status::Code::kInvalidModule, "no data section");
  Expect(h::Table(0xFFFFFFFFu), Status::Code::kInvalidModule, "initial size of 4294967295 entries");
  Expect(h::ElementsPastTable(1, 0, 2), Status::Code::kInvalidModule, "does not fit in table 0 of 1 entries");
}

}  // namespace
}  // namespace crust
