// Copyright (c) crust authors. Licensed under the MIT license.
#include <cstring>

#include "crust/types.h"

namespace crust {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Quote(std::string_view s) {
  std::string q = "\"";
  q += s.size() > 80 ? std::string(s.substr(0, 80)) + "..." : std::string(s);
  q += "\"";
  return q;
}

Status DecodeHex(std::string_view hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("malformed hex " + Quote(hex) + ": character " +
                                     std::to_string(hi < 0 ? i : i + 1) +
                                     " is not a hex digit");
    }
    out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return Status::OK();
}

}  // namespace

std::string ToHex(ByteView bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); i++) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

Result<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("malformed hex " + Quote(hex) + ": odd number of digits");
  }
  Bytes out(hex.size() / 2);
  RETURN_IF_ERROR(DecodeHex(hex, out.data()));
  return out;
}

Result<Hash32> Hash32::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("malformed id/root " + Quote(hex) + ": expected 64 hex characters, got " +
                                   std::to_string(hex.size()));
  }
  Hash32 h;
  RETURN_IF_ERROR(DecodeHex(hex, h.bytes.data()));
  return h;
}

std::string Hash32::ToHex() const { return crust::ToHex(bytes); }

bool Hash32::IsZero() const {
  for (uint8_t b : bytes)
    if (b) return false;
  return true;
}

}  // namespace crust
