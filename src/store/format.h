// Copyright (c) crust authors. Licensed under the MIT license.
//
// Constants of the on-disk format (docs/format.md is the prose version).
// Written to disk: never renumber or change a value; add new versions instead.
#pragma once

#include <cstdint>
#include <string>

#include "crust/types.h"
#include "src/os/memory_region.h"

namespace crust::store {

using os::kPageSize;
using os::kWasmPageSize;
using os::kMaxMemory;

// Page tree: a binary merkle tree of fixed depth over 2^20 page slots (4 GiB).
inline constexpr int kTreeDepth = 20;
inline constexpr uint64_t kMaxPages = 1ull << kTreeDepth;

// Domain tags of the SHA-256 inputs of the state root (RFC 6962 style).
inline constexpr uint8_t kTagLeaf = 0x00;        // state leaf (one per module)
inline constexpr uint8_t kTagNode = 0x01;        // internal node of the state tree

// BLAKE3 derive-key contexts of the page tree (format 2).
inline constexpr char kPageLeafContext[] = "crust 2026-11-24 page leaf";
inline constexpr char kPageNodeContext[] = "crust 2026-11-24 page node";
inline constexpr char kMemoryHashContext[] = "crust 2026-11-24 memory hash";

// File magics and versions.
inline constexpr char kIndexMagic[8] = {'c', 'r', 'u', 's', 't', 'i', 'd', 'x'};
inline constexpr uint32_t kIndexVersion = 2;
inline constexpr char kImageMagic[8] = {'c', 'r', 'u', 's', 't', 'm', 'e', 'm'};
inline constexpr uint32_t kImageVersion = 2;
inline constexpr char kDeltaMagic[8] = {'c', 'r', 'u', 's', 't', 'd', 'l', 't'};
inline constexpr uint32_t kDeltaVersion = 3;  // 2: whole-file CRC, no page map (still read)
// Format 1 (until 2026-11-24) hashed the page tree with SHA-256; its stores
// are refused with a message saying so (no reader for them is kept).
inline constexpr uint32_t kStoreFormatVersion = 2;

// Bounds that decoders enforce before allocating.
inline constexpr uint32_t kMaxModules = 1u << 20;
inline constexpr uint32_t kMaxMetadata = 1u << 20;
inline constexpr uint64_t kMaxBytecode = 64ull << 20;
inline constexpr uint32_t kMaxLayers = 64;

// Names inside a store directory.
inline constexpr char kLockName[] = "LOCK";
inline constexpr char kFormatName[] = "FORMAT";
// Commits being written or deleted live in kPendingDir (so that opening a
// store lists that directory, not every commit): kPendingDir/staging-* and
// kPendingDir/deleting-*; kPendingDir/spare-* are staging directories made
// ahead for the next commit (spare_staging.h). Crust before 2026-12-03 kept them in the store
// directory itself as .staging-* and .deleting-* (kLegacy*).
inline constexpr char kPendingDir[] = ".pending";
inline constexpr char kStagingPrefix[] = "staging-";
inline constexpr char kDeletingPrefix[] = "deleting-";
inline constexpr char kSparePrefix[] = "spare-";
inline constexpr char kLegacyStagingPrefix[] = ".staging-";
inline constexpr char kLegacyDeletingPrefix[] = ".deleting-";

// Names inside a commit directory.
inline std::string BytecodeName(const ModuleId& id) { return "bytecode/" + id.ToHex(); }
inline std::string MemoryName(const ModuleId& id) { return "memory/" + id.ToHex(); }
// Layer 1 is "<id>.diff" (as in the design document); layer k > 1 is "<id>.diff.k".
inline std::string LayerName(const ModuleId& id, uint32_t layer) {
  std::string s = "memory/" + id.ToHex() + ".diff";
  if (layer > 1) s += "." + std::to_string(layer);
  return s;
}

}  // namespace crust::store
