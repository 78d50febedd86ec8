// Copyright (c) crust authors. Licensed under the MIT license.
//
// Little-endian fixed-width encoding and a bounded decoder. Every on-disk
// format in crust is little-endian (docs/format.md). Decoders never read past
// the end of their view: a short read is reported, never performed.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "crust/types.h"

namespace crust {

inline void PutFixed32(Bytes* dst, uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);  // x86-64 and aarch64 are little-endian
  dst->insert(dst->end(), b, b + 4);
}
inline void PutFixed64(Bytes* dst, uint64_t v) {
  uint8_t b[8];
  std::memcpy(b, &v, 8);
  dst->insert(dst->end(), b, b + 8);
}
inline void PutBytes(Bytes* dst, ByteView v) { dst->insert(dst->end(), v.begin(), v.end()); }
inline void PutHash(Bytes* dst, const Hash32& h) { PutBytes(dst, h.bytes); }
inline void EncodeFixed32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeFixed64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t DecodeFixed32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeFixed64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "crust formats assume little-endian hosts");

// Reads fixed-width fields from a bounded view. After the first short read
// every getter fails; callers check ok() (or each return value).
class Decoder {
 public:
  explicit Decoder(ByteView v) : p_(v.data()), end_(v.data() + v.size()) {}
  bool GetU8(uint8_t* v) { return Get(v, 1); }
  bool GetU32(uint32_t* v) { return Get(v, 4); }
  bool GetU64(uint64_t* v) { return Get(v, 8); }
  bool GetHash(Hash32* h) { return Get(h->bytes.data(), 32); }
  bool GetView(size_t n, ByteView* out) {
    if (!ok_ || static_cast<size_t>(end_ - p_) < n) return ok_ = false;
    *out = ByteView(p_, n);
    p_ += n;
    return true;
  }
  size_t remaining() const { return end_ - p_; }
  bool ok() const { return ok_; }

 private:
  bool Get(void* dst, size_t n) {
    if (!ok_ || static_cast<size_t>(end_ - p_) < n) return ok_ = false;
    std::memcpy(dst, p_, n);
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace crust
