// Copyright (c) crust authors. Licensed under the MIT license.
//
// piecrust's own wasm32 test contracts and Dusk's mainnet stake contract
// (the read-only fixtures of ../shared/piecrust-contracts, README there),
// deployed unchanged and driven through the public API (crust/vm.h) and the
// `crust` tool, must behave as piecrust's tests (piecrust/tests/*.rs) say.
//
// The fixtures are found at $CRUST_FIXTURES_DIR, or else
// CRUST_SOURCE_DIR/../shared/piecrust-contracts. A missing fixture FAILS the
// test (it is never skipped): the point is to run the ecosystem's contracts.
//
// Arguments are rkyv 0.7 archives, built by hand here: simple values are
// their little-endian bytes; a tuple is its fields in order, each aligned to
// its own alignment; a String of more than 7 bytes or a Vec<u8> is stored
// before the root object (a tuple's fields serialized last field first) and
// referenced by (i32 offset from the field, u32 length) — a String as (u32
// len, i32 offset).
#include <gmock/gmock.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

// Designated initialisers of DeployOptions leave the other fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace crust {
namespace {

using ::testing::HasSubstr;
using Code = Status::Code;

constexpr uint64_t kLimit = 1'000'000;  // piecrust's tests' LIMIT

std::string FixturesDir() {
  if (const char* dir = std::getenv("CRUST_FIXTURES_DIR"); dir != nullptr && *dir != '\0') return dir;
  return std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts";
}

std::string FixturePath(const std::string& name) { return FixturesDir() + "/" + name + ".wasm"; }

Bytes Fixture(const std::string& name) {
  auto r = os::Env::Default()->ReadFile(FixturePath(name));
  EXPECT_TRUE(r.ok()) << "fixture " << FixturePath(name)
                      << " is missing (set CRUST_FIXTURES_DIR to the piecrust-contracts directory): "
                      << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

Bytes U32(uint32_t v) {
  Bytes b;
  PutFixed32(&b, v);
  return b;
}
Bytes U64(uint64_t v) {
  Bytes b;
  PutFixed64(&b, v);
  return b;
}
Bytes Id(const ModuleId& id) { return Bytes(id.bytes.begin(), id.bytes.end()); }
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
ModuleId IdOf(uint8_t first) {
  ModuleId id;
  id.bytes.fill(0);
  id.bytes[0] = first;
  return id;
}

// rkyv 0.7 of (ContractId, String, Vec<u8>) with a string longer than 7
// bytes: the vector's bytes, the string's bytes (rkyv serializes a tuple's
// fields last first), padding to 4, then the root tuple (id, string (len,
// offset), vec (offset, len)).
Bytes IdStringVec(const ModuleId& id, const std::string& s, const Bytes& v) {
  EXPECT_GT(s.size(), 7u) << "inline strings are not encoded here";
  Bytes out(v.begin(), v.end());
  const size_t vec_pos = 0, str_pos = out.size();
  out.insert(out.end(), s.begin(), s.end());
  while (out.size() % 4 != 0) out.push_back(0);
  const size_t root = out.size();
  out.insert(out.end(), id.bytes.begin(), id.bytes.end());
  const size_t str_field = root + 32, vec_field = root + 40;
  PutFixed32(&out, static_cast<uint32_t>(s.size()));
  PutFixed32(&out, static_cast<uint32_t>(static_cast<int32_t>(str_pos) - static_cast<int32_t>(str_field)));
  PutFixed32(&out, static_cast<uint32_t>(static_cast<int32_t>(vec_pos) - static_cast<int32_t>(vec_field)));
  PutFixed32(&out, static_cast<uint32_t>(v.size()));
  return out;
}

// An archived Vec<ContractId> returned by a contract: the elements, then the
// root (i32 offset from the root, u32 length) in the last 8 bytes.
std::vector<ModuleId> DecodeIdVec(const Bytes& data) {
  std::vector<ModuleId> ids;
  if (data.size() < 8) {
    ADD_FAILURE() << "archived vector too short: " << data.size() << " bytes";
    return ids;
  }
  const size_t root = data.size() - 8;
  const int32_t offset = static_cast<int32_t>(DecodeFixed32(data.data() + root));
  const uint32_t len = DecodeFixed32(data.data() + root + 4);
  const int64_t start = static_cast<int64_t>(root) + offset;
  if (start < 0 || static_cast<uint64_t>(start) + uint64_t{len} * 32 > root) {
    ADD_FAILURE() << "archived vector out of range";
    return ids;
  }
  for (uint32_t i = 0; i < len; i++) {
    ModuleId id;
    std::memcpy(id.bytes.data(), data.data() + start + 32 * i, 32);
    ids.push_back(id);
  }
  return ids;
}

bool Contains(const Bytes& data, std::string_view text) {
  return std::string_view(reinterpret_cast<const char*>(data.data()), data.size()).find(text) != std::string::npos;
}

std::string Describe(const CallReceipt& r) {
  std::string s = r.status.ToString() + ", gas " + std::to_string(r.gas_spent) + ", " +
                  std::to_string(r.events.size()) + " events, " + std::to_string(r.call_tree.size()) + " calls";
  for (const std::string& d : r.debug) s += "\n  debug: " + d;
  return s;
}

// --- Through the public API ---

// Compiled code shared by every test and run (ctest runs each test in its
// own process): each fixture is compiled once.
std::string CodeCacheDir() { return std::string(CRUST_BINARY_DIR) + "/piecrust-fixtures-code-cache"; }

class PiecrustFixturesTest : public ::testing::Test {
 protected:

  void SetUp() override {
    ASSERT_TRUE(std::filesystem::is_directory(FixturesDir()))
        << "the piecrust fixtures are missing: " << FixturesDir() << " (set CRUST_FIXTURES_DIR)";
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.code_cache_dir = CodeCacheDir();
    o.opt_level = 0;
    auto vm = Vm::Open(tmp_.Sub("store"), o);
    ASSERT_TRUE(vm.ok()) << vm.status().ToString();
    vm_ = std::move(vm).value();
    auto s = vm_->StartGenesis();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    s_ = std::move(s).value();
  }
  void TearDown() override {
    s_.reset();
    vm_.reset();
  }

  ModuleId Deploy(const std::string& name, Bytes owner = Bytes(32, 0), std::optional<ModuleId> id = std::nullopt) {
    DeployOptions d;
    d.owner = std::move(owner);
    d.id = id;
    d.gas_limit = kLimit;
    auto r = s_->Deploy(Fixture(name), d);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    return r.ok() ? *r : ModuleId{};
  }

  CallReceipt Call(const ModuleId& m, const std::string& fn, const Bytes& arg = {}, uint64_t gas = kLimit) {
    return s_->Call(m, fn, arg, gas);
  }
  Bytes Ok(const ModuleId& m, const std::string& fn, const Bytes& arg = {}, uint64_t gas = kLimit) {
    CallReceipt r = Call(m, fn, arg, gas);
    EXPECT_TRUE(r.ok()) << fn << ": " << Describe(r);
    return r.data;
  }

  testing::TempDir tmp_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<VmSession> s_;
};

TEST_F(PiecrustFixturesTest, EveryWasm32FixtureDeploysUnchanged) {
  for (const char* name : {"counter", "box", "callcenter", "crossover", "eventer", "event_reverter", "metadata",
                           "spender", "feeder", "stake_contract"}) {
    SCOPED_TRACE(name);
    Bytes wasm = Fixture(name);
    ASSERT_FALSE(wasm.empty());
    auto id = s_->Deploy(wasm, {.owner = Bytes(32, 0), .nonce = 7});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
  }
}

TEST_F(PiecrustFixturesTest, Counter) {
  ModuleId c = Deploy("counter");
  EXPECT_EQ(Ok(c, "read_value"), U64(0xfc));
  EXPECT_EQ(Ok(c, "increment"), Bytes{});
  EXPECT_EQ(Ok(c, "read_value"), U64(0xfd));
  // piecrust's fails_with_out_of_gas.
  CallReceipt r = Call(c, "read_value", {}, 1);
  EXPECT_EQ(r.status.code(), Code::kOutOfGas) << Describe(r);
  EXPECT_EQ(r.gas_spent, 1u);
}

TEST_F(PiecrustFixturesTest, Box) {
  ModuleId b = Deploy("box");
  EXPECT_EQ(Ok(b, "get"), (Bytes{0, 0, 0, 0}));  // None
  EXPECT_EQ(Ok(b, "set", Bytes{0x11, 0x00}), Bytes{});
  EXPECT_EQ(Ok(b, "get"), (Bytes{1, 0, 0x11, 0}));  // Some(0x11)
  // Persisted across a commit.
  auto root = s_->Commit();
  ASSERT_TRUE(root.ok());
  auto next = vm_->StartSession(*root);
  ASSERT_TRUE(next.ok());
  s_ = std::move(next).value();
  EXPECT_EQ(Ok(b, "get"), (Bytes{1, 0, 0x11, 0}));
}

TEST_F(PiecrustFixturesTest, MetadataOwnerOfSelfIsNullPointer) {
  const Bytes owner(33, 3);
  ModuleId m = Deploy("metadata", owner);
  ModuleId other = Deploy("counter", Bytes(33, 9));
  // uplink's self_owner() calls owner(0): "my own owner".
  EXPECT_EQ(Ok(m, "read_owner"), owner);
  EXPECT_EQ(Ok(m, "read_id"), Id(m));
  EXPECT_EQ(Ok(m, "read_owner_of", Id(other)), Cat({Bytes{1}, Bytes(33, 9)}));
  Bytes none = Ok(m, "read_owner_of", Id(IdOf(0xee)));
  ASSERT_FALSE(none.empty());
  EXPECT_EQ(none[0], 0) << "None for a module that does not exist";
}

TEST_F(PiecrustFixturesTest, EventerEmitsInOrderAndPaysPerByte) {
  ModuleId e = Deploy("eventer");
  CallReceipt r = Call(e, "emit_events", U32(5));
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_EQ(r.events.size(), 5u);
  for (uint32_t i = 0; i < 5; i++) {
    EXPECT_EQ(r.events[i].source, e);
    EXPECT_EQ(r.events[i].topic, "number");
    EXPECT_EQ(r.events[i].data, U32(i));
    EXPECT_FALSE(r.events[i].reverted);
  }
  // Each event of "number" + 4 bytes pays 4 gas per byte (abi_test checks
  // the exact charge with a hand-written module).
  // (The first call also grows the contract's heap.)
  CallReceipt r5 = Call(e, "emit_events", U32(5));
  CallReceipt r7 = Call(e, "emit_events", U32(7));
  ASSERT_TRUE(r5.ok() && r7.ok());
  EXPECT_GE(r7.gas_spent, r5.gas_spent + 2 * 40);
  EXPECT_EQ(Ok(e, "read_value"), U32(0));
}

TEST_F(PiecrustFixturesTest, EventReverterKeepsRevertedEventsFlagged) {
  ModuleId eventer = Deploy("eventer");
  ModuleId reverter = Deploy("event_reverter");
  ModuleId center = Deploy("callcenter");
  EXPECT_EQ(Ok(eventer, "read_value"), U32(0));
  CallReceipt r =
      Call(center, "delegate_query_with_event", IdStringVec(reverter, "emit_then_panic", Id(eventer)));
  ASSERT_TRUE(r.ok()) << Describe(r);
  // Result::Err(ContractError::Panic(..)) as contract data.
  EXPECT_TRUE(Contains(r.data, "event reverter panic")) << Describe(r);
  EXPECT_EQ(Ok(eventer, "read_value"), U32(0)) << "eventer state should be reverted";
  ASSERT_EQ(r.events.size(), 3u) << Describe(r);
  EXPECT_EQ(r.events[0].source, center);
  EXPECT_EQ(r.events[0].topic, "callcenter-before");
  EXPECT_FALSE(r.events[0].reverted);
  EXPECT_EQ(r.events[1].source, eventer);
  EXPECT_EQ(r.events[1].topic, "number");
  EXPECT_EQ(r.events[1].data, U32(42));
  EXPECT_TRUE(r.events[1].reverted);
  EXPECT_EQ(r.events[2].source, center);
  EXPECT_EQ(r.events[2].topic, "callcenter-after");
  EXPECT_FALSE(r.events[2].reverted);
  // callcenter's delegate_query records a debug line (uplink's `debug`).
  ASSERT_EQ(r.debug.size(), 1u) << Describe(r);
  EXPECT_THAT(r.debug[0], HasSubstr("raw query emit_then_panic at"));
  // The failed calls stay in the call tree, callee first (piecrust's order).
  ASSERT_EQ(r.call_tree.size(), 3u);
  EXPECT_EQ(r.call_tree[0].module, eventer);
  EXPECT_OK(r.call_tree[0].status);
  EXPECT_EQ(r.call_tree[1].module, reverter);
  EXPECT_EQ(r.call_tree[1].status.code(), Code::kPanic);
  EXPECT_EQ(r.call_tree[2].module, center);
  EXPECT_EQ(r.call_tree[2].depth, 0u);
}

TEST_F(PiecrustFixturesTest, FailedTopLevelCallKeepsItsEventsFlagged) {
  ModuleId eventer = Deploy("eventer");
  ModuleId reverter = Deploy("event_reverter");
  CallReceipt r = Call(reverter, "emit_then_panic", Id(eventer));
  EXPECT_EQ(r.status.code(), Code::kPanic) << Describe(r);
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("event reverter panic"));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_TRUE(r.events[0].reverted);
  EXPECT_EQ(Ok(eventer, "read_value"), U32(0));
}

TEST_F(PiecrustFixturesTest, Callcenter) {
  ModuleId counter = Deploy("counter");
  ModuleId center = Deploy("callcenter");
  EXPECT_EQ(Ok(center, "query_counter", Id(counter)), U64(0xfc));
  EXPECT_EQ(Ok(center, "increment_counter", Id(counter)), Bytes{});
  EXPECT_EQ(Ok(counter, "read_value"), U64(0xfd));
  EXPECT_EQ(Ok(center, "query_counter", Id(counter)), U64(0xfd));
  // Delegated write through a (ContractId, String, Vec<u8>) argument.
  EXPECT_TRUE(Call(center, "delegate_transaction", IdStringVec(counter, "increment", {})).ok());
  EXPECT_EQ(Ok(counter, "read_value"), U64(0xfe));
  EXPECT_EQ(Ok(center, "calling_self", Id(center)), Bytes{1});
  Bytes self_call = Ok(center, "call_self");  // ArchivedResult: tag 0 (Ok), then true
  ASSERT_GE(self_call.size(), 2u);
  EXPECT_EQ(self_call[0], 0);
  EXPECT_EQ(self_call[1], 1);
  Bytes caller = Ok(center, "return_caller");
  ASSERT_FALSE(caller.empty());
  EXPECT_EQ(caller[0], 0) << "caller is None at top level";
  EXPECT_EQ(Ok(center, "return_self_id"), Id(center));
  EXPECT_TRUE(DecodeIdVec(Ok(center, "return_callstack")).empty());
  // callstack lists the callers, immediate caller first.
  constexpr uint32_t kN = 5;
  std::vector<ModuleId> stack = DecodeIdVec(Ok(center, "call_self_n_times", U32(kN)));
  ASSERT_EQ(stack.size(), kN);
  for (const ModuleId& id : stack) EXPECT_EQ(id, center);
  // Calling `init` through `c` is piecrust's Unknown (i32::MIN), unwrapped
  // into a panic by the callcenter.
  CallReceipt init = Call(center, "call_init", Id(counter));
  EXPECT_EQ(init.status.code(), Code::kPanic) << Describe(init);
  EXPECT_THAT(std::string(init.status.message()), HasSubstr("Unknown"));
  // A missing contract is DoesNotExist (-3).
  CallReceipt missing = Call(center, "query_counter", Id(IdOf(0xee)));
  EXPECT_EQ(missing.status.code(), Code::kPanic) << Describe(missing);
  EXPECT_THAT(std::string(missing.status.message()), HasSubstr("DoesNotExist"));
  CallReceipt panik = Call(center, "panik");
  EXPECT_EQ(panik.status.code(), Code::kPanic);
  EXPECT_THAT(std::string(panik.status.message()), HasSubstr("panik"));
}

TEST_F(PiecrustFixturesTest, CallTreeIsCalleeFirst) {
  ModuleId counter = Deploy("counter");
  ModuleId center = Deploy("callcenter");
  CallReceipt r = Call(center, "query_counter", Id(counter));
  ASSERT_TRUE(r.ok()) << Describe(r);
  // piecrust's spender.rs call_receipt: [counter, center].
  ASSERT_EQ(r.call_tree.size(), 2u);
  EXPECT_EQ(r.call_tree[0].module, counter);
  EXPECT_EQ(r.call_tree[0].function, "read_value");
  EXPECT_EQ(r.call_tree[1].module, center);
  EXPECT_EQ(r.call_tree[1].gas_spent, r.gas_spent);
  // piecrust's gas_get_used: the call through the callcenter costs more.
  EXPECT_LT(Call(counter, "read_value").gas_spent, r.gas_spent);
}

TEST_F(PiecrustFixturesTest, SpenderFailedCalleeCostsItsWholeLimit) {
  ModuleId spender = Deploy("spender");
  ModuleId center = Deploy("callcenter");
  // piecrust's panic_msg_gets_through (piecrust gives the callee 5,345 gas;
  // under crust's page-write charge, docs/abi.md §9.2, the Rust callee's
  // first stores to its stack pages cost 4,096 gas per page, so it gets more
  // to reach its panic).
  CallReceipt p = Call(center, "call_spend_with_limit", Cat({Id(spender), U64(5345 + 8 * 4096)}));
  ASSERT_TRUE(p.ok()) << Describe(p);
  EXPECT_TRUE(Contains(p.data, "I like spending"));
  ASSERT_FALSE(p.debug.empty());
  EXPECT_THAT(p.debug.back(), HasSubstr("spend call"));
  // piecrust's contract_sets_call_limit: the difference of the totals is the
  // difference of the callee limits.
  constexpr uint64_t kFirst = 1175, kSecond = 2175;
  CallReceipt a = Call(center, "call_spend_with_limit", Cat({Id(spender), U64(kFirst)}));
  CallReceipt b = Call(center, "call_spend_with_limit", Cat({Id(spender), U64(kSecond)}));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b.gas_spent - a.gas_spent, kSecond - kFirst);
  ASSERT_EQ(a.call_tree.size(), 2u);
  EXPECT_EQ(a.call_tree[0].gas_limit, kFirst);
  EXPECT_FALSE(a.call_tree[0].status.ok());  // crust's costs: out of gas before the panic
  EXPECT_EQ(a.call_tree[0].gas_spent, kFirst);
  // limit_and_spent: the self-call with limit 0 gets 93 % of what is left.
  // piecrust uses 10,000; crust's page-write charge (docs/abi.md §9.2) makes
  // each call's first stores to its stack pages cost 4,096 gas per page.
  constexpr uint64_t kSpenderLimit = 100'000;
  CallReceipt l = Call(spender, "get_limit_and_spent", {}, kSpenderLimit);
  ASSERT_TRUE(l.ok()) << Describe(l);
  ASSERT_EQ(l.data.size(), 40u);
  EXPECT_EQ(DecodeFixed64(l.data.data()), kSpenderLimit);
  const uint64_t called_limit = DecodeFixed64(l.data.data() + 24);
  ASSERT_EQ(l.call_tree.size(), 2u);
  EXPECT_EQ(l.call_tree[0].gas_limit, called_limit);
  // 93 % of what was left after the 2,000-gas call charge and the code before.
  EXPECT_LE(called_limit, (kSpenderLimit - 2000) * 93 / 100);
  EXPECT_GT(called_limit, 0u);
}

TEST_F(PiecrustFixturesTest, Crossover) {
  ModuleId one = Deploy("crossover", Bytes(32, 0), IdOf(1));
  ModuleId two = Deploy("crossover", Bytes(32, 0), IdOf(2));
  const Root before = *s_->CurrentRoot();
  (void)before;
  CallReceipt r = Call(one, "check_consistent_state_on_errors", Cat({Id(two), U32(42), U32(314), U32(272)}));
  ASSERT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(Ok(one, "crossover"), U32(42)) << "the caller's own write before a caught failure survives";
  EXPECT_EQ(Ok(two, "crossover"), U32(0)) << "the failed callee left no change";
  ModuleId three = Deploy("crossover", Bytes(32, 0), IdOf(3));
  ModuleId four = Deploy("crossover", Bytes(32, 0), IdOf(4));
  CallReceipt i = Call(three, "check_iccs_dont_rollback", Cat({Id(four), U32(42)}));
  ASSERT_TRUE(i.ok()) << Describe(i);
  EXPECT_EQ(Ok(three, "crossover"), U32(42));
}

TEST_F(PiecrustFixturesTest, Feeder) {
  ModuleId f = Deploy("feeder");
  std::vector<uint32_t> fed;
  CallReceipt r = s_->FeederCall(f, "feed_num", U32(10), kLimit, [&](ByteView b) {
    ASSERT_EQ(b.size(), 4u);
    fed.push_back(DecodeFixed32(b.data()));
  });
  ASSERT_TRUE(r.ok()) << Describe(r);
  ASSERT_EQ(fed.size(), 10u);
  for (uint32_t i = 0; i < 10; i++) EXPECT_EQ(fed[i], i);
  EXPECT_FALSE(Call(f, "feed_num", U32(10)).ok()) << "feeding in a normal call fails";
  // piecrust's feed_out_of_gas: 100 numbers with 1,000 gas.
  CallReceipt oog = s_->FeederCall(f, "feed_num", U32(100), 1000, [](ByteView) {});
  EXPECT_EQ(oog.status.code(), Code::kOutOfGas) << Describe(oog);
}

TEST_F(PiecrustFixturesTest, StakeContract) {
  ModuleId stake = Deploy("stake_contract");
  EXPECT_EQ(Ok(stake, "get_version"), U64(8));
  EXPECT_EQ(Ok(stake, "burnt_amount"), U64(0));
}

// The host-driven migration: the host reads the old counter and writes the
// value into the new code (a box), then the box takes the counter's id.
TEST_F(PiecrustFixturesTest, MigrateWithCallsOldAndNewCode) {
  ModuleId counter = Deploy("counter", Bytes(33, 5));
  EXPECT_TRUE(Call(counter, "increment").ok());
  const Root before = *s_->CurrentRoot();
  std::optional<ModuleId> seen_new;
  auto r = s_->MigrateWith(counter, Fixture("box"), {}, [&](const ModuleId& new_id, VmSession& s) -> Status {
    seen_new = new_id;
    CallReceipt old_value = s.Call(counter, "read_value", {}, kLimit);
    if (!old_value.ok()) return old_value.status;
    if (old_value.data != U64(0xfd)) return Status::Corruption("unexpected counter value");
    CallReceipt set = s.Call(new_id, "set", Bytes{old_value.data[0], 0}, kLimit);
    return set.status;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, counter);
  ASSERT_TRUE(seen_new.has_value());
  EXPECT_NE(*seen_new, counter);
  EXPECT_FALSE(s_->state().HasModule(*seen_new));
  EXPECT_NE(*s_->CurrentRoot(), before);
  EXPECT_EQ(Ok(counter, "get"), (Bytes{1, 0, 0xfd, 0})) << "the new code's state survives under the old id";
  EXPECT_EQ(*s_->Owner(counter), Bytes(33, 5)) << "the owner is kept";
  EXPECT_EQ(Call(counter, "read_value").status.code(), Code::kNotFound) << "the old code is gone";

  // A failing closure leaves the session exactly as before.
  const Root mid = *s_->CurrentRoot();
  auto failed = s_->MigrateWith(counter, Fixture("counter"), {}, [&](const ModuleId& new_id, VmSession& s) -> Status {
    EXPECT_TRUE(s.Call(new_id, "increment", {}, kLimit).ok());
    EXPECT_TRUE(s.Call(counter, "set", Bytes{0x22, 0}, kLimit).ok());
    return Status::Aborted("changed my mind");
  });
  EXPECT_EQ(failed.status().code(), Code::kAborted);
  EXPECT_EQ(*s_->CurrentRoot(), mid);
  EXPECT_EQ(Ok(counter, "get"), (Bytes{1, 0, 0xfd, 0}));
}

// Determinism: the same sequence on two stores gives the same roots,
// receipts and gas.
TEST_F(PiecrustFixturesTest, SameSequenceSameRootsReceiptsAndGasOnTwoStores) {
  struct Trace {
    std::vector<std::string> lines;
    Root root;
  };
  auto run = [&](const std::string& dir) {
    Trace t;
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.code_cache_dir = CodeCacheDir();
    o.opt_level = 0;
    auto vm = Vm::Open(dir, o);
    EXPECT_TRUE(vm.ok());
    auto s = (*vm)->StartGenesis();
    EXPECT_TRUE(s.ok());
    VmSession& ss = **s;
    auto dep = [&](const std::string& name, uint8_t id) {
      auto r = ss.Deploy(Fixture(name), {.id = IdOf(id), .owner = Bytes(33, id)});
      EXPECT_TRUE(r.ok()) << name;
      return IdOf(id);
    };
    ModuleId counter = dep("counter", 1), center = dep("callcenter", 2), eventer = dep("eventer", 3),
             reverter = dep("event_reverter", 4), spender = dep("spender", 5), stake = dep("stake_contract", 6);
    auto record = [&](const CallReceipt& r) {
      std::string line = r.status.ToString() + " " + std::to_string(r.gas_spent) + " " + std::to_string(r.data.size());
      for (const Event& e : r.events) line += " e:" + e.topic + (e.reverted ? "!" : "");
      for (const CallNode& n : r.call_tree) {
        line += " n:" + n.function + ":" + std::to_string(n.gas_limit) + ":" + std::to_string(n.gas_spent);
      }
      for (const std::string& d : r.debug) line += " d:" + d;
      t.lines.push_back(line);
    };
    record(ss.Call(center, "increment_counter", Id(counter), kLimit));
    record(ss.Call(center, "delegate_query_with_event", IdStringVec(reverter, "emit_then_panic", Id(eventer)), kLimit));
    record(ss.Call(center, "call_spend_with_limit", Cat({Id(spender), U64(4000)}), kLimit));
    record(ss.Call(eventer, "emit_events", U32(9), kLimit));
    record(ss.Call(stake, "get_version", {}, kLimit));
    record(ss.Call(center, "call_self_n_times", U32(7), kLimit));
    t.root = *ss.Commit();
    return t;
  };
  Trace a = run(tmp_.Sub("a")), b = run(tmp_.Sub("b"));
  EXPECT_EQ(a.lines, b.lines);
  EXPECT_EQ(a.root, b.root);
}

// --- Through the tool ---

class PiecrustFixturesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::is_directory(FixturesDir()))
        << "the piecrust fixtures are missing: " << FixturesDir() << " (set CRUST_FIXTURES_DIR)";
    // The tool creates stores only when told to (crust init).
    testing::RunResult init = testing::RunTool({"init", tmp_.Sub("store")}, tmp_.Sub("init.out"), tmp_.Sub("init.err"));
    ASSERT_EQ(init.status, 0) << init.err;
  }
  testing::RunResult Exec(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", tmp_.Sub("store"), "--code-cache", CodeCacheDir() + "-cli"});
    const int n = runs_++;  // (both names from one value: the two were unsequenced)
    return testing::RunTool(args, tmp_.Sub("out" + std::to_string(n)), tmp_.Sub("err" + std::to_string(n)));
  }
  std::string Field(const std::string& json, const std::string& key) {
    std::smatch m;
    if (std::regex_search(json, m, std::regex("\"" + key + "\":\"([^\"]*)\""))) return m[1].str();
    return "";
  }
  testing::TempDir tmp_;
  int runs_ = 0;
};

TEST_F(PiecrustFixturesCliTest, DeployAndCallCounterAndCallcenterWithDebugLines) {
  testing::RunResult d = Exec({"--json", "deploy", "--owner", std::string(66, '0'), FixturePath("counter")});
  ASSERT_EQ(d.status, 0) << d.err;
  const std::string counter = Field(d.out, "module");
  ASSERT_EQ(counter.size(), 64u) << d.out;
  testing::RunResult c = Exec({"--json", "deploy", "--owner", std::string(66, '0'), FixturePath("callcenter")});
  ASSERT_EQ(c.status, 0) << c.err;
  const std::string center = Field(c.out, "module");

  testing::RunResult r = Exec({"--json", "call", counter, "read_value"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Field(r.out, "data"), "fc00000000000000");
  EXPECT_EQ(Exec({"call", counter, "increment"}).status, 0);
  r = Exec({"--json", "call", center, "query_counter", counter});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Field(r.out, "data"), "fd00000000000000");

  // A call that records debug lines: delegate_query("read_value") on the counter.
  Bytes arg = IdStringVec(ModuleId::FromHex(counter).value(), "read_value", {});
  std::string hex;
  for (uint8_t b : arg) {
    static const char* const k = "0123456789abcdef";
    hex += k[b >> 4];
    hex += k[b & 15];
  }
  r = Exec({"--json", "call", "--no-commit", center, "delegate_query", hex});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"debug\":[\"raw query read_value at"));
  r = Exec({"call", "--no-commit", center, "delegate_query", hex});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("debug      raw query read_value at"));
}

TEST_F(PiecrustFixturesCliTest, RunScriptOverFixtures) {
  const std::string script = tmp_.Sub("script.txt");
  {
    std::ofstream f(script);
    f << "deploy " << FixturePath("stake_contract") << " --owner " << std::string(66, '0') << "\n"
      << "call $1 get_version\n"
      << "call $1 burnt_amount\n"
      << "deploy " << FixturePath("box") << "\n"
      << "call $2 set 1100\n"
      << "call $2 get\n"
      << "commit\n";
  }
  testing::RunResult r = Exec({"--json", "run", script});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"data\":\"0800000000000000\""));
  EXPECT_THAT(r.out, HasSubstr("\"data\":\"0000000000000000\""));
  EXPECT_THAT(r.out, HasSubstr("\"data\":\"01001100\""));
}

}  // namespace
}  // namespace crust
