// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/vm/module_meta.h"

#include "src/util/coding.h"

namespace crust::vm {

Bytes EncodeModuleMeta(const ModuleMeta& meta) {
  Bytes b;
  b.push_back(kModuleMetaVersion);
  PutFixed32(&b, static_cast<uint32_t>(meta.owner.size()));
  PutBytes(&b, meta.owner);
  PutFixed32(&b, meta.arg_buffer);
  PutFixed32(&b, static_cast<uint32_t>(meta.globals.size()));
  for (const PersistedGlobal& g : meta.globals) {
    PutFixed32(&b, g.index);
    b.push_back(g.type);
    PutFixed64(&b, g.bits);
  }
  return b;
}

Result<ModuleMeta> DecodeModuleMeta(ByteView bytes, const std::string& what) {
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("metadata of module " + what + ": " + why);
  };
  Decoder d(bytes);
  uint8_t version;
  uint32_t owner_len, count;
  ByteView owner;
  ModuleMeta meta;
  if (!d.GetU8(&version)) return corrupt("empty");
  if (version != kModuleMetaVersion) return corrupt("unsupported version " + std::to_string(version));
  if (!d.GetU32(&owner_len) || owner_len > kMaxOwner || !d.GetView(owner_len, &owner) ||
      !d.GetU32(&meta.arg_buffer) || !d.GetU32(&count) || count > d.remaining() / 13) {
    return corrupt("truncated or out of range");
  }
  meta.owner.assign(owner.begin(), owner.end());
  meta.globals.resize(count);
  for (PersistedGlobal& g : meta.globals) {
    if (!d.GetU32(&g.index) || !d.GetU8(&g.type) || !d.GetU64(&g.bits) || g.type > 3) {
      return corrupt("bad global entry");
    }
  }
  if (d.remaining() != 0) return corrupt("trailing bytes");
  return meta;
}

}  // namespace crust::vm
