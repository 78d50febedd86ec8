// Copyright (c) crust authors. Licensed under the MIT license.
//
// The memory-image reader (src/store/memory_image.h): MemoryImage::Open of
// the input after a mode byte as a file, with the footer checksum repaired
// unless the mode byte is odd, then VerifyChecksum, the root and the first and last pages.
// Properties: no crash, no read outside the mapping.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "src/store/memory_image.h"
#include "src/util/coding.h"
#include "src/util/crc32c.h"

using namespace crust;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes file(data + 1, data + size);
  if (file.size() >= store::kImageFooterSize && (data[0] & 1) == 0) {
    uint8_t* footer = file.data() + file.size() - store::kImageFooterSize;
    EncodeFixed32(footer + 36, Crc32c(footer, 36));
  }
  const std::string path = fuzz::WriteScratch("image", file);
  auto image = store::MemoryImage::Open(os::Env::Default(), path);
  if (!image.ok()) return 0;
  (void)(*image)->VerifyChecksum();
  (void)(*image)->Root();
  uint8_t page[4096];
  (void)(*image)->ReadPage(0, page);
  if ((*image)->pages() > 0) {
    (void)(*image)->ReadPage(static_cast<uint32_t>((*image)->pages() - 1), page);
    const uint8_t* p = (*image)->PageData(0);
    fuzz::Check(p != nullptr, "PageData(0) of a non-empty image");
  }
  return 0;
}
