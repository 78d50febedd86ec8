// Copyright (c) crust authors. Licensed under the MIT license.
//
// The delta-layer reader (src/store/delta.h): DeltaLayer::Open of a file
// holding the input after a mode byte (version 2 files: their CRC-32C is
// appended unless the mode byte is odd; version 3 files carry a table of
// per-block checksums and are fuzzed as they come), then every accessor a
// reader uses: the lists, the lookups, page reads and VerifyAll. Properties:
// no crash; bounded memory (Open checks sizes before allocating for pages);
// a page of a list that verified is found.
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
  const store::DeltaLayer& l = **layer;
  const bool verified = l.VerifyAll(/*max_pages=*/4096).ok();
  auto pages = l.PageList();
  if (pages.ok()) {
    uint8_t buf[4096];
    for (size_t i = 0; i < pages->size(); ++i) (void)l.ReadXorPage(i, buf);
    for (uint32_t page : *pages) {
      auto at = l.FindPage(page);
      if (verified) fuzz::Check(at.ok() && at->has_value(), "page of a verified layer not found");
    }
  }
  if (l.LoadPages().ok() && pages.ok()) {
    for (size_t i = 0; i < pages->size(); ++i) {
      volatile uint8_t b = l.xor_page(i)[4095];
      (void)b;
    }
  }
  (void)l.LastPage();
  auto nodes = l.NodeList();
  if (nodes.ok()) {
    for (const store::TreeNode& n : *nodes) (void)l.FindNode(n.key);
  }
  return 0;
}
