// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/index.h"

#include <cstring>

#include "src/store/format.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

namespace crust::store {

// Layout: magic[8] version:u32 count:u32 created_unix_ns:u64, then per entry
// id[32] bytecode_hash[32] memory_hash[32] memory_length:u64 layer_count:u32
// metadata_len:u32 metadata[metadata_len], then crc32c:u32 of all before.
Bytes EncodeIndex(const Index& index) {
  Bytes b;
  b.insert(b.end(), kIndexMagic, kIndexMagic + 8);
  PutFixed32(&b, kIndexVersion);
  PutFixed32(&b, static_cast<uint32_t>(index.entries.size()));
  PutFixed64(&b, index.created_unix_ns);
  for (const IndexEntry& e : index.entries) {
    PutHash(&b, e.id);
    PutHash(&b, e.bytecode_hash);
    PutHash(&b, e.memory_hash);
    PutFixed64(&b, e.memory_length);
    PutFixed32(&b, e.layer_count);
    PutFixed32(&b, static_cast<uint32_t>(e.metadata.size()));
    PutBytes(&b, e.metadata);
  }
  PutFixed32(&b, Crc32c(b.data(), b.size()));
  return b;
}

Result<Index> DecodeIndex(ByteView bytes, const std::string& path) {
  auto corrupt = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  if (bytes.size() < 8 + 4 + 4 + 8 + 4) return corrupt("index too short (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kIndexMagic, 8) != 0) return corrupt("not a crust index (bad magic)");
  uint32_t stored_crc = DecodeFixed32(bytes.data() + bytes.size() - 4);
  if (Crc32c(bytes.data(), bytes.size() - 4) != stored_crc) return corrupt("index checksum mismatch");
  Decoder d(bytes.subspan(8, bytes.size() - 12));
  uint32_t version, count;
  Index index;
  if (!d.GetU32(&version) || !d.GetU32(&count) || !d.GetU64(&index.created_unix_ns)) return corrupt("truncated header");
  if (version != kIndexVersion) {
    return corrupt("unsupported index version " + std::to_string(version) + " (expected " +
                   std::to_string(kIndexVersion) + ")");
  }
  if (count > kMaxModules) return corrupt("module count " + std::to_string(count) + " exceeds limit");
  index.entries.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    IndexEntry e;
    uint32_t meta_len;
    ByteView meta;
    if (!d.GetHash(&e.id) || !d.GetHash(&e.bytecode_hash) || !d.GetHash(&e.memory_hash) ||
        !d.GetU64(&e.memory_length) || !d.GetU32(&e.layer_count) || !d.GetU32(&meta_len) ||
        meta_len > kMaxMetadata || !d.GetView(meta_len, &meta)) {
      return corrupt("truncated or oversized entry " + std::to_string(i));
    }
    if (e.memory_length % kWasmPageSize != 0 || e.memory_length > kMaxMemory) {
      return corrupt("entry " + e.id.ToHex() + " has invalid memory length " + std::to_string(e.memory_length));
    }
    if (e.layer_count > kMaxLayers) return corrupt("entry " + e.id.ToHex() + " has too many layers");
    if (!index.entries.empty() && !(index.entries.back().id < e.id)) {
      return corrupt("entries not in strictly ascending id order at " + e.id.ToHex());
    }
    e.metadata.assign(meta.begin(), meta.end());
    index.entries.push_back(std::move(e));
  }
  if (d.remaining() != 0) return corrupt(std::to_string(d.remaining()) + " trailing bytes after the entries");
  return index;
}

}  // namespace crust::store
