// Copyright (c) crust authors. Licensed under the MIT license.
//
// Gas, call depth and NaN canonicalisation, observed by running prepared
// modules in the interpreter oracle.
#include "src/engine/prepare/instrument.h"

#include <gtest/gtest.h>

#include "src/engine/runtime/host_gas.h"
#include "src/testing/interp_oracle.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

constexpr uint64_t kLots = uint64_t{1} << 40;

// A contract with the given functions, run in the oracle.
class InstrumentTest : public ::testing::Test {
 protected:
  void Load(const std::string& funcs) {
    const std::string wat = "(module (memory (export \"memory\") 2 10) "
                            "(global (export \"A\") i32 (i32.const 65536)) " + funcs + ")";
    ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(wat));
    ASSERT_OK_AND_ASSIGN(prepared_, PrepareModule(wasm));
    ASSERT_OK_AND_ASSIGN(oracle_, InterpOracle::Create(prepared_, &host_));
  }
  OracleOutcome Run(std::string_view fn, uint32_t arg, uint64_t gas = kLots,
                    uint32_t depth = kDefaultMaxCallDepth) {
    return oracle_->Invoke(fn, arg, gas, depth);
  }

  BasicOracleHost host_;
  PreparedModule prepared_;
  std::unique_ptr<InterpOracle> oracle_;
};

constexpr char kStraight[] =
    "(func (export \"add1\") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))";

// block 1 + loop 1 + per iteration (4 + 5) + last test 4 + local.get 1 = 9n + 7
constexpr char kLoop[] =
    "(func (export \"count\") (param $n i32) (result i32) (local $i i32)"
    "  (block $done (loop $l"
    "    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))"
    "    (local.set $i (i32.add (local.get $i) (i32.const 1)))"
    "    (br $l)))"
    "  (local.get $i))";

TEST_F(InstrumentTest, StraightLineGasIsExact) {
  Load(kStraight);
  OracleOutcome r = Run("add1", 41);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.ret, 42u);
  EXPECT_EQ(r.gas_spent, 3u);
}

TEST_F(InstrumentTest, LoopGasIsExact) {
  Load(kLoop);
  for (uint32_t n : {0u, 1u, 10u, 1000u}) {
    OracleOutcome r = Run("count", n);
    ASSERT_OK(r.status);
    EXPECT_EQ(r.ret, n);
    EXPECT_EQ(r.gas_spent, 9u * n + 7) << n;
  }
}

TEST_F(InstrumentTest, OutOfGasAtExactlyTheLimit) {
  Load(std::string(kStraight) + kLoop);
  OracleOutcome ok = Run("add1", 1, 3);
  ASSERT_OK(ok.status);
  EXPECT_EQ(ok.gas_spent, 3u);
  OracleOutcome oog = Run("add1", 1, 2);
  EXPECT_EQ(oog.status.code(), Status::Code::kOutOfGas) << oog.status.ToString();
  EXPECT_EQ(oog.gas_spent, 2u);

  ASSERT_OK(Run("count", 10, 97).status);
  OracleOutcome loop_oog = Run("count", 10, 96);
  EXPECT_EQ(loop_oog.status.code(), Status::Code::kOutOfGas);
  EXPECT_EQ(loop_oog.gas_spent, 96u);
  EXPECT_EQ(Run("count", 10, 0).status.code(), Status::Code::kOutOfGas);
  // The oracle stays usable after running out of gas.
  EXPECT_EQ(Run("count", 3, kLots).gas_spent, 34u);
}

TEST_F(InstrumentTest, CallsAndBranchesCharge) {
  Load("(func $id (param i32) (result i32) (local.get 0))"
       "(func (export \"call\") (param i32) (result i32) (call $id (local.get 0)))"
       // if: const, local.get, if (3) + then-body const (1) = 4; else path: 3 + 2
       "(func (export \"pick\") (param i32) (result i32)"
       "  (if (result i32) (local.get 0) (then (i32.const 7)) (else (nop) (i32.const 9))))"
       "(func (export \"ret\") (param i32) (result i32) (return (i32.const 5)) (drop (i32.const 1)))");
  // caller: local.get 1 + call 5 = 6; callee: local.get 1.
  EXPECT_EQ(Run("call", 0).gas_spent, 7u);
  EXPECT_EQ(Run("pick", 1).gas_spent, 3u);
  EXPECT_EQ(Run("pick", 0).gas_spent, 4u);
  OracleOutcome r = Run("ret", 0);
  EXPECT_EQ(r.ret, 5u);
  EXPECT_EQ(r.gas_spent, 2u);  // dead code after return is never charged
}

// A block's body continues the segment holding the block (instrumentation
// version 2): one charge covers the code before the block and the body up to
// its first branch, nested blocks included. A trap in that code is charged
// the whole merged segment; code after a block's end is a segment of its own.
TEST_F(InstrumentTest, BlockBodyContinuesTheSegment) {
  Load("(func (export \"b\") (param i32) (result i32)"
       "  (drop (i32.load (local.get 0)))"
       "  (block $out (block (nop) (br_if $out (local.get 0)) (nop)))"
       "  (i32.const 7))");
  // Merged head: local.get, load, drop, block, block, nop, local.get, br_if = 9.
  OracleOutcome taken = Run("b", 4);
  ASSERT_OK(taken.status);
  EXPECT_EQ(taken.gas_spent, 9u + 1);   // branch taken: + const
  OracleOutcome fall = Run("b", 0);
  ASSERT_OK(fall.status);
  EXPECT_EQ(fall.gas_spent, 9u + 1 + 1);  // + nop after br_if, + const
  // An out-of-bounds load traps in the merged segment: all 9 are charged
  // (version 1 charged 5, up to the outer `block`).
  OracleOutcome trap = Run("b", 0xfffffff0u);
  EXPECT_EQ(trap.status.code(), Status::Code::kTrap) << trap.status.ToString();
  EXPECT_EQ(trap.gas_spent, 9u);
  // Out of gas at the merged segment's start: nothing of it runs.
  EXPECT_EQ(Run("b", 4, 8).status.code(), Status::Code::kOutOfGas);
  EXPECT_OK(Run("b", 4, 10).status);
}

TEST_F(InstrumentTest, MemoryGrowChargesPerPage) {
  Load("(func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))"
       "(func (export \"fill\") (param i32) (result i32)"
       "  (memory.fill (i32.const 0) (i32.const 7) (local.get 0)) (i32.const 0))");
  OracleOutcome r = Run("grow", 3);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.ret, 2u);
  EXPECT_EQ(r.gas_spent, 1 + kCostMemoryGrow + 3 * kCostMemoryGrowPerPage);
  OracleOutcome fail = Run("grow", 100);  // beyond the maximum: -1, still charged
  EXPECT_EQ(fail.ret, 0xffffffffu);
  EXPECT_EQ(fail.gas_spent, 1 + kCostMemoryGrow + 100 * kCostMemoryGrowPerPage);
  EXPECT_EQ(Run("grow", 1, 1 + kCostMemoryGrow + kCostMemoryGrowPerPage - 1).status.code(),
            Status::Code::kOutOfGas);
  // const, const, local.get, memory.fill 5, const = 9, plus 1000 >> 6 = 15,
  // plus the page-write charge (host_gas.h) for page 0, outside A.
  EXPECT_EQ(Run("fill", 1000).gas_spent, 9u + 15 + kPageWriteGas);
  EXPECT_EQ(Run("fill", 0).gas_spent, 9u);  // writes nothing: no page charge
}

TEST_F(InstrumentTest, InfiniteRecursionHitsTheDepthLimit) {
  Load("(func $r (export \"r\") (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))");
  OracleOutcome r = Run("r", 0, kLots, 500);
  EXPECT_EQ(r.status.code(), Status::Code::kTrap) << r.status.ToString();
  EXPECT_EQ(r.status.message(), "call stack exhausted");
  // Gas for 500 frames of (local.get, const, add, call) = 8 each.
  EXPECT_EQ(r.gas_spent, 500u * 8);
}

TEST_F(InstrumentTest, DepthIsExactAndRestoredOnEveryExit) {
  Load("(func $rec (export \"rec\") (param i32) (result i32)"
       "  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))"
       "    (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))"
       "(func $ret (param i32) (result i32) (return (local.get 0)))"
       "(func $br (param i32) (result i32) (br 0 (local.get 0)))"
       "(func $brif (param i32) (result i32) (br_if 0 (local.get 0) (local.get 0)) (drop) (i32.const 9))"
       "(func (export \"many\") (param $n i32) (result i32) (local $i i32)"
       "  (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (local.get $n)))"
       "    (drop (call $ret (local.get $i))) (drop (call $br (local.get $i)))"
       "    (drop (call $brif (local.get $i))) (drop (call $rec (i32.const 2)))"
       "    (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))"
       "  (local.get $i))");
  // rec(n) needs n + 1 frames.
  ASSERT_OK(Run("rec", 9, kLots, 10).status);
  EXPECT_EQ(Run("rec", 10, kLots, 10).status.message(), "call stack exhausted");
  // 4 frames at most at a time (many -> rec -> rec -> rec), 2000 calls in a row.
  OracleOutcome r = Run("many", 500, kLots, 4);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.ret, 500u);
  EXPECT_EQ(Run("many", 1, kLots, 3).status.message(), "call stack exhausted");
}

TEST_F(InstrumentTest, NanResultsAreCanonical) {
  Load("(func (export \"add32\") (param i32) (result i32)"
       "  (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (local.get 0)) (f32.const 1))))"
       "(func (export \"neg32\") (param i32) (result i32)"
       "  (i32.reinterpret_f32 (f32.neg (f32.reinterpret_i32 (local.get 0)))))"
       "(func (export \"sqrt64hi\") (param i32) (result i32)"
       "  (i32.wrap_i64 (i64.shr_u (i64.reinterpret_f64 (f64.sqrt (f64.convert_i32_s (local.get 0))))"
       "    (i64.const 32))))"
       "(func (export \"div32\") (param i32) (result i32)"
       "  (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.convert_i32_s (local.get 0)))))"
       "(func (export \"demote\") (param i32) (result i32)"
       "  (i32.reinterpret_f32 (f32.demote_f64 (f64.reinterpret_i64 (i64.const 0xfff0000000000001)))))");
  EXPECT_EQ(Run("add32", 0xffc01234u).ret, 0x7fc00000u);  // NaN with sign and payload
  EXPECT_EQ(Run("add32", 0x3f800000u).ret, 0x40000000u);  // 1 + 1 = 2 untouched
  EXPECT_EQ(Run("neg32", 0x7fc01234u).ret, 0xffc01234u);  // neg is bit-exact
  EXPECT_EQ(Run("sqrt64hi", static_cast<uint32_t>(-1)).ret, 0x7ff80000u);  // x86 gives 0xfff8...
  EXPECT_EQ(Run("sqrt64hi", 4).ret, 0x40000000u);                         // sqrt(4) = 2
  EXPECT_EQ(Run("div32", 0).ret, 0x7fc00000u);
  EXPECT_EQ(Run("demote", 0).ret, 0x7fc00000u);
}

TEST(CostTableTest, Constants) {
  EXPECT_EQ(kCostDefault, 1u);
  EXPECT_EQ(kCostCall, 5u);
  EXPECT_EQ(kCostMemoryGrowPerPage, 4096u);
}

}  // namespace
}  // namespace crust::engine
