// Copyright (c) crust authors. Licensed under the MIT license.
//
// The wabt adapter's assumptions, checked against the wabt compiled in: a
// test per wasm2c patch anchor (present exactly once in wasm2c's output for a
// module using every kind of memory write, and a missing or repeated anchor
// fails naming it), the supported version, and the import-context helper.
#include "src/engine/prepare/wabt_adapter.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

// Every write wasm2c routes through a patched helper: a store, memory.fill,
// memory.copy, memory.init of a passive segment and an active data segment.
constexpr char kEveryWrite[] = R"((module
  (memory 1)
  (data (i32.const 16) "active")
  (data $p "passive")
  (func (export "w") (param i32)
    (i32.store (local.get 0) (i32.const 7))
    (memory.fill (local.get 0) (i32.const 1) (i32.const 8))
    (memory.copy (i32.const 100) (local.get 0) (i32.const 8))
    (memory.init $p (i32.const 200) (i32.const 0) (i32.const 7))))
)";

// wasm2c's C for `wat`, without crust's write-barrier patches (its macros
// for memory access are inserted after the bodies anchor; the bodies' lines
// are wasm2c's own, and a module without crust's gas global keeps its
// global accesses).
std::string TranslatedC(const char* wat) {
  auto wasm = WatToWasm(wat);
  EXPECT_TRUE(wasm.ok()) << wasm.status().ToString();
  if (!wasm.ok()) return "";
  auto c = TranslateToC(*wasm, /*write_barrier=*/false);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->c : "";
}

// wasm2c's C for kEveryWrite, without crust's patches.
std::string RawC() { return TranslatedC(kEveryWrite); }

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(WabtAdapterTest, CompiledAgainstASupportedVersion) {
  bool supported = false;
  for (std::string_view v : kSupportedWabtVersions) supported |= v == WabtVersion();
  EXPECT_TRUE(supported) << "wabt " << WabtVersion();
  EXPECT_STREQ(Wasm2cVersion(), WabtVersion());
}

class Wasm2cAnchorTest : public ::testing::TestWithParam<size_t> {
 protected:
  const Wasm2cPatch& patch() const { return WriteBarrierPatches()[GetParam()]; }
};

// The anchor occurs exactly once in wasm2c's output: the patch applies.
TEST_P(Wasm2cAnchorTest, AnchorOccursExactlyOnce) {
  const std::string c = RawC();
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(Count(c, patch().anchor), 1u)
      << "wasm2c (wabt " << WabtVersion() << ") output changed at the anchor of " << patch().what << ": \""
      << patch().anchor << "\"";
}

// With the barrier, the note stands right before the anchor.
TEST_P(Wasm2cAnchorTest, PatchLandsBeforeItsAnchor) {
  auto wasm = WatToWasm(kEveryWrite);
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource src, TranslateToC(*wasm, /*write_barrier=*/true));
  EXPECT_EQ(Count(src.c, std::string(patch().insert) + patch().anchor), 1u) << patch().what;
}

// A wasm2c whose output lacks the anchor, or has it twice, is refused with
// an error naming the anchor (not compiled without the barrier).
TEST_P(Wasm2cAnchorTest, MissingOrRepeatedAnchorFailsNamingIt) {
  const std::string raw = RawC();
  ASSERT_FALSE(raw.empty());
  const std::string anchor = patch().anchor;
  const size_t at = raw.find(anchor);
  ASSERT_NE(at, std::string::npos);
  std::string missing = raw;
  missing.replace(at, anchor.size(), "/* changed by another wasm2c */");
  Status s = ApplyWasm2cPatches(WriteBarrierPatches(), &missing);
  ASSERT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_NE(s.ToString().find("missing anchor \"" + anchor + "\""), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find(patch().what), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find(WabtVersion()), std::string::npos) << s.ToString();

  std::string repeated = raw + "\n" + anchor + "\n";
  s = ApplyWasm2cPatches(WriteBarrierPatches(), &repeated);
  ASSERT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_NE(s.ToString().find("repeated anchor \"" + anchor + "\""), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(EachPatch, Wasm2cAnchorTest, ::testing::Range<size_t>(0, WriteBarrierPatches().size()));

// ---- The body text crust's passes rely on (compiler_translate.cc) ----

// Two functions; the second reads and writes a global, loads and stores, and
// calls in every way wasm2c writes a call: a defined function, a host import,
// through a table, and a bulk-memory helper.
constexpr char kEveryCall[] = R"((module
  (import "env" "h" (func $h (param i32) (result i32)))
  (type $t (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $id $h)
  (memory 1)
  (global $g (mut i64) (i64.const 0))
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "w") (param i32) (result i32)
    (global.set $g (i64.add (global.get $g) (i64.const 1)))
    (i32.store (local.get 0) (call $id (local.get 0)))
    (drop (call $h (local.get 0)))
    (memory.fill (local.get 0) (i32.const 1) (i32.const 8))
    (call_indirect (type $t) (i32.load (local.get 0)) (i32.const 1))))
)";

std::string EveryCallC() { return TranslatedC(kEveryCall); }

// The function bodies' text: from the first body start to the last body end.
std::vector<std::string> BodyLines(const std::string& c) {
  std::vector<std::string> lines;
  for (size_t at = c.find(kWasm2cBodyStart); at != std::string::npos; at = c.find(kWasm2cBodyStart, at + 1)) {
    const size_t end = c.find(kWasm2cBodyEnd, at);
    if (end == std::string::npos) break;
    for (size_t line = at; line < end;) {
      size_t nl = c.find('\n', line);
      if (nl == std::string::npos || nl > end) nl = end;
      lines.push_back(c.substr(line, nl - line));
      line = nl + 1;
    }
  }
  return lines;
}

TEST(Wasm2cBodyTextTest, BodiesAnchorOccursOnceBeforeEveryBody) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(Count(c, std::string(kWasm2cBodiesAnchor)), 1u) << "wabt " << WabtVersion();
  const size_t first_body = c.find(kWasm2cBodyStart);
  ASSERT_NE(first_body, std::string::npos) << "no \"" << kWasm2cBodyStart << "\"";
  EXPECT_LT(c.find(kWasm2cBodiesAnchor), first_body);
}

TEST(Wasm2cBodyTextTest, EveryBodyStartsWithThePrologueAndEnds) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  // One prologue line per defined function, each body closed before the next.
  EXPECT_EQ(Count(c, std::string(kWasm2cBodyStart)), 2u);
  for (size_t at = c.find(kWasm2cBodyStart); at != std::string::npos; at = c.find(kWasm2cBodyStart, at + 1)) {
    const size_t end = c.find(kWasm2cBodyEnd, at);
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(c.find(kWasm2cBodyStart, at + 1) == std::string::npos || c.find(kWasm2cBodyStart, at + 1) > end, true);
  }
}

TEST(Wasm2cBodyTextTest, LoadAndStoreHelpersAreWasm2cs) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  for (const Wasm2cAccess& a : Wasm2cLoads()) {
    const std::string line = std::string("\nDEFINE_LOAD(") + a.name + ", " + a.t1 + ", " + a.t2 + ", " + a.t3 + ")";
    EXPECT_EQ(Count(c, line), 1u) << line;
  }
  for (const Wasm2cAccess& a : Wasm2cStores()) {
    const std::string line = std::string("\nDEFINE_STORE(") + a.name + ", " + a.t1 + ", " + a.t2 + ")";
    EXPECT_EQ(Count(c, line), 1u) << line;
  }
}

TEST(Wasm2cBodyTextTest, AccessesNameTheMemoryAsAnInstanceField) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  size_t seen = 0;
  for (const std::string& line : BodyLines(c)) {
    for (const char* call : {"i32_load(", "i32_store("}) {
      const size_t at = line.find(call);
      if (at == std::string::npos) continue;
      const size_t arg = at + std::strlen(call), comma = line.find(", ", arg);
      ASSERT_NE(comma, std::string::npos) << line;
      EXPECT_TRUE(IsWasm2cInstanceField(line.substr(arg, comma - arg))) << line;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2u);
  EXPECT_FALSE(IsWasm2cInstanceField("w2c_l0"));
}

TEST(Wasm2cBodyTextTest, GlobalAccessorAndGlobalReadAndWrite) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  // Rename exports every defined global as crust_g<index> (index 0 here).
  const std::string head = Wasm2cGlobalAccessorHead("crust_g0");
  ASSERT_EQ(Count(c, head), 1u) << head;
  const size_t from = c.find(head) + head.size(), semi = c.find(";\n", from);
  ASSERT_NE(semi, std::string::npos);
  const std::string field = c.substr(from, semi - from);
  EXPECT_EQ(field.rfind("instance->", 0), 0u) << field;
  size_t reads = 0, writes = 0;
  for (const std::string& line : BodyLines(c)) {
    reads += line.find(Wasm2cGlobalReadText(field)) != std::string::npos;
    writes += line.find(Wasm2cGlobalWriteText(field)) != std::string::npos;
  }
  EXPECT_EQ(reads, 1u) << field;
  EXPECT_EQ(writes, 1u) << field;
}

// Every call stands on a line of its own that Wasm2cLineMayCharge flags and
// that ends with the call's statement; loads, stores and global accesses do
// not.
TEST(Wasm2cBodyTextTest, EveryCallIsOneFlaggedLine) {
  const std::string c = EveryCallC();
  ASSERT_FALSE(c.empty());
  std::vector<std::string> flagged;
  for (const std::string& line : BodyLines(c)) {
    if (!Wasm2cLineMayCharge(line)) continue;
    EXPECT_EQ(line.back(), ';') << line;
    flagged.push_back(line);
  }
  // call $id, call $h, memory.fill, call_indirect.
  ASSERT_EQ(flagged.size(), 4u);
  EXPECT_NE(flagged[0].find("(instance, "), std::string::npos) << flagged[0];
  EXPECT_NE(flagged[1].find("(instance->"), std::string::npos) << flagged[1];
  EXPECT_NE(flagged[2].find("memory_fill("), std::string::npos) << flagged[2];
  EXPECT_NE(flagged[3].find("CALL_INDIRECT("), std::string::npos) << flagged[3];
  EXPECT_FALSE(Wasm2cLineMayCharge("  i32_store(&instance->w2c_memory, (u64)(w2c_i0), w2c_i1);"));
}

// The import-context helper is part of every module's glue (and of the
// translator text hashed into the code cache's fingerprint).
TEST(WabtAdapterTest, ImportContextHelperIsInTheGlue) {
  EXPECT_NE(TranslatorText().find(ImportContextSlotsC()), std::string::npos);
  auto wasm = WatToWasm(kEveryWrite);
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource src, TranslateToC(*wasm, /*write_barrier=*/true));
  EXPECT_EQ(Count(src.c, std::string(ImportContextSlotsC())), 1u);
}

// Stores to constant addresses in one straight-line run: the barrier is kept
// for the first store to each page and dropped (CRUST_NB_) for later stores
// whose pages are all among them; a call, a branch target or a computed
// address keeps it. The order and offsets of wasm2c's store lines are those
// of the module, so each rewritten line is the store the analysis meant.
TEST(WabtAdapterTest, ConstantAddressStoresOfOneRunSkipTheBarrierAfterTheFirst) {
  auto wasm = WatToWasm(R"((module
  (memory 2)
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "w") (param i32)
    (i64.store (i32.const 4096) (i64.const 1))
    (i64.store offset=8 (i32.const 4096) (i64.const 2))
    (i32.store (i32.const 8190) (i32.const 3))
    (i32.store16 (i32.const 8192) (i32.const 4))
    (i32.store (local.get 0) (i32.const 5))
    (i32.store offset=4 (i32.const 4096) (i32.load (i32.const 4200)))
    (drop (call $id (i32.const 0)))
    (i64.store (i32.const 4104) (i64.const 6))
    (block (i64.store (i32.const 4112) (i64.const 7)))
    (i64.store (i32.const 4120) (i64.const 8))
    (i64.store (i32.const 4128) (i64.const 9))))
)");
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(*wasm, /*write_barrier=*/true));
  std::vector<std::string> stores;
  for (size_t at = 0, nl; at < with.c.size(); at = nl + 1) {
    nl = with.c.find('\n', at);
    if (nl == std::string::npos) nl = with.c.size();
    const std::string line = with.c.substr(at, nl - at);
    const size_t lead = line.find_first_not_of(' ');
    if (lead != std::string::npos && lead > 0 && line.find("_store", lead) != std::string::npos &&
        line.find('(', lead) != std::string::npos && line.back() == ';' && line.find(" = ", lead) == std::string::npos) {
      stores.push_back(line.substr(lead));
    }
  }
  ASSERT_EQ(stores.size(), 10u) << with.c;
  const bool expect_nb[] = {false, true, false, true, false, true, false, false, false, true};
  for (size_t i = 0; i < stores.size(); ++i) {
    EXPECT_EQ(stores[i].rfind("CRUST_NB_", 0) == 0, expect_nb[i]) << i << ": " << stores[i];
  }
  // Without the barrier nothing is rewritten.
  ASSERT_OK_AND_ASSIGN(CSource without, TranslateToC(*wasm, /*write_barrier=*/false));
  EXPECT_EQ(Count(without.c, "  CRUST_NB_"), 0u);
}

// Stores from one base value plus constants in one straight-line run form a
// span group when their bytes lie within 4096 bytes: the group's lines are
// written twice, behind one check of the span at its first store
// (CRUST_SPAN_NOTED(first address + add, lo, len)), barrier-free in the
// checked copy and as before in the other. The base may pass through locals
// (local.tee, as clang writes matmul's loop); a call, a store elsewhere, a
// base read again after an unknown value was stored into its local, or a
// span over 4096 bytes ends a group; a lone store is no group.
TEST(WabtAdapterTest, SpanGroupsCheckTheirSpanOnce) {
  auto wasm = WatToWasm(R"((module
  (memory 2)
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "w") (param i32) (local i32)
    (i64.store (local.get 0) (i64.const 1))
    (i64.store offset=8 (local.get 0) (i64.const 2))
    (i64.store (i32.add (local.get 0) (i32.const 16)) (i64.const 3))
    (drop (call $id (i32.const 0)))
    (i32.store (local.tee 1 (i32.add (local.get 0) (i32.const 100))) (i32.const 4))
    (i32.store (local.tee 1 (i32.add (local.get 1) (i32.const 4))) (i32.const 5))
    (drop (call $id (i32.const 0)))
    (i32.store (local.get 0) (i32.const 6))
    (i32.store offset=5000 (local.get 0) (i32.const 7))
    (drop (call $id (i32.const 0)))
    (i32.store (local.get 0) (i32.const 8))
    (local.set 0 (i32.load (i32.const 0)))
    (i32.store (local.get 0) (i32.const 9))
    (drop (call $id (i32.const 0)))
    (i64.store (i32.add (local.get 0) (i32.const 16)) (i64.const 10))
    (i64.store (i32.sub (local.get 0) (i32.const 8)) (i64.const 11))
    (i32.store (local.get 1) (i32.const 12))
    (i64.store offset=4088 (local.get 0) (i64.const 13))
    (i64.store offset=4080 (local.get 0) (i64.const 14))
    (i32.store (i32.const 0) (i32.const 15))
    (i32.store (i32.const 4) (i32.const 16))))
)");
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(*wasm, /*write_barrier=*/true));
  // Each check's arguments after the first address: add, lo, len.
  std::vector<std::string> checks;
  size_t nb = 0, plain = 0;
  for (const std::string& line : BodyLines(with.c)) {
    const size_t at = line.find("if (CRUST_SPAN_NOTED((u32)(");
    if (at != std::string::npos) {
      const size_t plus = line.find(" + ", at);
      ASSERT_NE(plus, std::string::npos) << line;
      checks.push_back(line.substr(plus + 3));
    }
    const size_t lead = line.find_first_not_of(' ');
    if (lead == std::string::npos) continue;
    if (line.compare(lead, 9, "CRUST_NB_") == 0) ++nb;
    if (line.compare(lead, 4, "i32_") == 0 || line.compare(lead, 4, "i64_") == 0) plain += line.find("_store") != std::string::npos;
  }
  const std::vector<std::string> expected = {
      "0u), 0ull, 24u)) {",           // p, p + 8 (offset), p + 16 (i32.add)
      "0u), 0ull, 8u)) {",            // p + 100 and p + 104 through local.tee
      "4294967272u), 0ull, 32u)) {",  // p + 16, then p - 8: the span starts 24 below the first store
      "0u), 4080ull, 16u)) {",        // offsets 4088 and 4080
  };
  EXPECT_EQ(checks, expected) << with.c;
  // Checked copies: 3 + 2 + 2 + 2 stores barrier-free, plus the second
  // constant-address store; the other copies and every other store keep
  // their barrier: 9 + 5 (no group) + 1 (first constant store).
  EXPECT_EQ(nb, 10u) << with.c;
  EXPECT_EQ(plain, 15u) << with.c;
}

// An i32 global is followed like a local within a run (nothing else changes
// it there): stores from it form groups, also across a global.set of it
// to itself plus a constant; a global.set of an unknown value starts anew.
TEST(WabtAdapterTest, SpanGroupsFollowGlobals) {
  auto wasm = WatToWasm(R"((module
  (memory 1)
  (global $g (mut i32) (i32.const 1024))
  (global $h i32 (i32.const 2048))
  (func (export "w") (param i32)
    (i32.store (global.get $g) (i32.const 1))
    (global.set $g (i32.add (global.get $g) (i32.const 4)))
    (i32.store (global.get $g) (i32.const 2))
    (global.set $g (local.get 0))
    (i32.store (global.get $g) (i32.const 3))
    (i64.store offset=8 (global.get $h) (i64.const 4))
    (i64.store (global.get $h) (i64.const 5))))
)");
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(*wasm, /*write_barrier=*/true));
  std::vector<std::string> checks;
  for (const std::string& line : BodyLines(with.c)) {
    const size_t at = line.find("if (CRUST_SPAN_NOTED((u32)(");
    if (at != std::string::npos) checks.push_back(line.substr(line.find(" + ", at) + 3));
  }
  const std::vector<std::string> expected = {"0u), 0ull, 8u)) {", "0u), 0ull, 16u)) {"};
  EXPECT_EQ(checks, expected) << with.c;
}

// A long run of stores from one base is cut into groups of at most 256
// instructions (86 stores of three instructions each), so the C written
// twice stays within the function's own size.
TEST(WabtAdapterTest, SpanGroupsAreBounded) {
  std::string body;
  for (int i = 0; i < 10000; ++i) body += "(i32.store offset=" + std::to_string(i % 1000 * 4) + " (local.get 0) (i32.const 1))\n";
  auto wasm = WatToWasm("(module (memory 1) (func (export \"w\") (param i32)\n" + body + "))");
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource with, TranslateToC(*wasm, /*write_barrier=*/true));
  ASSERT_OK_AND_ASSIGN(CSource without, TranslateToC(*wasm, /*write_barrier=*/false));
  size_t checks = 0, nb = 0;
  for (const std::string& line : BodyLines(with.c)) {
    checks += line.find("if (CRUST_SPAN_NOTED(") != std::string::npos;
    nb += line.find("CRUST_NB_i32_store(") != std::string::npos;
  }
  // Offsets 0..3996 step 4 repeat every 1000 stores: a group ends at 86
  // stores or when its span would pass 4096 bytes, whichever comes first.
  EXPECT_GE(checks, 10000u / 86);
  EXPECT_LE(checks, 10000u / 2);
  EXPECT_EQ(nb, 10000u) << "every store is in a group of two or more";
  EXPECT_LT(with.c.size(), 3 * without.c.size());
}

}  // namespace
}  // namespace crust::engine
