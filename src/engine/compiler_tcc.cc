// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compiler_tcc.h"

#include <string_view>

namespace crust::engine {
namespace {

constexpr char kPrelude[] = R"(/* ---- crust: tcc prelude (compiler_tcc.h) ---- */
static unsigned crust_tcc_clz64(unsigned long long x) {
  unsigned n = 0;
  if (!(x >> 32)) { n += 32; x <<= 32; }
  if (!(x >> 48)) { n += 16; x <<= 16; }
  if (!(x >> 56)) { n += 8; x <<= 8; }
  if (!(x >> 60)) { n += 4; x <<= 4; }
  if (!(x >> 62)) { n += 2; x <<= 2; }
  if (!(x >> 63)) { n += 1; }
  return n;
}
static unsigned crust_tcc_ctz64(unsigned long long x) {
  unsigned n = 0;
  if (!(x & 0xffffffffull)) { n += 32; x >>= 32; }
  if (!(x & 0xffffull)) { n += 16; x >>= 16; }
  if (!(x & 0xffull)) { n += 8; x >>= 8; }
  if (!(x & 0xfull)) { n += 4; x >>= 4; }
  if (!(x & 0x3ull)) { n += 2; x >>= 2; }
  if (!(x & 0x1ull)) { n += 1; }
  return n;
}
static unsigned crust_tcc_popcount64(unsigned long long x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
}
static int crust_tcc_clz32(unsigned x) { return (int)crust_tcc_clz64((unsigned long long)x) - 32; }
static int crust_tcc_ctz32(unsigned x) { return (int)crust_tcc_ctz64((unsigned long long)x); }
static int crust_tcc_popcount32(unsigned x) { return (int)crust_tcc_popcount64((unsigned long long)x); }
#define __builtin_clz(x) crust_tcc_clz32(x)
#define __builtin_clzll(x) ((int)crust_tcc_clz64(x))
#define __builtin_ctz(x) crust_tcc_ctz32(x)
#define __builtin_ctzll(x) ((int)crust_tcc_ctz64(x))
#define __builtin_popcount(x) crust_tcc_popcount32(x)
#define __builtin_popcountll(x) ((int)crust_tcc_popcount64(x))
#define __builtin_unreachable() abort()
/* wasm's fneg flips the sign bit, NaN or not (AdaptForTcc). */
static float crust_tcc_negf(float x) {
  unsigned b;
  __builtin_memcpy(&b, &x, 4);
  b ^= 0x80000000u;
  __builtin_memcpy(&x, &b, 4);
  return x;
}
static double crust_tcc_neg(double x) {
  unsigned long long b;
  __builtin_memcpy(&b, &x, 8);
  b ^= 0x8000000000000000ull;
  __builtin_memcpy(&x, &b, 8);
  return x;
}
#define crust_tcc_fneg(x) _Generic((x), float: crust_tcc_negf, double: crust_tcc_neg)(x)
/* ---- end of the tcc prelude ---- */
)";

}  // namespace

void AdaptForTcc(std::string* c) {
  static constexpr std::string_view kNeg = "= -(";
  static constexpr std::string_view kCall = "= crust_tcc_fneg(";
  std::string out;
  out.reserve(c->size() + TccPrelude().size() + 4096);
  out += TccPrelude();
  size_t from = 0;
  for (size_t at; (at = c->find(kNeg, from)) != std::string::npos; from = at + kNeg.size()) {
    out.append(*c, from, at - from);
    out += kCall;
  }
  out.append(*c, from, std::string::npos);
  *c = std::move(out);
}

const std::string& TccPrelude() {
  static const std::string* const text = new std::string(kPrelude);
  return *text;
}

}  // namespace crust::engine
