/* crossover: piecrust's "crossover" scenario (a failed call rolls back the
 * writes it caused in its caller too).
 *
 * Two instances A and B. A.check_consistent_state_on_errors(B, x, y) sets A's
 * value to x, then calls B.set_back_and_panic(y); B sets its own value to y,
 * calls back into A.set_crossover(y) (which succeeds: A's value is y for a
 * moment), then panics. The whole subtree is rolled back: A sees the -1 error,
 * its value is x again, B's is unchanged; A then writes x + 1, which stays.
 * Every write of the value emits an event "crossover" with the new u64 value
 * (events of the rolled-back subtree disappear with it).
 *
 *   crossover()                 -> u64 value (0 initially)
 *   set_crossover(u64 v)        -> u64 previous value; emits ("crossover", v)
 *   check_consistent_state_on_errors(other[32] | u64 x | u64 y)
 *                               -> i32 code | u64 value afterwards | A as left by the
 *                                  failed call (u32 len | panic message)
 *                                  panics if the call did not fail with -1 or if the
 *                                  value is not x after it
 *   set_back_and_panic(u64 y)   -> never returns: sets y here and in the caller
 *                                  (through set_crossover), then panics
 *                                  "set_back_and_panic: OH NOES"; panics
 *                                  "set_back_and_panic: no caller" when called by the host
 */
#include "crust_sdk.h"

static uint64_t value;

static void set_value(uint64_t v) {
  value = v;
  unsigned char data[8];
  crust_write_u64(data, v);
  crust_emit("crossover", data, 8);
}

CRUST_EXPORT(crossover) { return crust_return_u64(value); }

CRUST_EXPORT(set_crossover) {
  if (arg_len != 8) crust_panic("set_crossover: expected u64");
  uint64_t old = value;
  set_value(crust_read_u64(crust_arg()));
  return crust_return_u64(old);
}

CRUST_EXPORT(check_consistent_state_on_errors) {
  if (arg_len != 48) crust_panic("check_consistent_state_on_errors: expected id | u64 | u64");
  unsigned char other[CRUST_ID_SIZE];
  memcpy(other, crust_arg(), CRUST_ID_SIZE);
  uint64_t x = crust_read_u64(crust_arg() + 32);
  uint64_t y = crust_read_u64(crust_arg() + 40);
  set_value(x);
  unsigned char arg[8];
  crust_write_u64(arg, y);
  int32_t code = crust_call(other, "set_back_and_panic", arg, 8, 0);
  if (code != CRUST_CALL_PANIC) crust_panic("crossover: expected the callee to panic");
  if (value != x) crust_panic("crossover: a failed call changed the caller's state");
  uint32_t msg = 4 + crust_read_u32(crust_arg());
  if (msg > CRUST_ARG_BUF_SIZE - 12) crust_panic("crossover: bad panic message");
  /* set_value emits from A: keep the message elsewhere meanwhile. */
  static unsigned char saved[CRUST_ARG_BUF_SIZE];
  memcpy(saved, crust_arg(), msg);
  set_value(x + 1); /* a write after the failed call: it stays */
  crust_write_u32(crust_arg(), (uint32_t)code);
  crust_write_u64(crust_arg() + 4, value);
  memcpy(crust_arg() + 12, saved, msg);
  return (int32_t)(12 + msg);
}

CRUST_EXPORT(set_back_and_panic) {
  if (arg_len != 8) crust_panic("set_back_and_panic: expected u64");
  uint64_t y = crust_read_u64(crust_arg());
  unsigned char caller[CRUST_ID_SIZE];
  if (!crust_caller(caller)) crust_panic("set_back_and_panic: no caller");
  set_value(y);
  unsigned char arg[8];
  crust_write_u64(arg, y);
  if (crust_call(caller, "set_crossover", arg, 8, 0) != 8) crust_panic("set_back_and_panic: call back failed");
  crust_panic("set_back_and_panic: OH NOES");
}
