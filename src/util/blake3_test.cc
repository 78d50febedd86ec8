// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/blake3.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace crust {
namespace {

// Known answers from an independent implementation (the Rust b3sum 1.2.0:
// `b3sum --derive-key "crust test context" FILE`).
Bytes Pattern(size_t n, int mul, int add, int mod) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>((i * mul + add) % mod);
  return b;
}

TEST(Blake3Test, DeriveKeyKnownAnswers) {
  const Blake3Context ctx("crust test context");
  EXPECT_EQ(ctx.Hash(Pattern(4096, 7, 3, 251)).ToHex(),
            "ac6d3124f4de0a4ac611282a2176aebe42ce3d938e81abb8225d7215ecb40053");
  EXPECT_EQ(ctx.Hash(Pattern(64, 13, 1, 256)).ToHex(),
            "8a73761f20e8095d19900f7c83767e6c65bff1de17ce78e7c1cfb1b43d12990b");
  EXPECT_EQ(ctx.Hash(Bytes(4096, 0)).ToHex(), "9ef47ca809f7663fc1781405acd68fb8e1311557e818b3dc37f3ad04f20886c7");
  EXPECT_EQ(ctx.Hash(Pattern(5000, 31, 0, 256)).ToHex(),
            "cc96fc153f2446eec8eaf117745d85ec054e8b39a02888afad32debda1180a39");
  EXPECT_EQ(ctx.Hash(ByteView()).ToHex(), "a0cd6a4f6c5b0008ab4e209f10ac22203a2b78e6d14af14b490c07758879ed66");
}

TEST(Blake3Test, ContextsSeparate) {
  const Bytes page(4096, 1);
  EXPECT_NE(Blake3Context("crust a").Hash(page), Blake3Context("crust b").Hash(page));
}

// The batched forms equal one-at-a-time hashing for every batch size,
// including sizes that are not a multiple of the SIMD width or the batch.
TEST(Blake3Test, BatchesEqualSingleHashes) {
  const Blake3Context ctx("crust test context");
  std::mt19937 rng(7);
  for (size_t n : {0, 1, 2, 7, 8, 9, 15, 16, 17, 33, 100}) {
    std::vector<Bytes> pages(n, Bytes(4096)), blocks(n, Bytes(64));
    std::vector<const uint8_t*> pp(n), bp(n);
    for (size_t i = 0; i < n; i++) {
      for (auto& b : pages[i]) b = static_cast<uint8_t>(rng());
      for (auto& b : blocks[i]) b = static_cast<uint8_t>(rng());
      pp[i] = pages[i].data();
      bp[i] = blocks[i].data();
    }
    std::vector<Hash32> out4k(n), out64(n);
    ctx.Hash4KMany(pp.data(), n, out4k.data());
    ctx.Hash64Many(bp.data(), n, out64.data());
    for (size_t i = 0; i < n; i++) {
      EXPECT_EQ(out4k[i], ctx.Hash(pages[i])) << "n=" << n << " page " << i;
      EXPECT_EQ(out64[i], ctx.Hash(blocks[i])) << "n=" << n << " block " << i;
    }
  }
  // The known answers through the batched forms.
  const Bytes page = Pattern(4096, 7, 3, 251), block = Pattern(64, 13, 1, 256);
  const uint8_t* p = page.data();
  const uint8_t* b = block.data();
  Hash32 h;
  ctx.Hash4KMany(&p, 1, &h);
  EXPECT_EQ(h.ToHex(), "ac6d3124f4de0a4ac611282a2176aebe42ce3d938e81abb8225d7215ecb40053");
  ctx.Hash64Many(&b, 1, &h);
  EXPECT_EQ(h.ToHex(), "8a73761f20e8095d19900f7c83767e6c65bff1de17ce78e7c1cfb1b43d12990b");
}

}  // namespace
}  // namespace crust
