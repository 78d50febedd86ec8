/* panicker: panics on request, and raises each kind of trap on request.
 *
 *   panic(msg)               always panics with message msg (UTF-8 bytes)
 *   maybe_panic(u8 flag | msg)
 *                            flag != 0: panics with msg;
 *                            flag == 0: returns msg unchanged
 *   echo(bytes)   -> bytes   returns its argument
 *   set(u64 LE v) -> empty   stores v in memory
 *   get()         -> u64 LE  the stored value (0 initially)
 *   set_then_panic(u64 LE v) stores v, then panics with "set_then_panic":
 *                            the store must be rolled back
 *   unreachable()            traps: unreachable
 *   divide(i32 LE a | i32 LE b) -> i32 LE a / b (signed); traps with an
 *                            integer divide by zero when b == 0, and an
 *                            integer overflow when a == INT32_MIN, b == -1
 *   load(u32 LE addr) -> u8  the byte at addr: traps (out-of-bounds memory
 *                            access) when addr >= memory size
 *   recurse(u32 LE n) -> u32 LE n, after n nested calls that use no shadow
 *                            stack: large n exhausts the VM's call depth
 *   stack_hog(u32 LE n) -> u32 LE n, after n nested calls that each put
 *                            256 bytes on the 64 KiB shadow stack: n >= 256
 *                            overflows it, which traps as an out-of-bounds
 *                            access below address 0
 *   spin()                   loops forever: runs out of gas
 *   burn(u32 LE n) -> u32 LE n, after a loop of n iterations (gas use)
 */
#include "crust_sdk.h"

static uint64_t stored;
static volatile uint32_t sink; /* in memory; defeats loop/recursion folding */

CRUST_EXPORT(panic) { crust_panic_n(crust_arg(), (size_t)arg_len); }

CRUST_EXPORT(maybe_panic) {
  crust_need_arg(arg_len, 1);
  unsigned char *a = crust_arg();
  if (a[0] != 0) crust_panic_n(a + 1, (size_t)arg_len - 1);
  return crust_return(a + 1, (size_t)arg_len - 1);
}

CRUST_EXPORT(echo) { return arg_len; }

CRUST_EXPORT(set) {
  if (arg_len != 8) crust_panic("set: expected u64");
  stored = crust_read_u64(crust_arg());
  return 0;
}

CRUST_EXPORT(get) { return crust_return_u64(stored); }

CRUST_EXPORT(set_then_panic) {
  if (arg_len != 8) crust_panic("set_then_panic: expected u64");
  stored = crust_read_u64(crust_arg());
  crust_panic("set_then_panic");
}

CRUST_EXPORT(unreachable) { __builtin_trap(); }

CRUST_EXPORT(divide) {
  if (arg_len != 8) crust_panic("divide: expected two i32");
  int32_t a = (int32_t)crust_read_u32(crust_arg());
  int32_t b = (int32_t)crust_read_u32(crust_arg() + 4);
  /* Undefined in C for b == 0 or INT32_MIN / -1; with operands from the
   * argument clang emits a plain i32.div_s, which traps in those cases. */
  return crust_return_u32((uint32_t)(a / b));
}

CRUST_EXPORT(load) {
  if (arg_len != 4) crust_panic("load: expected u32");
  uint32_t addr = crust_read_u32(crust_arg());
  unsigned char v = *(volatile unsigned char *)(uintptr_t)addr;
  crust_arg()[0] = v;
  return 1;
}

static uint32_t recurse(uint32_t n) {
  if (n == 0) return 0;
  uint32_t r = recurse(n - 1);
  sink = r; /* not a tail call: each level is a real wasm call frame */
  return r + 1;
}

CRUST_EXPORT(recurse) {
  if (arg_len != 4) crust_panic("recurse: expected u32");
  return crust_return_u32(recurse(crust_read_u32(crust_arg())));
}

/* Writes all 256 bytes of b: its caller's frame must really hold them. */
__attribute__((noinline)) static uint32_t touch(volatile unsigned char *b, uint32_t n) {
  for (uint32_t i = 0; i < 256; ++i) b[i] = (unsigned char)(n + i);
  return b[n & 255];
}

static uint32_t stack_hog(uint32_t n) {
  unsigned char buf[256];
  touch(buf, n);
  if (n == 0) return 0;
  uint32_t r = stack_hog(n - 1);
  touch(buf, r); /* buf stays live across the recursive call */
  return r + 1;
}

CRUST_EXPORT(stack_hog) {
  if (arg_len != 4) crust_panic("stack_hog: expected u32");
  return crust_return_u32(stack_hog(crust_read_u32(crust_arg())));
}

CRUST_EXPORT(spin) {
  for (;;) sink = sink + 1;
}

CRUST_EXPORT(burn) {
  if (arg_len != 4) crust_panic("burn: expected u32");
  uint32_t n = crust_read_u32(crust_arg());
  for (uint32_t i = 0; i < n; ++i) sink = i;
  return crust_return_u32(n);
}
