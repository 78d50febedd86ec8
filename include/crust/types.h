// Copyright (c) crust authors. Licensed under the MIT license.
//
// Small value types shared by the public API: 32-byte identifiers (module ids,
// state roots, hashes) and byte strings.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"

namespace crust {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// A 32-byte value: a module id, a state root or a SHA-256 digest. Written as
// 64 lowercase hexadecimal characters.
struct Hash32 {
  std::array<uint8_t, 32> bytes{};

  // Parses exactly 64 hex characters (either case). InvalidArgument otherwise,
  // naming the offending text.
  static Result<Hash32> FromHex(std::string_view hex);
  std::string ToHex() const;  // 64 lowercase hex characters
  bool IsZero() const;

  auto operator<=>(const Hash32&) const = default;
  // Four 8-byte compares, inline (the VM compares module ids several times
  // per call; the defaulted one calls memcmp).
  bool operator==(const Hash32& o) const {
    uint64_t a[4], b[4];
    std::memcpy(a, bytes.data(), sizeof a);
    std::memcpy(b, o.bytes.data(), sizeof b);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
  }
};

using ModuleId = Hash32;
using Root = Hash32;

struct Hash32Hasher {
  size_t operator()(const Hash32& h) const {
    size_t v;
    static_assert(sizeof(v) <= sizeof(h.bytes));
    __builtin_memcpy(&v, h.bytes.data(), sizeof(v));
    return v;
  }
};

// Hex helpers for arbitrary byte strings (the tool uses them for arguments).
std::string ToHex(ByteView bytes);
// Parses an even-length hex string (either case); InvalidArgument otherwise.
Result<Bytes> FromHex(std::string_view hex);

}  // namespace crust
