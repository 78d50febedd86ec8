/* hostinfo: reports what the host functions of the execution issue return.
 *
 *   gas()     -> u64 LE limit() | u64 LE spent()
 *   self_id() -> the 32-byte id of this module
 *   meta(name) -> the session metadata value `name` (empty when absent)
 */
#include "crust_sdk.h"

CRUST_EXPORT(gas) {
  uint64_t limit = crust_limit();
  uint64_t spent = crust_spent();
  crust_write_u64(crust_arg(), limit);
  crust_write_u64(crust_arg() + 8, spent);
  return 16;
}

CRUST_EXPORT(self_id) {
  crust_self_id(crust_arg());
  return CRUST_ID_SIZE;
}

CRUST_EXPORT(meta) {
  static unsigned char name[1024]; /* hd writes into A: keep the name elsewhere */
  if (arg_len > (int32_t)sizeof name) crust_panic("meta: name too long");
  memcpy(name, crust_arg(), (size_t)arg_len);
  return crust_env_hd(CRUST_PTR(name), arg_len);
}
