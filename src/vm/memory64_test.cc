// Copyright (c) crust authors. Licensed under the MIT license.
//
// memory64 contracts through the public API: piecrust's wasm64 c_example,
// Dusk's mainnet transfer contract, and hand-written WAT (64-bit addresses,
// out-of-bounds traps, persistence through commits and the verifier). The
// fixtures are in <source>/../shared/piecrust-contracts; a missing fixture
// fails the test.
#include <gtest/gtest.h>

#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
using vmtest::U32;
using vmtest::U64;
using vmtest::Wat;

constexpr uint64_t kGas = 1'000'000'000;

// <source>/../shared/piecrust-contracts (or ../../shared for a source tree in
// a worktree directory).
Bytes Fixture(const std::string& name) {
  std::string path = std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts/" + name;
  if (!os::Env::Default()->Exists(path)) {
    path = std::string(CRUST_SOURCE_DIR) + "/../../shared/piecrust-contracts/" + name;
  }
  Result<Bytes> r = os::Env::Default()->ReadFile(path);
  EXPECT_TRUE(r.ok()) << "fixture missing: " << path << ": " << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

class Memory64Test : public ::testing::Test {
 protected:
  void SetUp() override { vm_ = OpenVm("store"); }
  std::unique_ptr<Vm> OpenVm(const std::string& where) {
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache_.path();
    auto vm = Vm::Open(dir_.Sub(where), o);
    EXPECT_TRUE(vm.ok()) << vm.status().ToString();
    return vm.ok() ? std::move(vm).value() : nullptr;
  }
  std::unique_ptr<VmSession> Genesis(Vm* vm) {
    auto s = vm->StartGenesis();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  TempDir dir_, cache_;
  std::unique_ptr<Vm> vm_;
};

// A contract with a 64-bit memory of 2 pages growing to at most 4.
//   poke(u64 addr | u64 value): i64.store; returns nothing
//   peek(u64 addr): i64.load -> 8 bytes
//   grow(u64 pages): memory.grow -> i64 result
constexpr char kWat64[] = R"(
(module
  (memory (export "memory") i64 2 4)
  (global $A (export "A") i64 (i64.const 0))
  (data (i64.const 70000) "persisted data")
  (func (export "poke") (param i32) (result i32)
    (i64.store (i64.load (global.get $A)) (i64.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "peek") (param i32) (result i32)
    (i64.store (global.get $A) (i64.load (i64.load (global.get $A))))
    (i32.const 8))
  (func (export "grow") (param i32) (result i32)
    (i64.store (global.get $A) (memory.grow (i64.load (global.get $A))))
    (i32.const 8))
  (func (export "size") (param i32) (result i32)
    (i64.store (global.get $A) (memory.size))
    (i32.const 8))
))";

Bytes Cat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

TEST_F(Memory64Test, SixtyFourBitAddressesOutOfBoundsTrapAndStatePersists) {
  auto s = Genesis(vm_.get());
  ASSERT_OK_AND_ASSIGN(ModuleId id, s->Deploy(Wat(kWat64), DeployOptions{}));
  ASSERT_OK(s->Call(id, "poke", Cat(U64(131064), U64(0x1122334455667788)), kGas).status);
  CallReceipt r = s->Call(id, "peek", U64(131064), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 0x1122334455667788u);
  // Addresses at and beyond the end, including ones >= 2^32 and near 2^64
  // (they must not wrap into the memory), trap out of bounds.
  for (uint64_t addr : {uint64_t{131065}, uint64_t{1} << 32, (uint64_t{1} << 32) + 8, ~uint64_t{0} - 3,
                        ~uint64_t{0} - 131071}) {
    SCOPED_TRACE(addr);
    r = s->Call(id, "peek", U64(addr), kGas);
    EXPECT_EQ(r.status.code(), Status::Code::kTrap) << r.status.ToString();
    EXPECT_NE(r.status.message().find("out of bounds"), std::string::npos) << r.status.ToString();
    r = s->Call(id, "poke", Cat(U64(addr), U64(1)), kGas);
    EXPECT_EQ(r.status.code(), Status::Code::kTrap) << r.status.ToString();
    EXPECT_NE(r.status.message().find("out of bounds"), std::string::npos) << r.status.ToString();
  }
  // memory.grow: i64 results, -1 beyond the maximum. A count >= 2^32 is
  // charged like 2^32-1 pages (4096 gas each): out of gas at any sane limit.
  r = s->Call(id, "grow", U64((uint64_t{1} << 32) + 1), kGas);
  EXPECT_EQ(r.status.code(), Status::Code::kOutOfGas) << r.status.ToString();
  r = s->Call(id, "grow", U64(3), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), ~uint64_t{0});
  r = s->Call(id, "grow", U64(1), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 2u);
  ASSERT_OK(s->Call(id, "poke", Cat(U64(3 * 65536 - 8), U64(77)), kGas).status);
  ASSERT_OK_AND_ASSIGN(Root root, s->Commit());
  s.reset();
  ASSERT_OK(vm_->store().VerifyCommit(root));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VmSession> s2, vm_->StartSession(root));
  r = s2->Call(id, "size", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 3u);
  r = s2->Call(id, "peek", U64(3 * 65536 - 8), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 77u);
  r = s2->Call(id, "peek", U64(70000), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(std::string(r.data.begin(), r.data.end()), "persiste");  // the first 8 bytes of the segment
}

// piecrust's tests/counter.rs call_through_c and tests/validation.rs.
TEST_F(Memory64Test, PiecrustCExample) {
  auto s = Genesis(vm_.get());
  DeployOptions d;
  d.owner = Bytes(32, 0);
  ASSERT_OK_AND_ASSIGN(ModuleId counter, s->Deploy(Fixture("counter.wasm"), d));
  ASSERT_OK_AND_ASSIGN(ModuleId c_example, s->Deploy(Fixture("c_example.wasm"), d));
  CallReceipt r = s->Call(c_example, "increment_and_read", Bytes(counter.bytes.begin(), counter.bytes.end()), kGas);
  ASSERT_OK(r.status);
  ASSERT_EQ(r.data.size(), 8u);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 0xfdu);
  // hd with a pointer at 4 TiB - 1: an error in piecrust and in crust.
  r = s->Call(c_example, "out_of_bounds", {}, kGas);
  EXPECT_EQ(r.status.code(), Status::Code::kTrap) << r.status.ToString();
  EXPECT_NE(r.status.message().find("out of bounds"), std::string::npos) << r.status.ToString();
  // hd(0xFFFFFFFF, 2) on a 3-page memory: inside the 4 TiB a wasm64
  // memory's host pointers may reach, so the name reads as zeros and is
  // absent: success, as in piecrust ("A wasm64 access within 4TB should
  // succeed", tests/validation.rs).
  r = s->Call(c_example, "not_out_of_bounds", {}, kGas);
  EXPECT_OK(r.status);
  // A 64-bit pointer inside memory reaches the host whole: the counter
  // still answers after the failed calls.
  r = s->Call(c_example, "increment_and_read", Bytes(counter.bytes.begin(), counter.bytes.end()), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 0xfeu);
}

struct TransferAnswers {
  Bytes num_notes, root, chain_id;
  Root state_root;
};

TransferAnswers QueryTransfer(Vm* vm, VmSession* s, const Bytes& wasm) {
  TransferAnswers a;
  DeployOptions d;
  d.owner = Bytes(32, 0);
  s->SetMeta("chain_id", Bytes{0x01});  // rusk sets it in every session (uplink meta_data::<u8>)
  auto id = s->Deploy(wasm, d);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (!id.ok()) return a;
  const std::pair<const char*, Bytes*> queries[] = {{"num_notes", &a.num_notes}, {"root", &a.root}, {"chain_id", &a.chain_id}};
  for (auto [fn, out] : queries) {
    CallReceipt r = s->Call(*id, fn, {}, kGas);
    EXPECT_TRUE(r.ok()) << fn << ": " << r.status.ToString();
    *out = r.data;
  }
  auto root = s->Commit();
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  if (root.ok()) a.state_root = *root;
  return a;
}

// Dusk's mainnet transfer contract (memory64) deploys and answers its
// read-only queries. Values: num_notes is a u64 (0 notes in a fresh tree),
// root the 32-byte root of the empty note tree (well-formed, not compared
// with rusk: no reference value at hand), chain_id the byte the session
// metadata "chain_id" holds (rusk's node sets it; without it the contract
// panics unwrapping None); the whole run is deterministic (same answers and
// state root in a second store).
TEST_F(Memory64Test, TransferContractQueries) {
  const Bytes wasm = Fixture("transfer_contract.wasm");
  ASSERT_FALSE(wasm.empty());
  auto s = Genesis(vm_.get());
  TransferAnswers a = QueryTransfer(vm_.get(), s.get(), wasm);
  ASSERT_EQ(a.num_notes.size(), 8u);
  EXPECT_EQ(DecodeFixed64(a.num_notes.data()), 0u);
  EXPECT_EQ(a.root.size(), 32u);
  EXPECT_EQ(a.chain_id, Bytes{0x01});
  s.reset();
  ASSERT_OK(vm_->store().VerifyCommit(a.state_root));

  std::unique_ptr<Vm> other = OpenVm("other");
  auto s2 = Genesis(other.get());
  TransferAnswers b = QueryTransfer(other.get(), s2.get(), wasm);
  EXPECT_EQ(a.num_notes, b.num_notes);
  EXPECT_EQ(a.root, b.root);
  EXPECT_EQ(a.chain_id, b.chain_id);
  EXPECT_EQ(a.state_root, b.state_root);
}

}  // namespace
}  // namespace crust
