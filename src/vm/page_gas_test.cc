// Copyright (c) crust authors. Licensed under the MIT license.
//
// The page-write charge (docs/abi.md §9.2, engine::kPageWriteGas) through the
// public API, where the interpreter oracle cannot follow: calls through `c`.
// Every expectation is a difference of two calls whose instructions are the
// same, so it is exactly a number of page charges:
//   * a store to a page outside A costs kPageWriteGas once per call, also
//     for an unchanged value; a store spanning two pages costs two; A is free;
//   * too little gas for the charge ends the call with OutOfGas before the
//     write;
//   * every checkpoint operation (a nested call's start and end, whether it
//     succeeds or is rolled back) starts the count again, for the caller's
//     pages and for the pages the callee wrote;
//   * a nested call pays for its own pages like a top-level call.
#include <gtest/gtest.h>

#include "crust/vm.h"
#include "src/engine/runtime/host_gas.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using vmtest::U32;
using vmtest::Wat;
using crust::testing::TempDir;

constexpr uint64_t kGas = 10'000'000;
constexpr uint64_t kPage = engine::kPageWriteGas;
constexpr uint32_t kA = 131072;  // A = [128 KiB, 192 KiB): 4 KiB pages 32..47

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The memory has 4 wasm pages (4 KiB pages 0..63). The function names of
// `around`'s callee are at A + 200 ("boom", "fine").
constexpr char kContract[] = R"((module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (memory (export "memory") 4)
  (global $A (export "A") i32 (i32.const 131072))
  (data (i32.const 131272) "boomfine")
  ;; store(u32 addr): one i32 store of 0 (memory is zero: an unchanged value)
  (func (export "store") (param i32) (result i32)
    (i32.store (i32.load (global.get $A)) (i32.const 0)) (i32.const 0))
  ;; twice(u32 a | u32 b): two stores
  (func (export "twice") (param i32) (result i32)
    (i32.store (i32.load (global.get $A)) (i32.const 1))
    (i32.store (i32.load offset=4 (global.get $A)) (i32.const 2)) (i32.const 0))
  ;; Write pages 0 and 1, then fail (rolled back) or return.
  (func (export "boom") (param i32) (result i32)
    (i32.store (i32.const 0) (i32.const 9)) (i32.store (i32.const 4096) (i32.const 9)) unreachable)
  (func (export "fine") (param i32) (result i32)
    (i32.store (i32.const 0) (i32.const 9)) (i32.store (i32.const 4096) (i32.const 9)) (i32.const 0))
  ;; around(u32 addr2 | u32 callee: 0 boom, 1 fine): writes page 0, calls the
  ;; callee on itself with 100,000 gas, then one store at addr2.
  (func (export "around") (param i32) (result i32) (local $addr2 i32) (local $sel i32)
    (local.set $addr2 (i32.load (global.get $A)))
    (local.set $sel (i32.load offset=4 (global.get $A)))
    (i32.store (i32.const 0) (i32.const 1))
    (call $self_id)
    (memory.copy (i32.add (global.get $A) (i32.const 100)) (global.get $A) (i32.const 32))
    (drop (call $c (i32.add (global.get $A) (i32.const 100))
                   (i32.add (global.get $A) (i32.add (i32.const 200) (i32.mul (local.get $sel) (i32.const 4))))
                   (i32.const 4) (i32.const 0) (i64.const 100000)))
    (i32.store (local.get $addr2) (i32.const 1))
    (i32.const 0)))
)";

class PageGasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VmOptions o;
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = std::string(CRUST_BINARY_DIR) + "/equivalence-code-cache";
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Open(dir_.Sub("store"), o));
    ASSERT_OK_AND_ASSIGN(session_, vm_->StartGenesis());
    ASSERT_OK_AND_ASSIGN(id_, session_->Deploy(Wat(kContract), DeployOptions{}));
  }
  CallReceipt Call(std::string_view fn, const Bytes& arg, uint64_t gas = kGas) {
    return session_->Call(id_, fn, arg, gas);
  }
  uint64_t Spent(std::string_view fn, const Bytes& arg) {
    CallReceipt r = Call(fn, arg);
    EXPECT_OK(r.status);
    return r.gas_spent;
  }

  TempDir dir_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<VmSession> session_;
  ModuleId id_;
};

TEST_F(PageGasTest, OnePagePerCallOutsideA) {
  const uint64_t free = Spent("store", U32(kA + 8));
  EXPECT_EQ(Spent("store", U32(0)) - free, kPage);              // unchanged value, charged
  EXPECT_EQ(Spent("store", U32(0)) - free, kPage);              // a new call: charged again
  EXPECT_EQ(Spent("store", U32(4094)) - free, 2 * kPage);       // spans pages 0 and 1
  EXPECT_EQ(Spent("store", U32(kA - 2)) - free, kPage);         // page 31 and A's first page
  EXPECT_EQ(Spent("store", U32(kA + 65536 - 2)) - free, kPage);  // A's last page and page 48
  const uint64_t two_free = Spent("twice", Cat({U32(kA), U32(kA + 4)}));
  EXPECT_EQ(Spent("twice", Cat({U32(8), U32(16)})) - two_free, kPage);  // same page twice
  EXPECT_EQ(Spent("twice", Cat({U32(8), U32(8192)})) - two_free, 2 * kPage);
  // Out of bounds: the store traps before anything is charged.
  CallReceipt oob = Call("store", U32(4 * 65536 - 2));
  EXPECT_EQ(oob.status.code(), Status::Code::kTrap);
  EXPECT_EQ(oob.gas_spent, free);
}

TEST_F(PageGasTest, TooLittleGasForTheChargeIsOutOfGasBeforeTheWrite) {
  const uint64_t free = Spent("store", U32(kA + 8));
  CallReceipt short_by_one = Call("store", U32(0), free + kPage - 1);
  EXPECT_EQ(short_by_one.status.code(), Status::Code::kOutOfGas);
  EXPECT_EQ(short_by_one.gas_spent, free + kPage - 1);
  CallReceipt exact = Call("store", U32(0), free + kPage);
  EXPECT_OK(exact.status);
  EXPECT_EQ(exact.gas_spent, free + kPage);
}

TEST_F(PageGasTest, NestedCallsStartTheCountAgainWhetherRolledBackOrNot) {
  for (uint32_t callee : {0u, 1u}) {
    SCOPED_TRACE(callee == 0 ? "rolled back callee" : "successful callee");
    const uint64_t base = Spent("around", Cat({U32(kA + 300), U32(callee)}));  // last store in A
    // Page 0, which the caller wrote before the call (and the callee too):
    // charged again after the nested call's checkpoint operations.
    EXPECT_EQ(Spent("around", Cat({U32(0), U32(callee)})) - base, kPage);
    EXPECT_EQ(Spent("around", Cat({U32(8), U32(callee)})) - base, kPage);
    // Page 1, which only the callee wrote.
    EXPECT_EQ(Spent("around", Cat({U32(4096), U32(callee)})) - base, kPage);
  }
  // The callee pays for its pages (0 and 1) like a top-level call, although
  // the caller wrote page 0 just before calling.
  CallReceipt top = Call("fine", {});
  ASSERT_OK(top.status);
  CallReceipt nested = Call("around", Cat({U32(kA + 300), U32(1)}));
  ASSERT_OK(nested.status);
  ASSERT_EQ(nested.call_tree.size(), 2u);
  const CallNode& callee = nested.call_tree[0].function == "fine" ? nested.call_tree[0] : nested.call_tree[1];
  EXPECT_EQ(callee.function, "fine");
  EXPECT_EQ(callee.gas_spent, top.gas_spent);
  // From the cost table: 5 constants (1 each) and 2 stores (2 each), plus
  // the two pages.
  EXPECT_EQ(top.gas_spent, 9 + 2 * kPage);
}

}  // namespace
}  // namespace crust
