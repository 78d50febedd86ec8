/* counter: a u64 counter stored in linear memory.
 *
 *   init(u64 LE start)   deploy only; sets the starting value (empty: 0)
 *   read()      -> u64 LE current value
 *   increment() -> u64 LE value after adding 1 (wrapping)
 *   add(u64 LE n) -> u64 LE value after adding n (wrapping)
 */
#include "crust_sdk.h"

/* A static variable lives in linear memory, which crust persists. */
static uint64_t value;

CRUST_EXPORT(init) {
  if (arg_len != 0 && arg_len != 8) crust_panic("counter.init: expected 0 or 8 bytes");
  value = arg_len == 8 ? crust_read_u64(crust_arg()) : 0;
  return 0;
}

CRUST_EXPORT(read) { return crust_return_u64(value); }

CRUST_EXPORT(increment) {
  value += 1;
  return crust_return_u64(value);
}

CRUST_EXPORT(add) {
  if (arg_len != 8) crust_panic("counter.add: expected 8 bytes");
  value += crust_read_u64(crust_arg());
  return crust_return_u64(value);
}
