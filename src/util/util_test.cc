// Copyright (c) crust authors. Licensed under the MIT license.
#include <gtest/gtest.h>

#include "crust/status.h"
#include "crust/types.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"
#include "src/util/sha256.h"
#include "tests/test_util.h"

namespace crust {
namespace {

TEST(Status, CodesAndContext) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "OK");
  Status nf = Status::NotFound("root abc");
  EXPECT_TRUE(nf.IsNotFound());
  EXPECT_EQ(nf.WithContext("opening").ToString(), "NotFound: opening: root abc");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

TEST(Result, ValueAndError) {
  Result<int> r = 7;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
  Result<int> e = Status::Corruption("bad");
  EXPECT_FALSE(e.ok());
  EXPECT_TRUE(e.status().IsCorruption());
}

TEST(Hex, RoundTripAndErrors) {
  ASSERT_OK_AND_ASSIGN(Bytes b, FromHex("00ff10Ab"));
  EXPECT_EQ(b, (Bytes{0x00, 0xff, 0x10, 0xab}));
  EXPECT_EQ(ToHex(b), "00ff10ab");
  EXPECT_FALSE(FromHex("abc").ok());
  EXPECT_FALSE(FromHex("zz").ok());
  EXPECT_FALSE(Hash32::FromHex("00").ok());
  std::string h(64, 'a');
  ASSERT_OK_AND_ASSIGN(Hash32 x, Hash32::FromHex(h));
  EXPECT_EQ(x.ToHex(), h);
  h[63] = 'g';
  Result<Hash32> bad = Hash32::FromHex(h);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("character 63"), std::string::npos);
}

// Hash32's equality is hand-written (four 8-byte compares): ids that differ
// in any single byte, or only in bits of one byte, are unequal.
TEST(Hash32, EqualityLooksAtEveryByte) {
  Hash32 a{};
  for (size_t i = 0; i < a.bytes.size(); ++i) a.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  const Hash32 same = a;
  EXPECT_TRUE(a == same);
  EXPECT_FALSE(a != same);
  for (size_t i = 0; i < a.bytes.size(); ++i) {
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      Hash32 b = a;
      b.bytes[i] ^= bit;
      EXPECT_FALSE(a == b) << "byte " << i;
      EXPECT_TRUE(a != b) << "byte " << i;
      EXPECT_EQ(a < b || b < a, true) << "byte " << i;
    }
  }
  EXPECT_TRUE(Hash32{} == Hash32{});
}

TEST(Sha256, KnownVectors) {
  const uint8_t abc[] = {'a', 'b', 'c'};
  EXPECT_EQ(Sha256Of(abc).ToHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Of({}).ToHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hash32 a{}, b{};
  b.bytes[0] = 1;
  Bytes buf{0x01};
  PutHash(&buf, a);
  PutHash(&buf, b);
  EXPECT_EQ(HashNode(1, a, b), Sha256Of(buf));
}

TEST(Crc32c, KnownVectorAndPortableAgree) {
  const char* s = "123456789";
  EXPECT_EQ(Crc32c(s, 9), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable(s, 9), 0xE3069283u);
  Bytes data(10007);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 131 + 7);
  EXPECT_EQ(Crc32c(data.data(), data.size()), Crc32cPortable(data.data(), data.size()));
  // Incremental use matches one-shot.
  uint32_t c = Crc32c(data.data(), 100);
  EXPECT_EQ(Crc32c(data.data() + 100, data.size() - 100, c), Crc32c(data.data(), data.size()));
  // Every length around the three-stripe rounds (768 bytes) and the 8-byte
  // steps, at every alignment, with a non-zero seed.
  for (size_t len = 0; len < 2400; len += (len > 40 && len % 768 > 16 && len % 768 < 752) ? 37 : 1) {
    for (size_t at = 0; at < 8; at++) {
      ASSERT_EQ(Crc32c(data.data() + at, len, 0x1234567u), Crc32cPortable(data.data() + at, len, 0x1234567u))
          << "length " << len << " at " << at;
    }
  }
}

TEST(Decoder, BoundedReads) {
  Bytes b;
  PutFixed32(&b, 0xdeadbeef);
  PutFixed64(&b, 42);
  Decoder d(b);
  uint32_t v32;
  uint64_t v64;
  ASSERT_TRUE(d.GetU32(&v32));
  ASSERT_TRUE(d.GetU64(&v64));
  EXPECT_EQ(v32, 0xdeadbeefu);
  EXPECT_EQ(v64, 42u);
  EXPECT_FALSE(d.GetU32(&v32));
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace crust
