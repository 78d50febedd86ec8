/* callcenter: inter-module calls and the context host functions of issue 4.
 *
 * A generic forwarder plus small probes of every import, so tests can build
 * chains of calls (including self-calls) out of deployed copies of this one
 * contract. All integers little-endian. See contracts/README.md for the table.
 *
 * A call request is   module[32] | u64 gas | u32 fn_len | fn | arg (the rest)
 * and a call response is
 *   i32 code | bytes
 * where code is what `c` returned and bytes is A[0..code] (the callee's
 * result) when code >= 0, A[0..4+len] (u32 len | panic message) when code is
 * -1, and nothing otherwise.
 *
 *   call(request)                 -> response
 *   write(u64 v)                  -> empty; stores v
 *   read()                        -> u64 stored value (0 initially)
 *   write_then_call(u64 v | request) -> response (stores v first)
 *   caller()                      -> u8 1 | caller id[32], or u8 0 from the host
 *   callstack()                   -> u32 n | n ids of 32 bytes (as callstack() wrote them)
 *   owner_of(id[32])              -> u32 len | owner bytes (len 0: no such module)
 *   self_id()                     -> id[32]
 *   emit(u32 topic_len | topic | data) -> empty; one event
 *   query(u32 name_len | name | arg)   -> the host query's result
 *   feed_n(u32 n)                 -> u32 n; feeds u32 0, 1, ..., n-1 (4 bytes each)
 *   spend(u32 n)                  -> u64 limit() | u64 spent() after an n-iteration loop
 *   depth(u32 n)                  -> u32 levels | i32 code: calls itself n levels deep
 *                                    (gas 0); levels = nested calls that succeeded,
 *                                    code = the first failing `c` result (0: none)
 *   run(script)                   -> u64 stored | records of the script's 'C' ops
 *
 * run's script is a sequence of ops (at most 2048 bytes):
 *   'W' u64 v                          store v
 *   'E' u32 topic_len topic u32 len data   emit an event
 *   'F' u32 v                          feed the 4 bytes of v
 *   'C' u32 req_len request            make a call; record i32 code | u32 len | bytes
 *                                      (the response's bytes, truncated to 256)
 *   'S' u32 n                          spend gas: an n-iteration loop
 *   'P'                                panic "run: panic"
 * The records (at most 1024 bytes) follow the value stored when the script ends.
 */
#include "crust_sdk.h"

static uint64_t stored;
static volatile uint32_t sink; /* defeats loop folding in spend */

/* Makes the call described by req[0..len] (not in A); leaves the raw result
 * in A and returns what `c` returned. */
static int32_t do_call(const unsigned char *req, uint32_t len) {
  if (len < 44) crust_panic("callcenter: request too short");
  uint32_t fn_len = crust_read_u32(req + 40);
  if (fn_len > len - 44) crust_panic("callcenter: fn_len exceeds the request");
  const unsigned char *fn = req + 44;
  uint32_t arg_len = len - 44 - fn_len;
  unsigned char id[CRUST_ID_SIZE];
  memcpy(id, req, CRUST_ID_SIZE);
  uint64_t gas = crust_read_u64(req + 32);
  /* c reads the module id and the function name from memory outside A. */
  unsigned char name[256];
  if (fn_len > sizeof name) crust_panic("callcenter: function name too long");
  memcpy(name, fn, fn_len);
  memmove(crust_arg(), fn + fn_len, arg_len);
  return crust_env_c(CRUST_PTR(id), CRUST_PTR(name), (int32_t)fn_len, (int32_t)arg_len, (int64_t)gas);
}

/* Length of the response bytes that follow the code (the result is in A). */
static uint32_t response_len(int32_t code) {
  if (code >= 0) return (uint32_t)code;
  if (code == CRUST_CALL_PANIC) return 4 + crust_read_u32(crust_arg());
  return 0;
}

/* Turns A (the raw result of a call that returned `code`) into a response. */
static int32_t respond(int32_t code) {
  uint32_t n = response_len(code);
  if (n > CRUST_ARG_BUF_SIZE - 4) crust_panic("callcenter: response too large");
  memmove(crust_arg() + 4, crust_arg(), n);
  crust_write_u32(crust_arg(), (uint32_t)code);
  return (int32_t)(4 + n);
}

/* Forwards the request at A[skip..arg_len]. */
static int32_t forward(int32_t arg_len, uint32_t skip) {
  static unsigned char req[CRUST_ARG_BUF_SIZE];
  uint32_t len = (uint32_t)arg_len - skip;
  memcpy(req, crust_arg() + skip, len);
  return respond(do_call(req, len));
}

CRUST_EXPORT(call) {
  crust_need_arg(arg_len, 44);
  return forward(arg_len, 0);
}

CRUST_EXPORT(write) {
  if (arg_len != 8) crust_panic("callcenter.write: expected u64");
  stored = crust_read_u64(crust_arg());
  return 0;
}

CRUST_EXPORT(read) { return crust_return_u64(stored); }

CRUST_EXPORT(write_then_call) {
  crust_need_arg(arg_len, 8 + 44);
  stored = crust_read_u64(crust_arg());
  return forward(arg_len, 8);
}

CRUST_EXPORT(caller) {
  unsigned char id[CRUST_ID_SIZE];
  if (!crust_caller(id)) {
    crust_arg()[0] = 0;
    return 1;
  }
  crust_arg()[0] = 1;
  memcpy(crust_arg() + 1, id, CRUST_ID_SIZE);
  return 1 + CRUST_ID_SIZE;
}

CRUST_EXPORT(callstack) {
  int32_t n = crust_callstack();
  if (n < 0 || (uint32_t)n * CRUST_ID_SIZE > CRUST_ARG_BUF_SIZE - 4) crust_panic("callcenter: bad callstack");
  uint32_t len = (uint32_t)n * CRUST_ID_SIZE;
  memmove(crust_arg() + 4, crust_arg(), len);
  crust_write_u32(crust_arg(), (uint32_t)n);
  return (int32_t)(4 + len);
}

CRUST_EXPORT(owner_of) {
  if (arg_len != CRUST_ID_SIZE) crust_panic("callcenter.owner_of: expected a 32-byte id");
  unsigned char id[CRUST_ID_SIZE];
  memcpy(id, crust_arg(), CRUST_ID_SIZE);
  int32_t n = crust_owner(id);
  if (n < 0 || (uint32_t)n > CRUST_ARG_BUF_SIZE - 4) crust_panic("callcenter: bad owner length");
  memmove(crust_arg() + 4, crust_arg(), (uint32_t)n);
  crust_write_u32(crust_arg(), (uint32_t)n);
  return 4 + n;
}

CRUST_EXPORT(self_id) {
  crust_env_self_id();
  return CRUST_ID_SIZE;
}

CRUST_EXPORT(emit) {
  crust_need_arg(arg_len, 4);
  static unsigned char topic[1024];
  uint32_t topic_len = crust_read_u32(crust_arg());
  if (topic_len > sizeof topic || topic_len > (uint32_t)arg_len - 4) crust_panic("callcenter.emit: bad topic_len");
  memcpy(topic, crust_arg() + 4, topic_len);
  uint32_t data_len = (uint32_t)arg_len - 4 - topic_len;
  memmove(crust_arg(), crust_arg() + 4 + topic_len, data_len);
  crust_env_emit(CRUST_PTR(topic), (int32_t)topic_len, (int32_t)data_len);
  return 0;
}

CRUST_EXPORT(query) {
  crust_need_arg(arg_len, 4);
  static unsigned char name[1024];
  uint32_t name_len = crust_read_u32(crust_arg());
  if (name_len > sizeof name || name_len > (uint32_t)arg_len - 4) crust_panic("callcenter.query: bad name_len");
  memcpy(name, crust_arg() + 4, name_len);
  uint32_t len = (uint32_t)arg_len - 4 - name_len;
  memmove(crust_arg(), crust_arg() + 4 + name_len, len);
  return crust_env_hq(CRUST_PTR(name), (int32_t)name_len, (int32_t)len);
}

CRUST_EXPORT(feed_n) {
  if (arg_len != 4) crust_panic("callcenter.feed_n: expected u32");
  uint32_t n = crust_read_u32(crust_arg());
  for (uint32_t i = 0; i < n; ++i) {
    crust_write_u32(crust_arg(), i);
    crust_env_feed(4);
  }
  return crust_return_u32(n);
}

CRUST_EXPORT(spend) {
  if (arg_len != 4) crust_panic("callcenter.spend: expected u32");
  uint32_t n = crust_read_u32(crust_arg());
  for (uint32_t i = 0; i < n; ++i) sink = i;
  uint64_t limit = crust_limit();
  uint64_t spent = crust_spent();
  crust_write_u64(crust_arg(), limit);
  crust_write_u64(crust_arg() + 8, spent);
  return 16;
}

CRUST_EXPORT(depth) {
  if (arg_len != 4) crust_panic("callcenter.depth: expected u32");
  uint32_t n = crust_read_u32(crust_arg());
  uint32_t levels = 0;
  int32_t code = 0;
  if (n > 0) {
    unsigned char id[CRUST_ID_SIZE];
    crust_self_id(id);
    static const char fn[] = "depth";
    crust_write_u32(crust_arg(), n - 1);
    int32_t r = crust_env_c(CRUST_PTR(id), CRUST_PTR(fn), 5, 4, 0);
    if (r < 0) {
      code = r;
    } else {
      if (r != 8) crust_panic("callcenter.depth: bad result");
      levels = crust_read_u32(crust_arg()) + 1;
      code = (int32_t)crust_read_u32(crust_arg() + 4);
    }
  }
  crust_write_u32(crust_arg(), levels);
  crust_write_u32(crust_arg() + 4, (uint32_t)code);
  return 8;
}

CRUST_EXPORT(run) {
  if (arg_len > 2048) crust_panic("callcenter.run: script longer than 2048 bytes");
  /* Both buffers are on the shadow stack: a self-call runs its own script
   * without clobbering this one. */
  unsigned char script[2048];
  unsigned char out[1024];
  uint32_t len = (uint32_t)arg_len, pos = 0, out_len = 0;
  memcpy(script, crust_arg(), len);
  while (pos < len) {
    unsigned char op = script[pos++];
    uint32_t left = len - pos;
    if (op == 'W') {
      if (left < 8) crust_panic("run: truncated W");
      stored = crust_read_u64(script + pos);
      pos += 8;
    } else if (op == 'E') {
      if (left < 4) crust_panic("run: truncated E");
      uint32_t tl = crust_read_u32(script + pos);
      if (tl > left - 4 || left - 4 - tl < 4) crust_panic("run: truncated E");
      const unsigned char *topic = script + pos + 4;
      uint32_t dl = crust_read_u32(topic + tl);
      if (dl > left - 8 - tl) crust_panic("run: truncated E");
      memcpy(crust_arg(), topic + tl + 4, dl);
      crust_env_emit(CRUST_PTR(topic), (int32_t)tl, (int32_t)dl);
      pos += 8 + tl + dl;
    } else if (op == 'F') {
      if (left < 4) crust_panic("run: truncated F");
      memcpy(crust_arg(), script + pos, 4);
      crust_env_feed(4);
      pos += 4;
    } else if (op == 'C') {
      if (left < 4) crust_panic("run: truncated C");
      uint32_t rl = crust_read_u32(script + pos);
      if (rl > left - 4) crust_panic("run: truncated C");
      int32_t code = do_call(script + pos + 4, rl);
      pos += 4 + rl;
      uint32_t n = response_len(code);
      if (n > 256) n = 256;
      if (out_len + 8 + n > sizeof out) crust_panic("run: too many records");
      crust_write_u32(out + out_len, (uint32_t)code);
      crust_write_u32(out + out_len + 4, n);
      memcpy(out + out_len + 8, crust_arg(), n);
      out_len += 8 + n;
    } else if (op == 'S') {
      if (left < 4) crust_panic("run: truncated S");
      uint32_t n = crust_read_u32(script + pos);
      for (uint32_t i = 0; i < n; ++i) sink = i;
      pos += 4;
    } else if (op == 'P') {
      crust_panic("run: panic");
    } else {
      crust_panic("run: unknown op");
    }
  }
  crust_write_u64(crust_arg(), stored);
  memcpy(crust_arg() + 8, out, out_len);
  return (int32_t)(8 + out_len);
}
