// Copyright (c) crust authors. Licensed under the MIT license.
//
// What the VM stores per module in the store's metadata (covered by the
// state root): the owner, the ABI's argument buffer address and the values
// of the module's mutable globals, which persist between calls.
//
// Encoding (docs/format.md, "module metadata"), little-endian:
//   version u8 = 1 | owner_len u32 | owner | arg_buffer u32 |
//   global_count u32 | global_count x (index u32 | type u8 | bits u64)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::vm {

inline constexpr uint8_t kModuleMetaVersion = 1;
inline constexpr size_t kMaxOwner = 1024;

struct PersistedGlobal {
  uint32_t index = 0;
  uint8_t type = 0;   // engine::ValType
  uint64_t bits = 0;  // i32/f32 in the low 32 bits

  bool operator==(const PersistedGlobal&) const = default;
};

struct ModuleMeta {
  Bytes owner;
  uint32_t arg_buffer = 0;
  std::vector<PersistedGlobal> globals;

  bool operator==(const ModuleMeta&) const = default;
};

Bytes EncodeModuleMeta(const ModuleMeta& meta);
// Corruption naming `what` (the module) on malformed bytes.
Result<ModuleMeta> DecodeModuleMeta(ByteView bytes, const std::string& what);

}  // namespace crust::vm
