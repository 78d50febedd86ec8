// Copyright (c) crust authors. Licensed under the MIT license.
//
// Determinism under any native stack: a recursion whose wasm frames are
// large (2,000 i64 values live across each recursive call) gives the same
// status, data and gas up to and past the call-depth limit, whatever the
// host's `ulimit -s` (child processes of this binary) or the thread it runs
// on (a thread with a 256 KiB stack). A recursion whose wasm frame is near
// the deploy bound (module_limits.h max_frame_bytes) deploys and gives the
// same results on the fast tier (tcc), -O0 and -O2, under every stack limit;
// one over the bound is refused at deploy, by the wasm alone, and one at it
// deploys under every tier setting (heavy modules, compiler.h). Also: the
// limits Vm::Open accepts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "crust/vm.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;
using vmtest::U32;
using vmtest::Wat;

constexpr int kLive = 2000;  // i64 values live across each recursive call

// (rec n): n == 0 -> 0; else computes `live` values from n into locals and
// pushes `stacked` more on the operand stack, recurses with n - 1 and folds
// every value into the result. Its wasm frame is 8 x (3 + live + stacked + 2)
// bytes (param and locals, then the operand stack at the call).
std::string DeepFrameContract(int live = kLive, int stacked = 0) {
  std::string s =
      "(module (memory (export \"memory\") 2 16) (global $A (export \"A\") i32 (i32.const 65536))"
      " (func $rec (param $n i32) (result i64) (local $x i64) (local $r i64)";
  for (int i = 0; i < live; ++i) s += " (local $v" + std::to_string(i) + " i64)";
  s += " (if (i32.eqz (local.get $n)) (then (return (i64.const 0))))";
  s += " (local.set $x (i64.extend_i32_u (local.get $n)))";
  for (int i = 0; i < live; ++i) {
    s += " (local.set $v" + std::to_string(i) + " (i64.mul (local.get $x) (i64.const " + std::to_string(2 * i + 3) +
         ")))";
  }
  for (int i = 0; i < stacked; ++i) s += " (i64.add (local.get $x) (i64.const " + std::to_string(i) + "))";
  s += " (local.set $r (call $rec (i32.sub (local.get $n) (i32.const 1))))";
  for (int i = 0; i < stacked; ++i) s += " (local.set $r (i64.xor (i64.rotl (local.get $r) (i64.const 3))))";
  for (int i = 0; i < live; ++i) {
    s += " (local.set $r (i64.xor (i64.rotl (local.get $r) (i64.const 1)) (local.get $v" + std::to_string(i) + ")))";
  }
  s += " (local.get $r))";
  s +=
      " (func (export \"deep\") (param $len i32) (result i32)"
      "  (i64.store (global.get $A) (call $rec (i32.load (global.get $A)))) (i32.const 8)))";
  return s;
}

// How compiled code is built: "O0" (gcc -O0), "O2" (gcc -O2) or "tcc" (the
// fast tier only).
std::unique_ptr<Vm> OpenVm(const std::string& dir, const std::string& build = "O0") {
  VmOptions o;
  o.store.write_audit = true;  // fail on any page the engine wrote without noting it
  o.store.sync = false;
  o.opt_level = build == "O2" ? 2 : 0;
  o.tiers = build == "tcc" ? VmOptions::Tiers::kFastOnly : VmOptions::Tiers::kOptimisedOnly;
  o.code_cache_dir = std::string(CRUST_BINARY_DIR) + "/equivalence-code-cache";
  auto vm = Vm::Open(dir, o);
  EXPECT_TRUE(vm.ok()) << vm.status().ToString();
  return vm.ok() ? std::move(vm).value() : nullptr;
}

// The wasm frame of the near-bound contract: 10,000 locals (the locals
// budget) and an operand stack filling the rest of max_frame_bytes.
constexpr int kNearLive = 9990;
constexpr int kNearStacked = 2200;

// Deploys the contract and calls deep(n) for n at and past the depth limit;
// one line per call: "<n> <status> <data hex> <gas>".
std::string RunDeepCalls(const std::string& dir, const std::string& build = "O0", bool near_bound = false) {
  std::unique_ptr<Vm> vm = OpenVm(dir, build);
  if (vm == nullptr) return "open failed";
  auto session = vm->StartGenesis();
  if (!session.ok()) return session.status().ToString();
  auto id = (*session)->Deploy(
      Wat(near_bound ? DeepFrameContract(kNearLive, kNearStacked) : DeepFrameContract()), {});
  if (!id.ok()) return id.status().ToString();
  std::ostringstream out;
  for (uint32_t n : {10u, 500u, 997u, 998u, 999u, 5000u}) {
    CallReceipt r = (*session)->Call(*id, "deep", U32(n), 1'000'000'000);
    out << n << " " << r.status.ToString() << " " << ToHex(r.data) << " " << r.gas_spent << "\n";
  }
  return out.str();
}

// The child half: runs when the parent test sets CRUST_STACK_TEST_OUT.
TEST(StackChild, DeepCalls) {
  const char* out = std::getenv("CRUST_STACK_TEST_OUT");
  if (out == nullptr) GTEST_SKIP() << "run by StackTest.SameResultUnderEveryStackLimit";
  const char* build = std::getenv("CRUST_STACK_TEST_BUILD");
  const std::string result = RunDeepCalls(std::string(out) + ".store", build != nullptr ? build : "O0",
                                          std::getenv("CRUST_STACK_TEST_NEAR") != nullptr);
  std::ofstream(out) << result;
}

std::string RunChild(const std::string& dir, const std::string& ulimit, const std::string& build = "O0",
                     bool near_bound = false) {
  const std::string out = dir + "/out." + ulimit + "." + build + (near_bound ? ".near" : "");
  const std::string cmd = "ulimit -s " + ulimit + " && CRUST_STACK_TEST_BUILD=" + build +
                          (near_bound ? " CRUST_STACK_TEST_NEAR=1" : "") + " CRUST_STACK_TEST_OUT=" + out +
                          " exec /proc/" + std::to_string(getpid()) +
                          "/exe --gtest_filter=StackChild.DeepCalls >" + out + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ThreadRun {
  std::string dir, result;
};

void* ThreadMain(void* p) {
  auto* t = static_cast<ThreadRun*>(p);
  t->result = RunDeepCalls(t->dir);
  return nullptr;
}

TEST(StackTest, SameResultUnderEveryStackLimit) {
  crust::testing::TempDir dir;
  const std::string small = RunChild(dir.path(), "1024");
  const std::string normal = RunChild(dir.path(), "8192");
  const std::string unlimited = RunChild(dir.path(), "unlimited");

  // In process, on a thread whose own stack is 256 KiB.
  ThreadRun t{dir.Sub("thread-store"), ""};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, &attr, &ThreadMain, &t), 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);

  // The call at depth 998 (999 frames with the export) succeeds; 999 and
  // past hit the deterministic depth limit.
  EXPECT_THAT(normal, HasSubstr("998 OK "));
  EXPECT_THAT(normal, HasSubstr("999 Trap: call stack exhausted (call depth limit)"));
  EXPECT_THAT(normal, HasSubstr("5000 Trap: call stack exhausted (call depth limit)"));
  EXPECT_EQ(small, normal);
  EXPECT_EQ(unlimited, normal);
  EXPECT_EQ(t.result, normal);
  // The same on the fast tier and on gcc -O2 code.
  EXPECT_EQ(RunChild(dir.path(), "1024", "tcc"), normal);
  EXPECT_EQ(RunChild(dir.path(), "1024", "O2"), normal);
}

// A frame near the wasm bound (97,560 of 98,304 bytes): deploys, and the
// same calls give the same lines (status, data, gas) on the fast tier (tcc),
// gcc -O0 and the optimised-only tier at -O2 under a 1 MiB and an unlimited
// `ulimit -s`: the stack is sized from the wasm bound, so every compiler's
// frames fit and the depth limit fires first. At -O2 the module is heavy
// (compiler.h kHeavyFrameBytes) and is compiled at -O0: cc1 -O2 runs for
// more than its 600 s limit on it, so without that its deploy would fail.
TEST(StackTest, NearTheWasmFrameBoundEveryBuildAgrees) {
  crust::testing::TempDir dir;
  const std::string reference = RunChild(dir.path(), "1024", "tcc", /*near_bound=*/true);
  EXPECT_THAT(reference, HasSubstr("998 OK "));
  EXPECT_THAT(reference, HasSubstr("999 Trap: call stack exhausted (call depth limit)"));
  EXPECT_EQ(RunChild(dir.path(), "unlimited", "tcc", true), reference);
  EXPECT_EQ(RunChild(dir.path(), "1024", "O0", true), reference);
  EXPECT_EQ(RunChild(dir.path(), "unlimited", "O0", true), reference);
  EXPECT_EQ(RunChild(dir.path(), "1024", "O2", true), reference);
}

// One slot over the wasm frame bound is refused at deploy whatever compiles
// it (the pre-scan runs before any compiler), naming the budget.
TEST(StackTest, DeployRefusesAWasmFrameOverTheBound) {
  crust::testing::TempDir dir;
  for (const char* build : {"tcc", "O0"}) {
    SCOPED_TRACE(build);
    std::unique_ptr<Vm> vm = OpenVm(dir.Sub(std::string("store-") + build), build);
    ASSERT_NE(vm, nullptr);
    ASSERT_OK_AND_ASSIGN(auto session, vm->StartGenesis());
    // 8 x (3 + live + stacked + 2) = max_frame_bytes + 8.
    const int stacked = 98304 / 8 - 5 - kNearLive + 1;
    auto id = session->Deploy(Wat(DeepFrameContract(kNearLive, stacked)), {});
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), Status::Code::kResourceExhausted) << id.status().ToString();
    EXPECT_THAT(id.status().ToString(), HasSubstr("wasm frame bytes of one function"));
    EXPECT_THAT(id.status().ToString(), HasSubstr("98312 bytes"));
    ASSERT_OK(session->Deploy(Wat(DeepFrameContract(kNearLive, stacked - 1)), {}).status());
  }
}

TEST(StackTest, OpenRefusesDepthLimitsTheStackCannotHold) {
  crust::testing::TempDir dir;
  VmOptions o;
  o.store.write_audit = true;  // fail on any page the engine wrote without noting it
  o.max_call_depth = kMaxCallDepthLimit + 1;
  auto vm = Vm::Open(dir.Sub("a"), o);
  ASSERT_FALSE(vm.ok());
  EXPECT_EQ(vm.status().code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(vm.status().ToString(), HasSubstr("max_call_depth"));
  o.max_call_depth = 1000;
  o.max_module_depth = kMaxModuleDepthLimit + 1;
  EXPECT_EQ(Vm::Open(dir.Sub("b"), o).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace crust
