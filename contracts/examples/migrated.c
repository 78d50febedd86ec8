/* migrated: version 2 of counter, for migration (VmSession::Migrate).
 *
 * It is counter.c (included verbatim) plus three functions, and adds no data
 * (no string literals, no variables): every address of counter.wasm's layout
 * -- the read-only data, `value`, A -- is the same, and so are the data
 * segments. Its `migrate` reads the old value by calling `read` on the old
 * module's id, so it works however the migration runs:
 *   - over the old memory (the new code keeps the old id and memory: the call
 *     is a self-call, and `value` is already where counter left it), or
 *   - piecrust-style, in fresh memory beside the old module (the call reads
 *     the old module's state, which the new code then keeps).
 *
 *   init, read, increment, add      as in counter
 *   migrate(old id[32] [| u64 factor]) -> u64 value after value = old.read() * factor
 *                                      (factor 10 when absent); traps (unreachable)
 *                                      if the call to the old `read` fails
 *   decrement()                     -> u64 value after -1 (wrapping)
 *   version()                       -> u32 2
 */
#include "counter.c"

CRUST_EXPORT(migrate) {
  if (arg_len != 32 && arg_len != 40) __builtin_trap();
  unsigned char old[CRUST_ID_SIZE];
  memcpy(old, crust_arg(), CRUST_ID_SIZE);
  uint64_t factor = arg_len == 40 ? crust_read_u64(crust_arg() + 32) : 10;
  /* The function name, built on the stack: a string literal would add
   * read-only data and move `value`. */
  unsigned char fn[4];
  crust_write_u32(fn, 0x64616572u); /* "read" */
  if (crust_env_c(CRUST_PTR(old), CRUST_PTR(fn), 4, 0, 0) != 8) __builtin_trap();
  value = crust_read_u64(crust_arg()) * factor;
  return crust_return_u64(value);
}

CRUST_EXPORT(decrement) {
  value -= 1;
  return crust_return_u64(value);
}

CRUST_EXPORT(version) { return crust_return_u32(2); }
