/* grower: appends 64 KiB chunks to memory with memory.grow, fills them with
 * a pattern derived from the argument, and reads them back.
 *
 * Chunk k of a call grow(seed, count) gets chunk seed (seed + k) mod 2^32; its
 * 16384 little-endian u32 words are successive states of xorshift32 started
 * at (chunk_seed ^ 0xA5A5A5A5), or 1 if that is 0:
 *   x ^= x << 13; x ^= x >> 17; x ^= x << 5; word = x
 * The checksum of a chunk is FNV-1a-64 over its words:
 *   h = 0xcbf29ce484222325; for each word w: h = (h ^ w) * 0x100000001b3
 *
 *   grow(u32 LE seed [| u32 LE count])  appends count (default 1) chunks
 *        -> u32 LE chunks | u32 LE memory pages
 *   info()  -> u32 LE chunks | u32 LE memory pages | u32 LE first chunk's page
 *   checksum(u32 LE index) -> u64 LE checksum of chunk `index`, read from memory
 *   verify() -> u32 LE chunks | u64 LE FNV-1a-64 of all chunk checksums
 *        (each as a u64 folded in as two u32 words, low first); re-derives
 *        every chunk and panics with "chunk N corrupted" on a mismatch
 *   read(u32 LE index | u32 LE offset | u32 LE len) -> the bytes (within the chunk)
 *   write(u32 LE index | u32 LE offset | bytes) -> u32 LE bytes written
 *        (overwrites chunk bytes: a later verify panics)
 *   grow_and_panic(u32 LE seed) grows one chunk, fills it, then panics with
 *        "grow_and_panic": the growth and its contents must be rolled back
 *
 * Chunks occupy consecutive pages from the memory size at the first grow
 * (this contract never allocates otherwise).
 */
#include "crust_sdk.h"

#define MAX_CHUNKS 16384u /* 1 GiB of chunks */
#define WORDS (CRUST_PAGE_SIZE / 4u)

static uint32_t nchunks;
static uint32_t first_page;
static uint32_t seeds[MAX_CHUNKS];

static uint32_t *chunk(uint32_t i) {
  return (uint32_t *)(uintptr_t)((first_page + i) * CRUST_PAGE_SIZE);
}

static uint32_t start_state(uint32_t seed) {
  uint32_t x = seed ^ 0xA5A5A5A5u;
  return x ? x : 1u;
}

static uint32_t next(uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

static uint64_t fnv_words(uint64_t h, const uint32_t *w, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) h = (h ^ w[i]) * 0x100000001b3ull;
  return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static void append(uint32_t seed) {
  if (nchunks >= MAX_CHUNKS) crust_panic("grower: too many chunks");
  uint32_t pages = crust_memory_pages();
  if (nchunks == 0) first_page = pages;
  if (pages != first_page + nchunks) crust_panic("grower: memory grown by someone else");
  if (crust_memory_grow(1) == UINT32_MAX) crust_panic("grower: memory.grow failed");
  uint32_t *w = chunk(nchunks);
  uint32_t x = start_state(seed);
  for (uint32_t i = 0; i < WORDS; ++i) {
    x = next(x);
    w[i] = x;
  }
  seeds[nchunks++] = seed;
}

static void need_index(uint32_t i) {
  if (i >= nchunks) crust_panic("grower: no such chunk");
}

CRUST_EXPORT(grow) {
  if (arg_len != 4 && arg_len != 8) crust_panic("grow: expected u32 seed [| u32 count]");
  uint32_t seed = crust_read_u32(crust_arg());
  uint32_t n = arg_len == 8 ? crust_read_u32(crust_arg() + 4) : 1;
  for (uint32_t k = 0; k < n; ++k) append(seed + k);
  crust_write_u32(crust_arg(), nchunks);
  crust_write_u32(crust_arg() + 4, crust_memory_pages());
  return 8;
}

CRUST_EXPORT(info) {
  crust_write_u32(crust_arg(), nchunks);
  crust_write_u32(crust_arg() + 4, crust_memory_pages());
  crust_write_u32(crust_arg() + 8, first_page);
  return 12;
}

CRUST_EXPORT(checksum) {
  if (arg_len != 4) crust_panic("checksum: expected u32");
  uint32_t i = crust_read_u32(crust_arg());
  need_index(i);
  return crust_return_u64(fnv_words(FNV_INIT, chunk(i), WORDS));
}

CRUST_EXPORT(verify) {
  uint64_t all = FNV_INIT;
  for (uint32_t i = 0; i < nchunks; ++i) {
    const uint32_t *w = chunk(i);
    uint32_t x = start_state(seeds[i]);
    for (uint32_t j = 0; j < WORDS; ++j) {
      x = next(x);
      if (w[j] != x) {
        /* "chunk N corrupted" */
        char msg[32] = "chunk ";
        uint32_t p = 6, d = 1;
        while (i / d >= 10) d *= 10;
        for (; d; d /= 10) msg[p++] = (char)('0' + (i / d) % 10);
        memcpy(msg + p, " corrupted", 10);
        crust_panic_n(msg, p + 10);
      }
    }
    uint64_t h = fnv_words(FNV_INIT, w, WORDS);
    uint32_t hw[2] = {(uint32_t)h, (uint32_t)(h >> 32)};
    all = fnv_words(all, hw, 2);
  }
  crust_write_u32(crust_arg(), nchunks);
  crust_write_u64(crust_arg() + 4, all);
  return 12;
}

CRUST_EXPORT(read) {
  if (arg_len != 12) crust_panic("read: expected index, offset, len");
  uint32_t i = crust_read_u32(crust_arg());
  uint32_t off = crust_read_u32(crust_arg() + 4);
  uint32_t len = crust_read_u32(crust_arg() + 8);
  need_index(i);
  if (off > CRUST_PAGE_SIZE || len > CRUST_PAGE_SIZE - off) crust_panic("read: out of chunk");
  return crust_return((const unsigned char *)chunk(i) + off, len);
}

CRUST_EXPORT(write) {
  crust_need_arg(arg_len, 8);
  uint32_t i = crust_read_u32(crust_arg());
  uint32_t off = crust_read_u32(crust_arg() + 4);
  uint32_t len = (uint32_t)arg_len - 8;
  need_index(i);
  if (off > CRUST_PAGE_SIZE || len > CRUST_PAGE_SIZE - off) crust_panic("write: out of chunk");
  memcpy((unsigned char *)chunk(i) + off, crust_arg() + 8, len);
  return crust_return_u32(len);
}

CRUST_EXPORT(grow_and_panic) {
  if (arg_len != 4) crust_panic("grow_and_panic: expected u32");
  append(crust_read_u32(crust_arg()));
  crust_panic("grow_and_panic");
}
