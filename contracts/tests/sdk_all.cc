// SDK self-test (C++): the header compiles as C++ and links with a second
// (C) translation unit that includes it too (weak A, memcpy, allocator state).
#include "crust_sdk.h"

namespace {
struct Pair {
  uint64_t a, b;
};
uint64_t total = 0;
}  // namespace

CRUST_EXPORT(sum_pairs) {
  uint32_t n = (uint32_t)arg_len / sizeof(Pair);
  for (uint32_t i = 0; i < n; ++i) {
    Pair p;
    memcpy(&p, crust_arg() + i * sizeof(Pair), sizeof p);
    total += p.a + p.b;
  }
  if (crust_limit() == 0) crust_panic("no gas");
  return crust_return_u64(total);
}
