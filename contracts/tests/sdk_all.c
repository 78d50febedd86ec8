/* SDK self-test (C): uses every host import and helper of crust_sdk.h, so the
 * check can verify the import names and signatures the header declares. Not
 * an example: it is never deployed. */
#include "crust_sdk.h"

static unsigned char other[CRUST_ID_SIZE];

CRUST_EXPORT(all_imports) {
  uint64_t g = crust_limit() - crust_spent();
  crust_self_id(other);
  int32_t n = crust_hd("height");
  n += crust_call(other, "read", 0, 0, g / 2);
  n += crust_hq("hash", crust_arg(), 4);
  crust_emit("topic", "data", 4);
  crust_feed(0, (size_t)arg_len);
  n += crust_caller(other);
  n += crust_callstack();
  n += crust_owner(other);
  if (n == CRUST_CALL_PANIC || n == CRUST_CALL_OUT_OF_GAS || n == CRUST_CALL_NOT_FOUND ||
      n == CRUST_CALL_OTHER)
    crust_panic("call failed");
  return crust_return_u32((uint32_t)n);
}

CRUST_EXPORT(helpers) {
  crust_need_arg(arg_len, 16);
  unsigned char *a = crust_arg();
  uint64_t x = crust_read_u64(a) + crust_read_u32(a + 8) + crust_read_u16(a + 12);
  unsigned char *p = (unsigned char *)crust_alloc(100);
  memset(p, 7, 100);
  crust_write_u16(p, 1);
  crust_write_u32(p + 2, 2);
  crust_write_u64(p + 6, x);
  crust_assert(memcmp(p, a, 0) == 0, "memcmp");
  memmove(p + 1, p, 50);
  crust_assert(crust_memory_grow(0) == crust_memory_pages(), "pages");
  return crust_return(p, 100);
}
