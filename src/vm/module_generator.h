// Copyright (c) crust authors. Licensed under the MIT license.
//
// A generator of random contracts (WAT text) for differential testing of
// the native engine against the interpreter oracle: two to three exported
// (i32) -> i32 functions over i32/i64 locals and two mutable globals, with
// arithmetic (division rarely, so most calls do not trap), loads and stores
// inside the two initial pages, if/else and counted loops (1..64 iterations,
// sometimes left early), nested at most two deep. Each function reads 24
// bytes of argument from A and writes its locals and the globals back to A
// (36 bytes). Used by src/vm/equivalence_test.cc (seeded) and by
// fuzz/differential_fuzz.cc (driven by the fuzzer's bytes).
//
// Thread-safety: a Generator is used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::vmtest {

inline constexpr char kGeneratorHeader[] = R"(
  (memory (export "memory") 2 8)
  (global $A (export "A") i32 (i32.const 65536))
)";

class Generator {
 public:
  // Seeded from a Mersenne twister.
  explicit Generator(uint32_t seed) : next_(std::mt19937(seed)) {}
  // Every choice from `next` (e.g. bytes of a fuzzer's input).
  explicit Generator(std::function<uint32_t()> next) : next_(std::move(next)) {}

  std::string Module() {
    std::ostringstream m;
    m << "(module\n" << kGeneratorHeader;
    m << "  (global $g32 (mut i32) (i32.const " << I32() << "))\n";
    m << "  (global $g64 (mut i64) (i64.const " << I64() << "))\n";
    const int funcs = 2 + Pick(2);
    for (int f = 0; f < funcs; ++f) {
      m << "  (func (export \"f" << f << "\") (param $len i32) (result i32)\n"
        << "    (local $x i32) (local $y i32) (local $a i64) (local $b i64) (local $i i32) (local $j i32)\n"
        << "    (local.set $x (i32.load (global.get $A)))\n"
        << "    (local.set $y (i32.load offset=4 (global.get $A)))\n"
        << "    (local.set $a (i64.load offset=8 (global.get $A)))\n"
        << "    (local.set $b (i64.load offset=16 (global.get $A)))\n";
      loops_ = 0;
      const int n = 4 + Pick(10);
      for (int s = 0; s < n; ++s) m << Statement(2);
      m << "    (i32.store (global.get $A) (local.get $x))\n"
        << "    (i32.store offset=4 (global.get $A) (local.get $y))\n"
        << "    (i64.store offset=8 (global.get $A) (local.get $a))\n"
        << "    (i64.store offset=16 (global.get $A) (local.get $b))\n"
        << "    (i32.store offset=24 (global.get $A) (global.get $g32))\n"
        << "    (i64.store offset=28 (global.get $A) (global.get $g64))\n"
        << "    (i32.const 36))\n";
    }
    m << ")\n";
    return m.str();
  }

  Bytes Arg() {
    Bytes b;
    for (int i = 0; i < 24; ++i) b.push_back(static_cast<uint8_t>(next_()));
    if (Pick(3) == 0) b.resize(Pick(24));  // shorter arguments read stale buffer bytes
    return b;
  }
  uint64_t Gas(uint64_t max) { return max == 0 ? 0 : next_() % (max + 1); }

 private:
  int Pick(int n) { return static_cast<int>(next_() % static_cast<uint32_t>(n)); }
  int32_t I32() {
    switch (Pick(4)) {
      case 0: return Pick(16) - 8;
      case 1: return static_cast<int32_t>(0x80000000u >> Pick(32));
      default: return static_cast<int32_t>(next_());
    }
  }
  int64_t I64() {
    switch (Pick(4)) {
      case 0: return Pick(16) - 8;
      case 1: return static_cast<int64_t>(0x8000000000000000ull >> Pick(64));
      default: return static_cast<int64_t>((uint64_t{next_()} << 32) | next_());
    }
  }

  std::string E32(int depth) {
    if (depth == 0 || Pick(3) == 0) {
      switch (Pick(4)) {
        case 0: return "(local.get $x)";
        case 1: return "(local.get $y)";
        case 2: return "(global.get $g32)";
        default: return "(i32.const " + std::to_string(I32()) + ")";
      }
    }
    static const char* kBin[] = {"add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr",
                                 "eq", "ne", "lt_s", "lt_u", "gt_s", "ge_u", "le_s", "div_u", "div_s", "rem_s", "rem_u"};
    static const char* kUn[] = {"clz", "ctz", "popcnt", "eqz", "extend8_s", "extend16_s"};
    switch (Pick(7)) {
      case 0: return std::string("(i32.") + kUn[Pick(6)] + " " + E32(depth - 1) + ")";
      case 1: return "(i32.wrap_i64 " + E64(depth - 1) + ")";
      case 2: return "(i32.load" + std::string(Pick(2) ? "8_u" : "") + " " + Address(depth - 1) + ")";
      case 3: return "(select " + E32(depth - 1) + " " + E32(depth - 1) + " " + E32(depth - 1) + ")";
      default: {
        // Division rarely (so that most calls do not trap).
        int op = Pick(Pick(8) == 0 ? 22 : 18);
        return std::string("(i32.") + kBin[op] + " " + E32(depth - 1) + " " + E32(depth - 1) + ")";
      }
    }
  }
  std::string E64(int depth) {
    if (depth == 0 || Pick(3) == 0) {
      switch (Pick(4)) {
        case 0: return "(local.get $a)";
        case 1: return "(local.get $b)";
        case 2: return "(global.get $g64)";
        default: return "(i64.const " + std::to_string(I64()) + ")";
      }
    }
    static const char* kBin[] = {"add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr",
                                 "div_u", "div_s", "rem_s", "rem_u"};
    static const char* kUn[] = {"clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"};
    switch (Pick(7)) {
      case 0: return std::string("(i64.") + kUn[Pick(6)] + " " + E64(depth - 1) + ")";
      case 1: return std::string("(i64.extend_i32_") + (Pick(2) ? "s " : "u ") + E32(depth - 1) + ")";
      case 2: return "(i64.load" + std::string(Pick(2) ? "32_s" : "") + " " + Address(depth - 1) + ")";
      default: {
        int op = Pick(Pick(8) == 0 ? 15 : 11);
        return std::string("(i64.") + kBin[op] + " " + E64(depth - 1) + " " + E64(depth - 1) + ")";
      }
    }
  }
  // An address whose 8-byte access stays inside the 2 initial pages.
  std::string Address(int depth) {
    return "(i32.and " + E32(depth) + " (i32.const " + std::to_string(Pick(2) ? 0x1fff8 : 0xfff8) + "))";
  }

  std::string Statement(int nesting) {
    const std::string ind(4, ' ');
    switch (Pick(nesting > 0 ? 10 : 8)) {
      case 0: case 1: return ind + "(local.set $x " + E32(3) + ")\n";
      case 2: return ind + "(local.set $y " + E32(3) + ")\n";
      case 3: case 4: return ind + "(local.set $" + (Pick(2) ? "a " : "b ") + E64(3) + ")\n";
      case 5: return ind + "(i64.store" + (Pick(2) ? "" : "8") + " " + Address(2) + " " + E64(2) + ")\n";
      case 6: return ind + "(i32.store" + (Pick(2) ? "" : "16") + " " + Address(2) + " " + E32(2) + ")\n";
      case 7:
        return ind + (Pick(2) ? "(global.set $g32 " + E32(2) + ")\n" : "(global.set $g64 " + E64(2) + ")\n");
      case 8: {
        std::string s = ind + "(if " + E32(2) + " (then\n";
        for (int k = Pick(3) + 1; k > 0; --k) s += Statement(nesting - 1);
        s += ind + ") (else\n";
        for (int k = Pick(3); k > 0; --k) s += Statement(nesting - 1);
        return s + ind + "))\n";
      }
      default: {
        // A counted loop (1..64 iterations), sometimes with an early exit.
        const std::string c = nesting == 2 ? "$i" : "$j";  // an inner loop never reuses its outer counter
        const std::string label = "$l" + std::to_string(loops_++);
        std::string s = ind + "(local.set " + c + " (i32.const " + std::to_string(1 + Pick(64)) + "))\n";
        s += ind + "(block " + label + "_out (loop " + label + "\n";
        for (int k = Pick(3) + 1; k > 0; --k) s += Statement(nesting - 1);
        if (Pick(3) == 0) s += ind + "(br_if " + label + "_out (i32.eqz (i32.and " + E32(1) + " (i32.const 7))))\n";
        s += ind + "(local.set " + c + " (i32.sub (local.get " + c + ") (i32.const 1)))\n";
        s += ind + "(br_if " + label + " (local.get " + c + "))))\n";
        return s;
      }
    }
  }

  std::function<uint32_t()> next_;
  int loops_ = 0;
};

// The trap kind both engines must agree on. Native messages start with
// engine::TrapKindName ("out of bounds", "indirect call mismatch", "call stack
// exhausted (call depth limit)"...); the oracle's are CanonicalTrapKind's
// ("out of bounds memory access", "undefined element"...). The native engine
// reports every bad call_indirect as one kind, and the injected depth limit
// reads as stack exhaustion in both.
inline std::string TrapClass(const Status& s) {
  if (s.code() != Status::Code::kTrap) return "";
  const std::string_view m = s.message();
  static constexpr std::pair<std::string_view, std::string_view> kClasses[] = {
      {"unreachable", "unreachable"},
      {"out of bounds table access", "out of bounds table"},
      {"out of bounds", "out of bounds"},
      {"integer divide by zero", "divide by zero"},
      {"integer overflow", "integer overflow"},
      {"invalid conversion", "invalid conversion"},
      {"indirect call", "indirect call"},
      {"undefined element", "indirect call"},
      {"uninitialized element", "indirect call"},
      {"call stack exhausted", "stack exhausted"},
  };
  for (const auto& [prefix, cls] : kClasses) {
    if (m.starts_with(prefix)) return std::string(cls);
  }
  return "other: " + std::string(m);
}

}  // namespace crust::vmtest
