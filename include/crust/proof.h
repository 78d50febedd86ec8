// Copyright (c) crust authors. Licensed under the MIT license.
//
// Page inclusion proofs: evidence that a 4 KiB page of a module's memory is
// part of a state root, checkable with nothing but the root.
//
// A proof carries the page's bytes, the 20 sibling hashes of its path in the
// memory's page tree (which give the memory hash), the module's other state
// leaf fields (bytecode hash, metadata hash) and the RFC 6962 audit path of
// the module's leaf among the state's leaves (which gives the root).
// docs/format.md ("Page proof") specifies the encoding byte for byte.
//
// Produce one with Store::ProvePage or Session::ProvePage; check one with
// VerifyPageProof, which needs no store.
//
// Thread-safety: every function here is pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust {

inline constexpr size_t kProofPageSize = 4096;
inline constexpr int kProofTreeDepth = 20;

struct PageProof {
  Root root;               // the root the proof was made for
  ModuleId module;
  Hash32 bytecode_hash;    // SHA-256 of the module's bytecode
  Hash32 metadata_hash;    // SHA-256 of the module's metadata
  uint64_t memory_length = 0;  // bytes, a multiple of 64 KiB
  uint32_t page = 0;       // page number: bytes [page * 4096, page * 4096 + 4096)
  std::array<uint8_t, kProofPageSize> data{};  // the page's bytes
  // siblings[k]: the sibling of the page's ancestor at level k (level 0 = the
  // page's leaf), k = 0..19.
  std::array<Hash32, kProofTreeDepth> siblings{};
  uint32_t leaf_index = 0;  // the module's position among the state's modules (by id)
  uint32_t leaf_count = 0;  // number of modules in the state
  std::vector<Hash32> audit_path;  // RFC 6962 (RFC 9162 §2.1.3) inclusion path
};

// The proof's bytes (docs/format.md, "Page proof").
Bytes EncodePageProof(const PageProof& proof);
// Parses a proof. Corruption if the bytes are not a well-formed proof of a
// known version (bad magic, version, length, a field out of range).
Result<PageProof> DecodePageProof(ByteView bytes);

// OK if `proof` shows that its page, with its data, belongs to the memory of
// its module in the state whose root is `root`. Corruption (naming what did
// not match) otherwise, including when proof.root differs from `root`.
// The caller checks that proof.module and proof.page are the ones it asked
// about.
Status VerifyPageProof(const Root& root, const PageProof& proof);

}  // namespace crust
