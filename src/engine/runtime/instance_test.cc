// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/instance.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "src/testing/runtime_test_util.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

using testing::NewMemory;
using testing::SharedCache;
using testing::WatToWasm;

constexpr char kBasic[] = R"(
(module
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "limit" (func $limit (result i64)))
  (memory (export "memory") 1 1000)
  (global $A (export "A") i32 (i32.const 1024))
  (global $count (export "count") (mut i32) (i32.const 7))
  (global $f (export "fglobal") (mut f64) (f64.const 1.5))
  (table 2 funcref)
  (elem (i32.const 0) $twice)
  (type $t (func (param i32) (result i32)))
  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "inc") (param i32) (result i32)
    (global.set $count (i32.add (global.get $count) (local.get 0)))
    (global.get $count))
  (func (export "store") (param i32) (result i32)
    (i32.store (local.get 0) (i32.const 0xdeadbeef)) (i32.const 0))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (param i32) (result i32) (memory.size))
  (func (export "unreachable") (param i32) (result i32) unreachable)
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0)))
  (func (export "overflow") (param i32) (result i32) (i32.div_s (i32.const 0x80000000) (local.get 0)))
  (func (export "conv") (param i32) (result i32) (i32.trunc_f32_s (f32.div (f32.const 0) (f32.const 0))))
  (func (export "indirect") (param i32) (result i32) (call_indirect (type $t) (i32.const 21) (local.get 0)))
  (func $rec (export "recurse") (param i32) (result i32) (i32.add (call $rec (local.get 0)) (i32.const 1)))
  (func (export "panic") (param i32) (result i32) (call $panic (local.get 0)) (i32.const 0))
  (func (export "limit") (param i32) (result i32) (i32.wrap_i64 (call $limit)))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "mv") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    (local.get 3) (local.get 2) (local.get 1) (local.get 0))
)
)";

class TestHost : public HostContext {
 public:
  Status Panic(Instance& self, uint32_t len) override {
    const char* a = reinterpret_cast<const char*>(self.memory_data()) + 1024;
    return Status::Panic(std::string(a, len));
  }
  Result<int64_t> Limit(Instance&) override { return int64_t{123456}; }
};

class InstanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(kBasic));
    ASSERT_OK_AND_ASSIGN(code_, SharedCache()->Get(wasm));
    ASSERT_OK_AND_ASSIGN(memory_, NewMemory(1, 1000));
    InstanceOptions o;
    o.memory = memory_.get();
    ASSERT_OK_AND_ASSIGN(instance_, Instance::Create(code_, o));
  }
  std::shared_ptr<const Code> code_;
  std::unique_ptr<os::MemoryRegion> memory_;
  std::unique_ptr<Instance> instance_;
  TestHost host_;
};

TEST_F(InstanceTest, CallsAndGlobals) {
  ASSERT_OK_AND_ASSIGN(uint32_t r, instance_->CallI32("inc", 5, &host_));
  EXPECT_EQ(r, 12u);
  ASSERT_OK_AND_ASSIGN(uint64_t g, instance_->GetGlobal("count"));
  EXPECT_EQ(g, 12u);
  std::vector<uint64_t> saved = instance_->SaveGlobals();
  ASSERT_EQ(saved.size(), 3u);  // A, count, fglobal
  ASSERT_OK(instance_->SetGlobal("count", 100));
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("inc", 1, &host_));
  EXPECT_EQ(r, 101u);
  ASSERT_OK(instance_->RestoreGlobals(saved));
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("inc", 0, &host_));
  EXPECT_EQ(r, 12u);
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("fib", 20, &host_));
  EXPECT_EQ(r, 6765u);
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("indirect", 0, &host_));
  EXPECT_EQ(r, 42u);
  EXPECT_FALSE(instance_->FindI32Function("mv").ok());
  EXPECT_TRUE(instance_->CallI32("nope", 0, &host_).status().IsNotFound());
}

TEST_F(InstanceTest, GenericInvokeWithMultiValue) {
  ASSERT_OK_AND_ASSIGN(FunctionRef mv, instance_->FindFunction("mv"));
  float f = 2.5f;
  double d = -3.25;
  uint32_t fb;
  uint64_t db;
  std::memcpy(&fb, &f, 4);
  std::memcpy(&db, &d, 8);
  std::vector<uint64_t> results;
  ASSERT_OK(instance_->Invoke(mv, std::vector<uint64_t>{7, 1ull << 40, fb, db}, &results, &host_));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0], db);
  EXPECT_EQ(results[1], fb);
  EXPECT_EQ(results[2], 1ull << 40);
  EXPECT_EQ(results[3], 7u);
}

TEST_F(InstanceTest, WritesLandInTheRegion) {
  ASSERT_OK(instance_->CallI32("store", 4096, &host_));
  uint32_t v;
  std::memcpy(&v, memory_->data() + 4096, 4);
  EXPECT_EQ(v, 0xdeadbeefu);
  EXPECT_EQ(instance_->memory_data(), memory_->data());
  memory_->data()[8] = 0x2a;
  ASSERT_OK_AND_ASSIGN(uint32_t r, instance_->CallI32("load", 8, &host_));
  EXPECT_EQ(r, 0x2au);
}

TEST_F(InstanceTest, GrowGoesThroughTheRegion) {
  ASSERT_OK_AND_ASSIGN(uint32_t r, instance_->CallI32("grow", 3, &host_));
  EXPECT_EQ(r, 1u);
  EXPECT_EQ(memory_->length(), 4 * os::kWasmPageSize);
  ASSERT_OK(instance_->CallI32("store", 4 * 65536 - 4, &host_));
  EXPECT_EQ(instance_->CallI32("store", 4 * 65536 - 3, &host_).status().code(), Status::Code::kTrap);
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("grow", 1000, &host_));
  EXPECT_EQ(r, UINT32_MAX);
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("size", 0, &host_));
  EXPECT_EQ(r, 4u);
}

TEST_F(InstanceTest, EveryTrapKindLeavesTheThreadUsable) {
  struct Case {
    const char* fn;
    uint32_t arg;
    TrapKind kind;
  } cases[] = {
      {"unreachable", 0, TrapKind::kUnreachable},
      {"load", 65536 - 3, TrapKind::kOutOfBounds},
      {"load", 0xfffffff0u, TrapKind::kOutOfBounds},
      {"store", 1u << 31, TrapKind::kOutOfBounds},
      {"div", 0, TrapKind::kIntegerDivideByZero},
      {"overflow", UINT32_MAX, TrapKind::kIntegerOverflow},
      {"conv", 0, TrapKind::kInvalidConversion},
      {"indirect", 1, TrapKind::kIndirectCallMismatch},
      {"indirect", 5, TrapKind::kIndirectCallMismatch},
      {"recurse", 0, TrapKind::kStackExhausted},
  };
  for (int round = 0; round < 2; ++round) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.fn);
      auto r = instance_->CallI32(c.fn, c.arg, &host_);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Status::Code::kTrap) << r.status().ToString();
      EXPECT_EQ(instance_->last_trap(), c.kind) << r.status().ToString();
      ASSERT_OK_AND_ASSIGN(uint32_t v, instance_->CallI32("fib", 10, &host_));
      EXPECT_EQ(v, 55u);
    }
  }
}

// Calls run on a dedicated stack whose size the host chooses: a small one
// overflows quickly (a trap of its own kind, the thread stays usable), a
// large one is used whatever the thread's own stack is.
TEST_F(InstanceTest, DedicatedStackSizeComesFromTheHost) {
  struct SmallStack : HostContext {
    size_t CallStackBytes() const override { return 1 << 20; }
  } small;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(instance_->CallI32("recurse", 0, &small).status().code(), Status::Code::kTrap);
    EXPECT_EQ(instance_->last_trap(), TrapKind::kStackExhausted);
    ASSERT_OK_AND_ASSIGN(uint32_t v, instance_->CallI32("fib", 10, &small));
    EXPECT_EQ(v, 55u);
  }
}

TEST_F(InstanceTest, TrapsOnOtherThreads) {
  std::thread t([&] {
    EXPECT_EQ(instance_->CallI32("recurse", 0, &host_).status().code(), Status::Code::kTrap);
    EXPECT_EQ(instance_->CallI32("load", 1u << 31, &host_).status().code(), Status::Code::kTrap);
    auto r = instance_->CallI32("fib", 10, &host_);
    EXPECT_TRUE(r.ok());
  });
  t.join();
}

TEST_F(InstanceTest, HostFunctionsAndPanic) {
  ASSERT_OK_AND_ASSIGN(uint32_t r, instance_->CallI32("limit", 0, &host_));
  EXPECT_EQ(r, 123456u);
  std::memcpy(memory_->data() + 1024, "boom!", 5);
  auto p = instance_->CallI32("panic", 5, &host_);
  EXPECT_EQ(p.status().code(), Status::Code::kPanic);
  EXPECT_EQ(p.status().message(), "boom!");
  EXPECT_EQ(instance_->last_trap(), TrapKind::kHostAbort);
  HostContext nothing;  // every import fails with NotSupported
  EXPECT_EQ(instance_->CallI32("limit", 0, &nothing).status().code(), Status::Code::kNotSupported);
  EXPECT_EQ(instance_->CallI32("limit", 0, nullptr).status().code(), Status::Code::kAborted);
  ASSERT_OK_AND_ASSIGN(r, instance_->CallI32("fib", 10, &host_));
  EXPECT_EQ(r, 55u);
}

TEST_F(InstanceTest, MissingMemoryAndBadImportsAreRejected) {
  InstanceOptions o;
  EXPECT_EQ(Instance::Create(code_, o).status().code(), Status::Code::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(R"((module (import "env" "limit" (func (result i32)))))"));
  ASSERT_OK_AND_ASSIGN(auto code, SharedCache()->Get(wasm));
  EXPECT_EQ(Instance::Create(code, o).status().code(), Status::Code::kInvalidModule);
  ASSERT_OK_AND_ASSIGN(wasm, WatToWasm(R"((module (import "env" "nope" (func))))"));
  ASSERT_OK_AND_ASSIGN(code, SharedCache()->Get(wasm));
  EXPECT_EQ(Instance::Create(code, o).status().code(), Status::Code::kInvalidModule);
}

double MedianInstantiateMicros(const std::shared_ptr<const Code>& code, os::MemoryRegion* mem) {
  std::vector<double> us;
  for (int i = 0; i < 101; ++i) {
    InstanceOptions o;
    o.memory = mem;
    const auto t0 = std::chrono::steady_clock::now();
    auto inst = Instance::Create(code, o);
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(inst.ok());
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

TEST_F(InstanceTest, InstantiateTimeIndependentOfMemorySize) {
  ASSERT_OK_AND_ASSIGN(auto small, NewMemory(1, 1000));
  ASSERT_OK_AND_ASSIGN(auto big, NewMemory(16384, 16384));  // 1 GiB
  std::memset(big->data() + (512u << 20), 1, 1 << 20);      // touch some of it
  const double t_small = MedianInstantiateMicros(code_, small.get());
  const double t_big = MedianInstantiateMicros(code_, big.get());
  // Printed, not asserted (no timing thresholds in tests): bench/vm_bench.cc
  // measures session start plus first call against memory size.
  printf("instantiate: 64 KiB memory %.2f us, 1 GiB memory %.2f us\n", t_small, t_big);
  InstanceOptions o;
  o.memory = big.get();
  ASSERT_OK_AND_ASSIGN(auto inst, Instance::Create(code_, o));
  ASSERT_OK_AND_ASSIGN(uint32_t r, inst->CallI32("load", (512u << 20) + 4, &host_));
  EXPECT_EQ(r, 0x01010101u);
}

// The write barrier compiled into every module (wasm_rt_abi.h): each kind of
// write to memory notes exactly the 4 KiB pages it touches, so a session in
// noted mode sees them without asking the kernel.
constexpr char kWrites[] = R"(
(module
  (memory (export "memory") 2 4)
  (data (i32.const 70000) "hello")
  (data $p "passive-bytes")
  (func (export "st32") (param i32) (result i32) (i32.store (local.get 0) (i32.const 1)) (i32.const 0))
  (func (export "st64") (param i32) (result i32) (i64.store (local.get 0) (i64.const 1)) (i32.const 0))
  (func (export "st8off") (param i32) (result i32) (i32.store8 offset=4096 (local.get 0) (i32.const 1)) (i32.const 0))
  (func (export "f64") (param i32) (result i32) (f64.store (local.get 0) (f64.const 2)) (i32.const 0))
  (func (export "fill") (param i32) (result i32) (memory.fill (local.get 0) (i32.const 7) (i32.const 12288)) (i32.const 0))
  (func (export "fill0") (param i32) (result i32) (memory.fill (local.get 0) (i32.const 7) (i32.const 0)) (i32.const 0))
  (func (export "copy") (param i32) (result i32) (memory.copy (local.get 0) (i32.const 0) (i32.const 5000)) (i32.const 0))
  (func (export "init") (param i32) (result i32) (memory.init $p (local.get 0) (i32.const 0) (i32.const 13)) (i32.const 0))
  (func (export "grow_store") (param i32) (result i32)
    (drop (memory.grow (i32.const 1))) (i32.store (local.get 0) (i32.const 5)) (i32.const 0))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
)
)";

// At -O0 and at -O2 (where the C compiler keeps the memory's base and noted
// map in registers and may reorder around the stores: compiler_translate.cc).
class WriteBarrierTest : public ::testing::TestWithParam<OptLevel> {};
INSTANTIATE_TEST_SUITE_P(Opt, WriteBarrierTest, ::testing::Values(OptLevel::kO0, OptLevel::kO2),
                         [](const ::testing::TestParamInfo<OptLevel>& i) {
                           return std::string(i.param == OptLevel::kO0 ? "O0" : "O2");
                         });

TEST_P(WriteBarrierTest, EveryKindOfWriteNotesExactlyItsPages) {
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(kWrites));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Code> code, SharedCache(GetParam())->Get(wasm));
  ASSERT_OK_AND_ASSIGN(auto memory, NewMemory(2, 4));
  ASSERT_OK(memory->UseNotedWrites());
  InstanceOptions o;
  o.memory = memory.get();
  ASSERT_OK_AND_ASSIGN(auto inst, Instance::Create(code, o));
  TestHost host;
  auto written = [&]() {
    std::vector<uint32_t> pages;
    EXPECT_OK(memory->CollectWritten(/*rearm=*/true, &pages));
    return pages;
  };
  using P = std::vector<uint32_t>;
  EXPECT_EQ(written(), P{17});  // the active data segment at 70000
  struct Case {
    const char* fn;
    uint32_t arg;
    P pages;
  };
  const Case cases[] = {
      {"st32", 8190, {1, 2}},            // straddles a page boundary
      {"st64", 100, {0}},
      {"st8off", 0, {1}},                // the static offset counts
      {"f64", 4095, {0, 1}},
      {"fill", 3 * 4096 + 10, {3, 4, 5, 6}},
      {"fill0", 9 * 4096, {}},           // zero bytes: nothing
      {"copy", 40000, {9, 10}},
      {"init", 50000, {12}},
      {"grow_store", 131072 + 4096, {33}},  // a page of the grown memory
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(inst->CallI32(c.fn, c.arg, &host).ok()) << c.fn;
    EXPECT_EQ(written(), c.pages) << c.fn;
  }
  // A page noted once is not noted twice before the next collection, and a
  // store entirely out of bounds notes nothing. (One straddling the end notes
  // its in-bounds page before trapping: noting a page that then stays
  // unchanged is harmless, missing a written one is not.)
  ASSERT_TRUE(inst->CallI32("st32", 8, &host).ok());
  ASSERT_TRUE(inst->CallI32("st32", 16, &host).ok());
  EXPECT_FALSE(inst->CallI32("st32", 3 * 65536 + 8, &host).ok());
  EXPECT_EQ(written(), P{0});
  ASSERT_OK_AND_ASSIGN(uint32_t v, inst->CallI32("load", 131072 + 4096, &host));
  EXPECT_EQ(v, 5u);
  // The host's writes go through WritableMemory, which notes them.
  ASSERT_NE(inst->WritableMemory(5 * 4096 - 1, 2), nullptr);
  EXPECT_EQ(inst->WritableMemory(3 * 65536 - 1, 2), nullptr);  // past the end
  EXPECT_EQ(written(), (P{4, 5}));
}

}  // namespace
}  // namespace crust::engine
