/* box: a key-value store in linear memory (open-addressing hash table).
 *
 *   set(u32 LE key_len | key | value) -> u32 LE number of entries afterwards
 *                             inserts or replaces; value is the rest of the
 *                             argument (may be empty)
 *   get(key)    -> u8 1 | value    when present
 *               -> u8 0            when absent
 *                             (the whole argument is the key)
 *   remove(key) -> u8 1 if the key was present (and is now removed), else u8 0
 *   len()       -> u32 LE number of entries
 *
 * Layout: a table of `cap` u32 slots (power of two, linear probing, FNV-1a
 * hash of the key); a slot holds 0 (empty), 1 (deleted) or the address of an
 * entry { u32 key_len, u32 value_len, u32 value_cap, key, value }. Entries and
 * tables are allocated with crust_alloc and never freed: a value is rewritten
 * in place when it fits, otherwise the entry is reallocated.
 */
#include "crust_sdk.h"

#define SLOT_EMPTY 0u
#define SLOT_DELETED 1u

typedef struct {
  uint32_t key_len;
  uint32_t value_len;
  uint32_t value_cap;
  /* key bytes, then value_cap bytes for the value */
} entry_t;

/* All state is in linear memory. */
static uint32_t *slots;
static uint32_t cap;   /* number of slots (0 before the first set) */
static uint32_t count; /* live entries */
static uint32_t used;  /* live + deleted slots */

static unsigned char *entry_key(entry_t *e) { return (unsigned char *)(e + 1); }
static unsigned char *entry_value(entry_t *e) { return entry_key(e) + e->key_len; }

static uint32_t hash(const unsigned char *k, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; ++i) h = (h ^ k[i]) * 16777619u;
  return h;
}

/* Index of the slot holding key, or of the slot where it would be inserted
 * (the first deleted slot on its probe path, else the empty slot ending it). */
static uint32_t find(const unsigned char *k, uint32_t n, int *found) {
  uint32_t mask = cap - 1, i = hash(k, n) & mask, insert_at = UINT32_MAX;
  for (;;) {
    uint32_t s = slots[i];
    if (s == SLOT_EMPTY) {
      *found = 0;
      return insert_at != UINT32_MAX ? insert_at : i;
    }
    if (s == SLOT_DELETED) {
      if (insert_at == UINT32_MAX) insert_at = i;
    } else {
      entry_t *e = (entry_t *)(uintptr_t)s;
      if (e->key_len == n && memcmp(entry_key(e), k, n) == 0) {
        *found = 1;
        return i;
      }
    }
    i = (i + 1) & mask;
  }
}

static void rehash(uint32_t new_cap) {
  uint32_t *old = slots, old_cap = cap;
  slots = (uint32_t *)crust_alloc((size_t)new_cap * 4); /* fresh memory is zero */
  memset(slots, 0, (size_t)new_cap * 4);
  cap = new_cap;
  used = count;
  for (uint32_t j = 0; j < old_cap; ++j) {
    uint32_t s = old[j];
    if (s <= SLOT_DELETED) continue;
    entry_t *e = (entry_t *)(uintptr_t)s;
    uint32_t i = hash(entry_key(e), e->key_len) & (cap - 1);
    while (slots[i] != SLOT_EMPTY) i = (i + 1) & (cap - 1);
    slots[i] = s;
  }
}

CRUST_EXPORT(set) {
  crust_need_arg(arg_len, 4);
  unsigned char *a = crust_arg();
  uint32_t key_len = crust_read_u32(a);
  if (key_len > (uint32_t)arg_len - 4) crust_panic("box.set: key_len exceeds the argument");
  const unsigned char *key = a + 4;
  const unsigned char *value = key + key_len;
  uint32_t value_len = (uint32_t)arg_len - 4 - key_len;

  if (cap == 0) rehash(16);
  /* Keep the load (including deleted slots) at most 3/4. */
  if ((used + 1) * 4 > cap * 3) rehash(count * 2 >= cap ? cap * 2 : cap);

  int found;
  uint32_t i = find(key, key_len, &found);
  entry_t *e = found ? (entry_t *)(uintptr_t)slots[i] : 0;
  if (!e || e->value_cap < value_len) {
    entry_t *n = (entry_t *)crust_alloc(sizeof(entry_t) + key_len + value_len);
    n->key_len = key_len;
    n->value_cap = value_len;
    memcpy(entry_key(n), key, key_len);
    if (!found) {
      if (slots[i] == SLOT_EMPTY) ++used;
      ++count;
    }
    slots[i] = (uint32_t)(uintptr_t)n;
    e = n;
  }
  e->value_len = value_len;
  memcpy(entry_value(e), value, value_len);
  return crust_return_u32(count);
}

CRUST_EXPORT(get) {
  unsigned char *a = crust_arg();
  int found = 0;
  uint32_t i = cap ? find(a, (uint32_t)arg_len, &found) : 0;
  if (!found) {
    a[0] = 0;
    return 1;
  }
  entry_t *e = (entry_t *)(uintptr_t)slots[i];
  if (e->value_len > CRUST_ARG_BUF_SIZE - 1) crust_panic("box.get: value too large");
  a[0] = 1;
  memcpy(a + 1, entry_value(e), e->value_len);
  return (int32_t)(1 + e->value_len);
}

CRUST_EXPORT(remove) {
  unsigned char *a = crust_arg();
  int found = 0;
  uint32_t i = cap ? find(a, (uint32_t)arg_len, &found) : 0;
  if (found) {
    slots[i] = SLOT_DELETED;
    --count;
  }
  a[0] = (unsigned char)found;
  return 1;
}

CRUST_EXPORT(len) { return crust_return_u32(count); }
