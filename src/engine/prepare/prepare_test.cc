// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepare.h"

#include <gtest/gtest.h>

#include "src/engine/prepare/validate.h"
#include "src/engine/prepare/wat.h"
#include "tests/test_util.h"
#include "wabt/ir.h"

namespace crust::engine {
namespace {

Result<PreparedModule> PrepareWat(const std::string& wat, Abi abi = Abi::kContract) {
  ASSIGN_OR_RETURN(Bytes wasm, WatToWasm(wat));
  return PrepareModule(wasm, PrepareOptions{.abi = abi});
}

constexpr char kHeader[] =
    "(memory (export \"memory\") 2 4) (global (export \"A\") i32 (i32.const 65536)) ";

TEST(PrepareTest, DataSegmentsAppliedOnceAndStripped) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm,
                       PrepareWat(std::string("(module ") + kHeader +
                                  "(data (i32.const 16) \"abcdef\") (data (i32.const 19) \"XYZW\") "
                                  "(data (i32.const 100) \"q\") (data (i32.const 200) \"\") "
                                  "(func (export \"f\") (param i32) (result i32) (i32.load8_u (i32.const 16))))"));
  ASSERT_TRUE(pm.memory.has_value());
  const MemoryImage& image = *pm.memory;
  EXPECT_EQ(image.initial_pages, 2u);
  EXPECT_EQ(image.max_pages, 4u);
  ASSERT_EQ(image.chunks.size(), 2u);
  EXPECT_EQ(image.chunks[0].offset, 16u);
  EXPECT_EQ(std::string(image.chunks[0].data.begin(), image.chunks[0].data.end()), "abcXYZW");
  EXPECT_EQ(image.chunks[1].offset, 100u);
  Bytes flat = image.Flatten();
  ASSERT_EQ(flat.size(), 2u * 65536);
  EXPECT_EQ(flat[19], 'X');
  EXPECT_EQ(flat[15], 0);
  EXPECT_FALSE(pm.data_segments_in_wasm);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wabt::Module> out, DecodeModule(pm.wasm));
  EXPECT_TRUE(out->data_segments.empty());
}

TEST(PrepareTest, PassiveSegmentsKeepTheirIndices) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm,
                       PrepareWat(std::string("(module ") + kHeader +
                                  "(data (i32.const 8) \"act\") (data $p \"passive\") "
                                  "(func (export \"f\") (param i32) (result i32) "
                                  "(memory.init $p (i32.const 0) (i32.const 0) (i32.const 7)) (i32.const 7)))"));
  ASSERT_TRUE(pm.memory.has_value());
  const MemoryImage& image = *pm.memory;
  ASSERT_EQ(image.chunks.size(), 1u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wabt::Module> out, DecodeModule(pm.wasm));
  ASSERT_EQ(out->data_segments.size(), 2u);
  EXPECT_EQ(out->data_segments[0]->kind, wabt::SegmentKind::Passive);
  EXPECT_TRUE(out->data_segments[0]->data.empty());
  EXPECT_EQ(out->data_segments[1]->data.size(), 7u);
}

TEST(PrepareTest, DataSegmentOutOfBounds) {
  Result<PreparedModule> pm = PrepareWat(std::string("(module ") + kHeader +
                                         "(data (i32.const 131070) \"abc\") "
                                         "(func (export \"f\") (param i32) (result i32) (i32.const 0)))");
  ASSERT_FALSE(pm.ok());
  EXPECT_EQ(pm.status().code(), Status::Code::kInvalidModule);
  EXPECT_NE(pm.status().message().find("data segment 0 [131070, 131073)"), std::string_view::npos)
      << pm.status().ToString();
}

TEST(PrepareTest, InitialMemoryLimit) {
  Result<Bytes> wasm = WatToWasm(
      "(module (memory (export \"memory\") 100) (global (export \"A\") i32 (i32.const 0)))");
  ASSERT_OK(wasm);
  EXPECT_OK(PrepareModule(*wasm));
  Result<PreparedModule> pm = PrepareModule(*wasm, PrepareOptions{.max_initial_pages = 99});
  EXPECT_EQ(pm.status().code(), Status::Code::kInvalidModule);
}

TEST(PrepareTest, MutableGlobalsAreStateAndExported) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm,
                       PrepareWat(std::string("(module ") + kHeader +
                                  "(global $sp (mut i32) (i32.const 4096)) (global $k i64 (i64.const 7)) "
                                  "(global $x (mut i64) (i64.const -2)) (global $f (mut f32) (f32.const 1.5)) "
                                  "(func (export \"f\") (param i32) (result i32) (global.get $sp)))"));
  ASSERT_EQ(pm.state_globals.size(), 3u);
  EXPECT_EQ(pm.state_globals[0].index, 1u);  // global 0 is A
  EXPECT_EQ(pm.state_globals[0].type, ValType::kI32);
  EXPECT_EQ(pm.state_globals[0].initial, 4096u);
  EXPECT_EQ(pm.state_globals[0].export_name, "__crust_g1");
  EXPECT_EQ(pm.state_globals[1].index, 3u);
  EXPECT_EQ(pm.state_globals[1].initial, ~uint64_t{1});
  EXPECT_EQ(pm.state_globals[2].type, ValType::kF32);
  EXPECT_EQ(pm.state_globals[2].initial, 0x3fc00000u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<wabt::Module> out, DecodeModule(pm.wasm));
  for (const StateGlobal& g : pm.state_globals) {
    const wabt::Export* e = out->GetExport(g.export_name);
    ASSERT_NE(e, nullptr) << g.export_name;
    EXPECT_EQ(out->GetGlobalIndex(e->var), g.index);
  }
  for (std::string_view name : {kGasGlobal, kDepthGlobal, kTrapGlobal}) {
    EXPECT_NE(out->GetExport(name), nullptr) << name;
  }
}

TEST(PrepareTest, Deterministic) {
  const std::string wat = std::string("(module ") + kHeader +
                          "(data (i32.const 0) \"seed\") (global $g (mut i32) (i32.const 1)) "
                          "(func $h (param f64) (result f64) (f64.sqrt (local.get 0))) "
                          "(func (export \"f\") (param $n i32) (result i32) (local $i i32) "
                          "  (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (local.get $n))) "
                          "    (drop (call $h (f64.convert_i32_u (local.get $i)))) "
                          "    (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))) "
                          "  (drop (memory.grow (i32.const 1))) (local.get $i)))";
  ASSERT_OK_AND_ASSIGN(Bytes wasm, WatToWasm(wat));
  ASSERT_OK_AND_ASSIGN(PreparedModule a, PrepareModule(wasm));
  ASSERT_OK_AND_ASSIGN(PreparedModule b, PrepareModule(wasm));
  EXPECT_EQ(a.wasm, b.wasm);
  EXPECT_GT(a.wasm.size(), wasm.size());
  // Preparing the prepared module again is not allowed (reserved names).
  EXPECT_EQ(PrepareModule(a.wasm).status().code(), Status::Code::kInvalidModule);
}

}  // namespace
}  // namespace crust::engine
