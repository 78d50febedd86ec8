// Copyright (c) crust authors. Licensed under the MIT license.
//
// memory64/table64 lowering: the lowered module computes what the original
// does (wabt's interpreter runs both: it implements memory64 itself), out of
// bounds 64-bit addresses still trap, and piecrust's wasm64 fixtures prepare.
#include "src/engine/prepare/lower64.h"

#include <gtest/gtest.h>

#include <string>

#include "src/testing/interp_backend.h"
#include "src/testing/interp_oracle.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/validate.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "tests/test_util.h"
#include "wabt/binary-writer.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace crust::engine {
namespace {

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

Bytes Encode(const wabt::Module& m) {
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions options(DecodeFeatures(), true, false, false);
  EXPECT_TRUE(wabt::Succeeded(wabt::WriteBinaryModule(&stream, &m, options)));
  const auto& d = stream.output_buffer().data;
  return Bytes(d.begin(), d.end());
}

// WAT -> wasm without validation (wabt's text parser knows no table64: tests
// write a 32-bit table with i64 operands and flip its limits flag).
Bytes WatUnchecked(std::string_view wat) {
  wabt::Errors errors;
  auto lexer = wabt::WastLexer::CreateBufferLexer("t.wat", wat.data(), wat.size(), &errors);
  std::unique_ptr<wabt::Module> module;
  wabt::WastParseOptions options(DecodeFeatures());
  EXPECT_TRUE(wabt::Succeeded(wabt::ParseWatModule(lexer.get(), &module, &errors, &options)))
      << (errors.empty() ? "" : errors[0].message);
  return module ? Encode(*module) : Bytes{};
}

// Sets the 64-bit flag on the first table of the table section.
void MakeFirstTable64(Bytes* wasm) {
  size_t p = 8;
  while (p < wasm->size()) {
    const uint8_t id = (*wasm)[p++];
    uint32_t size = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = (*wasm)[p++];
      size |= uint32_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) break;
    }
    if (id == 4) {
      // count (1 byte), reftype, flags
      (*wasm)[p + 2] |= 4;
      return;
    }
    p += size;
  }
  ADD_FAILURE() << "no table section";
}

// Decodes (table64 rewrite included) and lowers memory64, without the
// instrumentation: the module the interpreter compares with the original.
Bytes LowerOnly(ByteView wasm) {
  Result<std::unique_ptr<wabt::Module>> m = DecodeModule(wasm);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return {};
  Status st = LowerMemory64(m->get());
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(HasMemory64(**m));
  Bytes out = Encode(**m);
  EXPECT_TRUE(DecodeModule(out).ok()) << "lowered module does not validate";
  return out;
}

struct CallResult {
  bool ok;
  uint32_t ret;
  std::string trap;
};

class Interp {
 public:
  explicit Interp(ByteView wasm) {
    std::string error;
    backend_ = internal::InterpBackend::Load(wasm.data(), wasm.size(), &error);
    EXPECT_NE(backend_, nullptr) << error;
    if (backend_) {
      EXPECT_TRUE(backend_->Instantiate([](size_t, const std::vector<uint64_t>&, std::vector<uint64_t>*) { return false; },
                                        &error))
          << error;
    }
  }
  CallResult Call(const std::string& fn, uint32_t arg) {
    CallResult r{};
    std::string trap;
    r.ok = backend_->CallI32(fn, arg, &r.ret, &trap);
    if (!r.ok) r.trap = trap;
    return r;
  }

 private:
  std::unique_ptr<internal::InterpBackend> backend_;
};

// Each function takes a selector and returns an i32 summarising the result.
constexpr char kMemory64[] = R"(
(module
  (memory (export "memory") i64 2 4)
  (data (i64.const 100) "abcdefgh")
  (data $p "passive")
  (global $big (mut i64) (i64.const 0x100000000))
  (func $addr (param $s i32) (result i64)
    (block $d5
      (block $d4
        (block $d3
          (block $d2
            (block $d1
              (block $d0 (br_table $d0 $d1 $d2 $d3 $d4 $d5 (local.get $s)))
              (return (i64.const 100)))
            (return (i64.const 131064)))
          (return (i64.const 131065)))
        (return (global.get $big)))
      (return (i64.const 0x100000064)))
    (i64.const -8))
  (func (export "load") (param $s i32) (result i32)
    (i32.wrap_i64 (i64.load (call $addr (local.get $s)))))
  (func (export "load_off") (param $s i32) (result i32)
    (i32.load offset=4 (call $addr (local.get $s))))
  (func (export "load_off_big") (param $s i32) (result i32)
    (i32.load offset=0xfffffff0 (call $addr (local.get $s))))
  (func (export "store") (param $s i32) (result i32)
    (i64.store (call $addr (local.get $s)) (i64.const 0x1122334455667788))
    (i32.load (call $addr (local.get $s))))
  (func (export "store8_off") (param $s i32) (result i32)
    (i32.store8 offset=7 (call $addr (local.get $s)) (i32.const 0x5a))
    (i32.load8_u offset=7 (call $addr (local.get $s))))
  (func (export "fstore") (param $s i32) (result i32)
    (f64.store (call $addr (local.get $s)) (f64.const 1.5))
    (i32.trunc_f64_s (f64.load (call $addr (local.get $s)))))
  (func (export "size") (param $s i32) (result i32)
    (i32.wrap_i64 (i64.add (memory.size) (i64.const 0x100000000))))
  (func (export "grow") (param $s i32) (result i32)
    (local $r i64)
    (local.set $r (memory.grow
      (if (result i64) (i32.eqz (local.get $s)) (then (i64.const 1))
        (else (if (result i64) (i32.eq (local.get $s) (i32.const 1)) (then (i64.const 0x100000001))
          (else (i64.const 100)))))))
    (if (result i32) (i64.eq (local.get $r) (i64.const -1)) (then (i32.const -7))
      (else (i32.wrap_i64 (local.get $r)))))
  (func (export "fill") (param $s i32) (result i32)
    (memory.fill (call $addr (local.get $s)) (i32.const 0x77) (i64.const 3))
    (i32.load8_u (i64.const 101)))
  (func (export "fill_len") (param $s i32) (result i32)
    (memory.fill (i64.const 0) (i32.const 1) (i64.add (global.get $big) (i64.extend_i32_u (local.get $s))))
    (i32.const 1))
  (func (export "copy") (param $s i32) (result i32)
    (memory.copy (call $addr (local.get $s)) (i64.const 100) (i64.const 4))
    (memory.copy (i64.const 200) (call $addr (local.get $s)) (i64.const 4))
    (i32.load (i64.const 200)))
  (func (export "init") (param $s i32) (result i32)
    (memory.init $p (call $addr (local.get $s)) (i32.const 1) (i32.const 3))
    (i32.load (call $addr (local.get $s))))
))";

TEST(Lower64Test, LoweredMemoryComputesWhatTheOriginalDoes) {
  ASSERT_OK_AND_ASSIGN(Bytes original, WatToWasm(kMemory64));
  const Bytes lowered = LowerOnly(original);
  int traps = 0;
  for (const char* fn : {"load", "load_off", "load_off_big", "store", "store8_off", "fstore", "size", "grow",
                         "fill", "fill_len", "copy", "init"}) {
    for (uint32_t s = 0; s < 6; ++s) {
      // Fresh instances per call: every call starts from the initial state.
      Interp a(original), b(lowered);
      const CallResult x = a.Call(fn, s), y = b.Call(fn, s);
      SCOPED_TRACE(std::string(fn) + "(" + std::to_string(s) + ")");
      EXPECT_EQ(x.ok, y.ok) << "original: " << x.trap << " lowered: " << y.trap;
      if (x.ok && y.ok) {
        EXPECT_EQ(x.ret, y.ret);
      }
      if (!x.ok && !y.ok) {
        EXPECT_EQ(CanonicalTrapKind(x.trap), CanonicalTrapKind(y.trap)) << x.trap << " vs " << y.trap;
        ++traps;
      }
    }
  }
  EXPECT_GE(traps, 20);  // addresses >= 2^32 and -8 trap in both
}

TEST(Lower64Test, Table64IndexAbove32BitsTraps) {
  Bytes wasm = WatUnchecked(R"(
(module
  (type $t (func (result i32)))
  (table 3 funcref)
  (elem (i64.const 1) $seven $nine)
  (func $seven (result i32) (i32.const 7))
  (func $nine (result i32) (i32.const 9))
  (func (export "call") (param $i i32) (result i32)
    (call_indirect 0 (type $t) (i64.extend_i32_u (local.get $i))))
  (func (export "call_high") (param $i i32) (result i32)
    (call_indirect 0 (type $t) (i64.add (i64.const 0x100000000) (i64.extend_i32_u (local.get $i)))))
  (func (export "size") (param $i i32) (result i32)
    (i32.wrap_i64 (i64.shr_u (i64.add (table.size 0) (i64.const 0x500000000)) (i64.const 32))))
))");
  MakeFirstTable64(&wasm);
  ASSERT_OK_AND_ASSIGN(std::optional<Table64Rewrite> rw, RewriteTable64Limits(wasm));
  ASSERT_TRUE(rw.has_value());
  EXPECT_EQ(rw->tables, std::vector<uint32_t>{0});
  Interp lowered(LowerOnly(wasm));
  EXPECT_EQ(lowered.Call("call", 1).ret, 7u);
  EXPECT_EQ(lowered.Call("call", 2).ret, 9u);
  EXPECT_FALSE(lowered.Call("call", 0).ok);  // null element
  EXPECT_FALSE(lowered.Call("call", 3).ok);  // out of bounds
  // 2^32 + 1 must not wrap to 1.
  CallResult high = lowered.Call("call_high", 1);
  EXPECT_FALSE(high.ok);
  EXPECT_EQ(lowered.Call("size", 0).ret, 5u);  // table.size zero-extended to i64
}

TEST(Lower64Test, Table64MutationIsNotSupported) {
  Bytes wasm = WatUnchecked(R"(
(module
  (table 3 funcref)
  (func (export "f") (param $i i32) (result i32)
    (drop (table.grow 0 (ref.null func) (i64.const 1))) (i32.const 0))
))");
  MakeFirstTable64(&wasm);
  Result<std::unique_ptr<wabt::Module>> m = DecodeModule(wasm);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kNotSupported) << m.status().ToString();
  EXPECT_NE(m.status().message().find("table64: table.grow"), std::string::npos) << m.status().ToString();
}

TEST(Lower64Test, InstrumentationChargesLoweredAndUnloweredAlike) {
  // The same computation on a 32-bit and a 64-bit memory costs the same gas:
  // the clamps the lowering inserts are free.
  auto module = [](const char* idx, const char* addr) {
    return std::string("(module (memory (export \"memory\") ") + idx + " 2)\n" +
           "(global (export \"A\") " + idx + " (" + idx + ".const 0))\n" +
           "(func (export \"f\") (param i32) (result i32)\n" +
           "  (i32.store (" + addr + " 8) (i32.const 5))\n" +
           "  (memory.fill (" + addr + " 16) (i32.const 1) (" + addr + " 100))\n" +
           "  (drop (memory.grow (" + addr + " 1)))\n" +
           "  (i32.load (" + addr + " 8))))";
  };
  ASSERT_OK_AND_ASSIGN(Bytes w32, WatToWasm(module("i32", "i32.const")));
  ASSERT_OK_AND_ASSIGN(Bytes w64, WatToWasm(module("i64", "i64.const")));
  ASSERT_OK_AND_ASSIGN(PreparedModule p32, PrepareModule(w32));
  ASSERT_OK_AND_ASSIGN(PreparedModule p64, PrepareModule(w64));
  uint64_t gas[2];
  int i = 0;
  for (const PreparedModule* p : {&p32, &p64}) {
    std::string error;
    auto b = internal::InterpBackend::Load(p->wasm.data(), p->wasm.size(), &error);
    ASSERT_NE(b, nullptr) << error;
    ASSERT_TRUE(b->Instantiate([](size_t, const std::vector<uint64_t>&, std::vector<uint64_t>*) { return false; },
                               &error));
    ASSERT_TRUE(b->SetGlobal(std::string(kGasGlobal), 1'000'000));
    ASSERT_TRUE(b->SetGlobal(std::string(kDepthGlobal), 100));
    uint32_t ret = 0;
    std::string trap;
    ASSERT_TRUE(b->CallI32("f", 0, &ret, &trap)) << trap;
    EXPECT_EQ(ret, 5u);
    uint64_t left = 0;
    ASSERT_TRUE(b->GetGlobal(std::string(kGasGlobal), &left));
    gas[i++] = 1'000'000 - left;
  }
  EXPECT_EQ(gas[0], gas[1]);
  EXPECT_GT(gas[0], 4096u);  // memory.grow's per-page charge reached the i64 helper
}

TEST(Lower64Test, PiecrustWasm64FixturesPrepare) {
  const Bytes c_example = Fixture("c_example.wasm");
  ASSERT_FALSE(c_example.empty());
  ASSERT_OK_AND_ASSIGN(PreparedModule c, PrepareModule(c_example));
  EXPECT_EQ(c.arg_buffer, 65555u);
  EXPECT_EQ(c.functions, (std::vector<std::string>{"increment_and_read", "not_out_of_bounds", "out_of_bounds"}));
  EXPECT_EQ(c.host_imports, (std::vector<std::string>{"c", "hd"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wabt::Module> out, DecodeModule(c.wasm));
  EXPECT_FALSE(HasMemory64(*out));
  // Host imports keep their 64-bit pointer parameters.
  EXPECT_EQ(out->funcs[1]->decl.sig.param_types, (wabt::TypeVector{wabt::Type::I64, wabt::Type::I32}));

  const Bytes transfer = Fixture("transfer_contract.wasm");
  ASSERT_FALSE(transfer.empty());
  ASSERT_OK_AND_ASSIGN(PreparedModule t, PrepareModule(transfer));
  for (const char* fn : {"num_notes", "root", "chain_id"}) {
    EXPECT_TRUE(std::binary_search(t.functions.begin(), t.functions.end(), fn)) << fn;
  }
}

TEST(Lower64Test, RejectsWhatItCannotLower) {
  // A 32-bit import form in a memory64 module.
  auto r = PrepareModule(*WatToWasm(R"((module
    (import "env" "hd" (func (param i32 i32) (result i32)))
    (memory (export "memory") i64 2) (global (export "A") i64 (i64.const 0))))"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("64-bit form"), std::string::npos) << r.status().ToString();
  // A of type i32 with a 64-bit memory.
  r = PrepareModule(*WatToWasm(R"((module (memory (export "memory") i64 2) (global (export "A") i32 (i32.const 0))))"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("immutable i64 global"), std::string::npos) << r.status().ToString();
  // An initial size beyond what a lowered memory holds.
  r = PrepareModule(*WatToWasm(R"((module (memory i64 70000)))"), PrepareOptions{.abi = Abi::kNone, .max_initial_pages = 100000});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotSupported) << r.status().ToString();
  EXPECT_NE(r.status().message().find("memory64"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace crust::engine
