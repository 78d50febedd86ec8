// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepared_format.h"

#include <gtest/gtest.h>

#include <string>

#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

// A new field in these structs must be serialized (prepared_format.cc),
// compared below, and kPreparedEntryVersion bumped; these sizes (x86-64 and
// aarch64 with libstdc++) make the compiler point here when that happens.
static_assert(sizeof(MemoryImage) == 40, "MemoryImage changed: update prepared_format.cc and this test");
static_assert(sizeof(StateGlobal) == 56, "StateGlobal changed: update prepared_format.cc and this test");
static_assert(sizeof(PreparedModule) == 160, "PreparedModule changed: update prepared_format.cc and this test");

const std::string kName = "/some/dir/abc.prep";

Hash32 Key(uint8_t seed) {
  Hash32 h;
  for (size_t i = 0; i < 32; ++i) h.bytes[i] = static_cast<uint8_t>(seed + i);
  return h;
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every field set, none to its default.
PreparedModule Full() {
  PreparedModule m;
  m.wasm = B("\0asm-not-really-but-any-bytes");
  MemoryImage image;
  image.initial_pages = 3;
  image.max_pages = 17;
  image.chunks.push_back({16, B("hello")});
  image.chunks.push_back({65536 * 2 + 5, B(std::string(300, 'x'))});
  m.memory = image;
  m.data_segments_in_wasm = true;
  m.arg_buffer = 65536;
  m.functions = {"get", "increment", "set"};
  m.has_init = true;
  m.state_globals.push_back({1, ValType::kI32, 4096, true, "__crust_g1"});
  m.state_globals.push_back({3, ValType::kI64, ~uint64_t{1}, true, "__crust_g3"});
  m.state_globals.push_back({4, ValType::kF32, 0x3fc00000u, false, "__crust_g4"});
  m.state_globals.push_back({9, ValType::kF64, 0x7ff8000000000001ull, true, "__crust_g9"});
  m.host_imports = {"panic", "limit", "hd"};
  return m;
}

void ExpectSame(const PreparedModule& a, const PreparedModule& b) {
  EXPECT_EQ(a.wasm, b.wasm);
  ASSERT_EQ(a.memory.has_value(), b.memory.has_value());
  if (a.memory) {
    EXPECT_EQ(a.memory->initial_pages, b.memory->initial_pages);
    EXPECT_EQ(a.memory->max_pages, b.memory->max_pages);
    ASSERT_EQ(a.memory->chunks.size(), b.memory->chunks.size());
    for (size_t i = 0; i < a.memory->chunks.size(); ++i) {
      EXPECT_EQ(a.memory->chunks[i].offset, b.memory->chunks[i].offset) << i;
      EXPECT_EQ(a.memory->chunks[i].data, b.memory->chunks[i].data) << i;
    }
  }
  EXPECT_EQ(a.data_segments_in_wasm, b.data_segments_in_wasm);
  EXPECT_EQ(a.arg_buffer, b.arg_buffer);
  EXPECT_EQ(a.functions, b.functions);
  EXPECT_EQ(a.has_init, b.has_init);
  ASSERT_EQ(a.state_globals.size(), b.state_globals.size());
  for (size_t i = 0; i < a.state_globals.size(); ++i) {
    EXPECT_EQ(a.state_globals[i].index, b.state_globals[i].index) << i;
    EXPECT_EQ(a.state_globals[i].type, b.state_globals[i].type) << i;
    EXPECT_EQ(a.state_globals[i].initial, b.state_globals[i].initial) << i;
    EXPECT_EQ(a.state_globals[i].initial_known, b.state_globals[i].initial_known) << i;
    EXPECT_EQ(a.state_globals[i].export_name, b.state_globals[i].export_name) << i;
  }
  EXPECT_EQ(a.host_imports, b.host_imports);
}

void ExpectCorruption(ByteView entry, const Hash32& key, std::string_view what) {
  Result<PreparedModule> r = DecodePreparedEntry(entry, key, kName);
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << what << ": " << r.status().ToString();
  EXPECT_EQ(r.status().message().substr(0, kName.size() + 2), kName + ": ") << what << ": " << r.status().ToString();
}

// Rewrites length and both checksums after an edit, so only the edit is wrong.
void Reseal(Bytes* e) {
  const size_t body = e->size() - kPreparedEntryHeaderSize;
  EncodeFixed64(e->data() + 16, body);
  EncodeFixed32(e->data() + 56, Crc32c(e->data() + kPreparedEntryHeaderSize, body));
  EncodeFixed32(e->data() + 60, Crc32c(e->data(), 60));
}

TEST(PreparedFormatTest, RoundTripsEveryField) {
  const PreparedModule m = Full();
  const Bytes e = EncodePreparedEntry(Key(1), m);
  ASSERT_OK_AND_ASSIGN(PreparedModule back, DecodePreparedEntry(e, Key(1), kName));
  ExpectSame(m, back);
  EXPECT_EQ(EncodePreparedEntry(Key(1), back), e);  // deterministic
}

TEST(PreparedFormatTest, RoundTripsAbsentAndEmptyFields) {
  PreparedModule m;  // no memory, no functions, no globals, empty wasm
  ASSERT_OK_AND_ASSIGN(PreparedModule back, DecodePreparedEntry(EncodePreparedEntry(Key(2), m), Key(2), kName));
  ExpectSame(m, back);
  EXPECT_FALSE(back.memory.has_value());
  m.memory = MemoryImage{};  // present but empty, no maximum
  ASSERT_OK_AND_ASSIGN(back, DecodePreparedEntry(EncodePreparedEntry(Key(2), m), Key(2), kName));
  ExpectSame(m, back);
  ASSERT_TRUE(back.memory.has_value());
  EXPECT_FALSE(back.memory->max_pages.has_value());
}

TEST(PreparedFormatTest, RoundTripsAPreparedContract) {
  ASSERT_OK_AND_ASSIGN(
      Bytes wasm,
      WatToWasm("(module (import \"env\" \"limit\" (func $l (result i64))) (memory (export \"memory\") 2 4) "
                "(global (export \"A\") i32 (i32.const 65536)) (global $g (mut i64) (i64.const -3)) "
                "(data (i32.const 8) \"state\") "
                "(func (export \"b\") (param i32) (result i32) (global.set $g (call $l)) (i32.const 0)) "
                "(func (export \"a\") (param i32) (result i32) (local.get 0)) "
                "(func (export \"init\") (param i32) (result i32) (i32.const 0)))"));
  ASSERT_OK_AND_ASSIGN(PreparedModule m, PrepareModule(wasm));
  ASSERT_OK_AND_ASSIGN(PreparedModule back, DecodePreparedEntry(EncodePreparedEntry(Key(3), m), Key(3), kName));
  ExpectSame(m, back);
  EXPECT_EQ(back.functions, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(back.has_init);
  EXPECT_EQ(back.host_imports, std::vector<std::string>{"limit"});
}

TEST(PreparedFormatTest, EveryTruncationIsCorruption) {
  const Bytes e = EncodePreparedEntry(Key(4), Full());
  for (size_t n = 0; n < e.size(); ++n) {
    ExpectCorruption(ByteView(e.data(), n), Key(4), "truncated to " + std::to_string(n));
  }
}

TEST(PreparedFormatTest, EveryFlippedBitIsCorruption) {
  const Bytes e = EncodePreparedEntry(Key(5), Full());
  for (size_t i = 0; i < e.size(); ++i) {
    Bytes d = e;
    d[i] ^= static_cast<uint8_t>(1u << (i % 8));
    ExpectCorruption(d, Key(5), "bit flipped in byte " + std::to_string(i));
  }
}

TEST(PreparedFormatTest, OtherKeyVersionOrExtraBytesAreCorruption) {
  const Bytes e = EncodePreparedEntry(Key(6), Full());
  ExpectCorruption(e, Key(7), "another key");
  Bytes v = e;
  EncodeFixed32(v.data() + 8, kPreparedEntryVersion + 1);
  Reseal(&v);
  ExpectCorruption(v, Key(6), "unknown version");
  Bytes f = e;
  EncodeFixed32(f.data() + 12, 1);
  Reseal(&f);
  ExpectCorruption(f, Key(6), "unknown flags");
  Bytes t = e;
  t.push_back(0);
  ExpectCorruption(t, Key(6), "a byte appended");
  Reseal(&t);
  ExpectCorruption(t, Key(6), "a byte appended to the body, resealed");
  ExpectCorruption(Bytes(100, 0), Key(6), "zeros");
}

TEST(PreparedFormatTest, InconsistentBodiesAreCorruption) {
  // Well-sealed entries whose body breaks an invariant (a writer's bug).
  auto check = [](PreparedModule m, std::string_view what) {
    ExpectCorruption(EncodePreparedEntry(Key(8), m), Key(8), what);
  };
  PreparedModule m = Full();
  m.memory->chunks[1].offset = 3 * 65536 - 10;  // runs past the initial memory
  check(m, "chunk outside memory");
  m = Full();
  m.memory->chunks[1].offset = 18;  // overlaps chunk 0
  check(m, "overlapping chunks");
  m = Full();
  m.state_globals[0].type = static_cast<ValType>(7);
  check(m, "unknown value type");
  m = Full();
  m.state_globals[2].export_name = "__crust_g5";
  check(m, "export name of another index");
  // A flag byte that is neither 0 nor 1. Body: wasm length (8) | has_memory
  // (1) | data_segments_in_wasm (1) | arg_buffer (4) | function count (4) |
  // has_init (1) | ...
  PreparedModule with_init;
  with_init.has_init = true;
  Bytes s = EncodePreparedEntry(Key(8), with_init);
  const size_t has_init_at = kPreparedEntryHeaderSize + 18;
  ASSERT_EQ(s[has_init_at], 1);
  s[has_init_at] = 2;
  Reseal(&s);
  ExpectCorruption(s, Key(8), "flag byte 2");
  s[has_init_at] = 1;
  Reseal(&s);
  EXPECT_OK(DecodePreparedEntry(s, Key(8), kName));
}

// Found by fuzz/prepared_entry_fuzz (decoded entries must encode back to the
// same bytes): a maximum of pages written although has_max is 0 was accepted
// and silently dropped.
TEST(PreparedFormatTest, MaximumWithoutHasMaxIsCorruption) {
  PreparedModule m;
  m.memory = MemoryImage{};
  m.memory->initial_pages = 2;
  Bytes e = EncodePreparedEntry(Key(9), m);
  // Body: wasm length (8) | wasm (0) | has_memory (1) | initial (4) | has_max (1) | max (4)
  const size_t has_max_at = kPreparedEntryHeaderSize + 8 + 1 + 4;
  ASSERT_EQ(e[has_max_at], 0);
  EncodeFixed32(e.data() + has_max_at + 1, 0xfd07);
  Reseal(&e);
  ExpectCorruption(e, Key(9), "max_pages without has_max");
  EncodeFixed32(e.data() + has_max_at + 1, 0);
  Reseal(&e);
  EXPECT_OK(DecodePreparedEntry(e, Key(9), kName));
}

}  // namespace
}  // namespace crust::engine
