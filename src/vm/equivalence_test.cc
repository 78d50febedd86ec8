// Copyright (c) crust authors. Licensed under the MIT license.
//
// Engine equivalence: the native engine (wasm2c + the system C compiler,
// reached through the public VmSession API over the session's copy-on-write
// memories) and the wabt interpreter oracle (engine::InterpOracle over the
// same PreparedModule) must agree on every call of a corpus:
//
//   * every example contract (contracts/examples): all functions, several
//     arguments, failing calls (panics, traps, out of gas at several limits,
//     the call-depth limit);
//   * hand-written WAT modules: loops, br_table, call_indirect (and its
//     traps), memory.grow and bulk memory, i64 arithmetic, floats with NaN
//     canonicalisation, mutable globals persisted between calls, host
//     functions, the return-length protocol;
//   * ~100 modules from a seeded generator of straight-line and looping
//     i32/i64 code with loads and stores.
//
// After every call the two must give the same status code (and trap kind, or
// panic message), returned bytes, gas spent, events, debug lines, call tree
// (every node's limit, spent gas and status), and whole linear memory and
// persisted state globals of every module the call reached. Calls run in
// sequence on one session so state carries over identically. The oracle
// side (engine::OracleWorld, src/testing/interp_oracle_world.h) models
// exactly what VmSession does around a call (module_info.h's protocol and
// vm.h): state globals are set from the persisted values before the call and
// persisted again only after a successful call; a returned length above
// 64 KiB is ResourceExhausted; a failed call is atomic (memory contents and
// length are restored to what they were before the call, argument copy
// included), and `c` follows docs/abi.md §5 and §9.
//
// Compiled code is cached in <build>/equivalence-code-cache (-O0), so reruns
// compile nothing; a first run compiles the generated modules two at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "crust/vm.h"
#include "src/engine/compile/code_cache.h"
#include "src/testing/interp_oracle.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "src/testing/interp_oracle_world.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"
#include "src/vm/module_generator.h"
#include "src/vm/module_meta.h"
#include "src/vm/vm_session.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

// Designated initialisers of DeployOptions leave the other fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace crust {
namespace {

using vmtest::Wat;
using vmtest::U32;
using vmtest::U64;

using crust::testing::TempDir;
using engine::PreparedModule;

const std::string& CacheDir() {
  static const std::string dir = std::string(CRUST_BINARY_DIR) + "/equivalence-code-cache";
  return dir;
}

Bytes Contract(const std::string& name) {
  auto r = os::Env::Default()->ReadFile(std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm");
  EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}


Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// The documented derivation (vm.h, DeployOptions::id).
ModuleId DeriveId(ByteView wasm, const Bytes& owner, uint64_t nonce) {
  Bytes buf = Str("crust-module-id-v1");
  PutHash(&buf, Sha256Of(wasm));
  PutFixed32(&buf, static_cast<uint32_t>(owner.size()));
  PutBytes(&buf, owner);
  PutFixed64(&buf, nonce);
  return Sha256Of(buf);
}

using vmtest::TrapClass;

std::string Describe(const Status& s, const Bytes& data, uint64_t gas) {
  const size_t shown = std::min<size_t>(data.size(), 48);
  return s.ToString() + " data(" + std::to_string(data.size()) + ")=" + ToHex(ByteView(data).first(shown)) +
         (shown < data.size() ? "..." : "") + " gas=" + std::to_string(gas);
}

size_t FirstDifference(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  const size_t n = std::min(a.size(), b.size());
  auto [ia, ib] = std::mismatch(a.begin(), a.begin() + n, b.begin());
  return static_cast<size_t>(ia - a.begin());
}

// One session of the VM and an oracle world (interp_oracle_world.h) holding
// every module deployed through it, following the same calls: nested calls
// (`c`) run in the oracle too, with its checkpoints, gas rules and rollbacks.
class Twin {
 public:
  Twin(VmSession* session, uint32_t max_call_depth, uint32_t max_module_depth = 48)
      : session_(session), world_(engine::OracleWorldOptions{.max_call_depth = max_call_depth,
                                                             .max_module_depth = max_module_depth}) {}

  void SetMeta(const std::string& name, const Bytes& value) {
    session_->SetMeta(name, value);
    world_.SetMeta(name, value);
  }

  // Deploys through the VM and into the oracle world (running `init` in
  // it). Both must agree on success; returns the VM's result.
  Result<ModuleId> Deploy(ByteView wasm, const DeployOptions& options, const std::string& label) {
    SCOPED_TRACE("deploy " + label);
    Result<ModuleId> vm = session_->Deploy(wasm, options);
    auto pm = engine::PrepareModule(wasm);
    if (!pm.ok()) {
      EXPECT_FALSE(vm.ok()) << "prepare failed but the VM deployed: " << pm.status().ToString();
      if (!vm.ok()) {
        EXPECT_EQ(vm.status().code(), pm.status().code()) << vm.status().ToString();
      }
      return vm;
    }
    const ModuleId id = options.id ? *options.id : DeriveId(wasm, options.owner, options.nonce);
    if (vm.ok()) {
      EXPECT_EQ(*vm, id) << "module id differs from the documented derivation";
    }
    const Bytes prepared_wasm = pm->wasm;
    engine::OracleReceipt init = world_.Deploy(id, std::move(pm).value(), options.owner, options.init_arg,
                                               options.gas_limit);
    if (!init.status.ok()) {
      EXPECT_FALSE(vm.ok()) << "init failed in the oracle (" << init.status.ToString() << ") but not in the VM";
      if (!vm.ok()) {
        EXPECT_EQ(vm.status().code(), init.status.code()) << vm.status().ToString() << " vs " << init.status.ToString();
        EXPECT_EQ(TrapClass(vm.status()).empty(), TrapClass(init.status).empty());
      }
      return vm;
    }
    EXPECT_TRUE(vm.ok()) << "the oracle deployed, the VM failed: " << vm.status().ToString();
    if (!vm.ok()) return vm;
    // The stored bytecode is the prepared module the oracle runs.
    auto stored = session_->state().Bytecode(id);
    EXPECT_TRUE(stored.ok() && *stored == prepared_wasm) << "stored bytecode differs from PrepareModule's output";
    CompareState(id);
    ++deploys_;
    return vm;
  }
  Result<ModuleId> Deploy(ByteView wasm, const std::string& label) { return Deploy(wasm, DeployOptions{}, label); }

  // One call in both engines, compared: status, data, gas, events (source,
  // topic, data, reverted), debug lines, the call tree (every node's module,
  // function, depth, limit, spent gas and status) and the state of every
  // module the call reached. Returns the VM's receipt.
  CallReceipt Call(const ModuleId& id, std::string_view fn, ByteView arg, uint64_t gas) {
    SCOPED_TRACE("call " + std::string(fn) + "(" + ToHex(arg.first(std::min<size_t>(arg.size(), 32))) +
                 (arg.size() > 32 ? "..." : "") + ") gas " + std::to_string(gas));
    CallReceipt r = session_->Call(id, fn, arg, gas);
    ++calls_;
    if (!world_.Has(id)) {
      EXPECT_EQ(r.status.code(), Status::Code::kNotFound) << r.status.ToString();
      return r;
    }
    engine::OracleReceipt o = world_.Call(id, fn, arg, gas);
    EXPECT_EQ(r.events.size(), o.events.size());
    for (size_t i = 0; i < std::min(r.events.size(), o.events.size()); i++) {
      EXPECT_EQ(r.events[i].source, o.events[i].source) << "event " << i;
      EXPECT_EQ(r.events[i].topic, o.events[i].topic) << "event " << i;
      EXPECT_EQ(r.events[i].data, o.events[i].data) << "event " << i;
      EXPECT_EQ(r.events[i].reverted, o.events[i].reverted) << "event " << i;
    }
    EXPECT_EQ(r.debug, o.debug);
    const std::string vm_text = Describe(r.status, r.data, r.gas_spent);
    const std::string oracle_text = Describe(o.status, o.data, o.gas_spent);
    EXPECT_EQ(r.status.code(), o.status.code()) << "vm " << vm_text << "\noracle " << oracle_text;
    EXPECT_EQ(TrapClass(r.status), TrapClass(o.status)) << "vm " << vm_text << "\noracle " << oracle_text;
    if (r.status.code() == Status::Code::kPanic && o.status.code() == Status::Code::kPanic) {
      EXPECT_EQ(r.status.message(), o.status.message());
    }
    EXPECT_EQ(r.data, o.data) << "vm " << vm_text << "\noracle " << oracle_text;
    EXPECT_EQ(r.gas_spent, o.gas_spent) << "vm " << vm_text << "\noracle " << oracle_text;
    EXPECT_EQ(r.gas_limit, gas);
    // The VM lists callees first (piecrust's order): the reverse of the start order.
    std::vector<CallNode> tree = r.call_tree;
    std::reverse(tree.begin(), tree.end());
    EXPECT_EQ(tree.size(), o.call_tree.size()) << "call trees differ in size";
    std::set<ModuleId> reached;
    for (size_t i = 0; i < std::min(tree.size(), o.call_tree.size()); i++) {
      const CallNode& v = tree[i];
      const engine::OracleCallNode& w = o.call_tree[i];
      SCOPED_TRACE("call tree node " + std::to_string(i) + " (start order): " + v.function + " at depth " +
                   std::to_string(v.depth));
      EXPECT_EQ(v.module, w.module);
      EXPECT_EQ(v.function, w.function);
      EXPECT_EQ(v.depth, w.depth);
      EXPECT_EQ(v.gas_limit, w.gas_limit);
      EXPECT_EQ(v.gas_spent, w.gas_spent);
      EXPECT_EQ(v.status.code(), w.status.code()) << v.status.ToString() << " vs " << w.status.ToString();
      if (world_.Has(w.module)) reached.insert(w.module);
    }
    if (r.ok()) ++ok_; else ++failed_[r.status.code()];
    for (const ModuleId& m : reached) CompareState(m);
    return r;
  }

  void CompareState(const ModuleId& id) {
    // Memory: length and every byte.
    auto len = session_->state().MemoryLength(id);
    ASSERT_TRUE(len.ok()) << len.status().ToString();
    std::span<const uint8_t> om = world_.Memory(id);
    ASSERT_EQ(*len, om.size()) << "memory lengths differ";
    Bytes vm_mem(*len);
    ASSERT_TRUE(session_->state().ReadMemory(id, 0, vm_mem).ok());
    if (!std::equal(vm_mem.begin(), vm_mem.end(), om.begin())) {
      const size_t at = FirstDifference(vm_mem, om);
      ADD_FAILURE() << "memories differ at byte " << at << ": vm " << int{vm_mem[at]} << ", oracle " << int{om[at]};
    }
    // Persisted globals (the module metadata) against the model's.
    auto raw = session_->state().Metadata(id);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    auto meta = vm::DecodeModuleMeta(*raw, id.ToHex());
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    const std::vector<uint64_t>& globals = world_.PersistedGlobals(id);
    const PreparedModule& pm = world_.Prepared(id);
    ASSERT_EQ(meta->globals.size(), globals.size());
    for (size_t i = 0; i < globals.size(); ++i) {
      EXPECT_EQ(meta->globals[i].index, pm.state_globals[i].index);
      EXPECT_EQ(meta->globals[i].bits, globals[i]) << "persisted global " << meta->globals[i].index;
    }
    EXPECT_EQ(meta->arg_buffer, pm.arg_buffer);
  }

  // The persisted values of a module's state globals (model side).
  std::vector<uint64_t> Globals(const ModuleId& id) const { return world_.PersistedGlobals(id); }

  std::string Summary() const {
    std::ostringstream s;
    s << deploys_ << " modules, " << calls_ << " calls: " << ok_ << " ok";
    for (const auto& [code, n] : failed_) s << ", " << n << " " << Status::CodeName(code);
    return s.str();
  }
  int failed(Status::Code c) const {
    auto it = failed_.find(c);
    return it == failed_.end() ? 0 : it->second;
  }
  int ok_calls() const { return ok_; }

 private:
  VmSession* const session_;
  engine::OracleWorld world_;
  int deploys_ = 0, calls_ = 0, ok_ = 0;
  std::map<Status::Code, int> failed_;
};

// Every test runs once per code tier (VmOptions::tiers): gcc -O0 code
// (kOptimisedOnly; the optimised tier's compiler at the test suite's level),
// tcc code (kFastOnly), and gcc -O2 code, where the C compiler's aliasing and
// register allocation act on the generated loads, stores, write barrier and
// gas counter (compiler_translate.cc). TierSwap below covers the switch
// between tiers.
struct EngineParam {
  VmOptions::Tiers tiers;
  int opt_level;
};

class EquivalenceTest : public ::testing::TestWithParam<EngineParam> {
 protected:
  std::unique_ptr<Vm> OpenVm(const std::string& where, uint32_t depth = 1000, uint32_t module_depth = 48) {
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = GetParam().opt_level;
    o.tiers = GetParam().tiers;
    o.code_cache_dir = CacheDir();
    o.max_call_depth = depth;
    o.max_module_depth = module_depth;
    auto vm = Vm::Open(dir_.Sub(where), o);
    EXPECT_TRUE(vm.ok()) << vm.status().ToString();
    return vm.ok() ? std::move(vm).value() : nullptr;
  }
  void SetUp() override {
    vm_ = OpenVm("store");
    ASSERT_NE(vm_, nullptr);
    auto s = vm_->StartGenesis();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    session_ = std::move(s).value();
    twin_ = std::make_unique<Twin>(session_.get(), 1000);
  }
  void TearDown() override {
    if (twin_) printf("equivalence: %s\n", twin_->Summary().c_str());
  }

  // Runs `fn(arg)` with a large limit, then again at the exact gas it spent,
  // one less, half, and 0 (each compared; state carries over).
  void CallAtLimits(const ModuleId& id, std::string_view fn, const Bytes& arg, uint64_t gas = 50'000'000) {
    CallReceipt r = twin_->Call(id, fn, arg, gas);
    if (r.gas_spent == 0 || r.gas_spent >= gas) return;
    for (uint64_t g : {r.gas_spent, r.gas_spent - 1, r.gas_spent / 2, uint64_t{0}}) twin_->Call(id, fn, arg, g);
  }

  TempDir dir_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<VmSession> session_;
  std::unique_ptr<Twin> twin_;
};

constexpr uint64_t kGas = 50'000'000;

// ---------------------------------------------------------------------------
// Example contracts.

TEST_P(EquivalenceTest, Counter) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId c, t.Deploy(Contract("counter"), {.owner = Str("me"), .init_arg = U64(41)}, "counter"));
  ASSERT_OK_AND_ASSIGN(ModuleId zero, t.Deploy(Contract("counter"), {.nonce = 1}, "counter without init arg"));
  // A failing init deploys nothing, in both.
  EXPECT_EQ(t.Deploy(Contract("counter"), {.nonce = 2, .init_arg = Bytes{1, 2, 3}}, "bad init").status().code(),
            Status::Code::kPanic);
  EXPECT_EQ(t.Deploy(Contract("counter"), {.nonce = 3, .init_arg = U64(5), .gas_limit = 3}, "init out of gas")
                .status().code(),
            Status::Code::kOutOfGas);
  for (const ModuleId& id : {c, zero}) {
    CallAtLimits(id, "read", {});
    CallAtLimits(id, "increment", {});
    CallAtLimits(id, "add", U64(1000));
    CallAtLimits(id, "add", U64(~0ull));  // wraps
    t.Call(id, "add", Bytes{1}, kGas);    // panics: wrong length
    t.Call(id, "add", Bytes(9, 1), kGas);
    t.Call(id, "init", U64(7), kGas);     // InvalidArgument: init runs once
    t.Call(id, "nope", {}, kGas);         // NotFound
    t.Call(id, "nope", Bytes{1, 2}, kGas);
    t.Call(id, "read", Bytes(65537, 0), kGas);  // argument too large
    t.Call(id, "read", Bytes(65536, 0), kGas);  // exactly 64 KiB is fine
    CallAtLimits(id, "read", {});
  }
  EXPECT_GT(t.failed(Status::Code::kOutOfGas), 0);
  EXPECT_GT(t.failed(Status::Code::kPanic), 0);
}

TEST_P(EquivalenceTest, Box) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId b, t.Deploy(Contract("box"), "box"));
  auto set = [](std::string_view k, std::string_view v) {
    return Cat({U32(static_cast<uint32_t>(k.size())), Str(k), Str(v)});
  };
  CallAtLimits(b, "len", {});
  CallAtLimits(b, "set", set("alpha", "one"));
  CallAtLimits(b, "set", set("", "empty key"));
  CallAtLimits(b, "get", Str("alpha"));
  CallAtLimits(b, "get", Str("missing"));
  CallAtLimits(b, "set", set("alpha", "a much longer value that needs reallocation"));
  CallAtLimits(b, "get", Str("alpha"));
  // Enough keys to rehash the table several times.
  for (int i = 0; i < 40; ++i) {
    t.Call(b, "set", set("key" + std::to_string(i), std::string(i, static_cast<char>('a' + i % 26))), kGas);
  }
  for (int i = 0; i < 40; i += 3) t.Call(b, "remove", Str("key" + std::to_string(i)), kGas);
  for (int i = 0; i < 40; i += 5) t.Call(b, "get", Str("key" + std::to_string(i)), kGas);
  CallAtLimits(b, "remove", Str("alpha"));
  CallAtLimits(b, "remove", Str("alpha"));
  CallAtLimits(b, "len", {});
  t.Call(b, "set", Bytes{1, 2}, kGas);                  // panics: shorter than u32
  t.Call(b, "set", Cat({U32(100), Str("xy")}), kGas);   // panics: key_len too long
  CallAtLimits(b, "set", Cat({U32(3), Str("big"), Bytes(60000, 0x5a)}));
  CallAtLimits(b, "get", Str("big"));                    // a 60001-byte result
}

TEST_P(EquivalenceTest, Fibonacci) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId f, t.Deploy(Contract("fibonacci"), "fibonacci"));
  for (uint32_t n : {0u, 1u, 2u, 10u, 18u}) CallAtLimits(f, "fib", U32(n));
  for (uint32_t n : {0u, 1u, 50u, 93u, 94u, 5000u}) CallAtLimits(f, "fib_iter", U32(n));
  t.Call(f, "fib", Bytes{1, 2}, kGas);       // panics
  t.Call(f, "fib_iter", {}, kGas);           // panics
  t.Call(f, "fib", U32(40), 200'000);        // out of gas deep in the recursion
  t.Call(f, "fib_iter", U32(0xFFFFFFFF), 123'457);
}

TEST_P(EquivalenceTest, Grower) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId g, t.Deploy(Contract("grower"), "grower"));
  CallAtLimits(g, "info", {});
  t.Call(g, "verify", {}, kGas);
  CallAtLimits(g, "grow", U32(7));
  CallAtLimits(g, "grow", Cat({U32(100), U32(2)}));
  CallAtLimits(g, "info", {});
  for (uint32_t i = 0; i < 4; ++i) t.Call(g, "checksum", U32(i), kGas);
  t.Call(g, "checksum", U32(1000), kGas);  // panics: no such chunk
  t.Call(g, "verify", {}, kGas);
  t.Call(g, "read", Cat({U32(1), U32(100), U32(64)}), kGas);
  t.Call(g, "read", Cat({U32(1), U32(65500), U32(64)}), kGas);  // panics: out of chunk
  t.Call(g, "write", Cat({U32(2), U32(4), Str("scribble")}), kGas);
  t.Call(g, "verify", {}, kGas);  // panics: chunk 2 corrupted
  t.Call(g, "grow_and_panic", U32(3), kGas);
  t.Call(g, "info", {}, kGas);
  t.Call(g, "grow", Cat({U32(1), U32(3)}), 600'000);  // out of gas midway through growing
  t.Call(g, "info", {}, kGas);
  t.Call(g, "grow", Bytes{1}, kGas);  // panics
}

TEST_P(EquivalenceTest, Hostinfo) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId h, t.Deploy(Contract("hostinfo"), {.owner = Str("owner")}, "hostinfo"));
  for (uint64_t gas : {uint64_t{1000}, uint64_t{123456}, kGas}) t.Call(h, "gas", {}, gas);
  CallAtLimits(h, "gas", {});
  CallAtLimits(h, "self_id", {});
  t.SetMeta("height", Bytes{9, 8, 7});
  t.SetMeta("", Str("empty name"));
  t.SetMeta("big", Bytes(65536, 0xee));
  for (std::string_view name : {"height", "", "big", "absent"}) CallAtLimits(h, "meta", Str(name));
  t.Call(h, "meta", Bytes(1025, 'x'), kGas);  // panics: name too long
}

TEST_P(EquivalenceTest, Panicker) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId p, t.Deploy(Contract("panicker"), "panicker"));
  CallAtLimits(p, "panic", Str("no means no"));
  t.Call(p, "panic", {}, kGas);
  t.Call(p, "panic", Bytes(65536, 'z'), kGas);
  t.Call(p, "panic", Bytes{0xff, 0xfe, 0x00, 0x80}, kGas);  // not UTF-8: bytes kept as they are
  CallAtLimits(p, "maybe_panic", Cat({Bytes{1}, Str("yes")}));
  CallAtLimits(p, "maybe_panic", Cat({Bytes{0}, Str("no")}));
  t.Call(p, "maybe_panic", {}, kGas);
  CallAtLimits(p, "echo", Bytes{1, 2, 3});
  t.Call(p, "echo", Bytes(65536, 7), kGas);
  CallAtLimits(p, "set", U64(99));
  t.Call(p, "get", {}, kGas);
  t.Call(p, "set_then_panic", U64(1234), kGas);  // the write before the panic is rolled back
  t.Call(p, "get", {}, kGas);
  t.Call(p, "unreachable", {}, kGas);
  t.Call(p, "divide", Cat({U32(100), U32(7)}), kGas);
  t.Call(p, "divide", Cat({U32(static_cast<uint32_t>(-100)), U32(7)}), kGas);
  t.Call(p, "divide", Cat({U32(7), U32(0)}), kGas);
  t.Call(p, "divide", Cat({U32(0x80000000u), U32(0xFFFFFFFFu)}), kGas);
  for (uint32_t addr : {0u, 65535u, 0x4ffffu, 0x50000u, 0xFFFFFFF0u}) t.Call(p, "load", U32(addr), kGas);
  // Depth: the limit is 1000 frames including the export's own.
  for (uint32_t n : {0u, 10u, 997u, 998u, 999u, 1000u, 1001u, 100000u}) t.Call(p, "recurse", U32(n), kGas);
  for (uint32_t n : {1u, 100u, 254u, 255u, 256u, 300u}) t.Call(p, "stack_hog", U32(n), kGas);
  for (uint64_t gas : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{5000}, uint64_t{77777}}) {
    t.Call(p, "spin", {}, gas);
  }
  for (uint32_t n : {0u, 1u, 1000u}) CallAtLimits(p, "burn", U32(n));
  t.Call(p, "burn", U32(1'000'000), 1'000'000);
  EXPECT_GT(t.failed(Status::Code::kTrap), 8);
  EXPECT_GT(t.failed(Status::Code::kOutOfGas), 8);
}

TEST_P(EquivalenceTest, PanickerWithSmallDepthLimit) {
  session_.reset();
  vm_ = OpenVm("depth50", 50);
  ASSERT_NE(vm_, nullptr);
  ASSERT_OK_AND_ASSIGN(session_, vm_->StartGenesis());
  twin_ = std::make_unique<Twin>(session_.get(), 50);
  ASSERT_OK_AND_ASSIGN(ModuleId p, twin_->Deploy(Contract("panicker"), "panicker"));
  ASSERT_OK_AND_ASSIGN(ModuleId f, twin_->Deploy(Contract("fibonacci"), "fibonacci"));
  for (uint32_t n = 40; n <= 52; ++n) twin_->Call(p, "recurse", U32(n), kGas);
  for (uint32_t n : {20u, 47u, 48u, 49u, 50u, 60u}) twin_->Call(p, "stack_hog", U32(n), kGas);
  twin_->Call(f, "fib", U32(15), kGas);
  EXPECT_GT(twin_->failed(Status::Code::kTrap), 2);
}

// ---------------------------------------------------------------------------
// Hand-written modules.

constexpr char kHeader[] = R"(
  (memory (export "memory") 2 8)
  (global $A (export "A") i32 (i32.const 65536))
)";

std::string Module(std::string_view body, std::string_view imports = "") {
  return "(module " + std::string(imports) + kHeader + std::string(body) + ")";
}

TEST_P(EquivalenceTest, LoopsAndBrTable) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  ;; sum(u32 n) -> u64 sum of i*i for i < n, then a countdown loop with br_if
  (func (export "sum") (param $len i32) (result i32)
    (local $n i32) (local $i i32) (local $acc i64)
    (local.set $n (i32.load (global.get $A)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc)
          (i64.mul (i64.extend_i32_u (local.get $i)) (i64.extend_i32_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.store (global.get $A) (local.get $acc))
    (i32.const 8))
  ;; nested loops breaking out of the outer one from the inner one
  (func (export "nested") (param $len i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32) (local $limit i32)
    (local.set $limit (i32.load (global.get $A)))
    (block $out
      (loop $outer
        (local.set $j (i32.const 0))
        (loop $inner
          (local.set $count (i32.add (local.get $count) (i32.const 1)))
          (br_if $out (i32.ge_u (local.get $count) (local.get $limit)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $outer (i32.lt_u (local.get $i) (i32.const 1000)))))
    (i32.store (global.get $A) (local.get $count))
    (i32.store offset=4 (global.get $A) (local.get $i))
    (i32.const 8))
  ;; br_table over every argument byte: 6 cases plus default, with values
  (func $classify (param $b i32) (result i32)
    (block $d (result i32)
      (block $c5 (result i32)
        (block $c4 (result i32)
          (block $c3 (result i32)
            (block $c2 (result i32)
              (block $c1 (result i32)
                (block $c0 (result i32)
                  (i32.mul (local.get $b) (i32.const 3))
                  (local.get $b)
                  (br_table $c0 $c1 $c2 $c3 $c4 $c5 $d))
                (return (i32.add (i32.const 100))))
              (return (i32.sub (i32.const 200))))
            (return (i32.xor (i32.const 0x55))))
          (return (i32.rotl (i32.const 7))))
        (return (i32.const 1000)))
      (br 0 (i32.const 5)))
    (i32.add (i32.const 7)))
  (func (export "table") (param $len i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (global.get $A) (local.get $i))
          (call $classify (i32.load8_u (i32.add (global.get $A) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $len))
  ;; early return from inside loops and ifs (depth and gas bookkeeping)
  (func $find (param $x i32) (result i32) (local $i i32)
    (loop $l
      (if (i32.eq (i32.mul (local.get $i) (local.get $i)) (local.get $x)) (then (return (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.le_u (local.get $i) (i32.const 1000))))
    (i32.const -1))
  (func (export "sqrt") (param $len i32) (result i32)
    (i32.store (global.get $A) (call $find (i32.load (global.get $A))))
    (i32.const 4))
)")), "loops"));
  for (uint32_t n : {0u, 1u, 10u, 1000u, 100000u}) CallAtLimits(m, "sum", U32(n));
  for (uint32_t n : {0u, 1u, 5u, 77u, 5000u, 1u << 30}) CallAtLimits(m, "nested", U32(n), 5'000'000);
  Bytes all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<uint8_t>(b));
  CallAtLimits(m, "table", all);
  CallAtLimits(m, "table", Bytes{0, 1, 2, 3, 4, 5, 6, 7});
  CallAtLimits(m, "table", {});
  for (uint32_t x : {0u, 1u, 49u, 50u, 998001u, 1000000u}) CallAtLimits(m, "sqrt", U32(x));
}

TEST_P(EquivalenceTest, CallIndirect) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (type $i2i (func (param i32) (result i32)))
  (type $i2l (func (param i32) (result i64)))
  (table 8 funcref)
  (elem (i32.const 0) $double $square $wide $double)
  (elem (i32.const 5) $trap $recurse)
  (func $double (param i32) (result i32) (i32.shl (local.get 0) (i32.const 1)))
  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func $wide (param i32) (result i64) (i64.extend_i32_s (local.get 0)))
  (func $trap (param i32) (result i32) (unreachable))
  (func $recurse (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1)
        (call_indirect (type $i2i) (i32.sub (local.get 0) (i32.const 1)) (i32.const 6))))))
  ;; call(u32 index | i32 value) -> i32 table[index](value) as $i2i
  (func (export "call") (param $len i32) (result i32)
    (i32.store (global.get $A)
      (call_indirect (type $i2i) (i32.load offset=4 (global.get $A)) (i32.load (global.get $A))))
    (i32.const 4))
  (func (export "call_wide") (param $len i32) (result i32)
    (i64.store (global.get $A)
      (call_indirect (type $i2l) (i32.load offset=4 (global.get $A)) (i32.load (global.get $A))))
    (i32.const 8))
)")), "call_indirect"));
  for (uint32_t index : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 0xFFFFFFFFu}) {
    for (uint32_t v : {3u, 0xFFFFu}) {
      twin_->Call(m, "call", Cat({U32(index), U32(v)}), kGas);
      twin_->Call(m, "call_wide", Cat({U32(index), U32(v)}), kGas);
    }
  }
  CallAtLimits(m, "call", Cat({U32(6), U32(500)}));
  twin_->Call(m, "call", Cat({U32(6), U32(998)}), kGas);
  twin_->Call(m, "call", Cat({U32(6), U32(999)}), kGas);  // depth limit through call_indirect
  EXPECT_GE(t.failed(Status::Code::kTrap), 10);
}

TEST_P(EquivalenceTest, MemoryGrowAndBulkMemory) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (data $passive "passive segment bytes")
  (data (i32.const 1000) "active segment")
  ;; grow(u32 pages) -> i32 old size (or -1) | u32 new size; fills the new pages' first bytes
  (func (export "grow") (param $len i32) (result i32)
    (local $old i32) (local $p i32)
    (local.set $old (memory.grow (i32.load (global.get $A))))
    (if (i32.ne (local.get $old) (i32.const -1))
      (then
        (local.set $p (local.get $old))
        (block $done (loop $l
          (br_if $done (i32.ge_u (local.get $p) (memory.size)))
          (i32.store (i32.mul (local.get $p) (i32.const 65536)) (i32.add (local.get $p) (i32.const 0x1000)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $l)))))
    (i32.store (global.get $A) (local.get $old))
    (i32.store offset=4 (global.get $A) (memory.size))
    (i32.const 8))
  ;; fill(u32 dst | u32 byte | u32 len), copy(u32 dst | u32 src | u32 len), init(u32 dst | u32 off | u32 len)
  (func (export "fill") (param $len i32) (result i32)
    (memory.fill (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "copy") (param $len i32) (result i32)
    (memory.copy (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "init") (param $len i32) (result i32) (i32.const 0))
  (func (export "minit") (param $len i32) (result i32)
    (memory.init $passive (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "peek") (param $len i32) (result i32)
    (memory.copy (global.get $A) (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)))
    (i32.load offset=4 (global.get $A)))
)")), "memory"));
  CallAtLimits(m, "grow", U32(0));
  CallAtLimits(m, "grow", U32(1));
  CallAtLimits(m, "grow", U32(2));
  t.Call(m, "grow", U32(100), kGas);  // beyond the maximum: -1, charged anyway
  t.Call(m, "grow", U32(0xFFFFFFFF), kGas);
  t.Call(m, "grow", U32(3), kGas);     // to the maximum of 8 pages
  t.Call(m, "grow", U32(1), kGas);     // -1
  t.Call(m, "grow", U32(1), 4000);     // out of gas before growing (4096 per page)
  CallAtLimits(m, "fill", Cat({U32(200000), U32(0xab), U32(5000)}));
  CallAtLimits(m, "fill", Cat({U32(0), U32(0x1cd), U32(65536)}));
  t.Call(m, "fill", Cat({U32(8 * 65536 - 10), U32(1), U32(11)}), kGas);  // out of bounds: nothing written
  CallAtLimits(m, "copy", Cat({U32(300000), U32(1000), U32(14)}));
  CallAtLimits(m, "copy", Cat({U32(1005), U32(1000), U32(100)}));  // overlapping
  t.Call(m, "copy", Cat({U32(0), U32(8 * 65536 - 4), U32(5)}), kGas);
  CallAtLimits(m, "minit", Cat({U32(400000), U32(2), U32(10)}));
  t.Call(m, "minit", Cat({U32(0), U32(10), U32(100)}), kGas);  // beyond the segment: trap
  t.Call(m, "peek", Cat({U32(1000), U32(40)}), kGas);
  t.Call(m, "peek", Cat({U32(400000), U32(20)}), kGas);
  t.Call(m, "init", {}, kGas);  // InvalidArgument in both: init is never callable
}

// Stores of every width in loops, overlapping each other and crossing 4 KiB
// pages, then read back; and stores that run out of bounds after several
// gas charges (the trap must see exactly the gas charged before it: the C
// compiler may keep the counter in a register between stores).
TEST_P(EquivalenceTest, StoresOfEveryWidth) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  ;; mix(u32 base | u32 n): n rounds of overlapping stores at base + 13 * i, then a checksum of the bytes
  (func (export "mix") (param $len i32) (result i32)
    (local $b i32) (local $n i32) (local $i i32) (local $p i32) (local $h i64)
    (local.set $b (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (i32.add (local.get $b) (i32.mul (local.get $i) (i32.const 13))))
      (i64.store (local.get $p) (i64.mul (i64.extend_i32_u (local.get $i)) (i64.const 0x9e3779b97f4a7c15)))
      (i32.store offset=3 (local.get $p) (i32.xor (local.get $i) (i32.const 0x5bd1e995)))
      (i32.store8 offset=5 (local.get $p) (local.get $i))
      (i64.store16 offset=6 (local.get $p) (i64.const 0xbeef))
      (i64.store32 offset=9 (local.get $p) (i64.const 0x12345678))
      (i64.store8 offset=1 (local.get $p) (i64.const 0xff))
      (i32.store16 offset=11 (local.get $p) (i32.const 0xcafe))
      (f32.store offset=2 (local.get $p) (f32.reinterpret_i32 (i32.const 0x3f800001)))
      (f64.store offset=7 (local.get $p) (f64.reinterpret_i64 (i64.const 0x4000000000000003)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.set $i (i32.const 0))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.add (i32.mul (local.get $n) (i32.const 13)) (i32.const 16))))
      (local.set $h (i64.add (i64.mul (local.get $h) (i64.const 31))
                             (i64.load8_u (i32.add (local.get $b) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i64.store (global.get $A) (local.get $h))
    (i32.const 8))
  ;; run(u32 addr | u32 step | u32 n): n stores of i64 at addr, addr + step, ...; the last may be out of bounds
  (func (export "run") (param $len i32) (result i32)
    (local $a i32) (local $s i32) (local $n i32)
    (local.set $a (i32.load (global.get $A)))
    (local.set $s (i32.load offset=4 (global.get $A)))
    (local.set $n (i32.load offset=8 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i64.store (local.get $a) (i64.extend_i32_u (local.get $n)))
      (i32.store8 offset=3 (local.get $a) (local.get $n))
      (local.set $a (i32.add (local.get $a) (local.get $s)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
)")), "stores"));
  CallAtLimits(m, "mix", Cat({U32(4090), U32(700)}));
  CallAtLimits(m, "mix", Cat({U32(8 * 4096 - 3), U32(40)}));
  CallAtLimits(m, "run", Cat({U32(0), U32(4093), U32(30)}));
  // Out of bounds on the 128th store (memory is 2 pages of 64 KiB), after 127 charged iterations.
  t.Call(m, "run", Cat({U32(2 * 65536 - 127 * 1024 - 4), U32(1024), U32(200)}), kGas);
  t.Call(m, "run", Cat({U32(2 * 65536 - 3), U32(1), U32(5)}), kGas);  // straddles the end: traps
  t.Call(m, "run", Cat({U32(1000), U32(8), U32(1000)}), 3000);       // out of gas midway
}

// Runs of stores to constant addresses, where native code drops the barrier
// of a store whose pages earlier constant-address stores of the same run
// wrote (compiler_translate.cc, SkipNotedStores): same page, a store
// spanning two pages and then one inside the second, the argument buffer,
// a call and a branch target between stores, a store out of bounds after a
// charged one, and limits that run out at a page charge inside a run.
TEST_P(EquivalenceTest, ConstantAddressStoreRuns) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "consts") (param $len i32) (result i32)
    (i64.store (i32.const 4096) (i64.const 1))
    (i64.store offset=8 (i32.const 4096) (i64.const 2))
    (i32.store (i32.const 8190) (i32.const 0x03030303))
    (i32.store16 (i32.const 8192) (i32.const 4))
    (i64.store8 offset=4095 (i32.const 0) (i64.const 5))
    (i32.store8 (i32.const 0) (i32.load (i32.const 4100)))
    (drop (call $id (i32.const 0)))
    (i64.store (i32.const 4100) (i64.const 7))
    (i64.store (i32.const 4108) (i64.const 8))
    (f64.store (i32.const 65536) (f64.const 1.5))
    (f32.store (i32.const 65544) (f32.const 2.5))
    (i64.store32 (i32.const 12280) (i64.const 9))
    (if (local.get $len) (then (i64.store (i32.const 12288) (i64.const 10)) (i64.store (i32.const 12296) (i64.const 11))))
    (i64.store (i32.const 12300) (i64.const 12))
    (i64.store16 (i32.const 12310) (i64.const 13))
    (i64.store (global.get $A) (i64.load (i32.const 4096)))
    (i32.const 8))
  (func (export "oob") (param $len i32) (result i32)
    (i64.store (i32.const 20480) (i64.const 1))
    (i64.store (i32.const 20488) (i64.const 2))
    (i64.store (i32.const 131070) (i64.const 3))
    (i64.store (i32.const 131072) (i64.const 4))
    (i32.const 0))
)")), "constant stores"));
  CallAtLimits(m, "consts", {});
  CallAtLimits(m, "consts", U32(1));
  CallAtLimits(m, "oob", {});
  for (uint64_t gas = 4096; gas < 6 * 4096 + 64; gas += 4096 / 2) t.Call(m, "consts", U32(1), gas);
}

// Groups of stores from one base value plus constants, which native code
// checks once per group (compiler_translate.cc, SkipNotedStores: the group's
// whole span must lie in one noted page, else every store keeps its
// barrier): offsets and `i32.add`/`i32.sub` of constants, the base carried
// through `local.tee` (matmul's shape), a group whose smallest address is
// not its first store's, groups crossing a page boundary after the first
// page was noted by earlier iterations (a check of the first page alone
// would skip the second page's charge and fail here), the argument buffer,
// a member out of bounds after charged ones, an address that wraps past
// 2^32, a base in a mutable global bumped between stores (a shadow stack
// pointer), and limits that run out at each page charge.
TEST_P(EquivalenceTest, SpanGroupStores) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  ;; spans(u32 base | u32 n | u32 step): n iterations of a 32-byte group at p, then p += step
  (func (export "spans") (param $len i32) (result i32)
    (local $p i32) (local $n i32) (local $s i32) (local $q i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (local.set $s (i32.load offset=8 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i64.store (i32.add (local.get $p) (i32.const 16)) (i64.extend_i32_u (local.get $n)))
      (i64.store (local.get $p) (i64.const 0x1111111111111111))
      (i32.store offset=8 (local.get $p) (local.get $n))
      (i32.store16 (local.tee $q (i32.add (local.get $p) (i32.const 12))) (i32.const 0x2222))
      (i32.store8 offset=2 (local.get $q) (i32.const 0x33))
      (i64.store (local.tee $q (i32.add (local.get $q) (i32.const 12))) (i64.const 0x4444444444444444))
      (i32.store8 (i32.sub (local.get $q) (i32.const 1)) (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  ;; pairs(u32 base | u32 n): matmul's inner loop, two u32 read-modify-writes at p and p + 4 per iteration
  (func (export "pairs") (param $len i32) (result i32)
    (local $p i32) (local $n i32) (local $q i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (local.tee $q (local.get $p)) (i32.add (i32.load (local.get $q)) (local.get $n)))
      (i32.store (local.tee $q (i32.add (local.get $q) (i32.const 4))) (i32.add (i32.load (local.get $q)) (i32.const 7)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i64.store (global.get $A) (i64.load (i32.load (global.get $A))))
    (i32.const 8))
  ;; wrap(u32 base): a store at page 0, then base + 8 (wraps to 0 for base 2^32 - 8) and base
  (func (export "wrap") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (i32.load (global.get $A)))
    (i64.store (i32.const 0) (i64.const 1))
    (i64.store (i32.add (local.get $p) (i32.const 8)) (i64.const 2))
    (i64.store (local.get $p) (i64.const 3))
    (i32.const 0))
  ;; frame(u32 sp | u32 n): n 24-byte frames pushed through a mutable global, as a shadow stack pointer
  (global $sp (mut i32) (i32.const 8192))
  (func (export "frame") (param $len i32) (result i32)
    (local $n i32)
    (global.set $sp (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i64.store (global.get $sp) (i64.extend_i32_u (local.get $n)))
      (global.set $sp (i32.add (global.get $sp) (i32.const 8)))
      (i64.store (global.get $sp) (i64.const 7))
      (i64.store offset=8 (global.get $sp) (i64.const 9))
      (global.set $sp (i32.add (global.get $sp) (i32.const 16)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.store (global.get $A) (global.get $sp))
    (i32.store offset=4 (global.get $A) (local.get $n))
    (i32.const 8))
)")), "span groups"));
  CallAtLimits(m, "spans", Cat({U32(0), U32(300), U32(32)}));      // aligned: never crosses a page
  CallAtLimits(m, "spans", Cat({U32(4), U32(300), U32(32)}));      // crosses at 4068 + 32k after page 0 is noted
  CallAtLimits(m, "spans", Cat({U32(4090), U32(3), U32(0)}));      // the same crossing group three times
  CallAtLimits(m, "spans", Cat({U32(100), U32(600), U32(4)}));     // overlapping groups
  CallAtLimits(m, "spans", Cat({U32(65536 - 40), U32(20), U32(8)}));  // into the argument buffer
  CallAtLimits(m, "spans", Cat({U32(2 * 65536 - 100), U32(20), U32(3)}));  // memory ends: a member out of bounds
  CallAtLimits(m, "pairs", Cat({U32(4000), U32(40)}));             // crosses at 4092 + 8k after page 0 is noted
  CallAtLimits(m, "pairs", Cat({U32(8192), U32(1200)}));
  CallAtLimits(m, "frame", Cat({U32(4), U32(400)}));             // crosses at 4084 + 24k
  CallAtLimits(m, "frame", Cat({U32(2 * 65536 - 100), U32(8)}));  // memory ends inside a frame
  t.Call(m, "wrap", U32(5000), kGas);
  t.Call(m, "wrap", U32(0xFFFFFFF8), kGas);  // base + 8 is 0, then base is out of bounds
  t.Call(m, "wrap", U32(2 * 65536 - 12), kGas);    // base + 8 crosses the end of memory
  for (uint64_t gas = 4096; gas < 6 * 4096 + 64; gas += 4096 / 2) {
    t.Call(m, "spans", Cat({U32(4), U32(300), U32(32)}), gas);
    t.Call(m, "pairs", Cat({U32(4000), U32(1100)}), gas);
  }
}

// The compute kernels of bench/kernel_bench.cc (bench/kernels/vm_kernels.c),
// at small sizes: every kind of store-heavy loop the benchmark measures.
TEST_P(EquivalenceTest, Kernels) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId k, t.Deploy(Contract("vm_kernels"), "vm_kernels"));
  CallAtLimits(k, "sha256", U32(3));
  CallAtLimits(k, "keccak", U32(2));
  CallAtLimits(k, "qsort", U32(300));
  CallAtLimits(k, "matmul", U32(9));
  CallAtLimits(k, "modexp", U32(1));
  CallAtLimits(k, "interp", U32(500));
  t.Call(k, "hashmap", U32(300), kGas * 4);
  t.Call(k, "fill", U32(1), kGas * 4);
  t.Call(k, "fill", U32(1), 1'000'000);  // out of gas in the middle of the stores
}

// The page-write charge (docs/abi.md §9.2): 4,096 gas per 4 KiB page a call
// writes first, outside the argument buffer A ([64 KiB, 128 KiB) here),
// charged after the bounds checks and before the write. Unchanged values,
// stores spanning two pages, repeated writes in one call and in the next
// call, bulk operations whose source is out of bounds, memory.init past its
// segment, and limits that run out exactly at a page charge.
TEST_P(EquivalenceTest, PageWriteCharges) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (data $passive "0123456789abcdef")
  ;; put(u32 addr | u64 value): one i64 store (may span two pages)
  (func (export "put") (param $len i32) (result i32)
    (i64.store (i32.load (global.get $A)) (i64.load offset=4 (global.get $A)))
    (i32.const 0))
  ;; pages(u32 first | u32 count | u32 stride | u32 value): `count` i32 stores
  (func (export "pages") (param $len i32) (result i32)
    (local $p i32) (local $n i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store8 (local.get $p) (i32.load offset=12 (global.get $A)))
      (local.set $p (i32.add (local.get $p) (i32.load offset=8 (global.get $A))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  ;; fill/copy/minit(u32 dst | u32 src-or-byte | u32 len)
  (func (export "fill") (param $len i32) (result i32)
    (memory.fill (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "copy") (param $len i32) (result i32)
    (memory.copy (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "minit") (param $len i32) (result i32)
    (memory.init $passive (i32.load (global.get $A)) (i32.load offset=4 (global.get $A)) (i32.load offset=8 (global.get $A)))
    (i32.const 0))
  ;; grow_put(u32 pages): grows, then writes the first byte of every new 4 KiB page
  (func (export "grow_put") (param $len i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.mul (memory.grow (i32.load (global.get $A))) (i32.const 65536)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (i32.store8 (local.get $p) (i32.const 0))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br $l)))
    (i32.const 0))
)")), "pages"));
  CallAtLimits(m, "put", Cat({U32(0), U64(0)}));                    // an unchanged value: charged
  CallAtLimits(m, "put", Cat({U32(4092), U64(0x1122334455667788)}));  // two pages
  CallAtLimits(m, "put", Cat({U32(65536 + 8), U64(7)}));            // in A: free
  CallAtLimits(m, "put", Cat({U32(65536 - 4), U64(7)}));            // page 15 charged, A's page free
  CallAtLimits(m, "put", Cat({U32(2 * 65536 - 4), U64(7)}));        // A's last page free, page 32 charged
  t.Call(m, "put", Cat({U32(2 * 65536 - 4), U64(7)}), kGas);       // again in a new call: charged again
  t.Call(m, "put", Cat({U32(2 * 65536 + 4), U64(7)}), 1'000);       // out of gas at the charge
  t.Call(m, "put", Cat({U32(2 * 65536 - 2), U64(7)}), kGas);       // out of bounds: trap, not charged
  CallAtLimits(m, "pages", Cat({U32(0), U32(16), U32(4096), U32(0)}));   // 16 pages
  CallAtLimits(m, "pages", Cat({U32(100), U32(40), U32(100), U32(1)}));  // one page, 40 stores
  CallAtLimits(m, "pages", Cat({U32(0), U32(32), U32(4096), U32(2)}));   // through A
  t.Call(m, "pages", Cat({U32(0), U32(16), U32(4096), U32(0)}), 5 * 4096);  // runs out part-way
  CallAtLimits(m, "fill", Cat({U32(1000), U32(0), U32(3 * 4096)}));
  CallAtLimits(m, "fill", Cat({U32(1000), U32(0), U32(0)}));
  t.Call(m, "fill", Cat({U32(2 * 65536 - 10), U32(1), U32(11)}), kGas);  // out of bounds
  CallAtLimits(m, "copy", Cat({U32(5000), U32(65536), U32(9000)}));
  t.Call(m, "copy", Cat({U32(5000), U32(2 * 65536 - 4), U32(5)}), kGas);  // source out of bounds
  CallAtLimits(m, "minit", Cat({U32(20000), U32(2), U32(10)}));
  t.Call(m, "minit", Cat({U32(20000), U32(10), U32(100)}), kGas);  // beyond the segment
  t.Call(m, "minit", Cat({U32(30000), U32(16), U32(1)}), kGas);    // past the segment's end: trap
  t.Call(m, "minit", Cat({U32(30000), U32(16), U32(0)}), kGas);    // len 0: no write, not charged
  CallAtLimits(m, "grow_put", U32(2));
  t.Call(m, "grow_put", U32(1), 4096 + 8 * 4096);  // grows, then runs out at the 8th page
}

// ---------------------------------------------------------------------------
// Inter-contract calls (`c`, docs/abi.md §5, §9.1, §9.2): the oracle world
// runs nested calls with the VM's checkpoints, gas rules and rollbacks.

// One module, deployed several times: `call` forwards a call through `c`
// and returns its code and result; the others are callees.
constexpr char kNodeImports[] = R"(
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "caller" (func $caller (result i32)))
  (import "env" "callstack" (func $callstack (result i32)))
)";
constexpr char kNode[] = R"(
  (global $count (mut i64) (i64.const 0))
  (data (i32.const 8192) "topic")
  ;; call(id[32] | u64 gas | u32 fn_len | u32 arg_len | u32 touch | name | arg):
  ;; writes a byte at `touch` (unless it is 0), calls, writes it again, and
  ;; returns i32 code | the result (code > 0) or the panic buffer (code -1).
  (func $call (export "call") (param $len i32) (result i32)
    (local $fn_len i32) (local $arg_len i32) (local $touch i32) (local $gas i64) (local $code i32) (local $n i32)
    (memory.copy (i32.const 0) (global.get $A) (i32.const 32))
    (local.set $gas (i64.load offset=32 (global.get $A)))
    (local.set $fn_len (i32.load offset=40 (global.get $A)))
    (local.set $arg_len (i32.load offset=44 (global.get $A)))
    (local.set $touch (i32.load offset=48 (global.get $A)))
    (memory.copy (i32.const 64) (i32.add (global.get $A) (i32.const 52)) (local.get $fn_len))
    (memory.copy (global.get $A) (i32.add (global.get $A) (i32.add (i32.const 52) (local.get $fn_len)))
                 (local.get $arg_len))
    (if (local.get $touch) (then (i32.store8 (local.get $touch) (i32.const 1))))
    (local.set $code (call $c (i32.const 0) (i32.const 64) (local.get $fn_len) (local.get $arg_len) (local.get $gas)))
    (if (local.get $touch) (then (i32.store8 (local.get $touch) (i32.const 2))))
    (local.set $n (select (local.get $code) (i32.const 0) (i32.gt_s (local.get $code) (i32.const 0))))
    (if (i32.eq (local.get $code) (i32.const -1))
      (then (local.set $n (i32.add (i32.const 4) (i32.load (global.get $A))))))
    (memory.copy (i32.add (global.get $A) (i32.const 4)) (global.get $A) (local.get $n))
    (i32.store (global.get $A) (local.get $code))
    (i32.add (local.get $n) (i32.const 4)))
  ;; call_fail: as call, then traps (rolls back a successful callee)
  (func (export "call_fail") (param $len i32) (result i32)
    (drop (call $call (local.get $len))) (unreachable))
  ;; churn(id[32] | u32 n | u32 fn_len | name): n times: a store, then c(name) with gas 0
  (func (export "churn") (param $len i32) (result i32)
    (local $n i32) (local $fn_len i32)
    (memory.copy (i32.const 0) (global.get $A) (i32.const 32))
    (local.set $n (i32.load offset=32 (global.get $A)))
    (local.set $fn_len (i32.load offset=36 (global.get $A)))
    (memory.copy (i32.const 64) (i32.add (global.get $A) (i32.const 40)) (local.get $fn_len))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (i32.const 12288) (local.get $n))
      (drop (call $c (i32.const 0) (i32.const 64) (local.get $fn_len) (i32.const 0) (i64.const 0)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  ;; put(u32 first | u32 count): writes a byte in each of `count` 4 KiB pages
  (func $put (export "put") (param $len i32) (result i32)
    (local $p i32) (local $n i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store8 (local.get $p) (local.get $n))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i32.const 0))
  (func (export "put_fail") (param $len i32) (result i32) (drop (call $put (local.get $len))) (unreachable))
  (func (export "put_panic") (param $len i32) (result i32)
    (drop (call $put (local.get $len)))
    (i64.store (global.get $A) (i64.const 0x2164656c6961662f))  ;; "/failed!"
    (call $panic (i32.const 8)) (i32.const 0))
  (func (export "spin") (param $len i32) (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "echo") (param $len i32) (result i32) (local.get $len))
  (func (export "inc") (param $len i32) (result i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i64.store (global.get $A) (global.get $count)) (i32.const 8))
  (func (export "big") (param $len i32) (result i32) (i32.const 65537))
  (func (export "grow_fail") (param $len i32) (result i32)
    (drop (memory.grow (i32.const 1))) (i32.store (i32.const 140000) (i32.const 7)) (unreachable))
  (func (export "emit") (param $len i32) (result i32)
    (call $emit (i32.const 8192) (i32.const 5) (local.get $len)) (i32.const 0))
  (func (export "emit_fail") (param $len i32) (result i32)
    (call $emit (i32.const 8192) (i32.const 5) (local.get $len)) (unreachable))
  (func (export "who") (param $len i32) (result i32)
    (local $n i32)
    (local.set $n (call $callstack))
    (i32.mul (local.get $n) (i32.const 32)))
  (func (export "caller") (param $len i32) (result i32) (i32.mul (call $caller) (i32.const 32)))
  (func $rec (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "recurse") (param $len i32) (result i32)
    (i32.store (global.get $A) (call $rec (i32.load (global.get $A)))) (i32.const 4))
)";

// The argument of `call` (kNode).
Bytes CallArg(const ModuleId& id, std::string_view fn, const Bytes& arg, uint64_t gas = 0, uint32_t touch = 0) {
  Bytes out(id.bytes.begin(), id.bytes.end());
  PutFixed64(&out, gas);
  PutFixed32(&out, static_cast<uint32_t>(fn.size()));
  PutFixed32(&out, static_cast<uint32_t>(arg.size()));
  PutFixed32(&out, touch);
  out.insert(out.end(), fn.begin(), fn.end());
  out.insert(out.end(), arg.begin(), arg.end());
  return out;
}

TEST_P(EquivalenceTest, InterContractCalls) {
  Twin& t = *twin_;
  const Bytes node = Wat(Module(kNode, kNodeImports));
  ASSERT_OK_AND_ASSIGN(ModuleId x, t.Deploy(node, {.nonce = 1}, "x"));
  ASSERT_OK_AND_ASSIGN(ModuleId y, t.Deploy(node, {.nonce = 2}, "y"));
  // Results, return codes and gas rules: 93 % of what is left (gas 0, or
  // at least what is left, read as unsigned), or the limit asked for.
  CallAtLimits(x, "call", CallArg(y, "echo", Str("hello")));
  CallAtLimits(x, "call", CallArg(y, "inc", {}, 100'000));
  CallAtLimits(x, "call", CallArg(y, "inc", {}, ~uint64_t{0}));
  CallAtLimits(x, "call", CallArg(y, "inc", {}, kGas * 2));
  CallAtLimits(x, "call", CallArg(y, "who", {}));
  CallAtLimits(x, "call", CallArg(y, "caller", {}));
  // Failing callees: the caller pays the callee's whole limit.
  CallAtLimits(x, "call", CallArg(y, "spin", {}, 30'000));                // -2
  CallAtLimits(x, "call", CallArg(y, "put_panic", Cat({U32(0), U32(3)}), 100'000));  // -1 and the message
  CallAtLimits(x, "call", CallArg(y, "nope", {}, 50'000));                // no such function: INT32_MIN
  CallAtLimits(x, "call", CallArg(y, "init", {}, 50'000));                // init: INT32_MIN
  CallAtLimits(x, "call", CallArg(y, "big", {}, 50'000));                 // result too large
  CallAtLimits(x, "call", CallArg(y, "recurse", U32(2000), 5'000'000));   // the shared depth budget
  CallAtLimits(x, "call", CallArg(y, "recurse", U32(100), 5'000'000));
  ModuleId missing;
  missing.bytes.fill(0x5a);
  CallAtLimits(x, "call", CallArg(missing, "echo", {}, 50'000));          // -3: only the call charge
  // Self-calls re-enter the running instance (its counters resume).
  CallAtLimits(x, "call", CallArg(x, "inc", {}));
  CallAtLimits(x, "call", CallArg(x, "call", CallArg(y, "inc", {})));
  // Nested three deep, back into the first module.
  CallAtLimits(x, "call", CallArg(y, "call", CallArg(x, "call", CallArg(y, "echo", Str("deep")))));
  CallAtLimits(x, "call", CallArg(y, "call", CallArg(x, "inc", {})));
  // A successful callee rolled back by its failing caller (persisted globals too).
  t.Call(x, "call_fail", CallArg(y, "inc", {}), kGas);
  t.Call(y, "inc", {}, kGas);
  // Events: kept by a successful callee, flagged reverted by a failing one
  // or by the caller's failure.
  CallAtLimits(x, "call", CallArg(y, "emit", Str("data")));
  t.Call(x, "call", CallArg(y, "emit_fail", Str("data")), kGas);
  t.Call(x, "call_fail", CallArg(y, "emit", Str("data")), kGas);
  // Memory growth of a failed callee is rolled back.
  t.Call(x, "call", CallArg(y, "grow_fail", {}), kGas);
  t.Call(y, "echo", {}, kGas);
  // The call charge itself runs out.
  t.Call(x, "call", CallArg(y, "echo", {}), 1'000);
  EXPECT_GE(t.ok_calls(), 20);
}

// Page writes in nested calls (§9.2): a callee pays for the pages it
// writes, again after every checkpoint operation; a failed callee's writes
// and charges are rolled back and the caller pays its whole limit; the
// caller's pages count again after `c` returns.
TEST_P(EquivalenceTest, InterContractPageWrites) {
  Twin& t = *twin_;
  const Bytes node = Wat(Module(kNode, kNodeImports));
  ASSERT_OK_AND_ASSIGN(ModuleId x, t.Deploy(node, {.nonce = 1}, "x"));
  ASSERT_OK_AND_ASSIGN(ModuleId y, t.Deploy(node, {.nonce = 2}, "y"));
  const Bytes pages = Cat({U32(16384), U32(6)});  // pages 4..9
  CallAtLimits(x, "call", CallArg(y, "put", pages, 0, 40000));
  CallAtLimits(x, "call", CallArg(y, "put", pages, 5 * 4096 + 2000, 40000));  // runs out at the last page
  CallAtLimits(x, "call", CallArg(y, "put_fail", pages, 100'000, 40000));
  CallAtLimits(x, "call", CallArg(y, "put_panic", pages, 0, 40000));
  CallAtLimits(x, "call", CallArg(x, "put", pages, 0, 16384));   // the caller's own pages, re-entered
  CallAtLimits(x, "call", CallArg(x, "put_fail", pages, 0, 16384));
  CallAtLimits(x, "call", CallArg(y, "call", CallArg(x, "put", pages, 0, 20000), 0, 20000));
  t.Call(x, "call_fail", CallArg(y, "put", pages), kGas);
  t.Call(y, "put", Cat({U32(16384), U32(1)}), kGas);  // y's pages as the rollback left them
  // A loop of a store and a call: the store's page is charged again after each `c`.
  Bytes churn(y.bytes.begin(), y.bytes.end());
  PutFixed32(&churn, 50);
  PutFixed32(&churn, 4);
  churn.insert(churn.end(), {'e', 'c', 'h', 'o'});
  CallAtLimits(x, "churn", churn);
  Bytes fails(y.bytes.begin(), y.bytes.end());
  PutFixed32(&fails, 20);
  PutFixed32(&fails, 8);
  fails.insert(fails.end(), {'p', 'u', 't', '_', 'f', 'a', 'i', 'l'});
  CallAtLimits(x, "churn", fails);
}

// The module-depth limit (VmOptions::max_module_depth): past it `c`
// returns INT32_MIN after the call charge, and the callee never starts.
TEST_P(EquivalenceTest, InterContractModuleDepthLimit) {
  std::unique_ptr<Vm> vm = OpenVm("depth", 1000, /*module_depth=*/3);
  ASSERT_NE(vm, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VmSession> session, vm->StartGenesis());
  Twin t(session.get(), 1000, 3);
  const Bytes node = Wat(Module(kNode, kNodeImports));
  ASSERT_OK_AND_ASSIGN(ModuleId x, t.Deploy(node, {.nonce = 1}, "x"));
  ASSERT_OK_AND_ASSIGN(ModuleId y, t.Deploy(node, {.nonce = 2}, "y"));
  t.Call(x, "call", CallArg(y, "call", CallArg(x, "inc", {})), kGas);                        // depth 3: runs
  t.Call(x, "call", CallArg(y, "call", CallArg(x, "call", CallArg(y, "inc", {}))), kGas);    // depth 4: refused
  EXPECT_EQ(t.ok_calls(), 2);
}

// Gas at every kind of trap, right after charges: native code keeps the
// counter in a local of each function and writes it through to the global at
// every charge (compiler_translate.cc, CacheGasInLocal), because a trap --
// raised by the code (wasm_rt_trap) or by a fault of a load or store (the
// signal handler) -- ends the call where the host reads only the global.
// Every trap kind after a loop of charges, at call depth 0 to 3 (direct and
// call_indirect between), with host functions that charge (emit) and a
// store's page-write charge (the barrier's slow path) or a memory.grow's
// per-page charge in between; each limit
// at which the call runs out of gas on the way; and the same inside nested
// inter-contract calls, whose trap the caller's receipt and call tree
// report. Gas, results and memory are compared with the interpreter; any
// code that holds the counter elsewhere between charges (a register, a
// local written back lazily) must keep this test passing. docs/abi.md §9.3.
constexpr char kGasTraps[] = R"(
  (type $i3 (func (param i32 i32 i32) (result i32)))
  (type $v (func))
  (table 4 funcref)
  (elem (i32.const 0) $work $chain)
  (data (i32.const 8192) "topic")
  (data $passive "a passive segment of 32 bytes..")
  ;; n iterations of arithmetic alone: charges and nothing else
  (func $work (param $n i32) (result i32) (local $x i32)
    (local.set $x (i32.const 1))
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $n)))
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 31)) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $x))
  (func $rec (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get $n) (i32.const 1)))))))
  ;; kind 0 returns x; every other kind traps (or runs out of gas) right after a charge
  (func $trap (param $k i32) (param $x i32) (result i32)
    (local $zero i32)
    (local.set $zero (i32.and (local.get $x) (i32.const 0)))
    (block $d (block $17 (block $16
    (block $15 (block $14 (block $13 (block $12 (block $11 (block $10 (block $9 (block $8
    (block $7 (block $6 (block $5 (block $4 (block $3 (block $2 (block $1 (block $0
      (br_table $0 $1 $2 $3 $4 $5 $6 $7 $8 $9 $10 $11 $12 $13 $14 $15 $16 $17 $d (local.get $k)))
      (return (local.get $x)))
      (return (i32.load (i32.or (local.get $x) (i32.const 0x40000000)))))          ;; 1 load out of bounds
      (i32.store (i32.or (local.get $x) (i32.const 0x40000000)) (local.get $x)) (return (i32.const 0)))  ;; 2 store
      (return (i32.div_u (local.get $x) (local.get $zero))))                          ;; 3 divide by zero
      (return (i32.rem_s (local.get $x) (local.get $zero))))                          ;; 4 rem by zero
      (return (i32.div_s (i32.const 0x80000000) (i32.or (local.get $zero) (i32.const -1)))))  ;; 5 overflow
      (return (i32.trunc_f32_s (f32.div (f32.convert_i32_s (local.get $zero)) (f32.convert_i32_s (local.get $zero))))))  ;; 6 NaN
      (return (i32.trunc_f64_u (f64.add (f64.const 1e20) (f64.convert_i32_u (local.get $x))))))  ;; 7 overflow
      (unreachable))                                                                    ;; 8
      (return (call_indirect (type $i3) (local.get $x) (local.get $x) (local.get $x) (i32.const 3))))  ;; 9 null entry
      (call_indirect (type $v) (i32.const 0)) (return (i32.const 0)))                  ;; 10 wrong type
      (memory.fill (i32.const 0x1fff0) (local.get $x) (i32.const 0x100)) (return (i32.const 0)))  ;; 11 fill out of bounds
      (memory.copy (i32.const 0x100) (i32.const 0x1ff80) (i32.const 0x100)) (return (i32.const 0)))  ;; 12 copy out of bounds
      (return (call $rec (i32.const 100000))))                                         ;; 13 depth limit
      (return (i32.wrap_i64 (i64.load (i32.add (local.get $zero) (i32.const 0x1fffc))))))  ;; 14 straddles the end
      ;; 15: a store to a fresh page (charged in the barrier's slow path), then out of bounds
      (i32.store (i32.add (local.get $zero) (i32.const 0x9000)) (local.get $x))
      (return (i32.load (i32.or (local.get $x) (i32.const 0x40000000)))))
      ;; 16: memory.grow (its per-page charge, through the charge helper), then divide by zero
      (drop (memory.grow (i32.add (local.get $zero) (i32.const 1))))
      (return (i32.div_s (local.get $x) (local.get $zero))))
      (memory.init $passive (i32.const 0x100) (local.get $zero) (i32.const 100)) (return (i32.const 0)))  ;; 17 init out of bounds
    (i32.const -1))
  ;; chain(d, k, n): work, an emit (a host charge), then d levels down (odd levels
  ;; through call_indirect, even ones directly) and trap(k) at the bottom
  (func $chain (param $d i32) (param $k i32) (param $n i32) (result i32)
    (local $x i32)
    (local.set $x (call $work (local.get $n)))
    (call $emit (i32.const 8192) (i32.const 5) (i32.const 3))
    (if (result i32) (i32.eqz (local.get $d))
      (then (call $trap (local.get $k) (local.get $x)))
      (else (i32.add (call $work (local.get $n))
        (if (result i32) (i32.and (local.get $d) (i32.const 1))
          (then (call_indirect (type $i3) (i32.sub (local.get $d) (i32.const 1)) (local.get $k) (local.get $n)
                               (i32.const 1)))
          (else (call $chain (i32.sub (local.get $d) (i32.const 1)) (local.get $k) (local.get $n))))))))
  ;; t(u32 kind | u32 n | u32 depth)
  (func (export "t") (param $len i32) (result i32)
    (i32.store (global.get $A)
      (call $chain (i32.load offset=8 (global.get $A)) (i32.load (global.get $A)) (i32.load offset=4 (global.get $A))))
    (i32.const 4))
)";

TEST_P(EquivalenceTest, GasAtTrapsAfterCharges) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(kGasTraps, kNodeImports)), "gas traps"));
  for (uint32_t kind = 0; kind <= 18; ++kind) {
    for (uint32_t depth : {0u, 1u, 3u}) {
      for (uint32_t n : {0u, 37u}) CallAtLimits(m, "t", Cat({U32(kind), U32(n), U32(depth)}), 1'000'000);
    }
  }
  // Inside a nested call: the callee's trap and its gas in the call tree.
  const Bytes node = Wat(Module(kNode, kNodeImports));
  ASSERT_OK_AND_ASSIGN(ModuleId x, t.Deploy(node, {.nonce = 1}, "x"));
  for (uint32_t kind : {0u, 1u, 2u, 3u, 8u, 11u, 13u, 15u, 16u}) {
    CallAtLimits(x, "call", CallArg(m, "t", Cat({U32(kind), U32(25), U32(2)}), 300'000), 1'000'000);
    CallAtLimits(x, "call", CallArg(x, "call", CallArg(m, "t", Cat({U32(kind), U32(9), U32(3)}), 200'000)), 1'000'000);
  }
  EXPECT_GE(t.failed(Status::Code::kTrap), 100);
  EXPECT_GE(t.failed(Status::Code::kOutOfGas), 100);
}

TEST_P(EquivalenceTest, I64Arithmetic) {
  Twin& t = *twin_;
  // op(u32 which | i64 a | i64 b) -> i64
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (func $op (param $w i32) (param $a i64) (param $b i64) (result i64)
    (block $d (block $15 (block $14 (block $13 (block $12 (block $11 (block $10 (block $9 (block $8
    (block $7 (block $6 (block $5 (block $4 (block $3 (block $2 (block $1 (block $0
      (br_table $0 $1 $2 $3 $4 $5 $6 $7 $8 $9 $10 $11 $12 $13 $14 $15 $d (local.get $w)))
      (return (i64.add (local.get $a) (local.get $b))))
      (return (i64.sub (local.get $a) (local.get $b))))
      (return (i64.mul (local.get $a) (local.get $b))))
      (return (i64.div_s (local.get $a) (local.get $b))))
      (return (i64.div_u (local.get $a) (local.get $b))))
      (return (i64.rem_s (local.get $a) (local.get $b))))
      (return (i64.rem_u (local.get $a) (local.get $b))))
      (return (i64.shl (local.get $a) (local.get $b))))
      (return (i64.shr_s (local.get $a) (local.get $b))))
      (return (i64.shr_u (local.get $a) (local.get $b))))
      (return (i64.rotl (local.get $a) (local.get $b))))
      (return (i64.rotr (local.get $a) (local.get $b))))
      (return (i64.or (i64.or (i64.clz (local.get $a)) (i64.shl (i64.ctz (local.get $a)) (i64.const 8)))
                      (i64.shl (i64.popcnt (local.get $a)) (i64.const 16)))))
      (return (i64.xor (i64.extend8_s (local.get $a)) (i64.extend32_s (local.get $b)))))
      (return (i64.extend_i32_s (i32.wrap_i64 (i64.and (local.get $a) (local.get $b))))))
      (return (i64.extend_i32_u (i32.add (i32.wrap_i64 (local.get $a)) (i32.extend16_s (i32.wrap_i64 (local.get $b)))))))
    (select (local.get $a) (local.get $b) (i64.lt_s (local.get $a) (local.get $b))))
  (func (export "op") (param $len i32) (result i32)
    (i64.store (global.get $A)
      (call $op (i32.load (global.get $A)) (i64.load offset=4 (global.get $A)) (i64.load offset=12 (global.get $A))))
    (i32.const 8))
)")), "i64"));
  const uint64_t values[] = {0, 1, 2, 3, 63, 64, 65, 0x7fffffffffffffffull, 0x8000000000000000ull,
                             0xffffffffffffffffull, 0x123456789abcdef0ull, 0xfffffffffffffffeull};
  for (uint32_t w = 0; w <= 16; ++w) {
    for (uint64_t a : values) {
      for (uint64_t b : std::initializer_list<uint64_t>{0, 1, 7, 64, ~uint64_t{0}, 0x8000000000000000ull, a ^ 0x5555}) {
        twin_->Call(m, "op", Cat({U32(w), U64(a), U64(b)}), kGas);
      }
    }
  }
  EXPECT_GT(t.failed(Status::Code::kTrap), 20);  // divisions by zero and INT64_MIN / -1
}

TEST_P(EquivalenceTest, FloatsAndNaNCanonicalisation) {
  Twin& t = *twin_;
  // f(u32 which | f64 a | f64 b | f32 c | f32 d) -> u64 bits of the result
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (global $acc (mut f64) (f64.const 0))
  (global $facc (mut f32) (f32.const 1))
  (func $f (param $w i32) (param $a f64) (param $b f64) (param $c f32) (param $d f32) (result i64)
    (block $def
    (block $27 (block $26 (block $25 (block $24 (block $23 (block $22 (block $21 (block $20
    (block $19 (block $18 (block $17 (block $16 (block $15 (block $14 (block $13 (block $12 (block $11 (block $10
    (block $9 (block $8 (block $7 (block $6 (block $5 (block $4 (block $3 (block $2 (block $1 (block $0
      (br_table $0 $1 $2 $3 $4 $5 $6 $7 $8 $9 $10 $11 $12 $13 $14 $15 $16 $17 $18 $19 $20 $21 $22 $23 $24 $25 $26 $27 $def
        (local.get $w)))
      (return (i64.reinterpret_f64 (f64.add (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.sub (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.mul (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.div (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.sqrt (local.get $a)))))
      (return (i64.reinterpret_f64 (f64.min (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.max (local.get $a) (local.get $b)))))
      (return (i64.reinterpret_f64 (f64.ceil (local.get $a)))))
      (return (i64.reinterpret_f64 (f64.floor (local.get $a)))))
      (return (i64.reinterpret_f64 (f64.nearest (local.get $a)))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.add (local.get $c) (local.get $d))))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.mul (local.get $c) (local.get $d))))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.div (local.get $c) (local.get $d))))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.sqrt (local.get $c))))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.demote_f64 (local.get $a))))))
      (return (i64.reinterpret_f64 (f64.promote_f32 (local.get $c)))))
      ;; bit-exact operations keep NaN payloads
      (return (i64.reinterpret_f64 (f64.neg (local.get $a)))))
      (return (i64.reinterpret_f64 (f64.abs (local.get $a)))))
      (return (i64.reinterpret_f64 (f64.copysign (local.get $a) (local.get $b)))))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (f32.neg (local.get $c))))))
      ;; conversions: trapping and saturating
      (return (i64.trunc_f64_s (local.get $a))))
      (return (i64.extend_i32_u (i32.trunc_f32_u (local.get $c)))))
      (return (i64.trunc_sat_f64_u (local.get $a))))
      (return (i64.reinterpret_f64 (f64.convert_i64_u (i64.reinterpret_f64 (local.get $b))))))
      ;; comparisons with NaN
      (return (i64.extend_i32_u (i32.or (i32.or (f64.eq (local.get $a) (local.get $b))
        (i32.shl (f64.lt (local.get $a) (local.get $b)) (i32.const 1)))
        (i32.shl (f64.ne (local.get $a) (local.get $a)) (i32.const 2))))))
      ;; state: accumulate into float globals
      (global.set $acc (f64.add (global.get $acc) (f64.mul (local.get $a) (local.get $b))))
      (return (i64.reinterpret_f64 (global.get $acc))))
      (global.set $facc (f32.mul (global.get $facc) (local.get $c)))
      (return (i64.extend_i32_u (i32.reinterpret_f32 (global.get $facc)))))
      (return (i64.reinterpret_f64 (f64.trunc (local.get $a)))))
    (i64.const -1))
  (func (export "f") (param $len i32) (result i32)
    (i64.store (global.get $A)
      (call $f (i32.load (global.get $A)) (f64.load offset=4 (global.get $A)) (f64.load offset=12 (global.get $A))
               (f32.load offset=20 (global.get $A)) (f32.load offset=24 (global.get $A))))
    (i32.const 8))
  ;; a loop of float work whose NaNs flow through memory
  (func (export "mix") (param $len i32) (result i32) (local $i i32) (local $x f64)
    (local.set $x (f64.load offset=4 (global.get $A)))
    (loop $l
      (local.set $x (f64.add (f64.mul (local.get $x) (local.get $x)) (f64.sqrt (f64.neg (local.get $x)))))
      (f64.store (i32.add (i32.const 2048) (i32.shl (local.get $i) (i32.const 3))) (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 32))))
    (i64.store (global.get $A) (i64.reinterpret_f64 (local.get $x)))
    (i32.const 8))
)")), "floats"));
  auto f64b = [](double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; };
  auto f32b = [](float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; };
  const uint64_t dbl[] = {f64b(0.0), f64b(-0.0), f64b(1.5), f64b(-2.5), f64b(1e308), f64b(-1e308),
                          0x7ff0000000000000ull /* inf */, 0xfff0000000000000ull /* -inf */,
                          0x7ff8000000000000ull /* canonical NaN */, 0xfff8000000000001ull /* negative payload NaN */,
                          0x7ff4000000000000ull /* signalling NaN */, f64b(9.3e18), f64b(-9.3e18), f64b(4294967296.5)};
  const uint32_t flt[] = {f32b(0.0f), f32b(-0.0f), f32b(3.25f), 0x7f800000u, 0xff800000u, 0x7fc00000u,
                          0xffc00123u, 0x7fa00000u, f32b(4.3e9f), f32b(-1.0f)};
  for (uint32_t w = 0; w <= 28; ++w) {
    for (size_t i = 0; i < std::size(dbl); ++i) {
      const uint64_t a = dbl[i], b = dbl[(i * 7 + w) % std::size(dbl)];
      const uint32_t c = flt[i % std::size(flt)], d = flt[(i * 3 + w) % std::size(flt)];
      twin_->Call(m, "f", Cat({U32(w), U64(a), U64(b), U32(c), U32(d)}), kGas);
    }
  }
  for (uint64_t x : std::initializer_list<uint64_t>{f64b(0.5), f64b(-0.5), f64b(2.0), 0x7ff8000000000001ull}) CallAtLimits(m, "mix", Cat({U32(0), U64(x)}));
  EXPECT_GT(t.failed(Status::Code::kTrap), 5);  // invalid conversions
}

TEST_P(EquivalenceTest, GlobalsPersistBetweenCalls) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  (global $n (mut i32) (i32.const 5))
  (global $big (mut i64) (i64.const 0x100000000))
  (global $f (mut f32) (f32.const 0.5))
  (global $d (mut f64) (f64.const -1))
  (global $k i64 (i64.const 77))
  (global $exported (export "exported") (mut i32) (i32.const 1000))
  (func $bump
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.set $big (i64.mul (global.get $big) (i64.const 3)))
    (global.set $f (f32.add (global.get $f) (f32.const 0.25)))
    (global.set $d (f64.div (global.get $d) (f64.const 0)))  ;; -inf, then NaN-free
    (global.set $exported (i32.sub (global.get $exported) (i32.const 1))))
  (func $dump (result i32)
    (i32.store (global.get $A) (global.get $n))
    (i64.store offset=4 (global.get $A) (global.get $big))
    (f32.store offset=12 (global.get $A) (global.get $f))
    (f64.store offset=16 (global.get $A) (global.get $d))
    (i64.store offset=24 (global.get $A) (global.get $k))
    (i32.store offset=32 (global.get $A) (global.get $exported))
    (i32.const 36))
  (func (export "init") (param $len i32) (result i32)
    (global.set $n (i32.load (global.get $A))) (i32.const 0))
  (func (export "bump") (param $len i32) (result i32) (call $bump) (call $dump))
  (func (export "get") (param $len i32) (result i32) (call $dump))
  ;; changes globals, then fails: the VM persists globals only after success
  (func (export "bump_then_trap") (param $len i32) (result i32) (call $bump) (unreachable))
  (func (export "bump_then_spin") (param $len i32) (result i32) (call $bump) (loop $l (br $l)) (i32.const 0))
  (func (export "nan") (param $len i32) (result i32)
    (global.set $d (f64.sub (f64.const inf) (f64.const inf))) (call $dump))
)")), {.init_arg = U32(40)}, "globals"));
  CallAtLimits(m, "get", {});
  for (int i = 0; i < 5; ++i) t.Call(m, "bump", {}, kGas);
  t.Call(m, "bump_then_trap", {}, kGas);
  t.Call(m, "get", {}, kGas);
  t.Call(m, "bump_then_spin", {}, 10'000);
  CallAtLimits(m, "bump", {});
  t.Call(m, "nan", {}, kGas);
  const std::vector<uint64_t> before = t.Globals(m);
  ASSERT_OK_AND_ASSIGN(Root root, session_->Commit());
  // A new session from the commit continues from the persisted values.
  session_.reset();
  ASSERT_OK_AND_ASSIGN(session_, vm_->StartSession(root));
  ASSERT_OK_AND_ASSIGN(Bytes raw, session_->state().Metadata(m));
  ASSERT_OK_AND_ASSIGN(vm::ModuleMeta meta, vm::DecodeModuleMeta(raw, "m"));
  ASSERT_EQ(meta.globals.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(meta.globals[i].bits, before[i]);
  // init 40, 5 bumps, then CallAtLimits("bump") succeeds twice (large limit, exact limit); failed calls persist nothing.
  EXPECT_EQ(meta.globals[0].bits, 40u + 5 + 2);
}

constexpr char kHostModuleBody[] = R"(
  (func (export "ret") (param $len i32) (result i32) (i32.load (global.get $A)))
  (func (export "panic_len") (param $len i32) (result i32) (call $panic (i32.load (global.get $A))) (i32.const 0))
  (func (export "gas") (param $len i32) (result i32) (local $i i32)
    (i64.store (global.get $A) (call $spent))
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 10))))
    (i64.store offset=8 (global.get $A) (call $spent))
    (i64.store offset=16 (global.get $A) (call $limit))
    (i32.const 24))
  (func (export "hd_at") (param $len i32) (result i32)
    (call $hd (i32.load (global.get $A)) (i32.load offset=4 (global.get $A))))
  (func (export "id") (param $len i32) (result i32) (call $self_id) (i32.const 32))
  (func (export "owner") (param $len i32) (result i32) (call $owner (i32.const 0)))
  (data (i32.const 100) "height")
  (data (i32.const 200) "huge")
  (data (i32.const 300) "full")
  (data (i32.const 400) "\ff\fe")
)";
constexpr char kHostModuleImports[] = R"(
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "spent" (func $spent (result i64)))
  (import "env" "limit" (func $limit (result i64)))
  (import "env" "self_id" (func $self_id))
  (import "env" "hd" (func $hd (param i32 i32) (result i32)))
  (import "env" "owner" (func $owner (param i32) (result i32)))
)";

TEST_P(EquivalenceTest, HostFunctionsAndReturnProtocol) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(kHostModuleBody, kHostModuleImports)), {.owner = Str("o"), .nonce = 9}, "host"));
  for (uint32_t n : {0u, 1u, 65535u, 65536u, 65537u, 0x7fffffffu, 0xffffffffu}) t.Call(m, "ret", U32(n), kGas);
  for (uint32_t n : {0u, 5u, 65536u}) t.Call(m, "panic_len", U32(n), kGas);
  for (uint64_t gas : {uint64_t{10}, uint64_t{40}, uint64_t{100}, kGas}) t.Call(m, "gas", {}, gas);
  t.SetMeta("height", Str("123"));
  t.Call(m, "hd_at", Cat({U32(100), U32(6)}), kGas);
  t.Call(m, "hd_at", Cat({U32(100), U32(3)}), kGas);
  t.Call(m, "hd_at", Cat({U32(131072 - 3), U32(3)}), kGas);
  t.Call(m, "hd_at", Cat({U32(100), U32(4)}), kGas);  // "heig": absent
  // Host reads past the memory's end read zeros up to 4 GiB, as piecrust's
  // check against its whole mapping (docs/abi.md §15).
  t.Call(m, "hd_at", Cat({U32(131072 - 2), U32(3)}), kGas);  // "\0\0\0": absent
  t.SetMeta(std::string(3, '\0'), Str("zeros"));
  t.Call(m, "hd_at", Cat({U32(131072 - 2), U32(3)}), kGas);  // "\0\0\0": found
  t.Call(m, "hd_at", Cat({U32(0xFFFFFFFD), U32(3)}), kGas);  // ends at 4 GiB: found
  t.Call(m, "hd_at", Cat({U32(0xFFFFFFFF), U32(2)}), kGas);  // past 4 GiB: trap
  t.Call(m, "hd_at", Cat({U32(0x10000000), U32(0x20000000)}), kGas);  // 512 MiB of zeros: ResourceExhausted
  t.Call(m, "hd_at", Cat({U32(400), U32(2)}), kGas);  // not UTF-8: InvalidArgument
  t.Call(m, "hd_at", Cat({U32(131072 - 1), U32(1)}), kGas);  // the last byte, inside memory
  t.Call(m, "id", {}, kGas);
  // The other imports (c, hq, ...) are deployed above but not called:
  // BasicOracleHost implements only the single-module host functions.
}

// piecrust's fixtures (../shared/piecrust-contracts, or $CRUST_FIXTURES_DIR)
// that need no other module: the same results, gas, memories, events and
// debug lines in both engines. A missing fixture fails the test.
Bytes PiecrustFixture(const std::string& name) {
  const char* env = std::getenv("CRUST_FIXTURES_DIR");
  const std::string dir =
      env && *env ? env : std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts";
  auto r = os::Env::Default()->ReadFile(dir + "/" + name + ".wasm");
  EXPECT_TRUE(r.ok()) << "fixture " << name << " missing in " << dir << ": " << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

TEST_P(EquivalenceTest, PiecrustFixtures) {
  Twin& t = *twin_;
  const Bytes owner(33, 3);
  ASSERT_OK_AND_ASSIGN(ModuleId counter, t.Deploy(PiecrustFixture("counter"), {.owner = owner}, "counter"));
  CallAtLimits(counter, "read_value", {});
  CallAtLimits(counter, "increment", {});
  CallAtLimits(counter, "read_value", {});
  ASSERT_OK_AND_ASSIGN(ModuleId box, t.Deploy(PiecrustFixture("box"), {.owner = owner}, "box"));
  CallAtLimits(box, "get", {});
  CallAtLimits(box, "set", Bytes{0x11, 0});
  CallAtLimits(box, "get", {});
  t.Call(box, "set", Bytes{1}, kGas);  // a malformed argument: the contract panics
  ASSERT_OK_AND_ASSIGN(ModuleId meta, t.Deploy(PiecrustFixture("metadata"), {.owner = owner}, "metadata"));
  CallAtLimits(meta, "read_owner", {});  // owner(0): its own owner
  CallAtLimits(meta, "read_id", {});
  t.Call(meta, "read_owner_wrong_n", {}, kGas);  // 33 bytes where 32 are expected: panics
  ASSERT_OK_AND_ASSIGN(ModuleId eventer, t.Deploy(PiecrustFixture("eventer"), {.owner = owner}, "eventer"));
  CallAtLimits(eventer, "emit_events", U32(5));
  CallAtLimits(eventer, "emit_and_mutate", U32(42));
  CallAtLimits(eventer, "read_value", {});
  ASSERT_OK_AND_ASSIGN(ModuleId stake, t.Deploy(PiecrustFixture("stake_contract"), {.owner = owner}, "stake"));
  CallAtLimits(stake, "get_version", {});
  CallAtLimits(stake, "burnt_amount", {});
  EXPECT_GT(t.ok_calls(), 20);
  EXPECT_GT(t.failed(Status::Code::kOutOfGas), 0);
}

// piecrust's callcenter (Rust, through uplink) calling counter, spender and
// itself through `c`: the oracle world runs the nested calls too.
TEST_P(EquivalenceTest, PiecrustInterContractCalls) {
  Twin& t = *twin_;
  const Bytes owner(33, 3);
  ASSERT_OK_AND_ASSIGN(ModuleId counter, t.Deploy(PiecrustFixture("counter"), {.owner = owner}, "counter"));
  ASSERT_OK_AND_ASSIGN(ModuleId center, t.Deploy(PiecrustFixture("callcenter"), {.owner = owner}, "callcenter"));
  ASSERT_OK_AND_ASSIGN(ModuleId spender, t.Deploy(PiecrustFixture("spender"), {.owner = owner}, "spender"));
  const Bytes id_counter(counter.bytes.begin(), counter.bytes.end());
  const Bytes id_center(center.bytes.begin(), center.bytes.end());
  const Bytes id_spender(spender.bytes.begin(), spender.bytes.end());
  CallAtLimits(center, "query_counter", id_counter);
  CallAtLimits(center, "increment_counter", id_counter);
  CallAtLimits(center, "calling_self", id_center);
  CallAtLimits(center, "call_self", {});
  CallAtLimits(center, "return_callstack", {});
  CallAtLimits(center, "call_self_n_times", U32(5));
  CallAtLimits(center, "call_init", id_counter);        // Unknown: a panic
  CallAtLimits(center, "query_counter", Bytes(32, 0xee));  // DoesNotExist: a panic
  for (uint64_t limit : {uint64_t{1175}, uint64_t{2175}, uint64_t{5345 + 8 * 4096}}) {
    t.Call(center, "call_spend_with_limit", Cat({id_spender, U64(limit)}), kGas);
  }
  EXPECT_GT(t.ok_calls(), 10);
}

// Host functions at the 64 KiB limit of A. These found divergences between
// the VM's host (src/vm/call_host.cc) and the oracle's (BasicOracleHost):
//  * panic(msg_len > 64 KiB): the VM ended the call with Panic("(panic message
//    out of bounds: N bytes)"), the oracle with Trap("out of bounds memory
//    access");
//  * hd() of a session metadata value longer than 64 KiB: the VM fails the
//    call with ResourceExhausted, the oracle copies the first 64 KiB and
//    returns 65536.
TEST_P(EquivalenceTest, HostFunctionsAtTheArgumentBufferLimit) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(kHostModuleBody, kHostModuleImports)), "host"));
  for (uint32_t n : {65536u, 65537u, 0xFFFFFFFFu}) t.Call(m, "panic_len", U32(n), kGas);
  t.SetMeta("huge", Bytes(65537, 0x11));
  t.SetMeta("full", Bytes(65536, 0x22));
  t.Call(m, "hd_at", Cat({U32(100), U32(4)}), kGas);  // "heig": absent
  t.Call(m, "hd_at", Cat({U32(200), U32(4)}), kGas);  // "huge"
  t.Call(m, "hd_at", Cat({U32(300), U32(4)}), kGas);  // "full": exactly 64 KiB
}

TEST_P(EquivalenceTest, StatePersistsAcrossSessionsInBothEngines) {
  // The same calls split over two commits give the same results as in the
  // oracle, which never leaves memory: the state after the commit is exact.
  ASSERT_OK_AND_ASSIGN(ModuleId b, twin_->Deploy(Contract("box"), "box"));
  ASSERT_OK_AND_ASSIGN(ModuleId g, twin_->Deploy(Contract("grower"), "grower"));
  for (int i = 0; i < 10; ++i) {
    twin_->Call(b, "set", Cat({U32(2), Str("k" + std::to_string(i)), Str("value")}), kGas);
  }
  twin_->Call(g, "grow", Cat({U32(5), U32(2)}), kGas);
  ASSERT_OK_AND_ASSIGN(Root root, session_->Commit());
  auto next = vm_->StartSession(root);
  ASSERT_OK(next);
  // Reading the committed state through a new session equals the oracle's
  // (the twin still holds the old session: compare by hand).
  CallReceipt r = (*next)->Call(b, "get", Cat({Str("k7")}), kGas);
  CallReceipt o = twin_->Call(b, "get", Cat({Str("k7")}), kGas);
  EXPECT_EQ(r.data, o.data);
  EXPECT_EQ(r.gas_spent, o.gas_spent);
  r = (*next)->Call(g, "verify", {}, kGas);
  o = twin_->Call(g, "verify", {}, kGas);
  EXPECT_EQ(r.data, o.data);
  EXPECT_EQ(r.gas_spent, o.gas_spent);
}

// ---------------------------------------------------------------------------
// Generated modules.

using vmtest::Generator;  // src/vm/module_generator.h

TEST_P(EquivalenceTest, GeneratedModules) {
  constexpr int kModules = 100;
  uint32_t seed = 20240611;
  if (const char* s = std::getenv("CRUST_EQUIVALENCE_SEED")) seed = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  printf("equivalence seed %u (set CRUST_EQUIVALENCE_SEED to vary)\n", seed);
  Generator gen(seed);
  std::vector<std::string> texts;
  std::vector<Bytes> wasms;
  for (int i = 0; i < kModules; ++i) {
    texts.push_back(gen.Module());
    wasms.push_back(Wat(texts.back()));
    ASSERT_FALSE(wasms.back().empty()) << texts.back();
  }
  // Warm the shared code cache two at a time (the VM's own cache then finds
  // every object on disk): same directory, same compiler options as VmOptions.
  {
    const auto t0 = std::chrono::steady_clock::now();
    engine::CodeCacheOptions co;
    co.dir = CacheDir();
    co.compiler.opt_level = GetParam().opt_level == 0 ? engine::OptLevel::kO0 : engine::OptLevel::kO2;
    if (GetParam().tiers == VmOptions::Tiers::kFastOnly) {
      co.compiler.cc = "tcc";
      co.compiler.flavor = engine::CompilerFlavor::kTcc;
    }
    ASSERT_OK_AND_ASSIGN(auto cache, engine::CodeCache::Open(co));
    std::atomic<int> next{0};
    auto work = [&] {
      for (int i; (i = next++) < kModules;) {
        auto pm = engine::PrepareModule(wasms[i]);
        if (pm.ok()) (void)cache->Get(pm->wasm);
      }
    };
    std::thread a(work), b(work);
    a.join();
    b.join();
    printf("generated modules: %llu compiled, %llu cached (%.1f s)\n",
           static_cast<unsigned long long>(cache->stats().compiled),
           static_cast<unsigned long long>(cache->stats().disk_hits),
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  for (int i = 0; i < kModules; ++i) {
    SCOPED_TRACE("generated module " + std::to_string(i) + ":\n" + texts[i]);
    ASSERT_OK_AND_ASSIGN(ModuleId id, twin_->Deploy(wasms[i], {.nonce = static_cast<uint64_t>(i)}, "generated"));
    for (int f = 0; f < 2; ++f) {
      const std::string fn = "f" + std::to_string(f);
      for (int k = 0; k < 3; ++k) {
        Bytes arg = gen.Arg();
        CallReceipt r = twin_->Call(id, fn, arg, kGas);
        twin_->Call(id, fn, arg, gen.Gas(r.gas_spent));  // out of gas somewhere (or not)
      }
    }
    if (::testing::Test::HasFailure()) break;  // one module's text is enough to debug
  }
  EXPECT_GT(twin_->ok_calls(), kModules * 3);
  EXPECT_GT(twin_->failed(Status::Code::kOutOfGas), kModules / 2);
}

// ---------------------------------------------------------------------------
// memory64 (lower64.h): 64-bit addresses, offsets, bulk operations and grow,
// out-of-bounds addresses >= 2^32, and Dusk's mainnet transfer contract.

TEST_P(EquivalenceTest, Memory64) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(R"((module
  (memory (export "memory") i64 2 6)
  (global $A (export "A") i64 (i64.const 0))
  (data (i64.const 70000) "segment in the second page")
  (data $passive "passive bytes")
  ;; rw(u64 addr | u64 value): stores at addr+3 (offset), returns the load
  (func (export "rw") (param $len i32) (result i32)
    (i64.store offset=3 (i64.load (global.get $A)) (i64.load offset=8 (global.get $A)))
    (i64.store (global.get $A) (i64.load offset=3 (i64.load (global.get $A))))
    (i32.const 8))
  (func (export "rw8") (param $len i32) (result i32)
    (i32.store8 (i64.load (global.get $A)) (i32.const 0xab))
    (i64.store (global.get $A) (i64.load8_u (i64.load (global.get $A))))
    (i32.const 8))
  ;; grow(u64 pages) -> i64 result | i64 size
  (func (export "grow") (param $len i32) (result i32)
    (i64.store (global.get $A) (memory.grow (i64.load (global.get $A))))
    (i64.store offset=8 (global.get $A) (memory.size))
    (i32.const 16))
  ;; fill(u64 d | u64 n), copy(u64 d | u64 s | u64 n), init(u64 d | u32 off | u32 n)
  (func (export "fill") (param $len i32) (result i32)
    (memory.fill (i64.load (global.get $A)) (i32.const 0x5c) (i64.load offset=8 (global.get $A)))
    (i32.const 0))
  (func (export "copy") (param $len i32) (result i32)
    (memory.copy (i64.load (global.get $A)) (i64.load offset=8 (global.get $A)) (i64.load offset=16 (global.get $A)))
    (i32.const 0))
  (func (export "init") (param $len i32) (result i32) (i32.const 0))
  (func (export "minit") (param $len i32) (result i32)
    (memory.init $passive (i64.load (global.get $A)) (i32.load offset=8 (global.get $A)) (i32.load offset=12 (global.get $A)))
    (i32.const 0))
))"), "memory64"));
  for (uint64_t addr : {uint64_t{70000}, uint64_t{131061}, uint64_t{131062}, uint64_t{1} << 32,
                        (uint64_t{1} << 32) + 70000, ~uint64_t{0} - 2, ~uint64_t{0} - 131071}) {
    CallAtLimits(m, "rw", Cat({U64(addr), U64(0x0102030405060708)}));
    t.Call(m, "rw8", U64(addr), kGas);
  }
  CallAtLimits(m, "grow", U64(1));
  t.Call(m, "grow", U64((uint64_t{1} << 32) + 1), kGas);
  t.Call(m, "grow", U64(100), kGas);
  CallAtLimits(m, "fill", Cat({U64(1000), U64(5000)}));
  t.Call(m, "fill", Cat({U64(0), U64(uint64_t{1} << 32)}), kGas);
  t.Call(m, "fill", Cat({U64(uint64_t{1} << 32), U64(0)}), kGas);
  CallAtLimits(m, "copy", Cat({U64(150000), U64(70000), U64(26)}));
  t.Call(m, "copy", Cat({U64(0), U64(uint64_t{1} << 33), U64(1)}), kGas);
  CallAtLimits(m, "minit", Cat({U64(190000), U32(1), U32(7)}));
  t.Call(m, "minit", Cat({U64(~uint64_t{0}), U32(0), U32(0)}), kGas);
  EXPECT_GE(t.failed(Status::Code::kTrap), 14);
}

TEST_P(EquivalenceTest, Memory64TransferContract) {
  std::string path = std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts/transfer_contract.wasm";
  if (!os::Env::Default()->Exists(path)) {  // a source tree in a worktree directory
    path = std::string(CRUST_SOURCE_DIR) + "/../../shared/piecrust-contracts/transfer_contract.wasm";
  }
  auto wasm = os::Env::Default()->ReadFile(path);
  ASSERT_TRUE(wasm.ok()) << "fixture missing: " << wasm.status().ToString();
  twin_->SetMeta("chain_id", Bytes{0x01});  // rusk's session metadata
  ASSERT_OK_AND_ASSIGN(ModuleId m, twin_->Deploy(*wasm, "transfer_contract"));
  for (const char* fn : {"num_notes", "root", "chain_id"}) CallAtLimits(m, fn, {});
  EXPECT_GE(twin_->ok_calls(), 3);
}

// Code tiers: every module starts on tcc code, calls are compared, the
// background builds finish, the session swaps to the optimised code at its
// next top-level call, and the same calls compare again (state carried over
// from the fast tier's calls).
TEST_P(EquivalenceTest, TierSwap) {
  if (GetParam().tiers != VmOptions::Tiers::kFastOnly) GTEST_SKIP() << "runs once (with the tcc parameter)";
  VmOptions o;
  o.store.write_audit = true;  // fail on any page the engine wrote without noting it
  o.store.sync = false;
  o.opt_level = 0;
  o.tiers = VmOptions::Tiers::kFastThenOptimised;
  // A cache of its own: the optimised objects must be built in the background.
  o.code_cache_dir = dir_.Sub("swap-cache");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Vm> vm, Vm::Open(dir_.Sub("swap"), o));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<VmSession> session, vm->StartGenesis());
  auto* impl = dynamic_cast<vm::VmSessionImpl*>(session.get());
  ASSERT_NE(impl, nullptr);
  Twin t(session.get(), 1000);
  ASSERT_OK_AND_ASSIGN(ModuleId c, t.Deploy(Contract("counter"), {.init_arg = U64(41)}, "counter"));
  ASSERT_OK_AND_ASSIGN(ModuleId b, t.Deploy(Contract("box"), "box"));
  ASSERT_OK_AND_ASSIGN(ModuleId f, t.Deploy(Contract("fibonacci"), "fibonacci"));
  auto round = [&](int i) {
    t.Call(c, "increment", {}, kGas);
    t.Call(c, "add", U64(1000 + i), kGas);
    CallReceipt r = t.Call(c, "read", {}, kGas);
    t.Call(c, "read", {}, r.gas_spent - 1);  // out of gas
    t.Call(b, "set", Cat({U32(2), Str("k" + std::to_string(i)), Str("value")}), kGas);
    t.Call(b, "get", Cat({Str("k" + std::to_string(i))}), kGas);
    r = t.Call(f, "fib", U32(20), kGas);
    t.Call(f, "fib", U32(20), r.gas_spent / 2);  // out of gas deep in the recursion
  };
  round(0);
  // Nothing waits for the optimised builds: everything ran on the fast tier
  // (unless a build already finished, which only the swap below depends on).
  const size_t fast_before = impl->FastTierModules();
  vm->WaitForOptimisedCode();
  round(1);
  EXPECT_EQ(impl->FastTierModules(), 0u) << "the session did not swap to the optimised code";
  round(2);
  printf("tier swap: %zu of 3 modules on the fast tier before the swap\n", fast_before);
}

// Loops with inner branches (the shapes a cheaper gas placement would
// target; docs/benchmarks.md, "gas charged at loop heads"): an
// interpreter-like br_table dispatch, an early-exit scan with an `if` inside,
// `spent` after the loop, and a scan that traps after many iterations:
// results, gas and memory equal in both engines at every limit of a small
// call and at the limits around each larger one.
TEST_P(EquivalenceTest, BranchyLoops) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(R"((module
  (import "env" "spent" (func $spent (result i64)))
  (memory (export "memory") 2)
  (global $A (export "A") i32 (i32.const 0))
  ;; disp(u32 n): stores into page 1 on one arm, reads it on another
  (func (export "disp") (param $len i32) (result i32) (local $n i32) (local $acc i32)
    (local.set $n (i32.load (global.get $A)))
    (loop $l
      (block $join
        (block $c (block $b (block $a
          (br_table $a $b $c (i32.rem_u (local.get $n) (i32.const 3))))
          (local.set $acc (i32.add (local.get $acc) (i32.const 1))) (br $join))
        (i32.store offset=65536 (i32.shl (i32.and (local.get $n) (i32.const 255)) (i32.const 2))
          (local.get $acc))
        (br $join))
        (local.set $acc (i32.xor (local.get $acc) (i32.load offset=65536 (i32.const 8)))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.store (global.get $A) (local.get $acc))
    (i32.const 4))
  ;; probe(u32 p, u32 k): scans bytes from p for k; past the memory it traps
  (func (export "probe") (param $len i32) (result i32) (local $p i32) (local $k i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $k (i32.load offset=4 (global.get $A)))
    (block $found
      (loop $l
        (br_if $found (i32.eq (i32.load8_u (local.get $p)) (local.get $k)))
        (if (i32.and (local.get $p) (i32.const 1))
          (then (local.set $k (i32.and (local.get $k) (i32.const 255)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (i32.store (global.get $A) (local.get $p))
    (i64.store offset=8 (global.get $A) (call $spent))
    (i32.const 16))
))"), "branchy loops"));
  const CallReceipt small = t.Call(m, "disp", U32(3), kGas);
  ASSERT_OK(small.status);
  for (uint64_t g = 0; g <= small.gas_spent; ++g) t.Call(m, "disp", U32(3), g);
  for (uint32_t n : {1u, 2u, 100u, 1000u}) CallAtLimits(m, "disp", U32(n));
  for (uint32_t start : {100u, 65536u, 65537u, 131000u}) {
    for (uint32_t key : {0u, 1u, 7u, 300u}) CallAtLimits(m, "probe", Cat({U32(start), U32(key)}));
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, EquivalenceTest,
                         ::testing::Values(EngineParam{VmOptions::Tiers::kOptimisedOnly, 0},
                                           EngineParam{VmOptions::Tiers::kFastOnly, 0},
                                           EngineParam{VmOptions::Tiers::kOptimisedOnly, 2}),
                         [](const ::testing::TestParamInfo<EngineParam>& info) {
                           if (info.param.tiers == VmOptions::Tiers::kFastOnly) return std::string("Tcc");
                           return std::string(info.param.opt_level == 0 ? "GccO0" : "GccO2");
                         });


// Shared by the counted-loop cases: fill(u32 p | u32 n | u32 reps | u32 grow).
constexpr char kCountedFill[] = R"(
  ;; fill(u32 p | u32 n | u32 reps | u32 grow): q from p by 8, an i32 counter against n, a load at q + 8
  (func (export "fill") (param $len i32) (result i32)
    (local $p i32) (local $n i32) (local $r i32) (local $g i32) (local $q i32) (local $i i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (local.set $r (i32.load offset=8 (global.get $A)))
    (local.set $g (i32.load offset=12 (global.get $A)))
    (block $out (loop $rep
      (br_if $out (i32.eqz (local.get $r)))
      (local.set $q (local.get $p))
      (local.set $i (i32.const 0))
      (loop $l
        (i64.store (local.get $q) (i64.add (i64.load offset=8 (local.get $q)) (i64.extend_i32_u (local.get $i))))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (local.set $n (i32.add (local.get $n) (local.get $g)))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rep)))
    (i64.store (global.get $A) (i64.load (local.get $p)))
    (i32.const 8))
)";

// Counted loops the translator versions (loop_versioning.h): the fast copy
// (no gas lines, barrier-free stores) when the trip count's gas, every
// access's range and every written page's note hold at entry, the original
// loop otherwise. Each function repeats its inner loop `reps` times in one
// call, so that later repetitions find the pages noted by the first; `grow`
// extends each repetition past the pages noted so far.
TEST_P(EquivalenceTest, CountedLoops) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
)" + std::string(kCountedFill) + R"(
  ;; pairs(u32 a | u32 b | u32 n | u32 reps): matmul's shape, a + j and b + j, an i64 counter by 2 against n;
  ;; b moves on by a page each repetition (loads only)
  (func (export "pairs") (param $len i32) (result i32)
    (local $a i32) (local $b i32) (local $n i64) (local $r i32) (local $j i32) (local $q i32) (local $k i64)
    (local.set $a (i32.wrap_i64 (local.tee $k (i64.load (global.get $A)))))
    (local.set $b (i32.wrap_i64 (i64.shr_u (local.get $k) (i64.const 32))))
    (local.set $n (i64.load32_u offset=8 (global.get $A)))
    (local.set $r (i32.load offset=12 (global.get $A)))
    (block $out (loop $rep
      (br_if $out (i32.eqz (local.get $r)))
      (local.set $j (i32.const 0))
      (local.set $k (i64.const 0))
      (loop $l
        (i32.store (local.tee $q (i32.add (local.get $a) (local.get $j)))
                   (i32.add (i32.load (local.get $q)) (i32.load (i32.add (local.get $b) (local.get $j)))))
        (i32.store offset=4 (local.get $q) (i32.add (i32.load offset=4 (local.get $q)) (local.get $r)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br_if $l (i64.ne (local.tee $k (i64.add (local.get $k) (i64.const 2))) (local.get $n))))
      (local.set $b (i32.add (local.get $b) (i32.const 4096)))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rep)))
    (i64.store (global.get $A) (i64.load (local.get $a)))
    (i32.const 8))
  ;; down(u32 p | u32 n | u32 reps): bytes at p, p - 1, ... counting n down to 0 (a bare br_if)
  (func (export "down") (param $len i32) (result i32)
    (local $p i32) (local $n i32) (local $r i32) (local $q i32) (local $i i32)
    (local.set $p (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (local.set $r (i32.load offset=8 (global.get $A)))
    (block $out (loop $rep
      (br_if $out (i32.eqz (local.get $r)))
      (local.set $q (local.get $p))
      (local.set $i (local.get $n))
      (loop $l
        (i32.store8 (local.get $q) (i32.add (i32.load8_u (local.get $q)) (local.get $i)))
        (local.set $q (i32.sub (local.get $q) (i32.const 1)))
        (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const -1)))))
      (local.set $r (i32.sub (local.get $r) (i32.const 1)))
      (br $rep)))
    (i32.store (global.get $A) (i32.load (local.get $p)))
    (i32.const 4))
)")), "counted loops"));
  constexpr uint32_t kEnd = 2 * 65536;  // the memory's size (2 pages)
  // The fast path from the second repetition on (pages noted by the first).
  CallAtLimits(m, "fill", Cat({U32(0), U32(100), U32(3), U32(0)}));
  CallAtLimits(m, "fill", Cat({U32(4), U32(1500), U32(4), U32(0)}));  // unaligned, crosses pages
  // Each repetition reaches pages not yet noted: the original loop, each page charged at its store.
  CallAtLimits(m, "fill", Cat({U32(0), U32(100), U32(4), U32(600)}));
  // Trip counts 1 and 2^32 (n = 0: the counter wraps; runs out of memory, then of gas).
  CallAtLimits(m, "fill", Cat({U32(8), U32(1), U32(3), U32(0)}));
  CallAtLimits(m, "fill", Cat({U32(8), U32(0), U32(2), U32(0)}));
  // Out of bounds at the last iteration: the load (q + 8 = the end), then the store straddling the end.
  CallAtLimits(m, "fill", Cat({U32(kEnd - 8 * 50), U32(50), U32(2), U32(0)}));
  CallAtLimits(m, "fill", Cat({U32(kEnd - 8 * 49 - 12), U32(50), U32(2), U32(0)}));
  // Out of bounds only in a later, longer repetition.
  CallAtLimits(m, "fill", Cat({U32(kEnd - 8 * 60), U32(50), U32(3), U32(4)}));
  // Ranges crossing 4 GiB, and the argument buffer (page 1) with the pages below.
  CallAtLimits(m, "fill", Cat({U32(0xFFFFFFF0u), U32(4), U32(2), U32(0)}));
  CallAtLimits(m, "fill", Cat({U32(65536 - 400), U32(60), U32(3), U32(0)}));
  CallAtLimits(m, "pairs", Cat({U32(4000), U32(20000), U32(40), U32(3)}));
  // A load out of bounds in the middle of the second repetition, whose stores are all on noted pages.
  CallAtLimits(m, "pairs", Cat({U32(8), U32(kEnd - 4096 - 100), U32(40), U32(3)}));
  CallAtLimits(m, "pairs", Cat({U32(4000), U32(20000), U32(41), U32(2)}));  // odd bound: never met, wraps
  CallAtLimits(m, "pairs", Cat({U32(4000), U32(20000), U32(0), U32(2)}));
  CallAtLimits(m, "down", Cat({U32(5000), U32(300), U32(3)}));
  CallAtLimits(m, "down", Cat({U32(200), U32(201), U32(2)}));  // reaches address 0 exactly
  CallAtLimits(m, "down", Cat({U32(200), U32(202), U32(2)}));  // wraps below 0: out of bounds at the last iteration
  CallAtLimits(m, "down", Cat({U32(100), U32(0), U32(2)}));    // n = 0: 2^32 iterations, out of bounds
  // Gas running out at every iteration of the fast and of the original loops.
  const CallReceipt full = t.Call(m, "fill", Cat({U32(0), U32(40), U32(3), U32(0)}), kGas);
  ASSERT_GT(full.gas_spent, 400u);
  for (uint64_t gas = full.gas_spent - 400; gas <= full.gas_spent; ++gas) {
    t.Call(m, "fill", Cat({U32(0), U32(40), U32(3), U32(0)}), gas);
  }
  const CallReceipt grown = t.Call(m, "fill", Cat({U32(0), U32(40), U32(3), U32(600)}), kGas);
  for (uint64_t gas = 0; gas <= grown.gas_spent; gas += grown.gas_spent / 97 + 1) {
    t.Call(m, "fill", Cat({U32(0), U32(40), U32(3), U32(600)}), gas);
  }
}

// Counted loops whose stores write pages not yet noted in the call
// (loop_versioning.h): the original loop runs, each page charged (4,096 gas)
// at its first store; limits near every page charge and the loop's last
// iterations. Memory is compared from the session's state after each call,
// so a page written but not noted (not collected) would show. Written for
// settling such pages at the loop's entry (tried in session 10 and not kept:
// docs/benchmarks.md); it failed with that entry's page count one short.
TEST_P(EquivalenceTest, CountedLoopsOnUnnotedPages) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
)" + std::string(kCountedFill) + R"(
  ;; down(u32 p | u32 n): bytes at p, p - 1, ..., n of them (a bare br_if counting down)
  (func (export "down") (param $len i32) (result i32)
    (local $q i32) (local $i i32)
    (local.set $q (i32.load (global.get $A)))
    (local.set $i (i32.load offset=4 (global.get $A)))
    (loop $l
      (i32.store8 (local.get $q) (local.get $i))
      (local.set $q (i32.sub (local.get $q) (i32.const 1)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const -1)))))
    (i32.const 0))
  ;; up4k(u32 p | u32 n): u64 stores at p + 4092 + 4096k (k < n): one page per iteration, two when p % 4096 > 4
  (func (export "up4k") (param $len i32) (result i32)
    (local $q i32) (local $i i32)
    (local.set $q (i32.load (global.get $A)))
    (local.set $i (i32.load offset=4 (global.get $A)))
    (loop $l
      (i64.store offset=4092 (local.get $q) (i64.const -1))
      (local.set $q (i32.add (local.get $q) (i32.const 4096)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const -1)))))
    (i32.const 0))
  ;; down4k(u32 p | u32 n): u32 stores at p + 8 - 4096k (k < n), and u16 stores at p + 4094 - 4096k
  (func (export "down4k") (param $len i32) (result i32)
    (local $q i32) (local $i i32) (local $n i32)
    (local.set $q (i32.load (global.get $A)))
    (local.set $n (i32.load offset=4 (global.get $A)))
    (local.set $i (i32.const 0))
    (loop $l
      (i32.store offset=8 (local.get $q) (local.get $i))
      (i32.store16 offset=4094 (local.get $q) (local.get $i))
      (local.set $q (i32.add (local.get $q) (i32.const -4096)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i32.const 0))
)")), "counted loops on pages not noted"));
  // Every limit in [full - window, full] by `stride`, and each of the last 64.
  auto sweep = [&](std::string_view fn, const Bytes& arg, uint64_t window, uint64_t stride) {
    const CallReceipt full = t.Call(m, fn, arg, kGas);
    ASSERT_OK(full.status);
    const uint64_t from = full.gas_spent > window ? full.gas_spent - window : 0;
    for (uint64_t g = from; g <= full.gas_spent; g += stride) t.Call(m, fn, arg, g);
    for (uint64_t g = full.gas_spent > 64 ? full.gas_spent - 64 : 0; g <= full.gas_spent + 1; ++g) t.Call(m, fn, arg, g);
  };
  // All pages fresh: 32,000 bytes over pages 0-7. N x C > 4,096 here, so an
  // entry settling the pages with a count one short would let its charges
  // succeed and N x C wrap the counter (OK where the oracle runs out).
  sweep("fill", Cat({U32(0), U32(4000), U32(1), U32(0)}), 8 * 4096 + 400, 41);
  sweep("fill", Cat({U32(4092), U32(2), U32(1), U32(0)}), 8300, 13);  // one store straddling pages 0 and 1
  // Partly noted: the second repetition reaches page 2, the third pages 3-4.
  sweep("fill", Cat({U32(0), U32(600), U32(3), U32(600)}), 3 * 4096 + 400, 29);
  // Negative step: pages 2-4 from the top down; one byte.
  sweep("down", Cat({U32(20000), U32(9000)}), 3 * 4096 + 400, 29);
  sweep("down", Cat({U32(4096), U32(1)}), 4200, 11);
  // Steps of a whole page: a page per iteration; stores straddling two.
  sweep("up4k", Cat({U32(4), U32(10)}), 11 * 4096, 97);
  sweep("up4k", Cat({U32(5), U32(10)}), 12 * 4096, 97);
  // Negative whole-page steps, two stores per iteration.
  sweep("down4k", Cat({U32(14 * 4096 + 100), U32(12)}), 14 * 4096, 97);
  // Out of bounds at the last iteration (the argument buffer's wasm page is
  // exempt: the charge falls on the pages below), and at address 0 - 1.
  CallAtLimits(m, "up4k", Cat({U32(65536 + 4), U32(16)}));
  CallAtLimits(m, "up4k", Cat({U32(65536 - 3 * 4096 + 4), U32(3)}));
  CallAtLimits(m, "down", Cat({U32(100), U32(102)}));
  CallAtLimits(m, "down4k", Cat({U32(3 * 4096), U32(5)}));
}

// Loops whose stores stay in bounded ranges: written for barrier-free copies
// of such loops (session 11, tried and not kept: docs/benchmarks.md, commits
// b2464fa and 47ee08a), which took the copy when the pages of each base's
// span were noted at entry and the original otherwise. It failed with the
// entry's map scan dropped, with the copy's stores dropped, and with a copy
// store's jump back into the original placed after that store. A branchy
// dispatch loop with data-dependent store addresses, against the oracle
// whatever the translator does with it. run's registers lie at r + 4 * (a
// byte of the program), its table at 70000 + 4 * (x & 255): spans [r, r + 1024) and
// [70000, 71024) (page 17). `pre` notes pages before the loop: bit 0 r's and
// the table's first, bit 1 their last (r + 1020, 71020). The program is in
// the argument (after the 16-byte header), 4 bytes an instruction: op % 5 is
// 0 r[a] = r[b] + r[c], 1 r[a] = r[b] ^ n (through a local), 2 table[r[b] &
// 255] = r[a], 3 r[a] = r[b] / r[c] (traps on 0), 4 exit. Memory is compared
// from the session's state after each call, so a page the fast copy wrote
// without noting would show (its write lost), as would its missing charge.
TEST_P(EquivalenceTest, RangeLoops) {
  Twin& t = *twin_;
  ASSERT_OK_AND_ASSIGN(ModuleId m, t.Deploy(Wat(Module(R"(
  ;; run(u32 r | u32 prog | u32 n | u32 pre | program)
  (func (export "run") (param $len i32) (result i32)
    (local $r i32) (local $pc i32) (local $n i32) (local $pre i32) (local $x i32)
    (local.set $r (i32.load (global.get $A)))
    (local.set $pc (i32.load offset=4 (global.get $A)))
    (local.set $n (i32.load offset=8 (global.get $A)))
    (local.set $pre (i32.load offset=12 (global.get $A)))
    (if (i32.and (local.get $pre) (i32.const 1)) (then
      (i32.store (local.get $r) (i32.const 1))
      (i32.store offset=70000 (i32.const 0) (i32.const 2))))
    (if (i32.and (local.get $pre) (i32.const 2)) (then
      (i32.store offset=1020 (local.get $r) (i32.const 3))
      (i32.store offset=71020 (i32.const 0) (i32.const 4))))
    (block $exit
      (loop $l
        (block $next
          (block $d (block $c (block $b (block $a
            (br_table $a $b $c $d $exit (i32.rem_u (i32.load8_u (local.get $pc)) (i32.const 5))))
            (i32.store (i32.add (local.get $r) (i32.shl (i32.load8_u offset=1 (local.get $pc)) (i32.const 2)))
              (i32.add
                (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=2 (local.get $pc)) (i32.const 2))))
                (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=3 (local.get $pc)) (i32.const 2))))))
            (br $next))
          (local.set $x (i32.load8_u offset=1 (local.get $pc)))
          (i32.store (i32.add (local.get $r) (i32.shl (local.get $x) (i32.const 2)))
            (i32.xor (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=2 (local.get $pc)) (i32.const 2))))
                     (local.get $n)))
          (br $next))
        (i32.store16 offset=70002
          (i32.shl (i32.and (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=2 (local.get $pc)) (i32.const 2))))
                            (i32.const 255)) (i32.const 2))
          (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=1 (local.get $pc)) (i32.const 2)))))
        (i32.store16 offset=70000
          (i32.shl (i32.and (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=2 (local.get $pc)) (i32.const 2))))
                            (i32.const 255)) (i32.const 2))
          (i32.const 7))
        (br $next))
        (i32.store (i32.add (local.get $r) (i32.shl (i32.load8_u offset=1 (local.get $pc)) (i32.const 2)))
          (i32.div_u
            (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=2 (local.get $pc)) (i32.const 2))))
            (i32.load (i32.add (local.get $r) (i32.shl (i32.load8_u offset=3 (local.get $pc)) (i32.const 2)))))))
        (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
    (i32.store (global.get $A) (local.get $n))
    (i32.const 4))
  ;; rows(u32 base | u32 rows | u32 cols | u32 pre): a nest; bytes at base + (i & 255) + 256 * (row & 3),
  ;; even i from the inner loop's one arm, odd from the other; pre notes [base, base + 1024) first
  (func (export "rows") (param $len i32) (result i32)
    (local $base i32) (local $row i32) (local $cols i32) (local $i i32) (local $at i32)
    (local.set $base (i32.load (global.get $A)))
    (local.set $row (i32.load offset=4 (global.get $A)))
    (local.set $cols (i32.load offset=8 (global.get $A)))
    (if (i32.load offset=12 (global.get $A)) (then
      (i32.store8 (local.get $base) (i32.const 1))
      (i32.store8 offset=1023 (local.get $base) (i32.const 1))))
    (loop $outer
      (local.set $i (i32.const 0))
      (local.set $at (i32.shl (i32.and (local.get $row) (i32.const 3)) (i32.const 8)))
      (loop $inner
        (if (i32.and (local.get $i) (i32.const 1))
          (then (i32.store8 (i32.add (i32.add (local.get $base) (local.get $at)) (i32.and (local.get $i) (i32.const 255)))
                  (local.get $row)))
          (else (i32.store8 (i32.add (local.get $base) (i32.add (local.get $at) (i32.and (local.get $i) (i32.const 255))))
                  (i32.add (local.get $row) (local.get $i)))))
        (br_if $inner (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $cols))))
      (br_if $outer (local.tee $row (i32.sub (local.get $row) (i32.const 1)))))
    (i32.const 0))
)")), "range loops"));
  // r1 = r0 ^ n; r2 = r1 ^ n; r3 = r1 + r2; table[r1] = r3; r4 = r3 / r1; r200 = r3 + r4; table[r3] = r200;
  // r255 = r4 ^ n; r5 = r4 / r9 (r9 = 0: traps) or exit.
  auto program = [](bool trap) {
    Bytes p = {1, 1, 0, 0, 1, 2, 1, 0, 0, 3, 1, 2, 2, 3, 1, 0, 3, 4, 3, 1, 0, 200, 3, 4, 2, 200, 3, 0, 1, 255, 4, 0};
    for (uint8_t b : trap ? Bytes{3, 5, 4, 9} : Bytes{4, 0, 0, 0}) p.push_back(b);
    return p;
  };
  auto run = [&](uint32_t r, uint32_t n, uint32_t pre, bool trap = false, uint32_t prog = 65536 + 16) {
    return Cat({U32(r), U32(prog), U32(n), U32(pre), program(trap)});
  };
  // Spans noted at entry: the copy (r page-aligned; r across pages 2-3).
  CallAtLimits(m, "run", run(8192, 100, 3));
  CallAtLimits(m, "run", run(12288 - 512, 100, 3));
  // Part of a span not noted (r + 800 and r + 1020 on page 6, which no earlier call wrote; the table's end
  // on its first page): page 6 charged at r200's store.
  CallAtLimits(m, "run", run(6 * 4096 - 512, 100, 1));
  CallAtLimits(m, "run", run(8192, 100, 0));
  CallAtLimits(m, "run", run(8192, 5, 2));  // the program stops after 5 steps (n), before its last stores
  // Spans past the memory's end (r255 out of bounds) or wrapping modulo 2^32: the original, which traps.
  CallAtLimits(m, "run", run(2 * 65536 - 512, 100, 3));
  CallAtLimits(m, "run", run(0xFFFFFE00u, 100, 0));
  // Traps inside the copy: a division by zero; a program load past the memory's end.
  CallAtLimits(m, "run", run(8192, 100, 3, /*trap=*/true));
  CallAtLimits(m, "run", run(8192, 100, 3, false, 2 * 65536 - 12));
  // Out of gas at every unit from before the pages' charges to the end (the loop's entry among them),
  // with and without the copy.
  for (uint32_t pre : {3u, 1u}) {
    const Bytes arg = run(12288 - 512, 100, pre);
    const CallReceipt full = t.Call(m, "run", arg, kGas);
    ASSERT_OK(full.status);
    ASSERT_GT(full.gas_spent, 1000u);
    for (uint64_t g = 0; g <= full.gas_spent; g += 7) t.Call(m, "run", arg, g);
    for (uint64_t g = full.gas_spent - 1000; g <= full.gas_spent; ++g) t.Call(m, "run", arg, g);
  }
  // The nest: copy (pre) or original, a span crossing pages, past the end.
  for (uint32_t pre : {0u, 1u}) {
    CallAtLimits(m, "rows", Cat({U32(20000), U32(6), U32(300), U32(pre)}));
    CallAtLimits(m, "rows", Cat({U32(24576 - 100), U32(5), U32(40), U32(pre)}));
    CallAtLimits(m, "rows", Cat({U32(2 * 65536 - 1000), U32(4), U32(40), U32(pre)}));
  }
  const Bytes nest = Cat({U32(24576 - 100), U32(5), U32(40), U32(1)});
  const CallReceipt full = t.Call(m, "rows", nest, kGas);
  ASSERT_OK(full.status);
  for (uint64_t g = 0; g <= full.gas_spent; g += 5) t.Call(m, "rows", nest, g);
}

}  // namespace
}  // namespace crust
