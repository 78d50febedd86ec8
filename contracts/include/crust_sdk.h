/*
 * crust_sdk.h -- write crust (piecrust-compatible) smart contracts in C or C++.
 *
 * Build a contract (one or more translation units) with:
 *
 *   clang --target=wasm32 -mcpu=mvp -ffreestanding -nostdlib -O2 \
 *         -fno-exceptions -I contracts/include \
 *         -Wl,--no-entry -Wl,--export=A -Wl,--stack-first \
 *         -Wl,-z,stack-size=65536 -o my.wasm my.c
 *
 * (contracts/CMakeLists.txt does this for the examples; see contracts/README.md.)
 *
 * ABI (piecrust's wasm32 ABI)
 * ---------------------------
 *  - The module exports its linear memory as "memory" and an immutable i32
 *    global "A" whose value is the address of a 64 KiB argument buffer inside
 *    memory. This header defines that buffer as the C array `crust_argbuf`,
 *    whose *linker symbol* is "A"; wasm-ld turns `--export=A` on a data symbol
 *    into an exported immutable i32 global holding the symbol's address.
 *  - A callable function has type (i32 arg_len) -> i32. The host copies the
 *    argument into A[0..arg_len], calls the function, and reads the result from
 *    A[0..ret_len], where ret_len is the return value. Declare one with
 *    CRUST_EXPORT(name) { ... }  (the parameter is called `arg_len`).
 *  - An exported function named `init`, if present, runs once at deploy with
 *    the deploy argument and can never be called afterwards.
 *  - Host functions are imported from module "env" (declared below). Several of
 *    them write their result into A: that overwrites the argument, so copy
 *    whatever you still need out of A first.
 *
 * State and globals
 * -----------------
 *  A contract's state is its linear memory: static/global C variables live in
 *  memory (data/bss) and persist between calls and across commits. Keep the
 *  module free of *mutable wasm globals* other than clang's `__stack_pointer`:
 *  crust persists mutable globals as part of a module's state (or rejects
 *  modules that need them), and the stack pointer is back at its initial value
 *  after every successful call. Plain C code compiled with this header produces
 *  no other wasm globals (C variables are in memory, not wasm globals).
 *  Floats are not used by the SDK or the examples; avoid them (crust may reject
 *  or canonicalise float NaNs).
 *
 * Memory layout (with the flags above): [0, 64 KiB) is the shadow stack (it
 * grows down from 64 KiB, so a stack overflow wraps below 0 and traps instead of
 * corrupting data), then read-only data, data, bss (including A), then the heap
 * from `__heap_base`, then any pages added by memory.grow.
 */
#ifndef CRUST_SDK_H
#define CRUST_SDK_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "crust_sdk.h is for wasm32 contracts: compile with clang --target=wasm32"
#endif

#ifdef __cplusplus
#define CRUST_EXTERN_C extern "C"
extern "C" {
#else
#define CRUST_EXTERN_C
#endif

#define CRUST_ARG_BUF_SIZE 65536u /* size of the argument buffer A */
#define CRUST_PAGE_SIZE 65536u    /* WebAssembly page size */
#define CRUST_ID_SIZE 32u         /* module ids are 32 bytes */

#define CRUST_INLINE static inline __attribute__((always_inline))
#define CRUST_NORETURN __attribute__((noreturn))

/* ------------------------------------------------------------------------ */
/* The argument buffer A.                                                    */
/* ------------------------------------------------------------------------ */

/* Weak so that every translation unit of a contract may include this header;
 * the linker keeps one definition. Its linker symbol is "A". */
__attribute__((weak, aligned(16))) unsigned char crust_argbuf[CRUST_ARG_BUF_SIZE] __asm__("A");

/* Pointer to the argument buffer (A). */
CRUST_INLINE unsigned char *crust_arg(void) { return crust_argbuf; }

/* Declares a callable function exported as `name`, of type (i32) -> i32.
 * Usage:   CRUST_EXPORT(read) { ...; return ret_len; }
 * The argument length is available as `arg_len`; the C function itself is
 * called crust_export_<name>, so export names never clash with C names. */
#define CRUST_EXPORT(name)                                                   \
  CRUST_EXTERN_C __attribute__((export_name(#name))) int32_t crust_export_##name( \
      __attribute__((unused)) int32_t arg_len)

/* ------------------------------------------------------------------------ */
/* Freestanding memcpy/memmove/memset/memcmp.                               */
/* clang emits calls to these for struct copies and loops even with          */
/* -nostdlib; they are weak so several translation units can include this.  */
/* no_builtin stops clang from turning their loops back into calls to        */
/* themselves.                                                               */
/* ------------------------------------------------------------------------ */

typedef uint32_t __attribute__((may_alias)) crust_u32_alias_t;

__attribute__((weak, no_builtin("memcpy"))) void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  if ((((uintptr_t)d | (uintptr_t)s) & 3u) == 0) {
    for (; n >= 4; n -= 4, d += 4, s += 4) *(crust_u32_alias_t *)d = *(const crust_u32_alias_t *)s;
  }
  while (n--) *d++ = *s++;
  return dst;
}

__attribute__((weak, no_builtin("memmove"))) void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  if (d == s || n == 0) return dst;
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    d += n;
    s += n;
    while (n--) *--d = *--s;
  }
  return dst;
}

__attribute__((weak, no_builtin("memset"))) void *memset(void *dst, int c, size_t n) {
  unsigned char *d = (unsigned char *)dst;
  unsigned char b = (unsigned char)c;
  if (((uintptr_t)d & 3u) == 0) {
    uint32_t w = 0x01010101u * b;
    for (; n >= 4; n -= 4, d += 4) *(crust_u32_alias_t *)d = w;
  }
  while (n--) *d++ = b;
  return dst;
}

__attribute__((weak, no_builtin("memcmp"))) int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  for (; n; --n, ++x, ++y)
    if (*x != *y) return (int)*x - (int)*y;
  return 0;
}

CRUST_INLINE size_t crust_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

/* ------------------------------------------------------------------------ */
/* Little-endian encoding (wasm is little-endian; these also work unaligned). */
/* ------------------------------------------------------------------------ */

CRUST_INLINE uint16_t crust_read_u16(const void *p) {
  const unsigned char *b = (const unsigned char *)p;
  return (uint16_t)(b[0] | (b[1] << 8));
}
CRUST_INLINE uint32_t crust_read_u32(const void *p) {
  const unsigned char *b = (const unsigned char *)p;
  return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
CRUST_INLINE uint64_t crust_read_u64(const void *p) {
  const unsigned char *b = (const unsigned char *)p;
  return (uint64_t)crust_read_u32(b) | ((uint64_t)crust_read_u32(b + 4) << 32);
}
CRUST_INLINE void crust_write_u16(void *p, uint16_t v) {
  unsigned char *b = (unsigned char *)p;
  b[0] = (unsigned char)v;
  b[1] = (unsigned char)(v >> 8);
}
CRUST_INLINE void crust_write_u32(void *p, uint32_t v) {
  unsigned char *b = (unsigned char *)p;
  b[0] = (unsigned char)v;
  b[1] = (unsigned char)(v >> 8);
  b[2] = (unsigned char)(v >> 16);
  b[3] = (unsigned char)(v >> 24);
}
CRUST_INLINE void crust_write_u64(void *p, uint64_t v) {
  unsigned char *b = (unsigned char *)p;
  crust_write_u32(b, (uint32_t)v);
  crust_write_u32(b + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------------------ */
/* Host imports (module "env"). Raw declarations, exactly the host ABI.      */
/* Only the ones a contract uses end up in its import section.              */
/* ------------------------------------------------------------------------ */

#define CRUST_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* Aborts the call; the UTF-8 message is A[0..msg_len]. Never returns. */
CRUST_IMPORT(panic) void crust_env_panic(int32_t msg_len);
/* Gas limit of the current call. */
CRUST_IMPORT(limit) int64_t crust_env_limit(void);
/* Gas spent so far by the current call. */
CRUST_IMPORT(spent) int64_t crust_env_spent(void);
/* Writes this module's 32-byte id into A[0..32]. */
CRUST_IMPORT(self_id) void crust_env_self_id(void);
/* Copies the session metadata value named name[0..name_len] into A; returns
 * its length, 0 if absent. */
CRUST_IMPORT(hd) int32_t crust_env_hd(int32_t name_ptr, int32_t name_len);

/* The following come with inter-module calls (issue 4). */

/* Calls function fn[0..fn_len] of the module whose 32-byte id is at
 * module_ptr, with argument A[0..arg_len]. The callee's result is copied into
 * A and its length returned; negative values are CRUST_CALL_* errors.
 * gas_limit 0 passes 93% of the remaining gas. */
CRUST_IMPORT(c)
int32_t crust_env_c(int32_t module_ptr, int32_t fn_ptr, int32_t fn_len, int32_t arg_len,
                    int64_t gas_limit);
/* Host query name[0..name_len] with argument A[0..arg_len]; result in A,
 * length returned. */
CRUST_IMPORT(hq) int32_t crust_env_hq(int32_t name_ptr, int32_t name_len, int32_t arg_len);
/* Emits an event with topic topic[0..topic_len] and data A[0..arg_len]. */
CRUST_IMPORT(emit) void crust_env_emit(int32_t topic_ptr, int32_t topic_len, int32_t arg_len);
/* Streams A[0..arg_len] to the host's feeder (only during a feeder call). */
CRUST_IMPORT(feed) void crust_env_feed(int32_t arg_len);
/* 1 and the caller's 32-byte id in A, or 0 when called by the host. */
CRUST_IMPORT(caller) int32_t crust_env_caller(void);
/* Number of ids written to A (32 bytes each, immediate caller first). */
CRUST_IMPORT(callstack) int32_t crust_env_callstack(void);
/* Owner bytes of module id_ptr[0..32] into A; length, 0 if no such module. */
CRUST_IMPORT(owner) int32_t crust_env_owner(int32_t id_ptr);

/* Error codes returned by crust_env_c / crust_call. */
#define CRUST_CALL_PANIC (-1)       /* callee panicked: A = u32 LE len + message */
#define CRUST_CALL_OUT_OF_GAS (-2)  /* callee ran out of gas */
#define CRUST_CALL_NOT_FOUND (-3)   /* no such module or function */
#define CRUST_CALL_OTHER INT32_MIN  /* anything else (trap, ...) */

#define CRUST_PTR(p) ((int32_t)(uintptr_t)(p))

/* ------------------------------------------------------------------------ */
/* Convenience wrappers.                                                     */
/* ------------------------------------------------------------------------ */

/* Panics with msg[0..len]. The message is copied into A (truncated to 64 KiB). */
CRUST_INLINE CRUST_NORETURN void crust_panic_n(const void *msg, size_t len) {
  if (len > CRUST_ARG_BUF_SIZE) len = CRUST_ARG_BUF_SIZE;
  if ((const unsigned char *)msg != crust_argbuf) memmove(crust_argbuf, msg, len);
  crust_env_panic((int32_t)len);
  __builtin_unreachable();
}
/* Panics with a NUL-terminated message. */
CRUST_INLINE CRUST_NORETURN void crust_panic(const char *msg) {
  crust_panic_n(msg, crust_strlen(msg));
}
/* Panics with msg unless cond holds. */
#define crust_assert(cond, msg)        \
  do {                                 \
    if (!(cond)) crust_panic(msg);     \
  } while (0)
/* Panics unless the argument is at least n bytes long. */
CRUST_INLINE void crust_need_arg(int32_t arg_len, uint32_t n) {
  if (arg_len < 0 || (uint32_t)arg_len < n) crust_panic("argument too short");
}

/* Return helpers: write the result into A and return its length. */
CRUST_INLINE int32_t crust_return(const void *data, size_t len) {
  if (len > CRUST_ARG_BUF_SIZE) crust_panic("result larger than 64 KiB");
  if ((const unsigned char *)data != crust_argbuf) memmove(crust_argbuf, data, len);
  return (int32_t)len;
}
CRUST_INLINE int32_t crust_return_u32(uint32_t v) {
  crust_write_u32(crust_argbuf, v);
  return 4;
}
CRUST_INLINE int32_t crust_return_u64(uint64_t v) {
  crust_write_u64(crust_argbuf, v);
  return 8;
}

CRUST_INLINE uint64_t crust_limit(void) { return (uint64_t)crust_env_limit(); }
CRUST_INLINE uint64_t crust_spent(void) { return (uint64_t)crust_env_spent(); }
/* Copies this module's id into out[0..32]. Clobbers A[0..32]. */
CRUST_INLINE void crust_self_id(unsigned char out[CRUST_ID_SIZE]) {
  crust_env_self_id();
  if (out != crust_argbuf) memcpy(out, crust_argbuf, CRUST_ID_SIZE);
}
/* Session metadata `name` (NUL-terminated) into A; returns its length, 0 if absent. */
CRUST_INLINE int32_t crust_hd(const char *name) {
  return crust_env_hd(CRUST_PTR(name), (int32_t)crust_strlen(name));
}
/* Calls function `fn` (NUL-terminated) of module `id` with argument
 * arg[0..arg_len] (arg may be A itself, or NULL when A already holds it).
 * Returns the result length (result in A) or a CRUST_CALL_* error.
 * `id` and `fn` must not point into A. */
CRUST_INLINE int32_t crust_call(const unsigned char id[CRUST_ID_SIZE], const char *fn,
                                const void *arg, size_t arg_len, uint64_t gas_limit) {
  if (arg_len > CRUST_ARG_BUF_SIZE) crust_panic("argument larger than 64 KiB");
  if (arg && (const unsigned char *)arg != crust_argbuf) memmove(crust_argbuf, arg, arg_len);
  return crust_env_c(CRUST_PTR(id), CRUST_PTR(fn), (int32_t)crust_strlen(fn), (int32_t)arg_len,
                     (int64_t)gas_limit);
}
/* Host query `name` with argument arg[0..arg_len] (or A if arg is NULL). */
CRUST_INLINE int32_t crust_hq(const char *name, const void *arg, size_t arg_len) {
  if (arg_len > CRUST_ARG_BUF_SIZE) crust_panic("argument larger than 64 KiB");
  if (arg && (const unsigned char *)arg != crust_argbuf) memmove(crust_argbuf, arg, arg_len);
  return crust_env_hq(CRUST_PTR(name), (int32_t)crust_strlen(name), (int32_t)arg_len);
}
/* Emits an event: topic (NUL-terminated), data[0..len] (or A if data is NULL). */
CRUST_INLINE void crust_emit(const char *topic, const void *data, size_t len) {
  if (len > CRUST_ARG_BUF_SIZE) crust_panic("event larger than 64 KiB");
  if (data && (const unsigned char *)data != crust_argbuf) memmove(crust_argbuf, data, len);
  crust_env_emit(CRUST_PTR(topic), (int32_t)crust_strlen(topic), (int32_t)len);
}
/* Feeds data[0..len] (or A if data is NULL) to the host's feeder. */
CRUST_INLINE void crust_feed(const void *data, size_t len) {
  if (len > CRUST_ARG_BUF_SIZE) crust_panic("feed larger than 64 KiB");
  if (data && (const unsigned char *)data != crust_argbuf) memmove(crust_argbuf, data, len);
  crust_env_feed((int32_t)len);
}
/* 1 and the caller's id in out (if not NULL), or 0 when called by the host. */
CRUST_INLINE int crust_caller(unsigned char out[CRUST_ID_SIZE]) {
  int32_t r = crust_env_caller();
  if (r && out && out != crust_argbuf) memcpy(out, crust_argbuf, CRUST_ID_SIZE);
  return r;
}
/* Number of ids in the call stack; the ids are in A (32 bytes each). */
CRUST_INLINE int32_t crust_callstack(void) { return crust_env_callstack(); }
/* Owner of module `id` into A; returns its length, 0 if no such module. */
CRUST_INLINE int32_t crust_owner(const unsigned char id[CRUST_ID_SIZE]) {
  return crust_env_owner(CRUST_PTR(id));
}

/* ------------------------------------------------------------------------ */
/* Memory: pages and a bump allocator.                                       */
/* ------------------------------------------------------------------------ */

/* Current memory size in pages. */
CRUST_INLINE uint32_t crust_memory_pages(void) {
  return (uint32_t)__builtin_wasm_memory_size(0);
}
/* memory.grow: adds `pages` pages; returns the previous size in pages, or
 * UINT32_MAX if the memory cannot grow (e.g. the VM's memory limit). */
CRUST_INLINE uint32_t crust_memory_grow(uint32_t pages) {
  return (uint32_t)__builtin_wasm_memory_grow(0, pages);
}

/* Start of the heap (provided by wasm-ld). */
extern unsigned char __heap_base;

/* Bump allocator state. It lives in linear memory (not in a wasm global), so
 * it persists between calls with the rest of the contract's state. */
__attribute__((weak)) uint32_t crust_heap_next;

/* Allocates n bytes aligned to 8, growing memory when needed; panics when the
 * memory cannot grow. Memory is never freed. Contracts using crust_alloc must
 * not call memory.grow directly (the allocator assumes it owns everything
 * from __heap_base up). Fresh memory is zero. */
CRUST_INLINE void *crust_alloc(size_t n) {
  uint32_t p = crust_heap_next;
  if (p == 0) p = (uint32_t)(uintptr_t)&__heap_base;
  p = (p + 7u) & ~7u;
  uint64_t end = (uint64_t)p + n;
  uint64_t have = (uint64_t)crust_memory_pages() * CRUST_PAGE_SIZE;
  if (end > have) {
    uint64_t need = (end - have + CRUST_PAGE_SIZE - 1) / CRUST_PAGE_SIZE;
    if (end > 0xFFFFFFFFull || crust_memory_grow((uint32_t)need) == UINT32_MAX)
      crust_panic("out of memory");
  }
  crust_heap_next = (uint32_t)end;
  return (void *)(uintptr_t)p;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRUST_SDK_H */
