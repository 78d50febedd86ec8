// Copyright (c) crust authors. Licensed under the MIT license.
//
// The on-disk entry of the prepared-module cache (prepared_cache.h): one
// PreparedModule, every field, behind a checksummed header. docs/format.md
// ("Prepared-module cache") specifies it; all integers little-endian:
//
//   header (64 bytes):
//     magic "CRUSTPM\1" | u32 version=1 | u32 flags=0 | u64 body length |
//     32-byte key | u32 CRC-32C(body) | u32 CRC-32C(header's first 60 bytes)
//   body:
//     u64 wasm length, wasm bytes
//     u8 has_memory; if 1: u32 initial_pages, u8 has_max, u32 max_pages
//       (0 when absent), u32 chunk count, per chunk: u32 offset,
//       u64 length, bytes
//     u8 data_segments_in_wasm
//     u32 arg_buffer
//     u32 function count, per function: u32 length, name bytes
//     u8 has_init
//     u32 state-global count, per global: u32 index, u8 type (ValType),
//       u64 initial, u8 initial_known, u32 length, export name bytes
//     u32 host-import count, per import: u32 length, name bytes
//
// Decoding checks the header, both checksums, the key, that the body is
// consumed exactly and the module's invariants that are cheap to check
// (flags 0/1, value types, chunks sorted, non-overlapping and inside the
// initial memory, state-global export names). Anything else is Corruption
// naming the entry.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstddef>
#include <string_view>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/prepare/module_info.h"

namespace crust::engine {

inline constexpr size_t kPreparedEntryHeaderSize = 64;
inline constexpr uint32_t kPreparedEntryVersion = 1;

// The body alone (deterministic: equal modules give equal bytes).
Bytes EncodePreparedModule(const PreparedModule& module);

// A whole entry: header for `key`, then the body.
Bytes EncodePreparedEntry(const Hash32& key, const PreparedModule& module);

// The module stored in `entry`, which must be an entry for `key`.
// Corruption "<name>: <what>" when it is truncated, damaged, of another
// version or for another key.
Result<PreparedModule> DecodePreparedEntry(ByteView entry, const Hash32& key, std::string_view name);

}  // namespace crust::engine
