// Copyright (c) crust authors. Licensed under the MIT license.
//
// Contracts calling contracts (issue 4), through the public API, with the
// example contracts callcenter, crossover and migrated (plus counter, grower,
// panicker, hostinfo); their functions and encodings are in
// contracts/README.md. Every scenario of the test list:
// crossover, atomic rollback of failed callees (writes, growth, events),
// missing modules and functions, gas, events, caller/callstack/self_id/owner,
// host queries, feeds, `init` through `c`, migration, determinism and the
// receipts' call trees.
//
// Assumptions (see contracts/README.md, "callcenter"):
//  * callstack() lists the calling modules, immediate caller first; the
//    current module is not included.
//  * `c` returns -3 only for a module that does not exist; a missing
//    function or `init` is INT32_MIN (piecrust's rules).
//  * Events of rolled-back calls stay in the receipt, flagged reverted
//    (vm.h); Kept() selects the others.
//  * Call trees are read in start order (VmOptions::call_tree_order).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <sstream>
#include <tuple>

#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
using Code = Status::Code;

constexpr uint64_t kGas = 1'000'000'000;
constexpr int32_t kPanicked = -1;
constexpr int32_t kOutOfGasCode = -2;
constexpr int32_t kNotFoundCode = -3;
constexpr int32_t kOther = INT32_MIN;

Bytes Contract(const std::string& name) {
  auto r = os::Env::Default()->ReadFile(std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm");
  EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

// ---- encodings ------------------------------------------------------------

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes U32(uint32_t v) {
  Bytes b(4);
  EncodeFixed32(b.data(), v);
  return b;
}
Bytes U64(uint64_t v) {
  Bytes b(8);
  EncodeFixed64(b.data(), v);
  return b;
}
Bytes Id(const ModuleId& id) { return Bytes(id.bytes.begin(), id.bytes.end()); }
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
uint64_t AsU64(const Bytes& b, size_t at = 0) { return b.size() >= at + 8 ? DecodeFixed64(b.data() + at) : ~0ull; }
uint32_t AsU32(const Bytes& b, size_t at = 0) { return b.size() >= at + 4 ? DecodeFixed32(b.data() + at) : ~0u; }
int32_t AsI32(const Bytes& b, size_t at = 0) { return static_cast<int32_t>(AsU32(b, at)); }

// callcenter's call request: module | u64 gas | u32 fn_len | fn | arg.
Bytes Req(const ModuleId& m, std::string_view fn, const Bytes& arg = {}, uint64_t gas = 0) {
  return Cat({Id(m), U64(gas), U32(static_cast<uint32_t>(fn.size())), Str(fn), arg});
}

// callcenter's call response: i32 code | bytes.
struct Resp {
  int32_t code = 0;
  Bytes bytes;
};
Resp AsResp(const Bytes& d) {
  Resp r;
  r.code = d.size() >= 4 ? AsI32(d) : 0x7fffffff;
  if (d.size() > 4) r.bytes.assign(d.begin() + 4, d.end());
  return r;
}
// The panic message of a -1 response (u32 len | UTF-8).
std::string PanicMessage(const Resp& r) {
  if (r.code != kPanicked || r.bytes.size() < 4) return "<not a panic response>";
  uint32_t n = AsU32(r.bytes);
  if (n + 4 != r.bytes.size()) return "<bad panic message length>";
  return std::string(r.bytes.begin() + 4, r.bytes.end());
}

// callcenter.run script ops.
struct Script {
  Bytes b;
  Script& W(uint64_t v) {
    b.push_back('W');
    PutFixed64(&b, v);
    return *this;
  }
  Script& E(std::string_view topic, const Bytes& data) {
    b.push_back('E');
    PutFixed32(&b, static_cast<uint32_t>(topic.size()));
    b.insert(b.end(), topic.begin(), topic.end());
    PutFixed32(&b, static_cast<uint32_t>(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    return *this;
  }
  Script& F(uint32_t v) {
    b.push_back('F');
    PutFixed32(&b, v);
    return *this;
  }
  Script& C(const Bytes& request) {
    b.push_back('C');
    PutFixed32(&b, static_cast<uint32_t>(request.size()));
    b.insert(b.end(), request.begin(), request.end());
    return *this;
  }
  Script& S(uint32_t n) {
    b.push_back('S');
    PutFixed32(&b, n);
    return *this;
  }
  Script& P() {
    b.push_back('P');
    return *this;
  }
};
// run's result: u64 stored | records (i32 code | u32 len | bytes).
struct RunResult {
  uint64_t stored = 0;
  std::vector<Resp> records;
};
RunResult AsRun(const Bytes& d) {
  RunResult r;
  r.stored = AsU64(d);
  size_t at = 8;
  while (at + 8 <= d.size()) {
    Resp x;
    x.code = AsI32(d, at);
    uint32_t n = AsU32(d, at + 4);
    if (at + 8 + n > d.size()) break;
    x.bytes.assign(d.begin() + at + 8, d.begin() + at + 8 + n);
    r.records.push_back(std::move(x));
    at += 8 + n;
  }
  return r;
}

// A readable, complete rendering of a receipt (for equality and messages).
std::string Render(const CallReceipt& r) {
  std::ostringstream o;
  o << "status=" << r.status.ToString() << " data=" << ToHex(r.data) << " gas=" << r.gas_spent << "/" << r.gas_limit
    << "\n";
  for (const Event& e : r.events)
    o << "  event " << e.source.ToHex().substr(0, 8) << " " << e.topic << " " << ToHex(e.data) << "\n";
  for (const CallNode& n : r.call_tree) {
    o << "  call " << std::string(n.depth * 2, ' ') << n.module.ToHex().substr(0, 8) << "." << n.function
      << " gas=" << n.gas_spent << "/" << n.gas_limit << " " << n.status.ToString() << "\n";
  }
  return o.str();
}

// The events of a receipt that were not rolled back.
std::vector<Event> Kept(const CallReceipt& r) {
  std::vector<Event> kept;
  for (const Event& e : r.events) {
    if (!e.reverted) kept.push_back(e);
  }
  return kept;
}
size_t RevertedCount(const CallReceipt& r) { return r.events.size() - Kept(r).size(); }

std::string CodeDir() { return std::string(CRUST_BINARY_DIR) + "/composition-test-code-cache"; }

VmOptions Options(uint32_t max_module_depth = 48) {
  VmOptions o;
  o.store.write_audit = true;  // fail on any page the engine wrote without noting it
  o.store.sync = false;
  o.opt_level = 0;
  o.code_cache_dir = CodeDir();  // shared by every test and run: compile once
  o.max_module_depth = max_module_depth;
  o.call_tree_order = CallTreeOrder::kStartOrder;  // the index-based checks below
  o.host_queries["sha256"] = [](ByteView arg, uint64_t* gas) -> Result<Bytes> {
    *gas = 100 + arg.size();
    Hash32 h = Sha256Of(arg);
    return Bytes(h.bytes.begin(), h.bytes.end());
  };
  // Charges the u64 in its argument; returns "charged".
  o.host_queries["charge"] = [](ByteView arg, uint64_t* gas) -> Result<Bytes> {
    if (arg.size() != 8) return Status::InvalidArgument("charge: expected u64");
    *gas = DecodeFixed64(arg.data());
    return Str("charged");
  };
  o.host_queries["refuse"] = [](ByteView, uint64_t*) -> Result<Bytes> {
    return Status::Aborted("query refused by the host");
  };
  return o;
}

class CompositionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Open(dir_.Sub("store"), Options()));
    ASSERT_OK_AND_ASSIGN(s_, vm_->StartGenesis());
  }
  void TearDown() override {
    s_.reset();
    vm_.reset();
  }

  ModuleId Deploy(const std::string& name, uint64_t nonce = 0, Bytes owner = {}, Bytes init = {}) {
    DeployOptions d;
    d.nonce = nonce;
    d.owner = std::move(owner);
    d.init_arg = std::move(init);
    auto r = s_->Deploy(Contract(name), d);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    return r.ok() ? *r : ModuleId{};
  }
  CallReceipt Call(const ModuleId& m, std::string_view fn, const Bytes& arg = {}, uint64_t gas = kGas) {
    return s_->Call(m, fn, arg, gas);
  }
  // Calls `fn` and expects success; returns the data.
  Bytes Ok(const ModuleId& m, std::string_view fn, const Bytes& arg = {}, uint64_t gas = kGas) {
    CallReceipt r = Call(m, fn, arg, gas);
    EXPECT_TRUE(r.ok()) << fn << ": " << Render(r);
    return r.data;
  }
  // callcenter `at`.call(request) and its response.
  Resp Forward(const ModuleId& at, const Bytes& request, CallReceipt* receipt = nullptr) {
    CallReceipt r = Call(at, "call", request);
    EXPECT_TRUE(r.ok()) << Render(r);
    if (receipt) *receipt = r;
    return AsResp(r.data);
  }
  uint64_t Read(const ModuleId& m, std::string_view fn = "read") { return AsU64(Ok(m, fn)); }
  Root CurrentRoot() {
    auto r = s_->CurrentRoot();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Root{};
  }
  Bytes Memory(const ModuleId& m) {
    auto len = s_->state().MemoryLength(m);
    EXPECT_TRUE(len.ok());
    Bytes out(len.ok() ? *len : 0);
    EXPECT_OK(s_->state().ReadMemory(m, 0, out));
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<VmSession> s_;
};

// ---- atomicity --------------------------------------------------------------

// piecrust's crossover: A calls B, B writes, calls back into A which writes,
// then B panics. Both writes of the subtree are gone, A sees -1 and can still
// write (and commit) its own change.
TEST_F(CompositionTest, Crossover) {
  ModuleId a = Deploy("crossover", 0);
  ModuleId b = Deploy("crossover", 1);
  ASSERT_NE(a, b);
  ASSERT_EQ(AsU64(Ok(a, "set_crossover", U64(5))), 0u);
  CallReceipt r = Call(a, "check_consistent_state_on_errors", Cat({Id(b), U64(7), U64(9)}));
  ASSERT_TRUE(r.ok()) << Render(r);
  ASSERT_GE(r.data.size(), 12u);
  EXPECT_EQ(AsI32(r.data), kPanicked);
  EXPECT_EQ(AsU64(r.data, 4), 8u);  // x + 1, written after the failed call
  Resp failed{kPanicked, Bytes(r.data.begin() + 12, r.data.end())};
  EXPECT_EQ(PanicMessage(failed), "set_back_and_panic: OH NOES");
  EXPECT_EQ(Read(a, "crossover"), 8u);
  EXPECT_EQ(Read(b, "crossover"), 0u);  // B's own write is gone too
  // Events: A's two writes kept; B's and the callback's rolled back (kept
  // in the receipt, flagged).
  std::vector<Event> kept = Kept(r);
  ASSERT_EQ(kept.size(), 2u) << Render(r);
  EXPECT_EQ(kept[0].source, a);
  EXPECT_EQ(kept[0].topic, "crossover");
  EXPECT_EQ(kept[0].data, U64(7));
  EXPECT_EQ(kept[1].source, a);
  EXPECT_EQ(kept[1].data, U64(8));
  EXPECT_GE(RevertedCount(r), 1u) << Render(r);
  EXPECT_EQ(r.events.front().data, U64(7));
  // The call tree still shows the failed subtree.
  ASSERT_EQ(r.call_tree.size(), 3u) << Render(r);
  EXPECT_EQ(r.call_tree[1].module, b);
  EXPECT_EQ(r.call_tree[1].function, "set_back_and_panic");
  EXPECT_EQ(r.call_tree[1].status.code(), Code::kPanic);
  EXPECT_EQ(r.call_tree[2].module, a);
  EXPECT_EQ(r.call_tree[2].function, "set_crossover");
  EXPECT_EQ(r.call_tree[2].depth, 2u);
  EXPECT_OK(r.call_tree[2].status);
  // Committed and read back in a new session.
  ASSERT_OK_AND_ASSIGN(Root root, s_->Commit());
  s_.reset();
  ASSERT_OK_AND_ASSIGN(s_, vm_->StartSession(root));
  EXPECT_EQ(Read(a, "crossover"), 8u);
  EXPECT_EQ(Read(b, "crossover"), 0u);
  // From the host, set_back_and_panic has no caller.
  CallReceipt h = Call(b, "set_back_and_panic", U64(1));
  EXPECT_EQ(h.status.code(), Code::kPanic);
  EXPECT_EQ(h.status.message(), "set_back_and_panic: no caller");
}

TEST_F(CompositionTest, WriteBeforeFailedCalleeSurvives) {
  ModuleId cc = Deploy("callcenter");
  ModuleId p = Deploy("panicker");
  ASSERT_OK(Call(p, "set", U64(3)).status);
  struct Case {
    std::string fn;
    Bytes arg;
    uint64_t gas;
    int32_t code;
  };
  Bytes div0 = Cat({U32(1), U32(0)});
  uint64_t v = 100;
  for (const Case& c : {Case{"set_then_panic", U64(77), 0, kPanicked}, Case{"unreachable", {}, 0, kOther},
                        Case{"divide", div0, 0, kOther}, Case{"spin", {}, 50'000, kOutOfGasCode}}) {
    ++v;
    CallReceipt r = Call(cc, "write_then_call", Cat({U64(v), Req(p, c.fn, c.arg, c.gas)}));
    ASSERT_TRUE(r.ok()) << c.fn << ": " << Render(r);
    Resp resp = AsResp(r.data);
    EXPECT_EQ(resp.code, c.code) << c.fn;
    if (c.code == kPanicked) {
      EXPECT_EQ(PanicMessage(resp), "set_then_panic");
    }
    EXPECT_EQ(Read(cc), v) << c.fn;         // the caller's write survived
    EXPECT_EQ(Read(p, "get"), 3u) << c.fn;  // the callee's did not
  }
  // A successful callee's write stays.
  Resp ok = AsResp(Ok(cc, "write_then_call", Cat({U64(1), Req(p, "set", U64(4))})));
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(Read(p, "get"), 4u);
}

// A failed top-level call leaves the session as a twin that never made it;
// nested failures roll back only the failed subtree.
TEST_F(CompositionTest, NestedFailuresRollBackOnlyTheFailedSubtree) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  ModuleId c = Deploy("callcenter", 2);
  // b writes 2, its callee c writes 3 and returns, then b panics: both go.
  // c is then called again by a and writes 4, which stays.
  Script inner;
  inner.W(2).C(Req(c, "run", Script().W(3).b)).P();
  Script outer;
  outer.W(1).C(Req(b, "run", inner.b)).C(Req(c, "run", Script().W(4).b));
  CallReceipt r = Call(a, "run", outer.b);
  ASSERT_TRUE(r.ok()) << Render(r);
  RunResult rr = AsRun(r.data);
  EXPECT_EQ(rr.stored, 1u);
  ASSERT_EQ(rr.records.size(), 2u);
  EXPECT_EQ(rr.records[0].code, kPanicked);
  EXPECT_EQ(PanicMessage(rr.records[0]), "run: panic");
  EXPECT_GE(rr.records[1].code, 8);
  EXPECT_EQ(Read(a), 1u);
  EXPECT_EQ(Read(b), 0u);
  EXPECT_EQ(Read(c), 4u);

  // A top-level failure: exactly the root before.
  Root before = CurrentRoot();
  CallReceipt f = Call(a, "run", Script().W(9).C(Req(b, "write", U64(9))).C(Req(c, "write", U64(9))).P().b);
  EXPECT_EQ(f.status.code(), Code::kPanic);
  EXPECT_TRUE(f.data.empty());
  EXPECT_TRUE(Kept(f).empty());
  EXPECT_GT(f.gas_spent, 0u);
  EXPECT_EQ(CurrentRoot(), before);
  EXPECT_EQ(Read(a), 1u);
  EXPECT_EQ(Read(b), 0u);
  EXPECT_EQ(Read(c), 4u);
}

TEST_F(CompositionTest, CalleePanicsAfterGrowingMemory) {
  ModuleId cc = Deploy("callcenter");
  ModuleId g = Deploy("grower");
  ASSERT_OK(Call(g, "grow", U32(1)).status);  // one chunk that must survive
  Bytes verified = Ok(g, "verify");
  Bytes mem_before = Memory(g);
  ASSERT_FALSE(mem_before.empty());
  CallReceipt r;
  Resp resp = Forward(cc, Req(g, "grow_and_panic", U32(7)), &r);
  EXPECT_EQ(resp.code, kPanicked);
  EXPECT_EQ(PanicMessage(resp), "grow_and_panic");
  // Length and contents roll back.
  Bytes mem_after = Memory(g);
  EXPECT_EQ(mem_after.size(), mem_before.size());
  EXPECT_TRUE(mem_after == mem_before) << "grower's memory contents changed";
  for (size_t i = 0; i < mem_after.size(); i++) {
    if (mem_after[i] != mem_before[i]) {
      ADD_FAILURE() << "DEBUG first diff at " << i << " " << int(mem_before[i]) << "->" << int(mem_after[i]);
      break;
    }
  }
  EXPECT_EQ(Ok(g, "verify"), verified);
  Bytes info = Ok(g, "info");
  EXPECT_EQ(AsU32(info, 0), 1u);
  EXPECT_EQ(uint64_t{AsU32(info, 4)} * 65536, mem_before.size());
  // Two levels (cc -> cc2 -> grower): cc2 catches the panic and succeeds;
  // grower is still unchanged. (verify and info above wrote their results
  // into grower's A: take the memory again.)
  mem_before = Memory(g);
  ModuleId cc2 = Deploy("callcenter", 1);
  Resp two = Forward(cc, Req(cc2, "call", Req(g, "grow_and_panic", U32(8))));
  ASSERT_GE(two.code, 4);
  EXPECT_EQ(AsI32(two.bytes), kPanicked);
  EXPECT_TRUE(Memory(g) == mem_before);
  // Growth after the rolled-back one starts from the right length.
  ASSERT_OK(Call(g, "grow", U32(2)).status);
  Bytes info2 = Ok(g, "info");
  EXPECT_EQ(AsU32(info2, 0), 2u);
  EXPECT_EQ(uint64_t{AsU32(info2, 4)} * 65536, mem_before.size() + 65536);
  ASSERT_OK(Call(g, "verify").status);
  ASSERT_OK(s_->Commit());
}

TEST_F(CompositionTest, MissingModuleReturnsMinus3AndMissingFunctionMin) {
  ModuleId cc = Deploy("callcenter");
  ModuleId counter = Deploy("counter", 0, {}, U64(5));
  ModuleId nowhere;
  nowhere.bytes.fill(0x5a);
  Resp m = AsResp(Ok(cc, "write_then_call", Cat({U64(11), Req(nowhere, "read")})));
  EXPECT_EQ(m.code, kNotFoundCode);
  EXPECT_TRUE(m.bytes.empty());
  EXPECT_EQ(Read(cc), 11u);
  Resp f = AsResp(Ok(cc, "write_then_call", Cat({U64(12), Req(counter, "no_such_function")})));
  EXPECT_EQ(f.code, kOther);
  EXPECT_EQ(Read(cc), 12u);
  EXPECT_EQ(Read(counter), 5u);
  // An empty function name is not a function either.
  EXPECT_EQ(AsResp(Ok(cc, "call", Req(counter, ""))).code, kOther);
  // The top-level equivalent is NotFound.
  EXPECT_TRUE(Call(nowhere, "read").status.IsNotFound());
}

TEST_F(CompositionTest, InitIsNotReachableThroughC) {
  ModuleId cc = Deploy("callcenter");
  ModuleId counter = Deploy("counter", 0, {}, U64(5));
  Resp r = AsResp(Ok(cc, "write_then_call", Cat({U64(3), Req(counter, "init", U64(100))})));
  // piecrust's Unknown (INT32_MIN); never success.
  EXPECT_EQ(r.code, kOther);
  EXPECT_EQ(Read(counter), 5u);
  EXPECT_EQ(Read(cc), 3u);
  // Nor deeper in a chain (cc -> cc2 -> counter.init).
  ModuleId cc2 = Deploy("callcenter", 1);
  Resp two = AsResp(Ok(cc, "call", Req(cc2, "call", Req(counter, "init"))));
  ASSERT_GE(two.code, 4);
  EXPECT_EQ(AsI32(two.bytes), kOther);
  EXPECT_EQ(Read(counter), 5u);
}

// ---- gas ------------------------------------------------------------------------

TEST_F(CompositionTest, GasThroughAnIntermediaryCostsMore) {
  ModuleId cc = Deploy("callcenter");
  ModuleId p = Deploy("panicker");
  CallReceipt direct = Call(p, "burn", U32(1000));
  ASSERT_OK(direct.status);
  CallReceipt via;
  Resp r = Forward(cc, Req(p, "burn", U32(1000)), &via);
  ASSERT_EQ(r.code, 4);
  EXPECT_EQ(AsU32(r.bytes), 1000u);
  EXPECT_GT(via.gas_spent, direct.gas_spent);
  ASSERT_EQ(via.call_tree.size(), 2u) << Render(via);
  EXPECT_EQ(via.call_tree[0].gas_spent, via.gas_spent);
  EXPECT_LT(via.call_tree[1].gas_spent, via.gas_spent);
  // Two intermediaries cost more than one.
  ModuleId cc2 = Deploy("callcenter", 1);
  CallReceipt via2;
  Resp r2 = Forward(cc, Req(cc2, "call", Req(p, "burn", U32(1000))), &via2);
  ASSERT_GE(r2.code, 4);
  EXPECT_GT(via2.gas_spent, via.gas_spent);
  // Deterministic.
  CallReceipt again;
  Forward(cc, Req(p, "burn", U32(1000)), &again);
  EXPECT_EQ(again.gas_spent, via.gas_spent);
}

TEST_F(CompositionTest, GasLimitOfOneRunsOut) {
  ModuleId cc = Deploy("callcenter");
  ModuleId p = Deploy("panicker");
  CallReceipt r = Call(cc, "write_then_call", Cat({U64(42), Req(p, "burn", U32(1000), 1)}));
  ASSERT_TRUE(r.ok()) << Render(r);
  EXPECT_EQ(AsResp(r.data).code, kOutOfGasCode);
  EXPECT_EQ(Read(cc), 42u);
  ASSERT_EQ(r.call_tree.size(), 2u) << Render(r);
  EXPECT_EQ(r.call_tree[1].gas_limit, 1u);
  EXPECT_LE(r.call_tree[1].gas_spent, 1u);
  EXPECT_EQ(r.call_tree[1].status.code(), Code::kOutOfGas);
}

// The caller's spend changes by exactly what it lets a callee burn.
TEST_F(CompositionTest, SpendChangesExactlyWithTheCalleeLimit) {
  ModuleId cc = Deploy("callcenter");
  ModuleId p = Deploy("panicker");
  auto spend_with = [&](uint64_t limit) {
    CallReceipt r = Call(cc, "call", Req(p, "spin", {}, limit));
    EXPECT_OK(r.status);
    EXPECT_EQ(AsResp(r.data).code, kOutOfGasCode) << limit;
    if (r.call_tree.size() == 2) {
      EXPECT_EQ(r.call_tree[1].gas_limit, limit);
      EXPECT_EQ(r.call_tree[1].gas_spent, limit);
    } else {
      ADD_FAILURE() << Render(r);
    }
    return r.gas_spent;
  };
  uint64_t a = spend_with(10'000);
  uint64_t b = spend_with(11'000);
  uint64_t c = spend_with(1'011'000);
  EXPECT_EQ(b - a, 1'000u);
  EXPECT_EQ(c - b, 1'000'000u);
  // A callee that succeeds costs the same whatever limit it was given.
  CallReceipt x = Call(cc, "call", Req(p, "burn", U32(100), 1'000'000));
  CallReceipt y = Call(cc, "call", Req(p, "burn", U32(100), 2'000'000));
  ASSERT_OK(x.status);
  ASSERT_OK(y.status);
  EXPECT_EQ(x.gas_spent, y.gas_spent);
  // The callee's gas is charged to the caller: the caller itself running out.
  CallReceipt tight = Call(cc, "call", Req(p, "spin", {}, 0), 200'000);
  EXPECT_TRUE(tight.ok()) << "93% to the callee leaves the caller enough to finish: " << Render(tight);
  EXPECT_EQ(AsResp(tight.data).code, kOutOfGasCode);
  EXPECT_LE(tight.gas_spent, 200'000u);
}

TEST_F(CompositionTest, LimitAndSpentInCallees) {
  ModuleId cc = Deploy("callcenter");
  ModuleId cc2 = Deploy("callcenter", 1);
  // Top level.
  CallReceipt top = Call(cc, "spend", U32(10), 777'777);
  ASSERT_OK(top.status);
  EXPECT_EQ(AsU64(top.data, 0), 777'777u);
  EXPECT_GT(AsU64(top.data, 8), 0u);
  EXPECT_LE(AsU64(top.data, 8), top.gas_spent);
  // An explicit callee limit.
  CallReceipt r;
  Resp resp = Forward(cc, Req(cc2, "spend", U32(10), 123'456), &r);
  ASSERT_EQ(resp.code, 16);
  EXPECT_EQ(AsU64(resp.bytes, 0), 123'456u);
  uint64_t spent = AsU64(resp.bytes, 8);
  EXPECT_GT(spent, 0u);
  ASSERT_EQ(r.call_tree.size(), 2u) << Render(r);
  EXPECT_EQ(r.call_tree[1].gas_limit, 123'456u);
  EXPECT_LE(spent, r.call_tree[1].gas_spent);
  // More iterations, more spent.
  Resp more = Forward(cc, Req(cc2, "spend", U32(1000), 123'456));
  ASSERT_EQ(more.code, 16);
  EXPECT_GT(AsU64(more.bytes, 8), spent);
  // Limit 0: 93% of what the caller has left.
  CallReceipt z = Call(cc, "call", Req(cc2, "spend", U32(10), 0), 1'000'000);
  ASSERT_TRUE(z.ok()) << Render(z);
  Resp zr = AsResp(z.data);
  ASSERT_EQ(zr.code, 16);
  uint64_t passed = AsU64(zr.bytes, 0);
  EXPECT_LE(passed, 930'000u);
  EXPECT_GE(passed, (1'000'000 - z.gas_spent) * 93 / 100);
  ASSERT_EQ(z.call_tree.size(), 2u);
  EXPECT_EQ(z.call_tree[1].gas_limit, passed);
}

// ---- events -------------------------------------------------------------------

TEST_F(CompositionTest, EventsInOrderIntactAndRolledBackOnesFlagged) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  Bytes binary = {0, 1, 2, 0, 255, 0};
  Bytes big(1500);  // scripts are at most 2048 bytes; larger data below
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7);
  const std::string utf8 = "topic \xc3\xa9\xe2\x9c\x93";
  Script s;
  s.E("first", binary)
      .C(Req(b, "run", Script().E("from b", Str("hello")).E(utf8, big).b))
      .C(Req(b, "run", Script().E("lost", Str("rolled back")).P().b))
      .C(Req(b, "emit", Cat({U32(4), Str("emit"), Str("direct")})))
      .E("last", {});
  CallReceipt r = Call(a, "run", s.b);
  ASSERT_TRUE(r.ok()) << Render(r);
  ASSERT_EQ(r.events.size(), 6u) << Render(r);
  EXPECT_EQ(r.events[3].topic, "lost");
  EXPECT_TRUE(r.events[3].reverted);
  r.events.erase(r.events.begin() + 3);
  ASSERT_EQ(Kept(r).size(), 5u) << Render(r);
  struct Want {
    ModuleId source;
    std::string topic;
    Bytes data;
  };
  std::vector<Want> want = {
      {a, "first", binary}, {b, "from b", Str("hello")}, {b, utf8, big}, {b, "emit", Str("direct")}, {a, "last", {}}};
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(r.events[i].source, want[i].source) << i;
    EXPECT_EQ(r.events[i].topic, want[i].topic) << i;
    EXPECT_TRUE(r.events[i].data == want[i].data) << i;
  }
  // Large data, through a call.
  Bytes huge(60000);
  for (size_t i = 0; i < huge.size(); i++) huge[i] = static_cast<uint8_t>(i * 31 + 7);
  CallReceipt h = Call(a, "call", Req(b, "emit", Cat({U32(4), Str("huge"), huge})));
  ASSERT_TRUE(h.ok()) << h.status.ToString();
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0].source, b);
  EXPECT_EQ(h.events[0].topic, "huge");
  EXPECT_TRUE(h.events[0].data == huge);
  // The emit function's own encoding, at the top level.
  CallReceipt e = Call(a, "emit", Cat({U32(3), Str("top"), binary}));
  ASSERT_OK(e.status);
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_EQ(e.events[0].topic, "top");
  EXPECT_EQ(e.events[0].data, binary);
  // A call that fails as a whole: every event flagged.
  CallReceipt f = Call(a, "run", Script().E("kept?", Str("no")).C(Req(b, "emit", Cat({U32(1), Str("x")}))).P().b);
  EXPECT_EQ(f.status.code(), Code::kPanic);
  EXPECT_EQ(f.events.size(), 2u) << Render(f);
  EXPECT_TRUE(Kept(f).empty()) << Render(f);
  // A callee that runs out of gas after emitting: flagged as well.
  CallReceipt g =
      Call(a, "run", Script().C(Req(b, "run", Script().E("spent", {}).S(100'000'000).b, 20'000)).E("after", {}).b);
  ASSERT_TRUE(g.ok()) << Render(g);
  ASSERT_EQ(AsRun(g.data).records.size(), 1u);
  EXPECT_EQ(AsRun(g.data).records[0].code, kOutOfGasCode);
  ASSERT_EQ(g.events.size(), 2u) << Render(g);
  EXPECT_TRUE(g.events[0].reverted);
  ASSERT_EQ(Kept(g).size(), 1u) << Render(g);
  EXPECT_EQ(Kept(g)[0].topic, "after");
}

// ---- context: caller, callstack, self_id, owner ----------------------------------

// callstack() ids as a list: the callers, immediate caller first.
std::vector<ModuleId> Ids(const Bytes& callstack_result) {
  std::vector<ModuleId> ids;
  uint32_t n = AsU32(callstack_result);
  if (callstack_result.size() != 4 + size_t{n} * 32) {
    ADD_FAILURE() << "callstack result of " << callstack_result.size() << " bytes for " << n << " ids";
    return ids;
  }
  for (uint32_t i = 0; i < n; i++) {
    ModuleId id;
    std::memcpy(id.bytes.data(), callstack_result.data() + 4 + 32 * i, 32);
    ids.push_back(id);
  }
  return ids;
}

// Unwraps `levels` nested callcenter responses, expecting success at each.
Bytes Unwrap(Bytes data, int levels) {
  for (int i = 0; i < levels; i++) {
    Resp r = AsResp(data);
    EXPECT_GE(r.code, 0) << "level " << i;
    data = r.bytes;
  }
  return data;
}

TEST_F(CompositionTest, CallerAndCallstackFromTheHost) {
  ModuleId a = Deploy("callcenter");
  EXPECT_EQ(Ok(a, "caller"), Bytes{0});
  EXPECT_EQ(Ok(a, "callstack"), U32(0));
  EXPECT_EQ(Ok(a, "self_id"), Id(a));
}

TEST_F(CompositionTest, CallerAndCallstackThroughChains) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  ModuleId c = Deploy("callcenter", 2);
  // a -> b.caller
  EXPECT_EQ(Unwrap(Ok(a, "call", Req(b, "caller")), 1), Cat({Bytes{1}, Id(a)}));
  // a -> b -> c.caller / callstack / self_id
  Bytes chain_caller = Ok(a, "call", Req(b, "call", Req(c, "caller")));
  EXPECT_EQ(Unwrap(chain_caller, 2), Cat({Bytes{1}, Id(b)}));
  Bytes stack = Unwrap(Ok(a, "call", Req(b, "call", Req(c, "callstack"))), 2);
  EXPECT_EQ(Ids(stack), (std::vector<ModuleId>{b, a}));
  EXPECT_EQ(Unwrap(Ok(a, "call", Req(b, "call", Req(c, "self_id"))), 2), Id(c));
  // a -> b.callstack
  EXPECT_EQ(Ids(Unwrap(Ok(a, "call", Req(b, "callstack")), 1)), (std::vector<ModuleId>{a}));
  // After a nested call returns, the caller's context is its own again.
  Script s;
  s.C(Req(b, "caller")).C(Req(a, "caller"));
  RunResult rr = AsRun(Ok(c, "run", s.b));
  ASSERT_EQ(rr.records.size(), 2u);
  EXPECT_EQ(rr.records[0].bytes, Cat({Bytes{1}, Id(c)}));
  EXPECT_EQ(rr.records[1].bytes, Cat({Bytes{1}, Id(c)}));
  EXPECT_EQ(Ok(c, "caller"), Bytes{0});
}

TEST_F(CompositionTest, SelfCalls) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  EXPECT_EQ(Unwrap(Ok(a, "call", Req(a, "caller")), 1), Cat({Bytes{1}, Id(a)}));
  EXPECT_EQ(Unwrap(Ok(a, "call", Req(a, "self_id")), 1), Id(a));
  Bytes stack = Unwrap(Ok(a, "call", Req(a, "call", Req(a, "callstack"))), 2);
  EXPECT_EQ(Ids(stack), (std::vector<ModuleId>{a, a}));
  Bytes mixed = Unwrap(Ok(a, "call", Req(b, "call", Req(a, "call", Req(b, "callstack")))), 3);
  EXPECT_EQ(Ids(mixed), (std::vector<ModuleId>{a, b, a}));
  // A self-call writes the same memory: a write in a nested activation is
  // visible to the outer one when it succeeds, and rolled back when it fails.
  RunResult ok = AsRun(Ok(a, "run", Script().W(1).C(Req(a, "write", U64(2))).b));
  EXPECT_EQ(ok.stored, 2u);
  RunResult failed = AsRun(Ok(a, "run", Script().W(3).C(Req(a, "run", Script().W(4).P().b)).b));
  ASSERT_EQ(failed.records.size(), 1u);
  EXPECT_EQ(failed.records[0].code, kPanicked);
  EXPECT_EQ(failed.stored, 3u);
  EXPECT_EQ(Read(a), 3u);
}

TEST_F(CompositionTest, OwnerAndSelfId) {
  ModuleId a = Deploy("callcenter", 0, Str("alice"));
  ModuleId b = Deploy("callcenter", 1, Str("bob"));
  ModuleId anon = Deploy("callcenter", 2);
  EXPECT_EQ(Ok(a, "owner_of", Id(b)), Cat({U32(3), Str("bob")}));
  EXPECT_EQ(Ok(a, "owner_of", Id(a)), Cat({U32(5), Str("alice")}));
  EXPECT_EQ(Ok(a, "owner_of", Id(anon)), U32(0));
  ModuleId nowhere;
  nowhere.bytes.fill(0x77);
  EXPECT_EQ(Ok(a, "owner_of", Id(nowhere)), U32(0));
  // Through a call.
  EXPECT_EQ(Unwrap(Ok(b, "call", Req(a, "owner_of", Id(b))), 1), Cat({U32(3), Str("bob")}));
  ASSERT_OK_AND_ASSIGN(Bytes owner, s_->Owner(b));
  EXPECT_EQ(owner, Str("bob"));
  Bytes big(1024, 0xee);
  ModuleId c = Deploy("callcenter", 3, big);
  EXPECT_EQ(Ok(a, "owner_of", Id(c)), Cat({U32(1024), big}));
  EXPECT_EQ(Ok(c, "self_id"), Id(c));
}

// ---- host queries -----------------------------------------------------------------

Bytes QueryArg(std::string_view name, const Bytes& arg) {
  return Cat({U32(static_cast<uint32_t>(name.size())), Str(name), arg});
}

TEST_F(CompositionTest, HostQueryHashes) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  for (size_t n : {0, 3, 1000, 60000}) {
    Bytes data(n);
    for (size_t i = 0; i < n; i++) data[i] = static_cast<uint8_t>(i * 13 + 1);
    Hash32 want = Sha256Of(data);
    CallReceipt r = Call(a, "query", QueryArg("sha256", data));
    ASSERT_TRUE(r.ok()) << n << ": " << Render(r);
    EXPECT_EQ(r.data, Id(want)) << n;
  }
  // Through a call.
  Resp via = AsResp(Ok(a, "call", Req(b, "query", QueryArg("sha256", Str("abc")))));
  ASSERT_EQ(via.code, 32);
  EXPECT_EQ(via.bytes, Id(Sha256Of(Str("abc"))));
  // The gas a query charges is charged to the calling contract, exactly.
  CallReceipt x = Call(a, "query", QueryArg("charge", U64(1'000)));
  CallReceipt y = Call(a, "query", QueryArg("charge", U64(51'000)));
  ASSERT_TRUE(x.ok()) << Render(x);
  ASSERT_TRUE(y.ok()) << Render(y);
  EXPECT_EQ(x.data, Str("charged"));
  EXPECT_EQ(y.gas_spent - x.gas_spent, 50'000u);
}

TEST_F(CompositionTest, HostQueryChargingMoreThanIsLeft) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  Root before = CurrentRoot();
  CallReceipt r = Call(a, "query", QueryArg("charge", U64(2'000'000)), 1'000'000);
  EXPECT_EQ(r.status.code(), Code::kOutOfGas) << Render(r);
  EXPECT_EQ(r.gas_spent, 1'000'000u);
  EXPECT_EQ(CurrentRoot(), before);
  // In a callee: the caller sees -2 and continues.
  CallReceipt n =
      Call(a, "write_then_call", Cat({U64(6), Req(b, "query", QueryArg("charge", U64(2'000'000)), 100'000)}));
  ASSERT_TRUE(n.ok()) << Render(n);
  EXPECT_EQ(AsResp(n.data).code, kOutOfGasCode);
  EXPECT_EQ(Read(a), 6u);
}

TEST_F(CompositionTest, UnknownAndFailingHostQueries) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  Root before = CurrentRoot();
  CallReceipt u = Call(a, "query", QueryArg("no_such_query", Str("x")));
  EXPECT_FALSE(u.ok());
  EXPECT_NE(u.status.ToString().find("no_such_query"), std::string::npos) << u.status.ToString();
  EXPECT_EQ(CurrentRoot(), before);
  CallReceipt f = Call(a, "query", QueryArg("refuse", {}));
  EXPECT_EQ(f.status.code(), Code::kAborted) << f.status.ToString();
  EXPECT_NE(f.status.ToString().find("query refused by the host"), std::string::npos) << f.status.ToString();
  // Bad argument for the query: its own error.
  CallReceipt bad = Call(a, "query", QueryArg("charge", Str("short")));
  EXPECT_EQ(bad.status.code(), Code::kInvalidArgument) << bad.status.ToString();
  // In a callee: an error code to the caller, which continues.
  Resp nested = AsResp(Ok(a, "write_then_call", Cat({U64(8), Req(b, "query", QueryArg("no_such_query", {}))})));
  EXPECT_LT(nested.code, 0);
  EXPECT_EQ(Read(a), 8u);
}

// ---- feeds --------------------------------------------------------------------------

TEST_F(CompositionTest, FeederCallStreamsInOrder) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  std::vector<uint32_t> got;
  auto feeder = [&](ByteView v) {
    EXPECT_EQ(v.size(), 4u);
    got.push_back(v.size() == 4 ? DecodeFixed32(v.data()) : ~0u);
  };
  CallReceipt r = s_->FeederCall(a, "feed_n", U32(100), kGas, feeder);
  ASSERT_TRUE(r.ok()) << Render(r);
  EXPECT_EQ(AsU32(r.data), 100u);
  ASSERT_EQ(got.size(), 100u);
  for (uint32_t i = 0; i < 100; i++) EXPECT_EQ(got[i], i);
  // Mixed with a callee's feeds, in order.
  got.clear();
  Script s;
  s.F(1000).C(Req(b, "feed_n", U32(3))).F(2000).C(Req(b, "run", Script().F(3000).b)).F(4000);
  r = s_->FeederCall(a, "run", s.b, kGas, feeder);
  ASSERT_TRUE(r.ok()) << Render(r);
  EXPECT_EQ(got, (std::vector<uint32_t>{1000, 0, 1, 2, 2000, 3000, 4000}));
  // Each feeder call has its own feeder; a plain Call afterwards has none.
  got.clear();
  CallReceipt none = Call(a, "feed_n", U32(0));
  ASSERT_OK(none.status);  // feeding nothing is fine anywhere
  EXPECT_TRUE(got.empty());
}

TEST_F(CompositionTest, FeedingOutsideAFeederCallFails) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  ASSERT_OK(Call(a, "write", U64(1)).status);
  Root before = CurrentRoot();
  CallReceipt r = Call(a, "run", Script().W(2).F(5).b);
  EXPECT_FALSE(r.ok()) << Render(r);
  EXPECT_EQ(CurrentRoot(), before);
  EXPECT_EQ(Read(a), 1u);
  // In a callee: an error code (the callee failed), the caller continues.
  Resp nested = AsResp(Ok(a, "write_then_call", Cat({U64(3), Req(b, "feed_n", U32(2))})));
  EXPECT_LT(nested.code, 0);
  EXPECT_EQ(Read(a), 3u);
}

// ---- migration -------------------------------------------------------------------

// Migration replaces the code under the same id; the new code keeps the old
// state it reads (migrated.migrate reads the old value through `read` on the
// old id, see contracts/README.md).
TEST_F(CompositionTest, MigrationKeepsIdAndTheStateTheNewCodeReads) {
  ModuleId id = Deploy("counter", 0, Str("alice"), U64(41));
  ModuleId cc = Deploy("callcenter");
  ASSERT_EQ(AsU64(Ok(id, "increment")), 42u);
  ASSERT_OK_AND_ASSIGN(Root v1, s_->Commit());
  EXPECT_TRUE(Call(id, "version").status.IsNotFound());

  // A failed migration call leaves the module as it was: counter's `add`
  // (kept in v2) panics on a 1-byte argument.
  CallReceipt bad = s_->Migrate(id, Contract("migrated"), "add", Bytes{1}, kGas);
  EXPECT_EQ(bad.status.code(), Code::kPanic) << Render(bad);
  EXPECT_EQ(CurrentRoot(), v1);
  EXPECT_TRUE(Call(id, "version").status.IsNotFound());
  EXPECT_EQ(Read(id), 42u);
  // A missing migration function, or a trap in it (migrate with a bad id).
  CallReceipt missing = s_->Migrate(id, Contract("migrated"), "no_such_function", {}, kGas);
  EXPECT_TRUE(missing.status.IsNotFound()) << Render(missing);
  EXPECT_EQ(CurrentRoot(), v1);
  ModuleId nowhere;
  nowhere.bytes.fill(0x31);
  CallReceipt trap = s_->Migrate(id, Contract("migrated"), "migrate", Id(nowhere), kGas);
  EXPECT_EQ(trap.status.code(), Code::kTrap) << Render(trap);
  EXPECT_EQ(CurrentRoot(), v1);
  // Invalid new code.
  CallReceipt invalid = s_->Migrate(id, Bytes{0, 'a', 's', 'm'}, "migrate", Id(id), kGas);
  EXPECT_FALSE(invalid.ok());
  EXPECT_EQ(CurrentRoot(), v1);
  // No such module.
  EXPECT_TRUE(s_->Migrate(nowhere, Contract("migrated"), "migrate", Id(id), kGas).status.IsNotFound());
  EXPECT_EQ(CurrentRoot(), v1);
  EXPECT_EQ(Read(id), 42u);

  // The migration: v2 reads v1's value and keeps it (x10).
  CallReceipt m = s_->Migrate(id, Contract("migrated"), "migrate", Id(id), kGas);
  ASSERT_TRUE(m.ok()) << Render(m);
  EXPECT_EQ(AsU64(m.data), 420u);
  EXPECT_GT(m.gas_spent, 0u);
  EXPECT_EQ(AsU32(Ok(id, "version")), 2u);
  EXPECT_EQ(Read(id), 420u);
  EXPECT_EQ(AsU64(Ok(id, "decrement")), 419u);
  EXPECT_EQ(AsU64(Ok(id, "increment")), 420u);  // old functions, new code
  ASSERT_OK_AND_ASSIGN(Bytes owner, s_->Owner(id));
  EXPECT_EQ(owner, Str("alice"));
  // Other contracts reach the new code under the same id.
  Resp via = AsResp(Ok(cc, "call", Req(id, "version")));
  ASSERT_EQ(via.code, 4);
  EXPECT_EQ(AsU32(via.bytes), 2u);
  EXPECT_EQ(Ok(cc, "owner_of", Id(id)), Cat({U32(5), Str("alice")}));
  ASSERT_OK_AND_ASSIGN(Root v2, s_->Commit());
  EXPECT_NE(v2, v1);

  // Persisted: a new session on v2 runs the new code; one on v1 the old.
  s_.reset();
  ASSERT_OK_AND_ASSIGN(s_, vm_->StartSession(v2));
  EXPECT_EQ(AsU32(Ok(id, "version")), 2u);
  EXPECT_EQ(Read(id), 420u);
  s_.reset();
  ASSERT_OK_AND_ASSIGN(s_, vm_->StartSession(v1));
  EXPECT_TRUE(Call(id, "version").status.IsNotFound());
  EXPECT_EQ(Read(id), 42u);

  // Changing the owner explicitly; a migration argument.
  CallReceipt m2 = s_->Migrate(id, Contract("migrated"), "migrate", Cat({Id(id), U64(3)}), kGas, Str("bob"));
  ASSERT_TRUE(m2.ok()) << Render(m2);
  EXPECT_EQ(AsU64(m2.data), 126u);
  ASSERT_OK_AND_ASSIGN(Bytes owner2, s_->Owner(id));
  EXPECT_EQ(owner2, Str("bob"));
  // Migrating again (v2 -> v2) keeps what the new code reads.
  CallReceipt m3 = s_->Migrate(id, Contract("migrated"), "migrate", Cat({Id(id), U64(1)}), kGas);
  ASSERT_TRUE(m3.ok()) << Render(m3);
  EXPECT_EQ(AsU64(m3.data), 126u);
  ASSERT_OK(s_->Commit());
}

// "The old state is kept only if the new code reads it": a migration
// function that reads nothing leaves the new code with its own fresh state
// (migrated's `init` ran with an empty argument: 0).
TEST_F(CompositionTest, MigrationWithoutReadingStartsFresh) {
  ModuleId id = Deploy("counter", 0, Str("alice"), U64(41));
  CallReceipt m = s_->Migrate(id, Contract("migrated"), "version", {}, kGas);
  ASSERT_TRUE(m.ok()) << Render(m);
  EXPECT_EQ(AsU32(m.data), 2u);
  EXPECT_EQ(Read(id), 0u) << "the old value was kept although the new code did not read it";
  ASSERT_OK_AND_ASSIGN(Bytes owner, s_->Owner(id));
  EXPECT_EQ(owner, Str("alice"));
}

// ---- module depth ---------------------------------------------------------------

TEST_F(CompositionTest, ModuleDepthIsLimitedDeterministically) {
  ModuleId a = Deploy("callcenter");
  Bytes shallow = Ok(a, "depth", U32(10));
  EXPECT_EQ(AsU32(shallow, 0), 10u);
  EXPECT_EQ(AsI32(shallow, 4), 0);
  CallReceipt deep = Call(a, "depth", U32(200));
  ASSERT_TRUE(deep.ok()) << deep.status.ToString();
  uint32_t levels = AsU32(deep.data, 0);
  EXPECT_LT(AsI32(deep.data, 4), 0);
  EXPECT_GE(levels, 46u);
  EXPECT_LE(levels, 48u);
  CallReceipt again = Call(a, "depth", U32(200));
  EXPECT_EQ(again.data, deep.data);
  EXPECT_EQ(again.gas_spent, deep.gas_spent);
  // Configurable.
  TempDir other;
  ASSERT_OK_AND_ASSIGN(auto vm, Vm::Open(other.Sub("store"), Options(5)));
  ASSERT_OK_AND_ASSIGN(auto s, vm->StartGenesis());
  ASSERT_OK_AND_ASSIGN(ModuleId b, s->Deploy(Contract("callcenter")));
  CallReceipt five = s->Call(b, "depth", U32(200), kGas);
  ASSERT_OK(five.status);
  EXPECT_GE(AsU32(five.data, 0), 3u);
  EXPECT_LE(AsU32(five.data, 0), 5u);
  EXPECT_EQ(levels - AsU32(five.data, 0), 43u);  // the same rule
}

// ---- call tree ---------------------------------------------------------------------

TEST_F(CompositionTest, ReceiptCallTree) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  ModuleId p = Deploy("panicker");
  ModuleId nowhere;
  nowhere.bytes.fill(0x42);
  Script s;
  s.C(Req(b, "spend", U32(10), 50'000))
      .C(Req(b, "call", Req(p, "echo", Str("x"))))
      .C(Req(p, "panic", Str("no")))
      .C(Req(a, "read"))
      .C(Req(nowhere, "read"));
  CallReceipt r = Call(a, "run", s.b, 10'000'000);
  ASSERT_TRUE(r.ok()) << Render(r);
  EXPECT_EQ(r.gas_limit, 10'000'000u);
  // Pre-order: run, spend, call, echo, panic, read (the missing module is
  // not a call; tolerated if the implementation lists it with NotFound).
  std::vector<std::tuple<ModuleId, std::string, uint32_t>> want = {{a, "run", 0},  {b, "spend", 1}, {b, "call", 1},
                                                                   {p, "echo", 2}, {p, "panic", 1}, {a, "read", 1}};
  std::vector<CallNode> tree = r.call_tree;
  if (tree.size() == want.size() + 1 && tree.back().module == nowhere) {
    EXPECT_TRUE(tree.back().status.IsNotFound());
    tree.pop_back();
  }
  ASSERT_EQ(tree.size(), want.size()) << Render(r);
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_EQ(tree[i].module, std::get<0>(want[i])) << i;
    EXPECT_EQ(tree[i].function, std::get<1>(want[i])) << i;
    EXPECT_EQ(tree[i].depth, std::get<2>(want[i])) << i;
  }
  EXPECT_EQ(tree[0].gas_limit, 10'000'000u);
  EXPECT_EQ(tree[0].gas_spent, r.gas_spent);
  EXPECT_OK(tree[0].status);
  EXPECT_EQ(tree[1].gas_limit, 50'000u);
  EXPECT_EQ(tree[4].status.code(), Code::kPanic);
  EXPECT_EQ(tree[4].status.message(), "no");
  // Gas of a call includes its callees'; the children fit in the parent.
  EXPECT_GT(tree[2].gas_spent, tree[3].gas_spent);
  uint64_t children = tree[1].gas_spent + tree[2].gas_spent + tree[4].gas_spent + tree[5].gas_spent;
  EXPECT_LT(children, tree[0].gas_spent);
  // spend() reports what its own node shows, at most.
  RunResult rr = AsRun(r.data);
  ASSERT_GE(rr.records.size(), 1u);
  EXPECT_EQ(AsU64(rr.records[0].bytes, 0), 50'000u);
  EXPECT_LE(AsU64(rr.records[0].bytes, 8), tree[1].gas_spent);
  for (const CallNode& n : tree) EXPECT_LE(n.gas_spent, n.gas_limit);
  // A plain call's tree is just the call.
  CallReceipt plain = Call(p, "echo", Str("y"));
  ASSERT_EQ(plain.call_tree.size(), 1u);
  EXPECT_EQ(plain.call_tree[0].module, p);
  EXPECT_EQ(plain.call_tree[0].function, "echo");
  EXPECT_EQ(plain.call_tree[0].gas_spent, plain.gas_spent);
  // A failed top-level call still reports its tree.
  CallReceipt failed = Call(a, "run", Script().C(Req(p, "echo", Str("z"))).P().b);
  EXPECT_EQ(failed.status.code(), Code::kPanic);
  ASSERT_EQ(failed.call_tree.size(), 2u) << Render(failed);
  EXPECT_EQ(failed.call_tree[0].status.code(), Code::kPanic);
  EXPECT_EQ(failed.call_tree[0].gas_spent, failed.gas_spent);
  EXPECT_EQ(failed.call_tree[1].function, "echo");
  EXPECT_OK(failed.call_tree[1].status);
}

// ---- determinism ---------------------------------------------------------------------

// The same deploys and calls, with failures and rollbacks, on two stores.
TEST_F(CompositionTest, SameSequenceOnTwoStoresGivesSameRootsReceiptsAndGas) {
  auto run = [&](const std::string& where) {
    std::vector<std::string> trace;
    auto vm = Vm::Open(dir_.Sub(where), Options());
    EXPECT_TRUE(vm.ok());
    if (!vm.ok()) return trace;
    auto s = (*vm)->StartGenesis();
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return trace;
    VmSession& v = **s;
    auto deploy = [&](const char* name, uint64_t nonce) {
      DeployOptions d;
      d.nonce = nonce;
      d.owner = Str(name);
      auto r = v.Deploy(Contract(name), d);
      EXPECT_TRUE(r.ok());
      trace.push_back(r.ok() ? r->ToHex() : r.status().ToString());
      return r.ok() ? *r : ModuleId{};
    };
    ModuleId a = deploy("callcenter", 0), b = deploy("callcenter", 1);
    ModuleId x = deploy("crossover", 0), y = deploy("crossover", 1);
    ModuleId p = deploy("panicker", 0), g = deploy("grower", 0);
    ModuleId k = deploy("counter", 0);
    auto call = [&](const ModuleId& m, std::string_view fn, const Bytes& arg, uint64_t gas = kGas) {
      CallReceipt r = v.Call(m, fn, arg, gas);
      trace.push_back(Render(r));
      auto root = v.CurrentRoot();
      trace.push_back(root.ok() ? root->ToHex() : root.status().ToString());
    };
    call(x, "check_consistent_state_on_errors", Cat({Id(y), U64(7), U64(9)}));
    call(a, "write_then_call", Cat({U64(5), Req(p, "set_then_panic", U64(1))}));
    call(a, "call", Req(g, "grow_and_panic", U32(3)));
    call(g, "grow", U32(4));
    call(a, "run", Script().E("t", Str("d")).C(Req(b, "run", Script().W(8).E("u", {}).P().b)).W(6).b);
    call(a, "run", Script().W(99).C(Req(b, "write", U64(1))).P().b);
    call(a, "call", Req(p, "spin", {}, 30'000));
    call(a, "spin_missing", {});
    call(a, "depth", U32(100));
    call(a, "query", QueryArg("sha256", Str("deterministic")));
    call(a, "call", Req(k, "init", U64(1)));
    call(p, "spin", {}, 12'345);
    CallReceipt f = v.FeederCall(a, "feed_n", U32(3), kGas, [](ByteView) {});
    trace.push_back(Render(f));
    CallReceipt m = v.Migrate(k, Contract("migrated"), "migrate", Cat({Id(k), U64(2)}), kGas);
    trace.push_back(Render(m));
    auto root = v.Commit();
    EXPECT_TRUE(root.ok());
    trace.push_back(root.ok() ? root->ToHex() : root.status().ToString());
    return trace;
  };
  std::vector<std::string> t1 = run("one");
  std::vector<std::string> t2 = run("two");
  ASSERT_EQ(t1.size(), t2.size());
  for (size_t i = 0; i < t1.size(); i++) EXPECT_EQ(t1[i], t2[i]) << "step " << i;
}

// CallInto reuses a receipt's storage and replaces every field: after a
// large call (events, reverted ones, a call tree, a result) and a failed one,
// each call into the same receipt gives what Call gives for the same request
// (every request below is repeatable: it stores the same value each time).
TEST_F(CompositionTest, CallIntoReplacesEveryFieldOfAReusedReceipt) {
  ModuleId a = Deploy("callcenter", 0);
  ModuleId b = Deploy("callcenter", 1);
  auto full = [](const CallReceipt& r) {
    std::string out = Render(r);
    for (const Event& e : r.events) out += e.reverted ? " reverted" : " kept";
    for (const std::string& d : r.debug) out += " debug:" + d;
    return out;
  };
  const Bytes large = Script()
                          .W(7)
                          .E("first", Str("data"))
                          .C(Req(b, "run", Script().E("lost", Str("rolled back")).P().b))
                          .C(Req(b, "read"))
                          .E("last", Bytes(300, 9))
                          .b;
  const Bytes panics = Script().W(7).E("lost", Str("x")).P().b;
  struct Request {
    ModuleId module;
    std::string fn;
    Bytes arg;
  };
  const std::vector<Request> requests = {
      {a, "run", large}, {a, "run", panics}, {a, "read", {}}, {a, "run", large}, {b, "no_such", {}}, {b, "read", {}}};
  CallReceipt reused;
  for (size_t i = 0; i < requests.size(); i++) {
    const Request& q = requests[i];
    s_->CallInto(q.module, q.fn, q.arg, kGas, &reused);
    const CallReceipt fresh = Call(q.module, q.fn, q.arg);
    EXPECT_EQ(full(reused), full(fresh)) << "request " << i;
    EXPECT_EQ(reused.status.code(), fresh.status.code()) << "request " << i;
    EXPECT_EQ(reused.data, fresh.data) << "request " << i;
  }
  EXPECT_TRUE(reused.status.IsNotFound() || reused.ok());
  EXPECT_EQ(reused.call_tree.size(), 1u);
  EXPECT_TRUE(reused.events.empty());
  // Chaining: the argument is the receipt's own result, which the call
  // replaces (copied first; echo returns its argument).
  ModuleId p = Deploy("panicker");
  CallReceipt chained;
  s_->CallInto(p, "echo", Bytes(1000, 5), kGas, &chained);
  ASSERT_TRUE(chained.ok()) << chained.status.ToString();
  for (int i = 0; i < 3; i++) {
    s_->CallInto(p, "echo", chained.data, kGas, &chained);
    ASSERT_TRUE(chained.ok()) << chained.status.ToString();
    EXPECT_EQ(chained.data, Bytes(1000, 5)) << "round " << i;
  }
}

}  // namespace
}  // namespace crust
