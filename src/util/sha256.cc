// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/sha256.h"

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

namespace crust {

static_assert(sizeof(SHA256_CTX) <= 112, "Sha256::ctx_ too small");

Sha256::Sha256() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_)); }

void Sha256::Update(const void* data, size_t len) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_), data, len);
}

Hash32 Sha256::Finish() {
  Hash32 h;
  SHA256_Final(h.bytes.data(), reinterpret_cast<SHA256_CTX*>(ctx_));
  return h;
}

Hash32 Sha256Of(ByteView data) {
  Sha256 s;
  s.Update(data);
  return s.Finish();
}

Hash32 HashNode(uint8_t tag, const Hash32& a, const Hash32& b) {
  Sha256 s;
  s.Update(&tag, 1);
  s.Update(a.bytes.data(), 32);
  s.Update(b.bytes.data(), 32);
  return s.Finish();
}

}  // namespace crust
