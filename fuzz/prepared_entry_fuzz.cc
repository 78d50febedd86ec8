// Copyright (c) crust authors. Licensed under the MIT license.
//
// The prepared-module cache entry decoder (src/engine/prepare/prepared_format.h).
// When the first byte is even the rest of the input is a body, behind a
// header the target writes with correct length, key and checksums (so the
// fuzzer reaches the body parser); otherwise the input is a whole entry.
// Properties: no crash; a decoded body encodes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "src/engine/prepare/prepared_format.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

using namespace crust;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Hash32 key{};  // all zero
  if (size > 0 && (data[0] & 1) == 0) {
    const ByteView body(data + 1, size - 1);
    Bytes entry(engine::kPreparedEntryHeaderSize, 0);
    std::memcpy(entry.data(), "CRUSTPM\1", 8);
    EncodeFixed32(entry.data() + 8, engine::kPreparedEntryVersion);
    EncodeFixed64(entry.data() + 16, body.size());
    EncodeFixed32(entry.data() + 56, Crc32c(body.data(), body.size()));
    EncodeFixed32(entry.data() + 60, Crc32c(entry.data(), 60));
    entry.insert(entry.end(), body.begin(), body.end());
    Result<engine::PreparedModule> m = engine::DecodePreparedEntry(entry, key, "fuzz-entry");
    if (m.ok()) {
      fuzz::Check(engine::EncodePreparedModule(*m) == Bytes(body.begin(), body.end()),
                  "decoded entry does not encode back");
    }
    return 0;
  }
  (void)engine::DecodePreparedEntry(ByteView(data, size), key, "fuzz-entry");
  return 0;
}
