// Copyright (c) crust authors. Licensed under the MIT license.
//
// The wabt adapter's assumptions, checked against the wabt compiled in: a
// test per wasm2c patch anchor (present exactly once in wasm2c's output for a
// module using every kind of memory write, and a missing or repeated anchor
// fails naming it), the supported version, and the import-context helper.
#include "src/engine/prepare/wabt_adapter.h"

#include <gtest/gtest.h>

#include <string>

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

// wasm2c's C for kEveryWrite, without crust's patches.
std::string RawC() {
  auto wasm = WatToWasm(kEveryWrite);
  EXPECT_TRUE(wasm.ok()) << wasm.status().ToString();
  if (!wasm.ok()) return "";
  auto c = TranslateToC(*wasm, /*write_barrier=*/false);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->c : "";
}

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

// The import-context helper is part of every module's glue (and of the
// translator text hashed into the code cache's fingerprint).
TEST(WabtAdapterTest, ImportContextHelperIsInTheGlue) {
  EXPECT_NE(TranslatorText().find(ImportContextSlotsC()), std::string::npos);
  auto wasm = WatToWasm(kEveryWrite);
  ASSERT_OK(wasm.status());
  ASSERT_OK_AND_ASSIGN(CSource src, TranslateToC(*wasm, /*write_barrier=*/true));
  EXPECT_EQ(Count(src.c, std::string(ImportContextSlotsC())), 1u);
}

}  // namespace
}  // namespace crust::engine
