// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/crc32c.h"

#include <array>
#include <cstring>

namespace crust {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

#if defined(__x86_64__)
// The crc32 instruction has a latency of 3 cycles and a throughput of 1, so
// one dependency chain uses a third of it. Long inputs are hashed as three
// chains over consecutive stripes of kStripe bytes, joined by the CRC's
// linearity: the register state after A || B is Z(state after A) ^ (state
// after B from 0), where Z feeds kStripe zero bytes. Z is linear in the state,
// so it is four table lookups (one per state byte), tables made at first use
// with the instruction itself.
constexpr size_t kStripe = 256;

struct ZeroFeed {
  uint32_t t[4][256];
};

__attribute__((target("sse4.2"))) ZeroFeed MakeZeroFeed() {
  ZeroFeed z;
  for (int k = 0; k < 4; k++) {
    for (uint32_t b = 0; b < 256; b++) {
      uint64_t c = uint64_t{b} << (8 * k);
      for (size_t i = 0; i < kStripe; i += 8) c = __builtin_ia32_crc32di(c, 0);
      z.t[k][b] = static_cast<uint32_t>(c);
    }
  }
  return z;
}

inline uint64_t Feed(const ZeroFeed& z, uint64_t c) {
  return z.t[0][c & 0xFF] ^ z.t[1][(c >> 8) & 0xFF] ^ z.t[2][(c >> 16) & 0xFF] ^ z.t[3][(c >> 24) & 0xFF];
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cHw(const void* data, size_t len, uint32_t init) {
  static const ZeroFeed zero_feed = MakeZeroFeed();
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~init & 0xFFFFFFFFu;
  while (len >= 3 * kStripe) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < kStripe; i += 8) {
      c = __builtin_ia32_crc32di(c, Load64(p + i));
      c1 = __builtin_ia32_crc32di(c1, Load64(p + kStripe + i));
      c2 = __builtin_ia32_crc32di(c2, Load64(p + 2 * kStripe + i));
    }
    c = Feed(zero_feed, Feed(zero_feed, c) ^ c1) ^ c2;
    p += 3 * kStripe;
    len -= 3 * kStripe;
  }
  while (len >= 8) {
    c = __builtin_ia32_crc32di(c, Load64(p));
    p += 8;
    len -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
bool HaveSse42() { return __builtin_cpu_supports("sse4.2"); }
#endif

}  // namespace

uint32_t Crc32cPortable(const void* data, size_t len, uint32_t init) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~init;
  while (len--) c = kTable[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

uint32_t Crc32c(const void* data, size_t len, uint32_t init) {
#if defined(__x86_64__)
  static const bool hw = HaveSse42();
  if (hw) return Crc32cHw(data, len, init);
#endif
  return Crc32cPortable(data, len, init);
}

}  // namespace crust
