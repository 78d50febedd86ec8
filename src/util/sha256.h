// Copyright (c) crust authors. Licensed under the MIT license.
//
// SHA-256 through OpenSSL's low-level interface (SHA-NI when the CPU has it).
// The one-shot helpers avoid EVP's per-call allocation, which dominates for
// the 65-byte inputs of merkle nodes.
//
// Thread-safety: Sha256 objects are not shared; the free functions are safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "crust/types.h"

namespace crust {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t len);
  void Update(ByteView v) { Update(v.data(), v.size()); }
  Hash32 Finish();

 private:
  alignas(8) unsigned char ctx_[112];  // SHA256_CTX, kept opaque here
};

Hash32 Sha256Of(ByteView data);
// SHA-256(tag || a || b): the merkle node function (tag 0x01) used everywhere.
Hash32 HashNode(uint8_t tag, const Hash32& a, const Hash32& b);

}  // namespace crust
