/* vm_kernels: compute kernels written as a contract, for bench/vm_bench.cc
 * (the Kernel entries), run by crust and by Node (bench/vm_bench_node.js `run`).
 *
 * Every export takes a u32 LE work size n and returns a u64 LE checksum of
 * what it computed, so engines can be checked against each other:
 *   sha256(n)   SHA-256 compression of a 64-byte block, chained n times
 *   keccak(n)   Keccak-f[1600] permutation of a 200-byte state, n times
 *   qsort(n)    quicksort of n pseudo-random u32 (n <= 1 Mi)
 *   matmul(n)   n x n u32 matrix product (n <= 256)
 *   modexp(n)   256-bit modular exponentiation (Montgomery, 32-bit limbs), n times
 *   interp(n)   a register bytecode interpreter running a loop of n iterations
 *   hashmap(n)  n inserts and 2n lookups in an open-addressing table (n <= 512 Ki)
 *   fill(n)     writes a 16 MiB buffer n times (u64 stores)
 * State (tables, buffers) is bss only: the module has no data segment the
 * kernels depend on besides what clang emits for constants. */
#ifdef __wasm32__
#include "crust_sdk.h"
#else
#include "native_shim.h" /* the same kernels compiled natively (kernel_bench) */
#endif

static uint64_t checksum(const uint32_t* p, uint32_t n) {
  uint64_t h = 1469598103934665603ull;
  for (uint32_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint32_t arg_u32(int32_t arg_len) {
  if (arg_len != 4) crust_panic("expected u32");
  return crust_read_u32(crust_arg());
}

/* ---- SHA-256 ---- */
static uint32_t ror(uint32_t x, uint32_t r) { return (x >> r) | (x << (32 - r)); }
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
static uint32_t sha_state[8], sha_block[16];

__attribute__((noinline)) static void sha256_compress(uint32_t* s, const uint32_t* blk) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = blk[i];
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

CRUST_EXPORT(sha256) {
  uint32_t n = arg_u32(arg_len);
  for (int i = 0; i < 8; ++i) sha_state[i] = 0x6a09e667u + (uint32_t)i;
  for (int i = 0; i < 16; ++i) sha_block[i] = (uint32_t)i * 0x9e3779b9u;
  for (uint32_t k = 0; k < n; ++k) {
    sha256_compress(sha_state, sha_block);
    sha_block[k & 15] ^= sha_state[k & 7];
  }
  return crust_return_u64(checksum(sha_state, 8));
}

/* ---- Keccak-f[1600] (the reference "readable" form: arrays in memory) ---- */
static uint64_t keccak_state[25];
static uint64_t rotl64(uint64_t x, unsigned r) { return (x << r) | (x >> ((64 - r) & 63)); }

__attribute__((noinline)) static void keccak_f(uint64_t* st) {
  static const unsigned rotc[24] = {1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14,
                                    27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44};
  static const unsigned piln[24] = {10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4,
                                    15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1};
  uint64_t bc[5];
  uint8_t lfsr = 1;
  for (int round = 0; round < 24; ++round) {
    for (int i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
    for (int i = 0; i < 5; ++i) {
      uint64_t t = bc[(i + 4) % 5] ^ rotl64(bc[(i + 1) % 5], 1);
      for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
    }
    uint64_t t = st[1];
    for (int i = 0; i < 24; ++i) {
      unsigned j = piln[i];
      uint64_t x = st[j];
      st[j] = rotl64(t, rotc[i]);
      t = x;
    }
    for (int j = 0; j < 25; j += 5) {
      for (int i = 0; i < 5; ++i) bc[i] = st[j + i];
      for (int i = 0; i < 5; ++i) st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
    }
    /* round constant from the LFSR (no table) */
    uint64_t rc = 0;
    for (int b = 0; b < 7; ++b) {
      if (lfsr & 1) rc ^= 1ull << ((1u << b) - 1);
      lfsr = (uint8_t)((lfsr << 1) ^ ((lfsr & 0x80) ? 0x71 : 0));
    }
    st[0] ^= rc;
  }
}

CRUST_EXPORT(keccak) {
  uint32_t n = arg_u32(arg_len);
  for (int i = 0; i < 25; ++i) keccak_state[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
  for (uint32_t k = 0; k < n; ++k) keccak_f(keccak_state);
  return crust_return_u64(checksum((const uint32_t*)keccak_state, 50));
}

/* ---- quicksort ---- */
#define SORT_MAX (1u << 20)
static uint32_t sort_buf[SORT_MAX];

static void quicksort(uint32_t* a, int32_t lo, int32_t hi) {
  while (lo < hi) {
    uint32_t p = a[lo + (hi - lo) / 2];
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) ++i;
      while (a[j] > p) --j;
      if (i <= j) {
        uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
        ++i; --j;
      }
    }
    if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; } else { quicksort(a, i, hi); hi = j; }
  }
}

CRUST_EXPORT(qsort) {
  uint32_t n = arg_u32(arg_len);
  if (n > SORT_MAX) n = SORT_MAX;
  uint32_t x = 12345;
  for (uint32_t i = 0; i < n; ++i) { x = x * 1664525u + 1013904223u; sort_buf[i] = x; }
  quicksort(sort_buf, 0, (int32_t)n - 1);
  return crust_return_u64(checksum(sort_buf, n));
}

/* ---- integer matrix multiply ---- */
#define MAT_MAX 256
static uint32_t ma[MAT_MAX * MAT_MAX], mb[MAT_MAX * MAT_MAX], mc[MAT_MAX * MAT_MAX];

CRUST_EXPORT(matmul) {
  uint32_t n = arg_u32(arg_len);
  if (n > MAT_MAX) n = MAT_MAX;
  for (uint32_t i = 0; i < n * n; ++i) { ma[i] = i * 2654435761u; mb[i] = i ^ 0x5bd1e995u; }
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) mc[i * n + j] = 0;
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t aik = ma[i * n + k];
      for (uint32_t j = 0; j < n; ++j) mc[i * n + j] += aik * mb[k * n + j];
    }
  }
  return crust_return_u64(checksum(mc, n * n));
}

/* ---- 256-bit modexp, Montgomery with 32-bit limbs ---- */
#define L 8
static uint32_t mod_m[L], mod_r2[L], mod_base[L], mod_acc[L];
static uint32_t mod_minv;

/* r = a * b * 2^-256 mod m */
__attribute__((noinline)) static void mont_mul(uint32_t* r, const uint32_t* a, const uint32_t* b) {
  uint32_t t[L + 2];
  for (int i = 0; i < L + 2; ++i) t[i] = 0;
  for (int i = 0; i < L; ++i) {
    uint64_t c = 0;
    for (int j = 0; j < L; ++j) {
      uint64_t v = (uint64_t)a[j] * b[i] + t[j] + c;
      t[j] = (uint32_t)v; c = v >> 32;
    }
    uint64_t v = (uint64_t)t[L] + c;
    t[L] = (uint32_t)v; t[L + 1] = (uint32_t)(v >> 32);
    uint32_t q = t[0] * mod_minv;
    c = ((uint64_t)q * mod_m[0] + t[0]) >> 32;
    for (int j = 1; j < L; ++j) {
      v = (uint64_t)q * mod_m[j] + t[j] + c;
      t[j - 1] = (uint32_t)v; c = v >> 32;
    }
    v = (uint64_t)t[L] + c;
    t[L - 1] = (uint32_t)v;
    t[L] = t[L + 1] + (uint32_t)(v >> 32);
  }
  /* conditional subtract */
  uint32_t ge = t[L] != 0;
  if (!ge) {
    ge = 1;
    for (int i = L - 1; i >= 0; --i) {
      if (t[i] != mod_m[i]) { ge = t[i] > mod_m[i]; break; }
    }
  }
  if (ge) {
    int64_t br = 0;
    for (int i = 0; i < L; ++i) {
      int64_t v = (int64_t)t[i] - mod_m[i] + br;
      r[i] = (uint32_t)v; br = v >> 32;
    }
  } else {
    for (int i = 0; i < L; ++i) r[i] = t[i];
  }
}

CRUST_EXPORT(modexp) {
  uint32_t n = arg_u32(arg_len);
  uint32_t x = 777;
  for (int i = 0; i < L; ++i) {
    x = x * 1664525u + 1013904223u;
    mod_m[i] = x; mod_base[i] = x ^ 0xdeadbeefu; mod_r2[i] = 0;
  }
  mod_m[0] |= 1; mod_m[L - 1] |= 0x80000000u; mod_base[L - 1] &= 0x7fffffffu;
  /* -m^-1 mod 2^32 by Newton */
  uint32_t inv = 1;
  for (int i = 0; i < 5; ++i) inv *= 2 - mod_m[0] * inv;
  mod_minv = (uint32_t)0 - inv;
  /* acc = 1 in Montgomery form is 2^256 mod m: derived by doubling 1 256 times */
  for (int i = 0; i < L; ++i) mod_acc[i] = 0;
  mod_acc[0] = 1;
  for (int k = 0; k < 256; ++k) {
    uint32_t carry = 0;
    for (int i = 0; i < L; ++i) { uint32_t v = mod_acc[i]; mod_acc[i] = (v << 1) | carry; carry = v >> 31; }
    uint32_t ge = carry;
    if (!ge) {
      ge = 1;
      for (int i = L - 1; i >= 0; --i) if (mod_acc[i] != mod_m[i]) { ge = mod_acc[i] > mod_m[i]; break; }
    }
    if (ge) {
      int64_t br = 0;
      for (int i = 0; i < L; ++i) { int64_t v = (int64_t)mod_acc[i] - mod_m[i] + br; mod_acc[i] = (uint32_t)v; br = v >> 32; }
    }
  }
  for (uint32_t k = 0; k < n; ++k) {
    /* 256-bit exponent = the base's own limbs: square and multiply */
    for (int i = L - 1; i >= 0; --i) {
      uint32_t e = mod_base[i] ^ k;
      for (int b = 31; b >= 0; --b) {
        mont_mul(mod_acc, mod_acc, mod_acc);
        if ((e >> b) & 1) mont_mul(mod_acc, mod_acc, mod_base);
      }
    }
  }
  return crust_return_u64(checksum(mod_acc, L));
}

/* ---- bytecode interpreter ---- */
enum { OP_LI, OP_ADD, OP_XOR, OP_MUL, OP_SHR, OP_DEC, OP_JNZ, OP_LD, OP_ST, OP_HALT };
typedef struct { uint8_t op, a, b, c; uint32_t imm; } insn;
static insn prog[32];
static uint32_t vm_mem[256];

static uint64_t run_vm(uint32_t n) {
  uint32_t r[8] = {0};
  r[0] = n;
  uint32_t pc = 0;
  for (;;) {
    const insn* i = &prog[pc++];
    switch (i->op) {
      case OP_LI: r[i->a] = i->imm; break;
      case OP_ADD: r[i->a] = r[i->b] + r[i->c]; break;
      case OP_XOR: r[i->a] = r[i->b] ^ r[i->c]; break;
      case OP_MUL: r[i->a] = r[i->b] * r[i->c]; break;
      case OP_SHR: r[i->a] = r[i->b] >> (r[i->c] & 31); break;
      case OP_DEC: r[i->a] -= 1; break;
      case OP_JNZ: if (r[i->a]) pc = i->imm; break;
      case OP_LD: r[i->a] = vm_mem[r[i->b] & 255]; break;
      case OP_ST: vm_mem[r[i->b] & 255] = r[i->a]; break;
      default: return ((uint64_t)r[1] << 32) | r[2];
    }
  }
}

static void emit(uint32_t at, uint8_t op, uint8_t a, uint8_t b, uint8_t c, uint32_t imm) {
  prog[at].op = op; prog[at].a = a; prog[at].b = b; prog[at].c = c; prog[at].imm = imm;
}

CRUST_EXPORT(interp) {
  uint32_t n = arg_u32(arg_len);
  for (int i = 0; i < 256; ++i) vm_mem[i] = (uint32_t)i * 2654435761u;
  /* r1 = 1, r2 = 0x12345, r3 = 16777619, r4 = 13
   * loop: r1 = r1 * r3; r2 = r2 ^ r1; r5 = r2 >> r4; r1 = r1 + r5;
   *       r6 = mem[r2]; r2 = r2 + r6; mem[r1] = r2; r0 -= 1; jnz r0 loop */
  emit(0, OP_LI, 1, 0, 0, 1);
  emit(1, OP_LI, 2, 0, 0, 0x12345);
  emit(2, OP_LI, 3, 0, 0, 16777619);
  emit(3, OP_LI, 4, 0, 0, 13);
  emit(4, OP_MUL, 1, 1, 3, 0);
  emit(5, OP_XOR, 2, 2, 1, 0);
  emit(6, OP_SHR, 5, 2, 4, 0);
  emit(7, OP_ADD, 1, 1, 5, 0);
  emit(8, OP_LD, 6, 2, 0, 0);
  emit(9, OP_ADD, 2, 2, 6, 0);
  emit(10, OP_ST, 2, 1, 0, 0);
  emit(11, OP_DEC, 0, 0, 0, 0);
  emit(12, OP_JNZ, 0, 0, 0, 4);
  emit(13, OP_HALT, 0, 0, 0, 0);
  return crust_return_u64(run_vm(n));
}

/* ---- open-addressing hash map (u32 -> u32) ---- */
#define HM_BITS 20
static uint32_t hm_keys[1u << HM_BITS], hm_vals[1u << HM_BITS];

static uint32_t hm_hash(uint32_t k) { k ^= k >> 16; k *= 0x85ebca6bu; k ^= k >> 13; k *= 0xc2b2ae35u; return k ^ (k >> 16); }

CRUST_EXPORT(hashmap) {
  uint32_t n = arg_u32(arg_len);
  const uint32_t mask = (1u << HM_BITS) - 1;
  if (n > (1u << (HM_BITS - 1))) n = 1u << (HM_BITS - 1);
  for (uint32_t i = 0; i <= mask; ++i) hm_keys[i] = 0;
  uint32_t x = 99;
  for (uint32_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    uint32_t k = x | 1, h = hm_hash(k) & mask;
    while (hm_keys[h] != 0 && hm_keys[h] != k) h = (h + 1) & mask;
    hm_keys[h] = k;
    hm_vals[h] = i;
  }
  uint64_t sum = 0;
  x = 99;
  for (uint32_t i = 0; i < 2 * n; ++i) {
    uint32_t k;
    if (i & 1) { k = (i * 2654435761u) | 1; } else { x = x * 1664525u + 1013904223u; k = x | 1; }
    uint32_t h = hm_hash(k) & mask;
    while (hm_keys[h] != 0) {
      if (hm_keys[h] == k) { sum += hm_vals[h] + 1; break; }
      h = (h + 1) & mask;
    }
  }
  return crust_return_u64(sum);
}

/* ---- bulk memory writes ---- */
#define FILL_WORDS (16u << 20) / 8
static uint64_t fill_buf[FILL_WORDS];

CRUST_EXPORT(fill) {
  uint32_t n = arg_u32(arg_len);
  uint64_t v = 0x0123456789abcdefull;
  for (uint32_t k = 0; k < n; ++k) {
    for (uint32_t i = 0; i < FILL_WORDS; ++i) fill_buf[i] = v + i;
    v = v * 6364136223846793005ull + 1442695040888963407ull;
  }
  return crust_return_u64(checksum((const uint32_t*)fill_buf, 1024) ^ fill_buf[FILL_WORDS - 1]);
}
