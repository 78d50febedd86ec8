// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/blake3.h"

#include <algorithm>
#include <cstring>

extern "C" {
#include "blake3.h"
#include "blake3_impl.h"
}

namespace crust {
namespace {

constexpr size_t kChunk = BLAKE3_CHUNK_LEN;            // 1024
constexpr size_t kBlocksPerChunk = kChunk / BLAKE3_BLOCK_LEN;  // 16
constexpr size_t kPageBytes = 4096;
constexpr size_t kChunksPerPage = kPageBytes / kChunk;  // 4
constexpr size_t kBatch = 16;                           // pages per round of hash_many calls

static_assert(BLAKE3_BLOCK_LEN == 64 && BLAKE3_OUT_LEN == 32 && kChunksPerPage == 4);

}  // namespace

Blake3Context::Blake3Context(const char* context) {
  blake3_hasher h;
  blake3_hasher_init_derive_key(&h, context);
  std::memcpy(key_, h.key, sizeof(key_));
}

Hash32 Blake3Context::Hash(const void* data, size_t len) const {
  // The derive-key hasher for this context, without hashing the context
  // string again: its state after init is the context key and the mode flag.
  blake3_hasher h;
  blake3_hasher_init_keyed(&h, reinterpret_cast<const uint8_t*>(key_));  // sets key and chunk state
  std::memcpy(h.key, key_, sizeof(key_));
  std::memcpy(h.chunk.cv, key_, sizeof(key_));
  h.chunk.flags = DERIVE_KEY_MATERIAL;
  blake3_hasher_update(&h, data, len);
  Hash32 out;
  blake3_hasher_finalize(&h, out.bytes.data(), 32);
  return out;
}

void Blake3Context::Hash64Many(const uint8_t* const* blocks, size_t n, Hash32* out) const {
  // Each input is one chunk of one block, which is also the root.
  static_assert(sizeof(Hash32) == BLAKE3_OUT_LEN);
  blake3_hash_many(blocks, n, 1, key_, 0, false, DERIVE_KEY_MATERIAL | ROOT, CHUNK_START, CHUNK_END,
                   reinterpret_cast<uint8_t*>(out));
}

void Blake3Context::Hash4KMany(const uint8_t* const* pages, size_t n, Hash32* out) const {
  // A 4 KiB input is four chunks (counters 0..3) under two levels of parent
  // nodes; the top one is the root. Each step runs over a batch of pages.
  alignas(64) uint8_t chunk_cvs[kBatch][kChunksPerPage][BLAKE3_OUT_LEN];
  alignas(64) uint8_t parent_cvs[kBatch][2][BLAKE3_OUT_LEN];
  alignas(64) uint8_t chunk_out[kBatch][BLAKE3_OUT_LEN];
  const uint8_t* inputs[2 * kBatch];
  for (size_t first = 0; first < n; first += kBatch) {
    const size_t m = std::min(kBatch, n - first);
    for (size_t c = 0; c < kChunksPerPage; c++) {
      for (size_t j = 0; j < m; j++) inputs[j] = pages[first + j] + c * kChunk;
      blake3_hash_many(inputs, m, kBlocksPerChunk, key_, c, false, DERIVE_KEY_MATERIAL, CHUNK_START, CHUNK_END,
                       &chunk_out[0][0]);
      for (size_t j = 0; j < m; j++) std::memcpy(chunk_cvs[j][c], chunk_out[j], BLAKE3_OUT_LEN);
    }
    // Parents of chunks (0, 1) and (2, 3): each 64-byte block is two adjacent CVs.
    for (size_t j = 0; j < m; j++) {
      inputs[2 * j] = chunk_cvs[j][0];
      inputs[2 * j + 1] = chunk_cvs[j][2];
    }
    blake3_hash_many(inputs, 2 * m, 1, key_, 0, false, DERIVE_KEY_MATERIAL | PARENT, 0, 0, &parent_cvs[0][0][0]);
    for (size_t j = 0; j < m; j++) inputs[j] = parent_cvs[j][0];
    blake3_hash_many(inputs, m, 1, key_, 0, false, DERIVE_KEY_MATERIAL | PARENT | ROOT, 0, 0,
                     reinterpret_cast<uint8_t*>(out + first));
  }
}

}  // namespace crust
