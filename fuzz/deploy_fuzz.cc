// Copyright (c) crust authors. Licensed under the MIT license.
//
// Deploy of arbitrary bytes: the pre-scan, decoding, validation, the
// contract-ABI checks, the memory image and instrumentation (PrepareModule),
// under both ABIs, then translation to C of what was accepted (the C compiler
// is skipped: it runs in a limited child anyway). Properties: no crash, no
// exception, bounded memory (libFuzzer's -rss_limit_mb), every error a
// Status; an accepted module's output decodes, prepares deterministically
// and translates (or is refused with a Status).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/prepared_format.h"

using crust::ByteView;
using namespace crust::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView wasm(data, size);
  for (Abi abi : {Abi::kContract, Abi::kNone}) {
    crust::Result<PreparedModule> pm = PrepareModule(wasm, PrepareOptions{.abi = abi});
    if (!pm.ok()) continue;
    crust::Result<PreparedModule> again = PrepareModule(wasm, PrepareOptions{.abi = abi});
    crust::fuzz::Check(again.ok() && EncodePreparedModule(*again) == EncodePreparedModule(*pm),
                       "PrepareModule is not deterministic");
    crust::Result<CSource> c = TranslateToC(pm->wasm);
    (void)c;  // a Status either way; the compiler child is not run here
  }
  return 0;
}
