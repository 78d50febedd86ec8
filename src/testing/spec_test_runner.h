// Copyright (c) crust authors. Licensed under the MIT license.
//
// Runs an official WebAssembly spec-test script (.wast) through crust's
// engine: wast2json converts it, every module goes through PrepareModule
// (Abi::kNone: crust's feature rules and instrumentation) and the code cache,
// and each command is checked. Test-only: part of crust_testing (src/testing), never of libcrust.
//
// Thread-safety: one SpecRunner per thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"
#include "src/engine/compile/code_cache.h"

namespace crust::engine::spec {

struct FileResult {
  int passed = 0;
  int failed = 0;
  int skipped = 0;   // text-format assertions (wabt's parser, not crust's)
  int known = 0;     // known deviations (KnownDeviation below), not failures
  int modules = 0;   // modules compiled
  std::vector<std::string> failures;  // "line N: what"
};

// Assertions crust's deploy validation (wabt 1.0.32's binary reader) is
// known to miss: accepted malformed binaries. Returns the reason or "".
std::string KnownDeviation(const std::string& file_name, std::string_view assertion_text);

// Why crust skips a whole file (a feature it rejects), or "" to run it.
std::string SkipReason(const std::string& file_name);

class SpecRunner {
 public:
  SpecRunner(CodeCache* cache, std::string work_dir, int compile_threads)
      : cache_(cache), work_dir_(std::move(work_dir)), compile_threads_(compile_threads) {}

  // Runs every command. An error Status means the script could not be run
  // at all (wast2json failed...); assertion failures are in the result.
  Result<FileResult> Run(const std::string& wast_path);

  // For skipped files: counts the file's binary modules and how many crust
  // rejects at deploy (PrepareModule fails). All must be rejected... except
  // those that use no rejected feature at all; *accepted names them.
  Status CheckRejected(const std::string& wast_path, int* modules, int* rejected, std::vector<std::string>* accepted);

 private:
  CodeCache* const cache_;
  const std::string work_dir_;
  const int compile_threads_;
};

}  // namespace crust::engine::spec
