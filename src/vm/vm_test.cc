// Copyright (c) crust authors. Licensed under the MIT license.
//
// The VM through its public API, with the example contracts
// (contracts/examples, built to <build>/contracts/*.wasm).
#include <gtest/gtest.h>

#include <cstring>

#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using vmtest::Contract;
using vmtest::U32;
using vmtest::U64;

using crust::testing::TempDir;


uint64_t AsU64(const Bytes& b) { return b.size() >= 8 ? DecodeFixed64(b.data()) : ~0ull; }

constexpr uint64_t kGas = 100'000'000;

class VmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache_.path();
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Open(dir_.Sub("store"), o));
  }
  std::unique_ptr<VmSession> Genesis() {
    auto s = vm_->StartGenesis();
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  TempDir dir_, cache_;
  std::unique_ptr<Vm> vm_;
};

TEST_F(VmTest, CounterPersistsAcrossCommitsAndSessions) {
  auto s = Genesis();
  DeployOptions d;
  d.init_arg = U64(41);
  d.owner = Bytes{1, 2, 3};
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("counter"), d));
  CallReceipt r = s->Call(id, "increment", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(AsU64(r.data), 42u);
  EXPECT_GT(r.gas_spent, 0u);
  EXPECT_LE(r.gas_spent, kGas);
  ASSERT_OK_AND_ASSIGN(Root root, s->Commit());
  s.reset();
  ASSERT_OK_AND_ASSIGN(auto t, vm_->StartSession(root));
  r = t->Call(id, "increment", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(AsU64(r.data), 43u);
  ASSERT_OK_AND_ASSIGN(Bytes owner, t->Owner(id));
  EXPECT_EQ(owner, (Bytes{1, 2, 3}));
  ASSERT_OK(vm_->store().VerifyCommit(root));
}

TEST_F(VmTest, InitRunsOnceAndCannotBeCalled) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("counter"), {.init_arg = U64(7)}));
  CallReceipt r = s->Call(id, "init", U64(100), kGas);
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidArgument) << r.status.ToString();
  EXPECT_EQ(AsU64(s->Call(id, "read", {}, kGas).data), 7u);
}

TEST_F(VmTest, FibonacciAndGas) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("fibonacci")));
  CallReceipt r = s->Call(id, "fib", U32(20), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(AsU64(r.data), 6765u);
  CallReceipt small = s->Call(id, "fib", U32(5), kGas);
  ASSERT_OK(small.status);
  EXPECT_EQ(AsU64(small.data), 5u);
  EXPECT_LT(small.gas_spent, r.gas_spent);
  // Gas is deterministic: the same call costs the same.
  EXPECT_EQ(s->Call(id, "fib", U32(20), kGas).gas_spent, r.gas_spent);
  // Exactly the gas needed succeeds; one less runs out.
  EXPECT_OK(s->Call(id, "fib", U32(20), r.gas_spent).status);
  CallReceipt out = s->Call(id, "fib", U32(20), r.gas_spent - 1);
  EXPECT_EQ(out.status.code(), Status::Code::kOutOfGas);
  EXPECT_EQ(out.gas_spent, r.gas_spent - 1);
}

TEST_F(VmTest, PanicsAndTrapsEndTheCallAndLeaveTheSessionUsable) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("panicker")));
  const std::string msg = "no means no";
  CallReceipt p = s->Call(id, "panic", Bytes(msg.begin(), msg.end()), kGas);
  EXPECT_EQ(p.status.code(), Status::Code::kPanic);
  EXPECT_EQ(p.status.message(), msg);
  struct Case {
    const char* fn;
    Bytes arg;
    Status::Code code;
    const char* text;
  };
  Bytes div0 = U32(7);
  PutFixed32(&div0, 0);
  Bytes overflow = U32(0x80000000u);
  PutFixed32(&overflow, 0xFFFFFFFFu);
  for (const Case& c : {Case{"unreachable", {}, Status::Code::kTrap, "unreachable"},
                        Case{"divide", div0, Status::Code::kTrap, "divide by zero"},
                        Case{"divide", overflow, Status::Code::kTrap, "overflow"},
                        Case{"load", U32(0xFFFFFFF0u), Status::Code::kTrap, "out of bounds"},
                        Case{"recurse", U32(100000), Status::Code::kTrap, "depth"},
                        Case{"spin", {}, Status::Code::kOutOfGas, ""}}) {
    CallReceipt r = s->Call(id, c.fn, c.arg, 10'000'000);
    EXPECT_EQ(r.status.code(), c.code) << c.fn << ": " << r.status.ToString();
    EXPECT_NE(r.status.ToString().find(c.text), std::string::npos) << c.fn << ": " << r.status.ToString();
    EXPECT_TRUE(r.data.empty());
    // Still usable.
    CallReceipt e = s->Call(id, "echo", Bytes{1, 2, 3}, kGas);
    ASSERT_OK(e.status);
    EXPECT_EQ(e.data, (Bytes{1, 2, 3}));
  }
  EXPECT_EQ(s->Call(id, "spin", {}, 5000).gas_spent, 5000u);
  ASSERT_OK(s->Commit());
}

TEST_F(VmTest, FailedCallsLeaveNoTrace) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId p, s->Deploy(Contract("panicker")));
  ASSERT_OK_AND_ASSIGN(ModuleId g, s->Deploy(Contract("grower")));
  ASSERT_OK(s->Call(p, "set", U64(5), kGas).status);
  ASSERT_OK_AND_ASSIGN(Root before, s->CurrentRoot());
  EXPECT_EQ(s->Call(p, "set_then_panic", U64(9), kGas).status.code(), Status::Code::kPanic);
  EXPECT_EQ(AsU64(s->Call(p, "get", {}, kGas).data), 5u);
  ASSERT_OK_AND_ASSIGN(uint64_t len_before, s->state().MemoryLength(g));
  EXPECT_EQ(s->Call(g, "grow_and_panic", U32(3), kGas).status.code(), Status::Code::kPanic);
  ASSERT_OK_AND_ASSIGN(uint64_t len_after, s->state().MemoryLength(g));
  EXPECT_EQ(len_after, len_before);
  ASSERT_OK_AND_ASSIGN(Root after, s->CurrentRoot());
  EXPECT_EQ(after, before);
  // Growth after a rolled-back growth starts from the right length.
  Bytes arg = U32(1);
  PutFixed32(&arg, 1);
  ASSERT_OK(s->Call(g, "grow", arg, kGas).status);
  ASSERT_OK(s->Call(g, "verify", {}, kGas).status);
}

TEST_F(VmTest, MissingModuleOrFunctionAndBadArguments) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("counter")));
  EXPECT_TRUE(s->Call(ModuleId{}, "read", {}, kGas).status.IsNotFound());
  EXPECT_TRUE(s->Call(id, "nope", {}, kGas).status.IsNotFound());
  EXPECT_EQ(s->Call(id, "read", Bytes(65537, 0), kGas).status.code(), Status::Code::kInvalidArgument);
}

TEST_F(VmTest, DeployRejectsInvalidModulesAndDuplicateIds) {
  auto s = Genesis();
  EXPECT_EQ(s->Deploy(Bytes{0, 'a', 's', 'm', 9, 9}).status().code(), Status::Code::kInvalidModule);
  Bytes code = Contract("counter");
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(code));
  EXPECT_EQ(s->Deploy(code).status().code(), Status::Code::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(ModuleId other, s->Deploy(code, {.nonce = 1}));
  EXPECT_NE(id, other);
  ModuleId fixed;
  fixed.bytes[0] = 0xAB;
  ASSERT_OK_AND_ASSIGN(ModuleId given, s->Deploy(code, {.id = fixed}));
  EXPECT_EQ(given, fixed);
}

TEST_F(VmTest, FailedInitDeploysNothing) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(Root before, s->CurrentRoot());
  // counter's init rejects an argument that is neither empty nor 8 bytes.
  auto r = s->Deploy(Contract("counter"), {.init_arg = Bytes{1, 2, 3}});
  ASSERT_FALSE(r.ok());
  ASSERT_OK_AND_ASSIGN(Root after, s->CurrentRoot());
  EXPECT_EQ(before, after);
}

TEST_F(VmTest, HostFunctions) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("hostinfo")));
  CallReceipt g = s->Call(id, "gas", {}, 123456);
  ASSERT_OK(g.status);
  ASSERT_EQ(g.data.size(), 16u);
  EXPECT_EQ(DecodeFixed64(g.data.data()), 123456u);
  uint64_t spent = DecodeFixed64(g.data.data() + 8);
  EXPECT_GT(spent, 0u);
  EXPECT_LE(spent, g.gas_spent);  // gas is charged when a block starts
  CallReceipt self = s->Call(id, "self_id", {}, kGas);
  ASSERT_OK(self.status);
  EXPECT_EQ(self.data, Bytes(id.bytes.begin(), id.bytes.end()));
  s->SetMeta("height", Bytes{9, 8, 7});
  const std::string name = "height";
  CallReceipt m = s->Call(id, "meta", Bytes(name.begin(), name.end()), kGas);
  ASSERT_OK(m.status);
  EXPECT_EQ(m.data, (Bytes{9, 8, 7}));
  const std::string absent = "nope";
  CallReceipt n = s->Call(id, "meta", Bytes(absent.begin(), absent.end()), kGas);
  ASSERT_OK(n.status);
  EXPECT_TRUE(n.data.empty());
}

TEST_F(VmTest, MemoryGrowthIsCommitted) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("grower")));
  Bytes arg = U32(99);
  PutFixed32(&arg, 3);
  CallReceipt g = s->Call(id, "grow", arg, kGas);
  ASSERT_OK(g.status);
  ASSERT_OK_AND_ASSIGN(uint64_t len, s->state().MemoryLength(id));
  EXPECT_EQ(len, uint64_t{DecodeFixed32(g.data.data() + 4)} * 65536);
  CallReceipt v1 = s->Call(id, "verify", {}, kGas);
  ASSERT_OK(v1.status);
  ASSERT_OK_AND_ASSIGN(Root root, s->Commit());
  s.reset();
  ASSERT_OK(vm_->store().VerifyCommit(root));
  ASSERT_OK_AND_ASSIGN(auto t, vm_->StartSession(root));
  CallReceipt v2 = t->Call(id, "verify", {}, kGas);
  ASSERT_OK(v2.status);
  EXPECT_EQ(v2.data, v1.data);
}

TEST_F(VmTest, MemoryLimitIsEnforced) {
  // grower's initial memory, then a limit just above it.
  auto probe = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId pid, probe->Deploy(Contract("grower")));
  ASSERT_OK_AND_ASSIGN(uint64_t initial, probe->state().MemoryLength(pid));
  const uint32_t initial_pages = static_cast<uint32_t>(initial / 65536);
  probe.reset();

  VmOptions o;

  o.store.write_audit = true;  // fail on any page the engine wrote without noting it
  o.store.sync = false;
  o.opt_level = 0;
  o.code_cache_dir = cache_.path();
  o.max_memory_pages = initial_pages + 2;
  ASSERT_OK_AND_ASSIGN(auto vm, Vm::Open(dir_.Sub("limited"), o));
  ASSERT_OK_AND_ASSIGN(auto s, vm->StartGenesis());
  ASSERT_OK_AND_ASSIGN(ModuleId g, s->Deploy(Contract("grower")));
  Bytes two = U32(1);
  PutFixed32(&two, 2);
  ASSERT_OK(s->Call(g, "grow", two, kGas).status);  // up to the limit
  CallReceipt over = s->Call(g, "grow", U32(3), kGas);
  EXPECT_EQ(over.status.code(), Status::Code::kPanic) << over.status.ToString();
  EXPECT_NE(over.status.ToString().find("memory.grow failed"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(uint64_t len, s->state().MemoryLength(g));
  EXPECT_EQ(len, uint64_t{initial_pages + 2} * 65536);

  o.max_memory_pages = initial_pages - 1;
  ASSERT_OK_AND_ASSIGN(auto tight, Vm::Open(dir_.Sub("tight"), o));
  ASSERT_OK_AND_ASSIGN(auto t, tight->StartGenesis());
  auto refused = t->Deploy(Contract("grower"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kResourceExhausted) << refused.status().ToString();
}

TEST_F(VmTest, SameCallsOnTwoStoresGiveSameRootsAndGas) {
  auto run = [&](const std::string& where) {
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache_.path();
    auto vm = Vm::Open(dir_.Sub(where), o);
    EXPECT_TRUE(vm.ok());
    auto s = (*vm)->StartGenesis();
    std::vector<uint64_t> trace;
    auto c = (*s)->Deploy(Contract("counter"), {.init_arg = U64(5)});
    auto b = (*s)->Deploy(Contract("box"));
    auto p = (*s)->Deploy(Contract("panicker"));
    EXPECT_TRUE(c.ok() && b.ok() && p.ok());
    for (int i = 0; i < 5; i++) trace.push_back((*s)->Call(*c, "increment", {}, kGas).gas_spent);
    Bytes kv = U32(3);
    for (char ch : std::string("keyvalue")) kv.push_back(static_cast<uint8_t>(ch));
    trace.push_back((*s)->Call(*b, "set", kv, kGas).gas_spent);
    trace.push_back((*s)->Call(*p, "set_then_panic", U64(9), kGas).gas_spent);
    trace.push_back((*s)->Call(*p, "spin", {}, 77777).gas_spent);
    auto root = (*s)->Commit();
    EXPECT_TRUE(root.ok());
    trace.push_back(root->bytes[0]);
    return std::make_pair(*root, trace);
  };
  auto [r1, t1] = run("a");
  auto [r2, t2] = run("b");
  EXPECT_EQ(r1, r2);
  EXPECT_EQ(t1, t2);
}

TEST_F(VmTest, SessionWritesNeverReachCommittedFiles) {
  auto s = Genesis();
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Contract("counter"), {.init_arg = U64(1)}));
  ASSERT_OK_AND_ASSIGN(Root root, s->Commit());
  s.reset();
  const std::string mem = vm_->store().dir() + "/" + root.ToHex() + "/memory/" + id.ToHex();
  ASSERT_OK_AND_ASSIGN(Bytes before, os::Env::Default()->ReadFile(mem));
  ASSERT_OK_AND_ASSIGN(auto t, vm_->StartSession(root));
  for (int i = 0; i < 10; i++) ASSERT_OK(t->Call(id, "increment", {}, kGas).status);
  ASSERT_OK_AND_ASSIGN(Bytes after, os::Env::Default()->ReadFile(mem));
  EXPECT_EQ(before, after);
}

}  // namespace
}  // namespace crust
