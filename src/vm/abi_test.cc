// Copyright (c) crust authors. Licensed under the MIT license.
//
// The contract ABI and the VM's rules through the public API, with small WAT
// contracts (vm_test.cc covers the example contracts):
//   * each ABI rule: the argument lands in A, the result is A[0..ret_len],
//     64 KiB limits both ways, deploy-time checks of memory / A / exports /
//     imports with clear messages;
//   * each trap kind, with the session usable afterwards;
//   * exact gas (hand-computed from the cost table) and the depth limit;
//   * init runs once, with its argument and its own gas limit;
//   * every rejected feature, named, at VmSession::Deploy;
//   * compiled objects deleted or corrupted under the cache are rebuilt;
//   * a session's writes (memory, growth, globals) never reach committed files;
//   * a contract's own mutable globals persist across commits and sessions and
//     are covered by the root.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <fstream>
#include <map>

#include "crust/vm.h"
#include "src/engine/runtime/host_gas.h"
#include "src/engine/prepare/instrument.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

// Designated initialisers of DeployOptions leave the other fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace crust {
namespace {

using vmtest::Wat;
using vmtest::U32;
using vmtest::U64;

namespace fs = std::filesystem;
using crust::testing::TempDir;
using ::testing::HasSubstr;

constexpr uint64_t kGas = 10'000'000;


Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A contract: `body` plus the standard memory and A unless replaced.
std::string Contract(std::string_view body, std::string_view memory = "(memory (export \"memory\") 2 16)",
                     std::string_view a = "(global $A (export \"A\") i32 (i32.const 65536))") {
  return "(module " + std::string(memory) + " " + std::string(a) + " " + std::string(body) + ")";
}

class AbiTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open(uint32_t depth = 1000) {
    session_.reset();
    vm_.reset();
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache_dir_.empty() ? std::string(CRUST_BINARY_DIR) + "/equivalence-code-cache" : cache_dir_;
    o.max_call_depth = depth;
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Open(dir_.Sub("store"), o));
    ASSERT_OK_AND_ASSIGN(session_, vm_->StartGenesis());
  }
  ModuleId Deploy(std::string_view wat, const DeployOptions& o = {}) {
    auto r = session_->Deploy(Wat(wat), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << wat;
    return r.ok() ? *r : ModuleId{};
  }
  // Deploy must fail with `code` and a message containing `needle`; the root
  // is unchanged.
  void ExpectRejected(std::string_view wat, Status::Code code, std::string_view needle) {
    SCOPED_TRACE(std::string(wat));
    Bytes wasm = Wat(wat);
    ASSERT_FALSE(wasm.empty());
    ExpectRejectedBytes(wasm, code, needle);
  }
  void ExpectRejectedBytes(const Bytes& wasm, Status::Code code, std::string_view needle) {
    ASSERT_OK_AND_ASSIGN(Root before, session_->CurrentRoot());
    const size_t modules = session_->state().Modules().size();
    auto r = session_->Deploy(wasm);
    ASSERT_FALSE(r.ok()) << "deployed";
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(std::string(needle)));
    ASSERT_OK_AND_ASSIGN(Root after, session_->CurrentRoot());
    EXPECT_EQ(before, after);
    EXPECT_EQ(session_->state().Modules().size(), modules);
  }

  TempDir dir_;
  std::string cache_dir_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<VmSession> session_;
};

// ---------------------------------------------------------------------------
// Argument and result protocol.

constexpr char kProtocol[] = R"(
  ;; reports the length it got, the first and last argument bytes, and what A is
  (func (export "probe") (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $len))
    (i32.store (i32.const 4) (i32.load8_u (global.get $A)))
    (i32.store (i32.const 8) (if (result i32) (local.get $len)
      (then (i32.load8_u (i32.sub (i32.add (global.get $A) (local.get $len)) (i32.const 1)))) (else (i32.const -1))))
    (i32.const 0))
  (func (export "echo") (param $len i32) (result i32) (local.get $len))
  ;; returns ret_len = u32 argument; A[0..4] holds the argument itself
  (func (export "ret") (param $len i32) (result i32) (i32.load (global.get $A)))
  (func (export "reverse") (param $len i32) (result i32) (local $i i32) (local $t i32)
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (i32.sub (i32.sub (local.get $len) (local.get $i)) (i32.const 1))))
      (local.set $t (i32.load8_u (i32.add (global.get $A) (local.get $i))))
      (i32.store8 (i32.add (global.get $A) (local.get $i))
        (i32.load8_u (i32.add (global.get $A) (i32.sub (i32.sub (local.get $len) (local.get $i)) (i32.const 1)))))
      (i32.store8 (i32.add (global.get $A) (i32.sub (i32.sub (local.get $len) (local.get $i)) (i32.const 1))) (local.get $t))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $len))
)";

TEST_F(AbiTest, ArgumentIsCopiedToAAndResultReadFromA) {
  // A deliberately not at 0 nor at a page boundary.
  const ModuleId id = Deploy(Contract(kProtocol, "(memory (export \"memory\") 3)",
                                      "(global $A (export \"A\") i32 (i32.const 70000))"));
  const Bytes arg = {10, 20, 30, 40, 50};
  ASSERT_OK(session_->Call(id, "probe", arg, kGas).status);
  Bytes probe(12 + 5);
  ASSERT_OK(session_->state().ReadMemory(id, 0, std::span<uint8_t>(probe.data(), 12)));
  ASSERT_OK(session_->state().ReadMemory(id, 70000, std::span<uint8_t>(probe.data() + 12, 5)));
  EXPECT_EQ(DecodeFixed32(probe.data()), 5u);
  EXPECT_EQ(DecodeFixed32(probe.data() + 4), 10u);
  EXPECT_EQ(DecodeFixed32(probe.data() + 8), 50u);
  EXPECT_EQ(Bytes(probe.begin() + 12, probe.end()), arg);  // the argument is in memory at A
  // An empty argument: length 0, A untouched.
  ASSERT_OK(session_->Call(id, "probe", {}, kGas).status);
  ASSERT_OK(session_->state().ReadMemory(id, 0, std::span<uint8_t>(probe.data(), 12)));
  EXPECT_EQ(DecodeFixed32(probe.data()), 0u);
  EXPECT_EQ(DecodeFixed32(probe.data() + 4), 10u);  // still the previous argument's first byte
  // The result is A[0..ret_len], whatever the function did to it.
  Bytes big(65536);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
  CallReceipt r = session_->Call(id, "reverse", big, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, Bytes(big.rbegin(), big.rend()));
  r = session_->Call(id, "echo", big, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, big);
  // ret_len 0 and partial results.
  r = session_->Call(id, "ret", U32(0), kGas);
  ASSERT_OK(r.status);
  EXPECT_TRUE(r.data.empty());
  r = session_->Call(id, "ret", U32(2), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, (Bytes{2, 0}));
}

TEST_F(AbiTest, SixtyFourKiBLimitsBothWays) {
  const ModuleId id = Deploy(Contract(kProtocol));
  // Argument: 64 KiB is fine, one more byte is InvalidArgument (no gas charged).
  EXPECT_OK(session_->Call(id, "echo", Bytes(65536, 1), kGas).status);
  CallReceipt r = session_->Call(id, "echo", Bytes(65537, 1), kGas);
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidArgument) << r.status.ToString();
  EXPECT_THAT(r.status.ToString(), HasSubstr("64 KiB"));
  EXPECT_EQ(r.gas_spent, 0u);
  EXPECT_TRUE(r.data.empty());
  // Result: ret_len 65536 is fine; larger is ResourceExhausted (gas is still charged).
  r = session_->Call(id, "ret", U32(65536), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data.size(), 65536u);
  for (uint32_t len : {65537u, 1u << 20, 0x80000000u, 0xFFFFFFFFu}) {
    r = session_->Call(id, "ret", U32(len), kGas);
    EXPECT_EQ(r.status.code(), Status::Code::kResourceExhausted) << len << ": " << r.status.ToString();
    EXPECT_THAT(r.status.ToString(), HasSubstr("64 KiB"));
    EXPECT_TRUE(r.data.empty());
    EXPECT_GT(r.gas_spent, 0u);
  }
  EXPECT_OK(session_->Call(id, "echo", Bytes{1}, kGas).status);
}

TEST_F(AbiTest, DeployChecksMemoryAAndExports) {
  using C = Status::Code;
  const char* f = "(func (export \"f\") (param i32) (result i32) (local.get 0))";
  // Memory.
  ExpectRejected("(module (global (export \"A\") i32 (i32.const 0)))", C::kInvalidModule, "no memory");
  ExpectRejected(Contract(f, "(memory 2)"), C::kInvalidModule, "memory must be exported as \"memory\"");
  ExpectRejected(Contract(f, "(memory (export \"mem\") 2)"), C::kInvalidModule, "exported as \"memory\"");
  ExpectRejected(Contract(f, "(import \"env\" \"memory\" (memory 2)) (export \"memory\" (memory 0))"),
                 C::kInvalidModule, "only functions may be imported");
  // A.
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", ""), C::kInvalidModule, "missing export \"A\"");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(global (export \"a\") i32 (i32.const 0))"),
                 C::kInvalidModule, "missing export \"A\"");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(func (export \"A\") (param i32) (result i32) (i32.const 0))"),
                 C::kInvalidModule, "missing export \"A\"");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(global (export \"A\") (mut i32) (i32.const 0))"),
                 C::kInvalidModule, "immutable i32 global");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(global (export \"A\") i64 (i64.const 0))"),
                 C::kInvalidModule, "immutable i32 global");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(global (export \"A\") i32 (i32.const 65537))"),
                 C::kInvalidModule, "does not fit in the initial memory");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 0 4)", "(global (export \"A\") i32 (i32.const 0))"),
                 C::kInvalidModule, "does not fit");
  ExpectRejected(Contract(f, "(memory (export \"memory\") 2)", "(global (export \"A\") i32 (i32.const -1))"),
                 C::kInvalidModule, "does not fit");
  // The buffer may end exactly at the end of the initial memory.
  ASSERT_OK(session_->Deploy(Wat(Contract(f, "(memory (export \"memory\") 2)",
                                          "(global (export \"A\") i32 (i32.const 65536))"))));
  // Export types.
  ExpectRejected(Contract("(func (export \"f\") (param i32 i32) (result i32) (local.get 0))"), C::kInvalidModule,
                 "export \"f\" has type");
  ExpectRejected(Contract("(func (export \"f\") (param i32))"), C::kInvalidModule, "must be (i32) -> (i32)");
  ExpectRejected(Contract("(func (export \"f\") (param i64) (result i64) (local.get 0))"), C::kInvalidModule,
                 "must be (i32) -> (i32)");
  ExpectRejected(Contract("(func (export \"init\") (result i32) (i32.const 0))"), C::kInvalidModule,
                 "export \"init\" has type");
  ExpectRejected("(module (import \"env\" \"caller\" (func $c (result i32))) (memory (export \"memory\") 2) "
                 "(global (export \"A\") i32 (i32.const 0)) (export \"caller\" (func $c)))",
                 C::kInvalidModule, "re-exports an imported function");
  // Reserved export names.
  ExpectRejected(Contract(std::string(f) + "(global (export \"__crust_gas\") i32 (i32.const 0))"), C::kInvalidModule,
                 "reserved");
  ExpectRejected(Contract("(func (export \"__crust_anything\") (param i32) (result i32) (local.get 0))"),
                 C::kInvalidModule, "\"__crust_\" are reserved");
}

TEST_F(AbiTest, DeployChecksImportsByNameAndSignature) {
  using C = Status::Code;
  // Imports come first in the text format.
  auto with_import = [](std::string_view imp) {
    return "(module " + std::string(imp) +
           " (memory (export \"memory\") 2) (global (export \"A\") i32 (i32.const 0)))";
  };
  ExpectRejected(with_import("(import \"env\" \"nope\" (func))"), C::kInvalidModule,
                 "import \"env\".\"nope\": no such host function");
  ExpectRejected(with_import("(import \"wasi_snapshot_preview1\" \"fd_write\" (func (param i32 i32 i32 i32) (result i32)))"),
                 C::kInvalidModule, "only module \"env\" may be imported from");
  ExpectRejected(with_import("(import \"env\" \"panic\" (func (param i64)))"), C::kInvalidModule,
                 "import \"env\".\"panic\": signature (i64) -> () does not match the host function's (i32) -> ()");
  ExpectRejected(with_import("(import \"env\" \"limit\" (func (result i32)))"), C::kInvalidModule,
                 "does not match the host function's () -> (i64)");
  ExpectRejected(with_import("(import \"env\" \"hd\" (func (param i32) (result i32)))"), C::kInvalidModule,
                 "\"hd\": signature");
  ExpectRejected(with_import("(import \"env\" \"self_id\" (func (result i32)))"), C::kInvalidModule, "self_id");
  ExpectRejected(with_import("(import \"env\" \"c\" (func (param i32 i32 i32 i32 i32) (result i32)))"),
                 C::kInvalidModule, "\"c\": signature");
  ExpectRejected(with_import("(import \"env\" \"limit\" (global i64))"), C::kInvalidModule,
                 "only functions may be imported");
  ExpectRejected(with_import("(import \"env\" \"t\" (table 1 funcref))"), C::kInvalidModule,
                 "only functions may be imported");
  // Every host function is accepted with its exact signature.
  const ModuleId id = Deploy(std::string("(module ") + R"(
    (import "env" "panic" (func (param i32)))
    (import "env" "limit" (func (result i64)))
    (import "env" "spent" (func (result i64)))
    (import "env" "self_id" (func))
    (import "env" "hd" (func (param i32 i32) (result i32)))
    (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
    (import "env" "hq" (func (param i32 i32 i32) (result i32)))
    (import "env" "emit" (func $emit (param i32 i32 i32)))
    (import "env" "feed" (func (param i32)))
    (import "env" "caller" (func $caller (result i32)))
    (import "env" "callstack" (func (result i32)))
    (import "env" "owner" (func (param i32) (result i32)))
    (import "env" "hdebug" (func $hdebug (param i32)))
    (memory (export "memory") 2) (global (export "A") i32 (i32.const 0))
    (func (export "caller") (param i32) (result i32) (call $caller))
    (func (export "debug") (param i32) (result i32) (call $hdebug (local.get 0)) (i32.const 0))
    (func (export "event") (param i32) (result i32) (call $emit (i32.const 100) (i32.const 3) (local.get 0)) (i32.const 0))
    (func (export "f") (param i32) (result i32) (local.get 0))))");
  // caller() of a top-level call: 0, no caller.
  CallReceipt r = session_->Call(id, "caller", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_TRUE(r.data.empty());
  EXPECT_OK(session_->Call(id, "f", {}, kGas).status);
  // hdebug: the argument is the message; UTF-8 only; 4 gas per byte.
  CallReceipt d0 = session_->Call(id, "debug", {}, kGas);
  CallReceipt d = session_->Call(id, "debug", Str("h\xc3\xa9llo"), kGas);
  ASSERT_OK(d.status);
  ASSERT_EQ(d.debug.size(), 1u);
  EXPECT_EQ(d.debug[0], "h\xc3\xa9llo");
  ASSERT_EQ(d0.debug.size(), 1u);
  EXPECT_EQ(d0.debug[0], "");
  EXPECT_EQ(d.gas_spent - d0.gas_spent, 4u * 6);
  CallReceipt bad = session_->Call(id, "debug", Bytes{'a', 0xff}, kGas);
  EXPECT_EQ(bad.status.code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(bad.status.ToString(), HasSubstr("UTF-8"));
  EXPECT_EQ(bad.debug.size(), 0u);
  // emit: 4 gas per byte of topic (3 bytes) and data, exactly.
  CallReceipt e0 = session_->Call(id, "event", {}, kGas);
  CallReceipt e5 = session_->Call(id, "event", Str("12345"), kGas);
  ASSERT_OK(e0.status);
  ASSERT_OK(e5.status);
  EXPECT_EQ(e5.gas_spent - e0.gas_spent, 4u * 5);
  ASSERT_EQ(e5.events.size(), 1u);
  EXPECT_EQ(e5.events[0].data, Str("12345"));
  EXPECT_EQ(session_->Call(id, "event", {}, e0.gas_spent - 1).status.code(), Status::Code::kOutOfGas);
  EXPECT_GE(e0.gas_spent, 4u * 3);
  CallReceipt poor = session_->Call(id, "debug", Str("abc"), d0.gas_spent + 11);
  EXPECT_EQ(poor.status.code(), Status::Code::kOutOfGas);
  EXPECT_OK(session_->Call(id, "debug", Str("abc"), d0.gas_spent + 12).status);
}

// Host pointers are checked against the memory's 4 GiB window, as piecrust
// checks them against its mapping: bytes past the memory's end read as zero
// (docs/abi.md section 5, "Host pointers"); names and topics must be UTF-8.
TEST_F(AbiTest, HostPointersReadZerosPastTheEndWithinTheWindow) {
  const ModuleId id = Deploy(std::string("(module ") + R"(
    (import "env" "hd" (func $hd (param i32 i32) (result i32)))
    (import "env" "emit" (func $emit (param i32 i32 i32)))
    (import "env" "panic" (func $panic (param i32)))
    (memory (export "memory") 2) (global (export "A") i32 (i32.const 0))
    (data (i32.const 400) "\ff")
    (func (export "hd_at") (param i32) (result i32) (call $hd (i32.load (i32.const 0)) (i32.load (i32.const 4))))
    (func (export "emit_at") (param i32) (result i32)
      (call $emit (i32.load (i32.const 0)) (i32.load (i32.const 4)) (i32.const 0)) (i32.const 0))
    (func (export "panic_with") (param i32) (result i32) (call $panic (local.get 0)) (i32.const 0))))");
  auto at = [](uint32_t ptr, uint32_t len) {
    Bytes b = U32(ptr);
    const Bytes l = U32(len);
    b.insert(b.end(), l.begin(), l.end());
    return b;
  };
  session_->SetMeta(std::string(3, '\0'), Str("zeros"));
  // Two bytes inside memory, one past its end (131072): "\0\0\0".
  CallReceipt r = session_->Call(id, "hd_at", at(131072 - 2, 3), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, Str("zeros"));
  r = session_->Call(id, "hd_at", at(0xFFFFFFFD, 3), kGas);  // ends exactly at 4 GiB
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, Str("zeros"));
  r = session_->Call(id, "hd_at", at(0xFFFFFFFF, 2), kGas);  // past 4 GiB
  EXPECT_EQ(r.status.code(), Status::Code::kTrap);
  EXPECT_THAT(r.status.ToString(), HasSubstr("out of bounds"));
  r = session_->Call(id, "hd_at", at(0x10000000, 0x20000000), kGas);  // 512 MiB of zeros
  EXPECT_EQ(r.status.code(), Status::Code::kResourceExhausted);
  r = session_->Call(id, "hd_at", at(400, 1), kGas);
  EXPECT_EQ(r.status.code(), Status::Code::kInvalidArgument);
  EXPECT_THAT(r.status.ToString(), HasSubstr("UTF-8"));
  // An event topic past the end is zeros too; a topic that is not UTF-8 fails.
  r = session_->Call(id, "emit_at", at(0x80000000, 2), kGas);
  ASSERT_OK(r.status);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].topic, std::string(2, '\0'));
  EXPECT_EQ(session_->Call(id, "emit_at", at(400, 1), kGas).status.code(), Status::Code::kInvalidArgument);
  // A panic message must be UTF-8: else the call fails with InvalidArgument, not Panic.
  EXPECT_EQ(session_->Call(id, "panic_with", Str("ok"), kGas).status.code(), Status::Code::kPanic);
  EXPECT_EQ(session_->Call(id, "panic_with", Bytes{'a', 0xff}, kGas).status.code(), Status::Code::kInvalidArgument);
}

TEST_F(AbiTest, DeployRejectsBadBytes) {
  using C = Status::Code;
  ExpectRejectedBytes({}, C::kInvalidModule, "malformed module");
  ExpectRejectedBytes(Str("not wasm at all"), C::kInvalidModule, "malformed module");
  ExpectRejectedBytes(Bytes{0, 'a', 's', 'm', 2, 0, 0, 0}, C::kInvalidModule, "malformed module");  // version 2
  Bytes good = Wat(Contract("(func (export \"f\") (param i32) (result i32) (i32.const 0))"));
  for (size_t cut : {size_t{8}, size_t{9}, good.size() / 2, good.size() - 1}) {
    if (cut == 8) continue;  // an empty module is valid wasm (and has no memory)
    ExpectRejectedBytes(Bytes(good.begin(), good.begin() + cut), C::kInvalidModule, "malformed module");
  }
  Bytes trailing = good;
  trailing.push_back(0x00);
  ExpectRejectedBytes(trailing, C::kInvalidModule, "malformed");
  // Decodes but does not validate (type error): f's body `i32.const 0; end`
  // patched to `i64.const 0; end`.
  Bytes invalid = good;
  const Bytes body = {0x41, 0x00, 0x0b};
  auto at = std::search(invalid.begin(), invalid.end(), body.begin(), body.end());
  ASSERT_NE(at, invalid.end());
  *at = 0x42;
  ExpectRejectedBytes(invalid, C::kInvalidModule, "invalid module");
  // Data segment outside the initial memory.
  ExpectRejected(Contract("(data (i32.const 131070) \"abcd\")"), C::kInvalidModule, "data segment");
  // A module that is too large for the host.
  ExpectRejected(Contract("", "(memory (export \"memory\") 16385)"), C::kInvalidModule, "initial memory of 16385");
}

TEST_F(AbiTest, DeployRejectsUnsupportedFeaturesByName) {
  using C = Status::Code;
  struct Case {
    std::string wat;
    C code;
    const char* needle;
  } cases[] = {
      {Contract("(func (export \"s\") (param i32) (result i32) (i32x4.extract_lane 0 (i32x4.splat (local.get 0))))"),
       C::kNotSupported, "SIMD: i32x4.splat in function 0 (export \"s\")"},
      {Contract("(func (param i32) (result i32) (local v128) (i32.const 0))"), C::kNotSupported, "SIMD: v128 local"},
      {Contract("(global v128 (v128.const i64x2 0 0))"), C::kNotSupported, "SIMD"},
      {Contract("(func (param i32) (result i32) (i32.atomic.load (local.get 0)))"), C::kNotSupported,
       "threads (atomic instructions): i32.atomic.load"},
      {Contract("(func (param i32) (result i32) (atomic.fence) (i32.const 0))"), C::kNotSupported, "threads"},
      {Contract("", "(memory (export \"memory\") 2 2 shared)"), C::kNotSupported, "threads: shared memory"},
      {Contract("(tag $e)"), C::kNotSupported, "exceptions"},
      {Contract("(tag $e) (func (param i32) (result i32) (throw $e) )"), C::kNotSupported, "exceptions"},
      {Contract("(func $t (param i32) (result i32) (return_call $t (local.get 0)))"), C::kNotSupported,
       "tail calls: return_call"},
      {Contract("(type $t (func (param i32) (result i32))) (table 1 funcref) "
                "(func (param i32) (result i32) (return_call_indirect (type $t) (local.get 0) (i32.const 0)))"),
       C::kNotSupported, "tail calls: return_call_indirect"},
      {Contract("", "(memory (export \"memory\") i64 2)"), C::kInvalidModule, "immutable i64 global"},
      {Contract("(func (param i32) (result i32) (i32.atomic.load (i64.const 0)))", "(memory (export \"memory\") i64 2 16)",
                "(global $A (export \"A\") i64 (i64.const 65536))"),
       C::kNotSupported, "threads (atomic instructions): i32.atomic.load"},
      {Contract("(memory $second 1)"), C::kNotSupported, "multi-memory"},
      {Contract("(func $s) (start $s)"), C::kNotSupported, "start function"},
      {Contract("(table 1 funcref) (func (export \"g\") (param i32) (result i32) "
                "(table.grow 0 (ref.null func) (i32.const 1)))"),
       C::kNotSupported, "table.grow in function 0 (export \"g\")"},
      {Contract("(table 1 funcref) (func (param i32) (result i32) (table.set 0 (i32.const 0) (ref.null func)) "
                "(i32.const 0))"),
       C::kNotSupported, "table.set"},
      {Contract("(table 1 funcref) (func (param i32) (result i32) (table.fill 0 (i32.const 0) (ref.null func) "
                "(i32.const 1)) (i32.const 0))"),
       C::kNotSupported, "table.fill"},
      {Contract("(table 2 funcref) (func (param i32) (result i32) (table.copy (i32.const 0) (i32.const 1) "
                "(i32.const 1)) (i32.const 0))"),
       C::kNotSupported, "table.copy"},
      {Contract("(table 2 funcref) (elem $e func $f) (func $f (param i32) (result i32) "
                "(table.init $e (i32.const 0) (i32.const 0) (i32.const 1)) (i32.const 0))"),
       C::kNotSupported, "table.init"},
      {Contract("(elem $e func $f) (func $f (param i32) (result i32) (elem.drop $e) (i32.const 0))"),
       C::kNotSupported, "elem.drop"},
      {Contract("(data $d \"x\") (func (param i32) (result i32) (data.drop $d) (i32.const 0))"), C::kNotSupported,
       "data.drop"},
      {Contract("(global $r (mut funcref) (ref.null func))"), C::kNotSupported, "mutable global 1 of reference type"},
  };
  for (const Case& c : cases) ExpectRejected(c.wat, c.code, c.needle);
  // Accepted post-MVP features: sign extension, saturating conversions,
  // multi-value, bulk memory (memory.copy/fill/init), reference types (read-only use).
  const ModuleId id = Deploy(Contract(R"(
    (data $d "passive")
    (table 2 funcref) (elem (i32.const 0) func $pair)
    (func $pair (result i32 i64) (i32.const 1) (i64.const 2))
    (func (export "f") (param $len i32) (result i32)
      (i32.store (global.get $A) (i32.extend8_s (i32.const 0xff)))
      (i32.store offset=4 (global.get $A) (i32.trunc_sat_f32_s (f32.const 1e20)))
      (memory.init $d (i32.add (global.get $A) (i32.const 8)) (i32.const 0) (i32.const 7))
      (memory.fill (i32.const 0) (i32.const 9) (i32.const 16))
      (memory.copy (i32.add (global.get $A) (i32.const 15)) (i32.const 0) (i32.const 1))
      (call $pair) (drop) (drop)
      (i32.store offset=16 (global.get $A) (ref.is_null (table.get 0 (i32.const 1))))
      (i32.store offset=20 (global.get $A) (table.size 0))
      (i32.const 24)))",
                                      "(memory (export \"memory\") 2)", "(global $A (export \"A\") i32 (i32.const 65536))"));
  CallReceipt r = session_->Call(id, "f", {}, kGas);
  ASSERT_OK(r.status);
  ASSERT_EQ(r.data.size(), 24u);
  EXPECT_EQ(DecodeFixed32(r.data.data()), 0xFFFFFFFFu);
  EXPECT_EQ(DecodeFixed32(r.data.data() + 4), 0x7FFFFFFFu);
  EXPECT_EQ(Bytes(r.data.begin() + 8, r.data.begin() + 15), Str("passive"));
  EXPECT_EQ(r.data[15], 9);
  EXPECT_EQ(DecodeFixed32(r.data.data() + 16), 1u);
  EXPECT_EQ(DecodeFixed32(r.data.data() + 20), 2u);
}

// ---------------------------------------------------------------------------
// Traps.

constexpr char kTraps[] = R"(
  (type $i2i (func (param i32) (result i32)))
  (type $v2v (func))
  (table 4 funcref)
  (elem (i32.const 0) $double $nothing)
  (global $g (mut i32) (i32.const 0))
  (func $double (param i32) (result i32) (i32.shl (local.get 0) (i32.const 1)))
  (func $nothing)
  (func (export "unreachable") (param i32) (result i32) (unreachable))
  (func (export "load") (param i32) (result i32) (i32.load (i32.load (global.get $A))))
  (func (export "store") (param i32) (result i32) (i64.store (i32.load (global.get $A)) (i64.const 1)) (i32.const 0))
  (func (export "div_s") (param i32) (result i32) (i32.div_s (i32.load (global.get $A)) (i32.load offset=4 (global.get $A))))
  (func (export "rem_u64") (param i32) (result i32)
    (i32.wrap_i64 (i64.rem_u (i64.const 5) (i64.load (global.get $A)))))
  (func (export "div_s64") (param i32) (result i32)
    (i32.wrap_i64 (i64.div_s (i64.const 0x8000000000000000) (i64.load (global.get $A)))))
  (func (export "trunc") (param i32) (result i32) (i32.trunc_f64_s (f64.load (global.get $A))))
  (func (export "trunc_u64") (param i32) (result i32) (i32.wrap_i64 (i64.trunc_f32_u (f32.load (global.get $A)))))
  (func (export "indirect") (param i32) (result i32)
    (call_indirect (type $i2i) (i32.const 21) (i32.load (global.get $A))))
  (func $rec (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "recurse") (param i32) (result i32)
    (i32.store (global.get $A) (call $rec (i32.load (global.get $A)))) (i32.const 4))
  (func $forever (param i32) (result i32) (i32.add (call $forever (local.get 0)) (i32.const 1)))
  (func (export "forever") (param i32) (result i32) (call $forever (i32.const 0)))
  (func (export "spin") (param i32) (result i32) (loop $l (br $l)) (i32.const 0))
  (func (export "ok") (param i32) (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store (global.get $A) (global.get $g)) (i32.const 4))
)";

TEST_F(AbiTest, EveryTrapKindEndsTheCallAndTheSessionStaysUsable) {
  const ModuleId id = Deploy(Contract(kTraps));
  auto f64 = [](double d) { uint64_t b; std::memcpy(&b, &d, 8); return U64(b); };
  auto f32 = [](float f) { uint32_t b; std::memcpy(&b, &f, 4); return U32(b); };
  Bytes min_neg1 = U32(0x80000000u);
  PutFixed32(&min_neg1, 0xFFFFFFFFu);
  Bytes div0 = U32(7);
  PutFixed32(&div0, 0);
  struct Case {
    const char* fn;
    Bytes arg;
    Status::Code code;
    const char* prefix;  // the documented start of the message (vm.h)
  } cases[] = {
      {"unreachable", {}, Status::Code::kTrap, "unreachable"},
      {"load", U32(131069), Status::Code::kTrap, "out of bounds"},
      {"load", U32(0xFFFFFFFFu), Status::Code::kTrap, "out of bounds"},
      {"store", U32(131065), Status::Code::kTrap, "out of bounds"},
      {"store", U32(16 * 65536), Status::Code::kTrap, "out of bounds"},  // inside the maximum, outside the size
      {"div_s", div0, Status::Code::kTrap, "integer divide by zero"},
      {"rem_u64", U64(0), Status::Code::kTrap, "integer divide by zero"},
      {"div_s", min_neg1, Status::Code::kTrap, "integer overflow"},
      {"div_s64", U64(~0ull), Status::Code::kTrap, "integer overflow"},
      {"trunc", f64(std::numeric_limits<double>::quiet_NaN()), Status::Code::kTrap, "invalid conversion"},
      {"trunc", f64(3e9), Status::Code::kTrap, "integer overflow"},  // out of range (the spec's kind)
      {"trunc_u64", f32(-1.0f), Status::Code::kTrap, "integer overflow"},
      {"trunc_u64", f32(std::numeric_limits<float>::infinity()), Status::Code::kTrap, "integer overflow"},
      {"indirect", U32(1), Status::Code::kTrap, "indirect call mismatch"},  // wrong signature
      {"indirect", U32(2), Status::Code::kTrap, "indirect call mismatch"},  // null entry
      {"indirect", U32(4), Status::Code::kTrap, "indirect call mismatch"},  // outside the table
      {"indirect", U32(0xFFFFFFFFu), Status::Code::kTrap, "indirect call mismatch"},
      {"forever", {}, Status::Code::kTrap, "call stack exhausted (call depth limit)"},
      {"recurse", U32(5000), Status::Code::kTrap, "call stack exhausted (call depth limit)"},
      {"spin", {}, Status::Code::kOutOfGas, "out of gas"},
  };
  uint32_t ok_count = 0;
  for (int round = 0; round < 2; ++round) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.fn) + "(" + ToHex(c.arg) + ")");
      CallReceipt r = session_->Call(id, c.fn, c.arg, 1'000'000);
      EXPECT_EQ(r.status.code(), c.code) << r.status.ToString();
      EXPECT_TRUE(std::string(r.status.message()).starts_with(c.prefix)) << r.status.ToString();
      EXPECT_TRUE(r.data.empty());
      EXPECT_GT(r.gas_spent, 0u);
      if (c.code == Status::Code::kOutOfGas) {
        EXPECT_EQ(r.gas_spent, 1'000'000u);
      }
      // The session and the module still work, and their state is intact.
      CallReceipt ok = session_->Call(id, "ok", {}, kGas);
      ASSERT_OK(ok.status);
      EXPECT_EQ(DecodeFixed32(ok.data.data()), ++ok_count);
    }
  }
  // A sane argument of the same functions works.
  CallReceipt r = session_->Call(id, "div_s", [] { Bytes b = U32(100); PutFixed32(&b, 7); return b; }(), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data.size(), 14u);  // 100 / 7 is the returned length
  EXPECT_EQ(session_->Call(id, "indirect", U32(0), kGas).status.code(), Status::Code::kOk);
  ASSERT_OK(session_->Commit());
}

TEST_F(AbiTest, TheDepthLimitFiresBeforeTheNativeStackEvenAtItsLargest) {
  // Calls run on a stack sized for the depth limit (stack_test.cc): even at
  // the largest limit Vm::Open accepts, unbounded recursion ends with the
  // deterministic depth-limit trap, never a native overflow.
  Open(/*depth=*/kMaxCallDepthLimit);
  const ModuleId id = Deploy(Contract(kTraps));
  CallReceipt r = session_->Call(id, "forever", {}, 1'000'000'000'000ull);
  EXPECT_EQ(r.status.code(), Status::Code::kTrap) << r.status.ToString();
  EXPECT_THAT(r.status.ToString(), HasSubstr("call stack exhausted (call depth limit)"));
  EXPECT_OK(session_->Call(id, "ok", {}, kGas).status);
  r = session_->Call(id, "recurse", U32(1000), kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed32(r.data.data()), 1000u);
}

// ---------------------------------------------------------------------------
// Gas and depth.

TEST_F(AbiTest, GasIsExactlyTheCostTable) {
  using namespace engine;  // NOLINT: cost constants
  const ModuleId id = Deploy(Contract(R"(
    (func (export "const") (param i32) (result i32) (i32.const 0))
    ;; straight line: local.get, i32.const, i32.add, i32.const, i32.store, i32.const
    (func (export "store") (param i32) (result i32)
      (i32.store (i32.add (local.get 0) (i32.const 16)) (i32.const 7)) (i32.const 0))
    ;; n iterations of: loop body segment [local.get, i32.const, i32.sub, local.tee, br_if] = 5
    (func (export "loop") (param i32) (result i32) (local $n i32)
      (local.set $n (i32.load (global.get $A)))
      (loop $l
        (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (i32.const 0))
    (func $callee (param i32) (result i32) (i32.div_u (local.get 0) (i32.const 3)))
    (func (export "call") (param i32) (result i32) (drop (call $callee (i32.const 9))) (i32.const 0))
    (func (export "grow") (param i32) (result i32) (drop (memory.grow (i32.load (global.get $A)))) (i32.const 0))
    (func (export "fill") (param i32) (result i32)
      (memory.fill (i32.const 0) (i32.const 0) (i32.load (global.get $A))) (i32.const 0))
  )"));
  auto spent = [&](const char* fn, const Bytes& arg) {
    CallReceipt r = session_->Call(id, fn, arg, kGas);
    EXPECT_OK(r.status);
    return r.gas_spent;
  };
  EXPECT_EQ(spent("const", {}), kCostDefault);
  // The store writes address 16 (page 0, outside A): one page-write charge.
  EXPECT_EQ(spent("store", {}), 5 * kCostDefault + kCostMemoryAccess + kPageWriteGas);
  // [global.get, i32.load, local.set, loop], n times the loop body, then [i32.const] after the loop.
  const uint64_t loop_entry = 3 * kCostDefault /* global.get, local.set, loop */ + kCostMemoryAccess;
  for (uint32_t n : {1u, 2u, 10u, 1000u}) {
    EXPECT_EQ(spent("loop", U32(n)), loop_entry + 5 * n + kCostDefault) << n;
  }
  // call: i32.const, call, drop, i32.const in the caller; local.get, i32.const, div in the callee.
  EXPECT_EQ(spent("call", {}), 3 * kCostDefault + kCostCall + 2 * kCostDefault + kCostDivide);
  // memory.grow: global.get, i32.load, memory.grow, drop, i32.const + 4096 per requested page.
  const uint64_t grow_static = 3 * kCostDefault + kCostMemoryAccess + kCostMemoryGrow;
  EXPECT_EQ(spent("grow", U32(0)), grow_static);
  EXPECT_EQ(spent("grow", U32(3)), grow_static + 3 * kCostMemoryGrowPerPage);
  EXPECT_EQ(spent("grow", U32(1000)), grow_static + 1000 * kCostMemoryGrowPerPage);  // fails, charged anyway
  // memory.fill: 3 operands (const, const, global.get + load), fill, const + 1 per 64 bytes.
  const uint64_t fill_static = 4 * kCostDefault + kCostMemoryAccess + kCostBulk;
  EXPECT_EQ(spent("fill", U32(0)), fill_static);  // writes nothing: no page charge
  // 6,463 bytes from 0: pages 0 and 1, two page-write charges.
  EXPECT_EQ(spent("fill", U32(64 * 100 + 63)), fill_static + 100 + 2 * kPageWriteGas);

  // Exhaustion is exact: the spent gas suffices, one less fails and charges the whole limit.
  for (uint32_t n : {1u, 7u, 500u}) {
    const uint64_t need = spent("loop", U32(n));
    CallReceipt ok = session_->Call(id, "loop", U32(n), need);
    EXPECT_OK(ok.status);
    EXPECT_EQ(ok.gas_spent, need);
    CallReceipt out = session_->Call(id, "loop", U32(n), need - 1);
    EXPECT_EQ(out.status.code(), Status::Code::kOutOfGas) << out.status.ToString();
    EXPECT_EQ(out.gas_spent, need - 1);
    EXPECT_EQ(out.gas_limit, need - 1);
  }
  const uint64_t grow_need = spent("grow", U32(0)) + 2 * kCostMemoryGrowPerPage;
  ASSERT_OK_AND_ASSIGN(uint64_t len_before, session_->state().MemoryLength(id));
  EXPECT_EQ(session_->Call(id, "grow", U32(2), grow_need - 1).status.code(), Status::Code::kOutOfGas);
  ASSERT_OK_AND_ASSIGN(uint64_t len_after, session_->state().MemoryLength(id));
  EXPECT_EQ(len_before, len_after);  // charged before growing: nothing grew
  // Zero gas: nothing runs.
  CallReceipt zero = session_->Call(id, "const", {}, 0);
  EXPECT_EQ(zero.status.code(), Status::Code::kOutOfGas);
  EXPECT_EQ(zero.gas_spent, 0u);
}

TEST_F(AbiTest, DepthLimitIsExact) {
  for (uint32_t depth : {3u, 50u, 1000u}) {
    SCOPED_TRACE(depth);
    Open(depth);
    const ModuleId id = Deploy(Contract(kTraps));
    // The export is one frame, $rec(n) makes n + 1 more.
    CallReceipt r = session_->Call(id, "recurse", U32(depth - 2), kGas);
    ASSERT_OK(r.status);
    EXPECT_EQ(DecodeFixed32(r.data.data()), depth - 2);
    r = session_->Call(id, "recurse", U32(depth - 1), kGas);
    EXPECT_EQ(r.status.code(), Status::Code::kTrap);
    EXPECT_THAT(r.status.ToString(), HasSubstr("call depth limit"));
    // The counter is reset for every call.
    for (int i = 0; i < 3; ++i) EXPECT_OK(session_->Call(id, "recurse", U32(depth - 2), kGas).status);
  }
}

// ---------------------------------------------------------------------------
// init.

TEST_F(AbiTest, InitRunsOnceWithItsArgumentAndGasLimit) {
  const std::string wat = Contract(R"(
    (global $calls (mut i32) (i32.const 0))
    (func (export "init") (param $len i32) (result i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (if (i32.eq (local.get $len) (i32.const 1)) (then (unreachable)))
      (memory.copy (i32.const 0) (global.get $A) (local.get $len))
      (i32.store (i32.const 100) (local.get $len))
      (i32.const 0))
    (func (export "get") (param i32) (result i32)
      (memory.copy (global.get $A) (i32.const 0) (i32.load (i32.const 100)))
      (i32.store (i32.add (global.get $A) (i32.load (i32.const 100))) (global.get $calls))
      (i32.add (i32.load (i32.const 100)) (i32.const 4))))");
  const ModuleId id = Deploy(wat, {.init_arg = Str("hello")});
  CallReceipt r = session_->Call(id, "get", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(r.data, (Bytes{'h', 'e', 'l', 'l', 'o', 1, 0, 0, 0}));  // init ran exactly once, with the argument
  for (int i = 0; i < 2; ++i) {
    CallReceipt again = session_->Call(id, "init", Str("x"), kGas);
    EXPECT_EQ(again.status.code(), Status::Code::kInvalidArgument);
    EXPECT_THAT(again.status.ToString(), HasSubstr("init"));
    EXPECT_EQ(again.gas_spent, 0u);
  }
  EXPECT_EQ(session_->Call(id, "get", {}, kGas).data, r.data);
  // After a commit, in a new session: still not callable, state kept.
  ASSERT_OK_AND_ASSIGN(Root root, session_->Commit());
  ASSERT_OK_AND_ASSIGN(auto next, vm_->StartSession(root));
  EXPECT_EQ(next->Call(id, "init", {}, kGas).status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(next->Call(id, "get", {}, kGas).data, r.data);
  next.reset();
  // A trapping init, or one out of its gas, deploys nothing; the id stays free.
  auto trapped = session_->Deploy(Wat(wat), {.nonce = 1, .init_arg = Bytes{1}});
  EXPECT_EQ(trapped.status().code(), Status::Code::kTrap) << trapped.status().ToString();
  auto starved = session_->Deploy(Wat(wat), {.nonce = 1, .init_arg = Str("ab"), .gas_limit = 5});
  EXPECT_EQ(starved.status().code(), Status::Code::kOutOfGas) << starved.status().ToString();
  EXPECT_EQ(session_->state().Modules().size(), 1u);
  ASSERT_OK_AND_ASSIGN(ModuleId later, session_->Deploy(Wat(wat), {.nonce = 1, .init_arg = Str("ab")}));
  EXPECT_EQ(session_->Call(later, "get", {}, kGas).data, (Bytes{'a', 'b', 1, 0, 0, 0}));
  // A module without init is callable at once.
  const ModuleId plain = Deploy(Contract("(func (export \"f\") (param i32) (result i32) (local.get 0))"));
  EXPECT_EQ(session_->Call(plain, "init", {}, kGas).status.code(), Status::Code::kInvalidArgument);
  EXPECT_OK(session_->Call(plain, "f", {}, kGas).status);
}

TEST_F(AbiTest, ModuleIdsAreDerivedAsDocumented) {
  const Bytes wasm = Wat(Contract("(func (export \"f\") (param i32) (result i32) (local.get 0))"));
  auto derive = [&](const Bytes& owner, uint64_t nonce) {
    Bytes buf = Str("crust-module-id-v1");
    PutHash(&buf, Sha256Of(wasm));
    PutFixed32(&buf, static_cast<uint32_t>(owner.size()));
    PutBytes(&buf, owner);
    PutFixed64(&buf, nonce);
    return Sha256Of(buf);
  };
  for (const auto& [owner, nonce] : std::vector<std::pair<Bytes, uint64_t>>{
           {{}, 0}, {{}, 1}, {Str("alice"), 0}, {Str("alice"), 0xFFFFFFFFFFFFFFFFull}, {Bytes(1024, 0xAA), 5}}) {
    ASSERT_OK_AND_ASSIGN(ModuleId id, session_->Deploy(wasm, {.owner = owner, .nonce = nonce}));
    EXPECT_EQ(id, derive(owner, nonce));
    ASSERT_OK_AND_ASSIGN(Bytes got_owner, session_->Owner(id));
    EXPECT_EQ(got_owner, owner);
  }
  EXPECT_EQ(session_->Deploy(wasm, {.owner = Bytes(1025, 1)}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(session_->Deploy(wasm, {.owner = Str("alice")}).status().code(), Status::Code::kAlreadyExists);
}

// ---------------------------------------------------------------------------
// Compiled-code cache through the VM.

std::vector<std::string> CachedObjects(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".so") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Bytes ReadAll(const std::string& path) {
  auto r = os::Env::Default()->ReadFile(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

void WriteAll(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good());
}

TEST_F(AbiTest, CompiledObjectsDeletedOrCorruptedAreRebuiltThroughTheVm) {
  TempDir cache;
  cache_dir_ = cache.path();
  Open();
  const ModuleId id = Deploy(Contract(R"(
    (global $n (mut i64) (i64.const 0))
    (func (export "inc") (param i32) (result i32)
      (global.set $n (i64.add (global.get $n) (i64.const 1)))
      (i64.store (global.get $A) (global.get $n)) (i32.const 8)))"));
  ASSERT_OK(session_->Call(id, "inc", {}, kGas).status);
  ASSERT_OK_AND_ASSIGN(Root root, session_->Commit());
  std::vector<std::string> objects = CachedObjects(cache.path());
  ASSERT_EQ(objects.size(), 1u);
  const std::string object = objects[0];
  const Bytes original = ReadAll(object);
  ASSERT_GT(original.size(), 64u);

  // Damage happens while no process has the object loaded (the cache never
  // writes a published object in place; overwriting a loaded shared object
  // would change code that is mapped and running).
  auto close = [&] {
    session_.reset();
    vm_.reset();
  };
  auto reopen_and_call = [&](const char* what) {
    SCOPED_TRACE(what);
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache.path();
    ASSERT_OK_AND_ASSIGN(vm_, Vm::Open(dir_.Sub("store"), o));  // a new Vm: nothing loaded yet
    ASSERT_OK_AND_ASSIGN(session_, vm_->StartSession(root));
    CallReceipt r = session_->Call(id, "inc", {}, kGas);
    ASSERT_OK(r.status);
    EXPECT_EQ(DecodeFixed64(r.data.data()), 2u);  // the committed count, plus this call
    ASSERT_TRUE(fs::exists(object));
    // Rebuilt and published: a complete object with a footer for the same key
    // (footer: magic 8 | version 4 | flags 4 | length 8 | key 32 | 2 CRCs).
    const Bytes rebuilt = ReadAll(object);
    ASSERT_GT(rebuilt.size(), 64u);
    const uint8_t* footer = rebuilt.data() + rebuilt.size() - 64;
    EXPECT_EQ(std::memcmp(footer, "CRUSTSO\1", 8), 0);
    EXPECT_EQ(DecodeFixed64(footer + 16), rebuilt.size() - 64);
    EXPECT_TRUE(std::equal(footer + 24, footer + 56, original.end() - 40));
    EXPECT_EQ(CachedObjects(cache.path()).size(), 1u);
    close();
  };
  close();
  // Deleted.
  ASSERT_TRUE(fs::remove(object));
  reopen_and_call("deleted");
  // Corrupted in the middle of the object.
  Bytes bad = ReadAll(object);
  for (size_t i = bad.size() / 2; i < bad.size() / 2 + 64; ++i) bad[i] ^= 0x5a;
  WriteAll(object, bad);
  reopen_and_call("corrupted");
  EXPECT_NE(ReadAll(object), bad);
  // Truncated.
  WriteAll(object, Bytes(original.begin(), original.begin() + original.size() / 3));
  reopen_and_call("truncated");
  // Footer damaged (wrong key).
  bad = ReadAll(object);
  bad[bad.size() - 30] ^= 1;
  WriteAll(object, bad);
  reopen_and_call("bad footer");
  // Empty file and garbage.
  WriteAll(object, {});
  reopen_and_call("empty");
  WriteAll(object, Str("this is not an ELF object at all, but long enough to have something like a footer......"));
  reopen_and_call("garbage");
  // The whole cache directory removed.
  fs::remove_all(cache.path());
  Open();
  EXPECT_EQ(CachedObjects(cache.path()).size(), 0u);
  ASSERT_OK_AND_ASSIGN(session_, vm_->StartSession(root));
  EXPECT_OK(session_->Call(id, "inc", {}, kGas).status);
  EXPECT_EQ(CachedObjects(cache.path()).size(), 1u);
}

// ---------------------------------------------------------------------------
// State: committed files, persisted globals and roots.

std::map<std::string, Hash32> TreeDigest(const std::string& dir) {
  std::map<std::string, Hash32> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    out[fs::relative(e.path(), dir).string()] = Sha256Of(ReadAll(e.path().string()));
  }
  return out;
}

constexpr char kStateful[] = R"(
  (global $count (mut i64) (i64.const 0))
  (global $other (mut i32) (i32.const 0))
  (func (export "inc") (param i32) (result i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (i64.store (global.get $A) (global.get $count)) (i32.const 8))
  (func (export "get") (param i32) (result i32)
    (i64.store (global.get $A) (global.get $count)) (i32.const 8))
  ;; changes the global only, writes no memory
  (func (export "inc_quiet") (param i32) (result i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1))) (i32.const 0))
  ;; changes nothing
  (func (export "nop") (param i32) (result i32) (drop (global.get $count)) (i32.const 0))
  (func (export "poke") (param i32) (result i32)
    (i64.store (i32.const 64) (global.get $count))
    (global.set $other (i32.add (global.get $other) (i32.const 1)))
    (i32.const 0))
  (func (export "grow") (param i32) (result i32)
    (i32.store (global.get $A) (memory.grow (i32.const 1))) (i32.const 4))
  (func (export "inc_then_trap") (param i32) (result i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1000))) (unreachable))
)";

TEST_F(AbiTest, SessionWritesOfEveryKindNeverReachCommittedFiles) {
  const ModuleId id = Deploy(Contract(kStateful));
  ASSERT_OK(session_->Call(id, "inc", {}, kGas).status);
  ASSERT_OK_AND_ASSIGN(Root root, session_->Commit());
  session_.reset();
  const std::string commit_dir = vm_->store().dir() + "/" + root.ToHex();
  ASSERT_TRUE(fs::is_directory(commit_dir)) << commit_dir;
  const auto before = TreeDigest(commit_dir);
  ASSERT_FALSE(before.empty());
  {
    ASSERT_OK_AND_ASSIGN(auto s, vm_->StartSession(root));
    for (int i = 0; i < 5; ++i) ASSERT_OK(s->Call(id, "inc", {}, kGas).status);  // globals (metadata)
    ASSERT_OK(s->Call(id, "poke", {}, kGas).status);                            // memory
    ASSERT_OK(s->Call(id, "grow", {}, kGas).status);                            // growth
    ASSERT_OK(s->state().WriteMemory(id, 65536 + 8, Bytes(100, 0xcc)));
    EXPECT_EQ(TreeDigest(commit_dir), before);
    // Committing publishes a new commit; the old one is still untouched.
    ASSERT_OK_AND_ASSIGN(Root next, s->Commit());
    EXPECT_NE(next, root);
    EXPECT_EQ(TreeDigest(commit_dir), before);
  }
  // A session dropped without committing left nothing behind either.
  {
    ASSERT_OK_AND_ASSIGN(auto s, vm_->StartSession(root));
    ASSERT_OK(s->Call(id, "grow", {}, kGas).status);
  }
  EXPECT_EQ(TreeDigest(commit_dir), before);
  ASSERT_OK_AND_ASSIGN(auto s, vm_->StartSession(root));
  CallReceipt r = s->Call(id, "get", {}, kGas);
  ASSERT_OK(r.status);
  EXPECT_EQ(DecodeFixed64(r.data.data()), 1u);
  ASSERT_OK(vm_->store().VerifyCommit(root));
}

// A failed call leaves its module's globals in the instance as they were when
// it failed (vm_call.cc saves and restores them only for re-entered
// instances): the next call must see the saved values, not those.
TEST_F(AbiTest, NextCallAfterAFailedOneSeesTheSavedGlobals) {
  const ModuleId id = Deploy(Contract(kStateful));
  for (int i = 0; i < 2; ++i) ASSERT_OK(session_->Call(id, "inc_quiet", {}, kGas).status);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(session_->Call(id, "inc_then_trap", {}, kGas).status.code(), Status::Code::kTrap);
  }
  CallReceipt g = session_->Call(id, "get", {}, kGas);
  ASSERT_OK(g.status);
  EXPECT_EQ(DecodeFixed64(g.data.data()), 2u);
  ASSERT_OK(session_->Call(id, "inc_quiet", {}, kGas).status);
  g = session_->Call(id, "get", {}, kGas);
  ASSERT_OK(g.status);
  EXPECT_EQ(DecodeFixed64(g.data.data()), 3u);
}

// Each loaded module remembers its last function lookup (vm_call.cc,
// Execute): alternating functions of one module, and the same function of
// two modules, still call what each request names.
TEST_F(AbiTest, AlternatingFunctionsAndModulesCallWhatTheyName) {
  const ModuleId a = Deploy(Contract(kStateful));
  const ModuleId b = Deploy(Contract(kStateful), {.nonce = 1});
  auto get = [&](const ModuleId& id) {
    CallReceipt r = session_->Call(id, "get", {}, kGas);
    EXPECT_OK(r.status);
    return r.data.size() == 8 ? DecodeFixed64(r.data.data()) : ~uint64_t{0};
  };
  for (uint64_t i = 1; i <= 3; ++i) {
    ASSERT_OK(session_->Call(a, "inc_quiet", {}, kGas).status);
    EXPECT_EQ(get(a), i);
    EXPECT_EQ(get(b), i - 1);
    ASSERT_OK(session_->Call(b, "inc_quiet", {}, kGas).status);
    EXPECT_EQ(get(b), i);
  }
  EXPECT_TRUE(session_->Call(a, "no_such_function", {}, kGas).status.IsNotFound());
  EXPECT_EQ(get(a), 3u);
  EXPECT_TRUE(session_->Call(a, "no_such_function", {}, kGas).status.IsNotFound());
}

// An embedder removes a loaded module through state() behind the VM's back:
// the VM forgets it (its instance mapped a memory the session no longer
// has) instead of touching that memory again; other modules keep working,
// and the removed one is not found.
TEST_F(AbiTest, AModuleRemovedThroughStateIsForgotten) {
  const ModuleId a = Deploy(Contract(kStateful));
  const ModuleId b = Deploy(Contract(kStateful), {.nonce = 1});
  ASSERT_NE(a, b);
  ASSERT_OK(session_->Call(a, "inc_quiet", {}, kGas).status);
  ASSERT_OK(session_->Call(b, "inc_quiet", {}, kGas).status);
  ASSERT_OK(session_->state().RemoveModule(a));
  for (int i = 0; i < 3; ++i) ASSERT_OK(session_->Call(b, "inc_quiet", {}, kGas).status);
  CallReceipt g = session_->Call(b, "get", {}, kGas);
  ASSERT_OK(g.status);
  EXPECT_EQ(DecodeFixed64(g.data.data()), 4u);
  EXPECT_TRUE(session_->Call(a, "get", {}, kGas).status.IsNotFound());
  ASSERT_OK(session_->Commit().status());
}

TEST_F(AbiTest, MutableGlobalsPersistAcrossCommitsAndSessionsAndMoveTheRoot) {
  const ModuleId id = Deploy(Contract(kStateful));
  ASSERT_OK_AND_ASSIGN(Root r0, session_->CurrentRoot());
  std::vector<Root> roots = {r0};
  std::vector<Root> commits;
  uint64_t expect = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK(session_->Call(id, "inc_quiet", {}, kGas).status);
      ++expect;
      // Only the global changed (no memory write): the root moves anyway.
      ASSERT_OK_AND_ASSIGN(Root now, session_->CurrentRoot());
      EXPECT_EQ(std::count(roots.begin(), roots.end(), now), 0) << "root did not change after increment " << expect;
      roots.push_back(now);
    }
    // A failed call persists no global: the root stays.
    EXPECT_EQ(session_->Call(id, "inc_then_trap", {}, kGas).status.code(), Status::Code::kTrap);
    ASSERT_OK_AND_ASSIGN(Root after_trap, session_->CurrentRoot());
    EXPECT_EQ(after_trap, roots.back());
    // A call that leaves every global as it was does not move the root either.
    ASSERT_OK(session_->Call(id, "nop", {}, kGas).status);
    ASSERT_OK_AND_ASSIGN(Root after_nop, session_->CurrentRoot());
    EXPECT_EQ(after_nop, roots.back());
    ASSERT_OK_AND_ASSIGN(Root committed, session_->Commit());
    EXPECT_EQ(committed, roots.back());
    commits.push_back(committed);
    // A new session from the commit continues counting.
    session_.reset();
    ASSERT_OK_AND_ASSIGN(session_, vm_->StartSession(committed));
    CallReceipt g = session_->Call(id, "get", {}, kGas);
    ASSERT_OK(g.status);
    EXPECT_EQ(DecodeFixed64(g.data.data()), expect);
    ASSERT_OK(vm_->store().VerifyCommit(committed));
  }
  EXPECT_EQ(expect, 12u);
  // Replaying the increments from the first commit in two sessions gives
  // identical roots, equal to the root of the session that counted to 12 and
  // then called get (same memory, same globals).
  ASSERT_OK_AND_ASSIGN(Root twelve, session_->CurrentRoot());
  ASSERT_OK_AND_ASSIGN(auto a, vm_->StartSession(commits[0]));
  ASSERT_OK_AND_ASSIGN(auto b, vm_->StartSession(commits[0]));
  for (auto* s : {a.get(), b.get()}) {
    for (int i = 0; i < 9; ++i) ASSERT_OK(s->Call(id, "inc_quiet", {}, kGas).status);
    CallReceipt g = s->Call(id, "get", {}, kGas);
    ASSERT_OK(g.status);
    EXPECT_EQ(DecodeFixed64(g.data.data()), 12u);
  }
  ASSERT_OK_AND_ASSIGN(Root ra, a->CurrentRoot());
  ASSERT_OK_AND_ASSIGN(Root rb, b->CurrentRoot());
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra, twelve);
}

}  // namespace
}  // namespace crust
