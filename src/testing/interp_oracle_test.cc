// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/interp_oracle.h"

#include <gtest/gtest.h>

#include <cstring>

#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

constexpr uint64_t kGas = 1'000'000;

constexpr char kContract[] = R"((module
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "spent" (func $spent (result i64)))
  (import "env" "limit" (func $limit (result i64)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "owner" (func $owner (param i32) (result i32)))
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (global $count (mut i64) (i64.const 100))
  (data (i32.const 0) "key")
  (func (export "echo") (param i32) (result i32) (local.get 0))
  (func (export "panic") (param i32) (result i32) (call $panic (local.get 0)) (i32.const 0))
  (func (export "spent") (param i32) (result i32)
    (i64.store (i32.const 65536) (call $spent))
    (i64.store (i32.const 65544) (call $limit)) (i32.const 16))
  (func (export "id") (param i32) (result i32) (call $self_id) (i32.const 32))
  (func (export "meta") (param i32) (result i32) (call $hd (i32.const 0) (i32.const 3)))
  (func (export "owner") (param i32) (result i32) (call $owner (i32.const 0)))
  (func (export "inc") (param i32) (result i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i64.store (i32.const 65536) (global.get $count)) (i32.const 8))
  (func (export "unreachable") (param i32) (result i32) (unreachable))
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "oob") (param i32) (result i32) (i32.load (i32.const 200000)))
  (func (export "big") (param i32) (result i32) (i32.const 65537))
))";

class InterpOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(kContract));
    ASSERT_OK_AND_ASSIGN(prepared_, PrepareModule(wasm));
    host_.self_id.bytes.fill(0xab);
    host_.metadata["key"] = Bytes{'v', 'a', 'l'};
    ASSERT_OK_AND_ASSIGN(oracle_, InterpOracle::Create(prepared_, &host_));
  }

  BasicOracleHost host_;
  PreparedModule prepared_;
  std::unique_ptr<InterpOracle> oracle_;
};

TEST_F(InterpOracleTest, AbiCallRoundTripsTheArgument) {
  const Bytes arg = {1, 2, 3, 4, 5};
  OracleOutcome r = oracle_->Call("echo", arg, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, arg);
  EXPECT_EQ(r.gas_spent, 1u);
  EXPECT_EQ(oracle_->Call("nope", arg, kGas).status.code(), Status::Code::kNotFound);
}

TEST_F(InterpOracleTest, HostFunctions) {
  const std::string msg = "boom";
  OracleOutcome p = oracle_->Call("panic", Bytes(msg.begin(), msg.end()), kGas);
  EXPECT_EQ(p.status.code(), Status::Code::kPanic);
  EXPECT_EQ(p.status.message(), "boom");

  OracleOutcome s = oracle_->Call("spent", {}, kGas);
  ASSERT_OK(s.status);
  uint64_t spent, limit;
  std::memcpy(&spent, s.data.data(), 8);
  std::memcpy(&limit, s.data.data() + 8, 8);
  EXPECT_EQ(spent, 17u);  // the whole straight-line body is charged on entry
  EXPECT_EQ(limit, kGas);

  OracleOutcome id = oracle_->Call("id", {}, kGas);
  ASSERT_OK(id.status);
  EXPECT_EQ(id.data, Bytes(32, 0xab));

  OracleOutcome m = oracle_->Call("meta", {}, kGas);
  ASSERT_OK(m.status);
  EXPECT_EQ(m.data, (Bytes{'v', 'a', 'l'}));

  // owner(0): the module's own owner (piecrust's null pointer); empty here.
  OracleOutcome own = oracle_->Call("owner", {}, kGas);
  ASSERT_OK(own.status);
  EXPECT_TRUE(own.data.empty());
}

TEST_F(InterpOracleTest, TrapKinds) {
  auto kind = [&](std::string_view fn, uint32_t arg) { return oracle_->Invoke(fn, arg, kGas).status; };
  EXPECT_EQ(kind("unreachable", 0).ToString(), "Trap: unreachable");
  EXPECT_EQ(kind("div", 0).ToString(), "Trap: integer divide by zero");
  EXPECT_EQ(kind("oob", 0).ToString(), "Trap: out of bounds memory access");
  EXPECT_EQ(oracle_->Call("big", {}, kGas).status.code(), Status::Code::kTrap);
  ASSERT_OK(oracle_->Call("echo", {}, kGas).status);  // still usable
}

TEST_F(InterpOracleTest, StateGlobalsCarryOverToAFreshInstance) {
  ASSERT_EQ(prepared_.state_globals.size(), 1u);
  EXPECT_EQ(oracle_->GetStateGlobals(), (std::vector<uint64_t>{100}));
  ASSERT_OK(oracle_->Call("inc", {}, kGas).status);
  ASSERT_OK(oracle_->Call("inc", {}, kGas).status);
  std::vector<uint64_t> state = oracle_->GetStateGlobals();
  EXPECT_EQ(state, (std::vector<uint64_t>{102}));
  Bytes memory(oracle_->memory().begin(), oracle_->memory().end());

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<InterpOracle> next, InterpOracle::Create(prepared_, &host_));
  ASSERT_OK(next->SetStateGlobals(state));
  ASSERT_OK(next->SetMemory(memory));
  OracleOutcome r = next->Call("inc", {}, kGas);
  ASSERT_OK(r.status);
  uint64_t v;
  std::memcpy(&v, r.data.data(), 8);
  EXPECT_EQ(v, 103u);
}

TEST_F(InterpOracleTest, MemoryImageApplied) {
  EXPECT_EQ(oracle_->memory().size(), 2u * 65536);
  EXPECT_EQ(oracle_->memory()[0], 'k');
  EXPECT_EQ(oracle_->memory()[2], 'y');
}

TEST(CanonicalTrapKindTest, MapsWabtMessages) {
  EXPECT_EQ(CanonicalTrapKind("out of bounds memory access: access at 1+4 >= max value 0"),
            "out of bounds memory access");
  EXPECT_EQ(CanonicalTrapKind("indirect call signature mismatch"), "indirect call type mismatch");
  EXPECT_EQ(CanonicalTrapKind("uninitialized table element"), "uninitialized element");
  EXPECT_EQ(CanonicalTrapKind("something new"), "something new");
}

}  // namespace
}  // namespace crust::engine
