// Copyright (c) crust authors. Licensed under the MIT license.
//
// The delta-layer reader (src/store/delta.h): DeltaLayer::Open of a file
// holding the input after a mode byte plus its CRC-32C (appended unless the
// mode byte is odd), then LoadPages and every lookup. Properties: no crash; bounded
// memory (Open checks sizes before allocating for pages).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "src/store/delta.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

using namespace crust;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes file(data + 1, data + size);
  if ((data[0] & 1) == 0) PutFixed32(&file, Crc32c(file.data(), file.size()));
  const std::string path = fuzz::WriteScratch("layer.diff", file);
  // A small page bound keeps a valid layer's decompressed size small.
  auto layer = store::DeltaLayer::Open(os::Env::Default(), path, /*max_pages=*/4096);
  if (!layer.ok()) return 0;
  if ((*layer)->LoadPages().ok()) {
    for (size_t i = 0; i < (*layer)->pages().size(); ++i) {
      volatile uint8_t b = (*layer)->xor_page(i)[4095];
      (void)b;
    }
  }
  for (uint32_t page : (*layer)->pages()) fuzz::Check((*layer)->FindPage(page).has_value(), "page not found");
  for (const store::TreeNode& n : (*layer)->nodes()) (void)(*layer)->FindNode(n.key);
  return 0;
}
