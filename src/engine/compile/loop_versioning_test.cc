// Copyright (c) crust authors. Licensed under the MIT license.
//
// Which loops the translator versions (loop_versioning.h): each function of
// the module below holds one innermost loop; the test reads which loops got
// a fast copy from the generated C. Results, gas and memory of versioned
// loops are compared with the interpreter in EquivalenceTest.CountedLoops.
#include "src/engine/compile/loop_versioning.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/validate.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

// Loop labels are named after their function's export so the fast copies
// can be told apart: each function stores its export index into $tag first.
constexpr char kLoops[] = R"((module
  (memory 2)
  (global $g (mut i32) (i32.const 0))
  (func $id (param i32) (result i32) (local.get 0))
  ;; 0: fill's shape: a pointer stepped by 8, an i32 counter tested against an unwritten local
  (func (export "fill") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i64.store (local.get $p) (i64.extend_i32_u (local.get $i)))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 1: matmul's shape: base + j, two read-modify-writes, i64 counter against a constant
  (func (export "pairs") (param $a i32) (param $b i32) (local $j i32) (local $q i32) (local $k i64)
    (loop $l
      (i32.store (local.tee $q (i32.add (local.get $a) (local.get $j)))
                 (i32.add (i32.load (local.get $q)) (i32.load (i32.add (local.get $b) (local.get $j)))))
      (i32.store offset=4 (local.get $q) (i32.const 0))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br_if $l (i64.ne (local.tee $k (i64.add (local.get $k) (i64.const 2))) (i64.const 100)))))
  ;; 2: counting down to zero, negative step, the test a bare br_if
  (func (export "down") (param $p i32) (param $n i32)
    (loop $l
      (i32.store8 (local.get $p) (local.get $n))
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (br_if $l (local.tee $n (i32.add (local.get $n) (i32.const -1))))))
  ;; 3: a call in the body
  (func (export "call") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (call $id (local.get $i)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 4: a division (may trap)
  (func (export "div") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (i32.div_u (i32.const 7) (local.get $n)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 5: a bound the body changes
  (func (export "moving") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $n)))))
  ;; 6: a store through an address loaded from memory (not affine)
  (func (export "indirect") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (i32.load (local.get $p)) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 7: an inner branch (an if)
  (func (export "branch") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (if (local.get $i) (then (i32.store (local.get $p) (local.get $i))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 8: a scaled address (i * 4: not followed)
  (func (export "scaled") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 9: an lt_u test (not followed)
  (func (export "less") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 10: a store stepping more than a page per iteration
  (func (export "stride") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 8192)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 11: a global.set in the body
  (func (export "global") (param $p i32) (param $n i32) (local $i i32)
    (loop $l
      (global.set $g (local.get $i))
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 12: a temporary read before it is set (its value comes from the previous iteration)
  (func (export "carried") (param $p i32) (param $n i32) (local $i i32) (local $t i32)
    (loop $l
      (i32.store (local.get $t) (local.get $i))
      (local.set $t (i32.load (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  ;; 13: a loop with a block-style exit (test at the top): not the rotated shape
  (func (export "top") (param $p i32) (param $n i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.eq (local.get $i) (local.get $n)))
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
))";

// The exported functions whose loop got a fast copy.
std::set<std::string> Versioned(const std::string& c) {
  static const char* const kNames[] = {"fill", "pairs", "down", "call", "div", "moving", "indirect",
                                       "branch", "scaled", "less", "stride", "global", "carried", "top"};
  // Functions appear in the C in module order ($id first); each versioned
  // loop's fast label is "<label>_crust_fast: ", within its function.
  std::set<std::string> out;
  size_t at = c.find("FUNC_PROLOGUE;\n");
  at = c.find("FUNC_PROLOGUE;\n", at + 1);  // skip $id
  for (const char* name : kNames) {
    if (at == std::string::npos) break;
    const size_t next = c.find("FUNC_PROLOGUE;\n", at + 1);
    const size_t fast = c.find("_crust_fast: ", at);
    if (fast != std::string::npos && fast < next) out.insert(name);
    at = next;
  }
  return out;
}

TEST(LoopVersioningTest, VersionsCountedLoopsOnly) {
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(kLoops));
  PrepareOptions po;
  po.abi = Abi::kNone;
  ASSERT_OK_AND_ASSIGN(PreparedModule p, PrepareModule(wasm, po));
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(p.wasm, /*write_barrier=*/true));
  EXPECT_EQ(Versioned(with.c), (std::set<std::string>{"fill", "pairs", "down"}));
  // The fast copy has no gas line and no checked store; the original stays.
  const size_t fast = with.c.find("_crust_fast: ");
  ASSERT_NE(fast, std::string::npos);
  const size_t back = with.c.find("_crust_fast;}", fast);
  ASSERT_NE(back, std::string::npos);
  const std::string copy = with.c.substr(fast, back - fast);
  EXPECT_EQ(copy.find("crust_gas_"), std::string::npos) << copy;
  EXPECT_NE(copy.find("CRUST_NB_i64_store("), std::string::npos) << copy;
  EXPECT_NE(with.c.find("crust_loop_span("), std::string::npos);
  // Without the write barrier the map is not consulted (condition c), the
  // rest is the same.
  ASSERT_OK_AND_ASSIGN(CSource without, TranslateToC(p.wasm, /*write_barrier=*/false));
  EXPECT_EQ(Versioned(without.c), (std::set<std::string>{"fill", "pairs", "down"}));
  EXPECT_EQ(without.c.find(", crust_map_)"), std::string::npos);
  // Uninstrumented code (no gas counter) is left as it is.
  ASSERT_OK_AND_ASSIGN(CSource raw, TranslateToC(wasm, /*write_barrier=*/true));
  EXPECT_TRUE(Versioned(raw.c).empty());
}

// Many loops in one function: each is versioned (the passes index the
// function's labels once instead of searching the body per loop).
TEST(LoopVersioningTest, ManyLoopsInOneFunction) {
  constexpr int kLoops = 3000;
  std::string wat = "(module (memory 1) (func (export \"f\") (param $p i32) (param $n i32) (local $i i32)";
  for (int k = 0; k < kLoops; ++k) {
    wat += "(local.set $i (i32.const 0)) (loop $l" + std::to_string(k) +
           " (i32.store8 (i32.add (local.get $p) (local.get $i)) (local.get $i))"
           " (br_if $l" + std::to_string(k) +
           " (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))";
  }
  wat += "))";
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(wat));
  PrepareOptions po;
  po.abi = Abi::kNone;
  ASSERT_OK_AND_ASSIGN(PreparedModule p, PrepareModule(wasm, po));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(p.wasm, /*write_barrier=*/true));
  size_t fast = 0;
  for (size_t at = c.c.find("_crust_fast: "); at != std::string::npos; at = c.c.find("_crust_fast: ", at + 1)) ++fast;
  EXPECT_EQ(fast, static_cast<size_t>(kLoops));
}

}  // namespace
}  // namespace crust::engine
