// Copyright (c) crust authors. Licensed under the MIT license.
//
// Which loops get a barrier-free copy for stores in bounded ranges
// (range_loops.h): each function of the module below holds one loop (or one
// nest); the test reads which got a copy from the generated C. Results, gas
// and memory are compared with the interpreter in EquivalenceTest.RangeLoops.
#include "src/engine/compile/range_loops.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

constexpr char kLoops[] = R"((module
  (memory 2)
  (func $id (param i32) (result i32) (local.get 0))
  ;; 0: interp's shape: a dispatch by br_table, registers at $r + 4 * byte, a table at 4096 + 4 * (x & 255)
  (func (export "dispatch") (param $r i32) (param $pc i32) (local $n i32) (local $x i32)
    (block $exit (loop $l
      (block $next (block $b (block $a
        (br_table $a $b $exit (i32.load8_u (local.get $pc))))
        (i32.store (i32.add (local.get $r) (i32.shl (i32.load8_u offset=1 (local.get $pc)) (i32.const 2)))
                   (local.get $n))
        (br $next))
        (local.set $x (i32.load (local.get $pc)))
        (i32.store offset=4096 (i32.shl (i32.and (local.get $x) (i32.const 255)) (i32.const 2)) (local.get $n)))
      (local.set $pc (i32.add (local.get $pc) (i32.const 4)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
  ;; 1: a local set on both arms of an if (joined), then the address; a nested loop writing another local
  (func (export "joined") (param $p i32) (local $t i32) (local $i i32)
    (loop $l
      (if (local.get $i)
        (then (local.set $t (i32.load8_u (local.get $i))))
        (else (local.set $t (i32.const 7))))
      (loop $in
        (if (local.get $i) (then (nop)))
        (br_if $in (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
      (i32.store16 offset=2 (i32.add (local.get $p) (local.get $t)) (local.get $i))
      (br $l)))
  ;; 2: an interval that can wrap (-16 + a byte)
  (func (export "wrap") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.add (i32.const -16) (i32.load8_u (local.get $i)))) (local.get $i))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 3: a shift that can pass 2^32
  (func (export "shifted") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.shl (i32.load16_u (local.get $i)) (i32.const 17))) (local.get $i))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 4: the base reassigned in the loop
  (func (export "moved") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.load8_u (local.get $i))) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 5: a call in the loop
  (func (export "call") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.load8_u (local.get $i))) (call $id (local.get $i)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 6: memory.grow in the loop
  (func (export "grow") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.load8_u (local.get $i))) (memory.grow (i32.const 0)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 7: a span of 64 KiB (too many pages)
  (func (export "pages") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.load16_u (local.get $i))) (local.get $i))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 8: an address loaded from memory
  (func (export "loaded") (param $p i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.load (local.get $i)) (local.get $i))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 9: a local read before it is set in the iteration (its value from the previous one, or from before)
  (func (export "carried") (param $p i32) (local $i i32) (local $t i32)
    (loop $l
      (i32.store8 (i32.add (local.get $p) (local.get $t)) (local.get $i))
      (local.set $t (i32.load8_u (local.get $i)))
      (br_if $l (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 10: two bases (a nest; the inner loop is not counted: an if) -> the outer loop
  (func (export "nest") (param $p i32) (param $q i32) (local $i i32) (local $j i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (if (local.get $j) (then (i32.store8 (i32.add (local.get $q) (i32.and (local.get $j) (i32.const 63))) (local.get $j))))
        (br_if $inner (local.tee $j (i32.add (local.get $j) (i32.const 1)))))
      (i64.store (i32.add (local.get $p) (i32.shl (i32.and (local.get $i) (i32.const 7)) (i32.const 3))) (i64.const 0))
      (br_if $outer (local.tee $i (i32.add (local.get $i) (i32.const 1))))))
  ;; 11: a counted loop (fill's shape): versioned as such, not as a range loop
  (func (export "counted") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i64.store (local.get $p) (i64.extend_i32_u (local.get $i)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 12: a loop ending with its exit, not its back-edge
  (func (export "tail") (param $p i32) (local $i i32)
    (block $done (loop $l
      (i32.store8 (i32.add (local.get $p) (i32.load8_u (local.get $i))) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i))
      (br $done))))
))";

constexpr const char* kNames[] = {"dispatch", "joined", "wrap",   "shifted", "moved",   "call", "grow",
                                  "pages",    "loaded", "carried", "nest",   "counted", "tail"};

// The exported functions whose C holds `marker` (functions appear in module
// order, $id first).
std::set<std::string> With(const std::string& c, const std::string& marker) {
  std::set<std::string> out;
  size_t at = c.find("FUNC_PROLOGUE;\n");
  at = c.find("FUNC_PROLOGUE;\n", at + 1);  // skip $id
  for (const char* name : kNames) {
    if (at == std::string::npos) break;
    const size_t next = c.find("FUNC_PROLOGUE;\n", at + 1);
    const size_t hit = c.find(marker, at);
    if (hit != std::string::npos && hit < next) out.insert(name);
    at = next;
  }
  return out;
}

size_t Count(const std::string& c, const std::string& s) {
  size_t n = 0;
  for (size_t at = c.find(s); at != std::string::npos; at = c.find(s, at + 1)) ++n;
  return n;
}

TEST(RangeLoopsTest, VersionsBoundedLoopsOnly) {
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(kLoops));
  PrepareOptions po;
  po.abi = Abi::kNone;
  ASSERT_OK_AND_ASSIGN(PreparedModule p, PrepareModule(wasm, po));
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(p.wasm, /*write_barrier=*/true));
  EXPECT_EQ(With(with.c, "_crust_rf: "), (std::set<std::string>{"dispatch", "joined", "nest"}));
  EXPECT_EQ(With(with.c, "_crust_fast: "), (std::set<std::string>{"counted"}));
  // The spans checked at entry: dispatch's registers and table, nest's two bases (one copy: the outer loop).
  EXPECT_NE(with.c.find("crust_noted_end((u64)w2c_p0 + 0x0ull, (u64)w2c_p0 + 0x400ull, "), std::string::npos);
  EXPECT_NE(with.c.find("crust_noted_end((u64)0 + 0x1000ull, (u64)0 + 0x1400ull, "), std::string::npos);
  EXPECT_NE(with.c.find("crust_noted_end((u64)w2c_p0 + 0x2ull, (u64)w2c_p0 + 0x103ull, "), std::string::npos);
  EXPECT_NE(with.c.find("crust_noted_end((u64)w2c_p0 + 0x0ull, (u64)w2c_p0 + 0x40ull, "), std::string::npos);
  EXPECT_NE(with.c.find("crust_noted_end((u64)w2c_p1 + 0x0ull, (u64)w2c_p1 + 0x40ull, "), std::string::npos);
  EXPECT_EQ(Count(with.c, "u64 crust_rend0_ = crust_noted_end("), 3u);
  // The copy: its labels and the jumps to them renamed, its stores checked against the noted prefix's end
  // (else on to the same store in the original, behind a label); exits unchanged.
  const size_t copy = with.c.find("u64 crust_rend0_ = crust_noted_end((u64)0 + 0x1000ull");
  ASSERT_NE(copy, std::string::npos);
  const size_t orig = with.c.find("} else {", copy);
  ASSERT_NE(orig, std::string::npos);
  const std::string fast = with.c.substr(copy, orig - copy);
  EXPECT_EQ(Count(fast, "CRUST_RC_i32_store(crust_rend0_, w2c_L"), 1u) << fast;
  EXPECT_EQ(Count(fast, "CRUST_RC_i32_store(crust_rend1_, w2c_L"), 1u) << fast;
  EXPECT_EQ(Count(fast, " i32_store("), 0u) << fast;
  const size_t resume = fast.find("_crust_s");
  ASSERT_NE(resume, std::string::npos) << fast;
  const std::string label = fast.substr(fast.rfind(' ', resume) + 1, fast.find(',', resume) - fast.rfind(' ', resume) - 1);
  EXPECT_NE(with.c.find(label + ":;\n", orig), std::string::npos) << label;
  EXPECT_NE(fast.find("crust_gas_"), std::string::npos) << fast;  // gas lines stay
  EXPECT_NE(fast.find("_crust_rf;"), std::string::npos) << fast;
  // br_table's exit: the block around the loop, the same label in both copies.
  const size_t exit = fast.find("default: goto ");
  ASSERT_NE(exit, std::string::npos) << fast;
  const std::string exit_line = fast.substr(exit, fast.find('\n', exit) - exit);
  EXPECT_EQ(exit_line.find("_crust_rf"), std::string::npos) << exit_line;
  EXPECT_NE(with.c.find(exit_line, orig), std::string::npos) << exit_line;
  // Without the write barrier there is nothing to drop.
  ASSERT_OK_AND_ASSIGN(CSource without, TranslateToC(p.wasm, /*write_barrier=*/false));
  EXPECT_TRUE(With(without.c, "_crust_rf: ").empty());
}

// Deeply nested loops, each failing the analysis (a call at the bottom):
// the analyses of the levels stay within the module's budget, and the module
// still translates.
TEST(RangeLoopsTest, DeepNestWithinBudget) {
  constexpr int kDepth = 200;
  std::string wat = "(module (memory 1) (func $id (param i32) (result i32) (local.get 0))"
                    " (func (export \"f\") (param $p i32) (local $i i32)";
  for (int k = 0; k < kDepth; ++k) wat += " (loop $l" + std::to_string(k);
  wat += " (i32.store8 (i32.add (local.get $p) (i32.load8_u (local.get $i))) (call $id (local.get $i)))";
  for (int k = kDepth; k-- > 0;) wat += " (br_if $l" + std::to_string(k) + " (local.get $i)))";
  wat += "))";
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(wat));
  PrepareOptions po;
  po.abi = Abi::kNone;
  ASSERT_OK_AND_ASSIGN(PreparedModule p, PrepareModule(wasm, po));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(p.wasm, /*write_barrier=*/true));
  EXPECT_EQ(c.c.find("_crust_rf: "), std::string::npos);
}

}  // namespace
}  // namespace crust::engine
