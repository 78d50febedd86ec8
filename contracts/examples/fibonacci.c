/* fibonacci: recursive Fibonacci numbers (the benchmark workload).
 *
 *   fib(u32 LE n)      -> u64 LE fib(n), computed recursively (fib(0)=0,
 *                         fib(1)=1), wrapping modulo 2^64; cost grows as
 *                         ~1.6^n, so use small n or a gas limit
 *   fib_iter(u32 LE n) -> u64 LE fib(n), computed iteratively (wrapping)
 */
#include "crust_sdk.h"

static uint64_t fib(uint32_t n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

CRUST_EXPORT(fib) {
  if (arg_len != 4) crust_panic("fib: expected u32");
  return crust_return_u64(fib(crust_read_u32(crust_arg())));
}

CRUST_EXPORT(fib_iter) {
  if (arg_len != 4) crust_panic("fib_iter: expected u32");
  uint32_t n = crust_read_u32(crust_arg());
  uint64_t a = 0, b = 1;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t t = a + b;
    a = b;
    b = t;
  }
  return crust_return_u64(a);
}
