// Copyright (c) crust authors. Licensed under the MIT license.
//
// The commit index decoder (src/store/index.h). After a mode byte the input is an
// index file without its trailing CRC-32C, which the target appends (so the
// fuzzer reaches past the checksum); when the mode byte is odd the rest is
// used as it is instead (damaged checksums). Properties: no crash; what decodes
// encodes back to the same bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "src/store/index.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

using namespace crust;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes file(data + 1, data + size);
  if ((data[0] & 1) == 0) PutFixed32(&file, Crc32c(file.data(), file.size()));
  Result<store::Index> index = store::DecodeIndex(file, "fuzz-index");
  if (index.ok()) fuzz::Check(store::EncodeIndex(*index) == file, "decoded index does not encode back");
  return 0;
}
