// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/testing/runtime_test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "wabt/binary-writer.h"
#include "wabt/error-formatter.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/validator.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace crust::engine::testing {

Result<Bytes> WatToWasm(std::string_view wat) {
  wabt::Errors errors;
  auto lexer = wabt::WastLexer::CreateBufferLexer("test.wat", wat.data(), wat.size(), &errors);
  std::unique_ptr<wabt::Module> module;
  wabt::Features features;
  wabt::WastParseOptions parse_options(features);
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors, &parse_options)) ||
      wabt::Failed(wabt::ResolveNamesModule(module.get(), &errors)) ||
      wabt::Failed(wabt::ValidateModule(module.get(), &errors, wabt::ValidateOptions(features)))) {
    return Status::InvalidArgument("bad WAT: " + wabt::FormatErrorsToString(errors, wabt::Location::Type::Text));
  }
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(features, true, false, false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), write_options))) {
    return Status::InvalidArgument("cannot write wasm");
  }
  const auto& d = stream.output_buffer().data;
  return Bytes(d.begin(), d.end());
}

Result<std::unique_ptr<os::MemoryRegion>> NewMemory(uint32_t pages, uint32_t max_pages) {
  // Write-audited (os::TrackingOptions::write_audit): a page the engine
  // writes without noting it fails the collection.
  static os::Env* const env = os::NewPosixEnv({.write_audit = true}).release();  // never destroyed
  return env->MapMemory(nullptr, 0, uint64_t{pages} * os::kWasmPageSize,
                                       uint64_t{max_pages} * os::kWasmPageSize);
}

CodeCache* SharedCache(OptLevel opt) {
  static std::mutex mu;
  static CodeCache* caches[3] = {};
  std::lock_guard<std::mutex> lock(mu);
  CodeCache*& c = caches[static_cast<int>(opt)];
  if (c == nullptr) {
    // Under the build tree: kept between runs (later runs hit the cache).
    std::string dir = std::string(CRUST_BINARY_DIR) + "/test-code-cache" + (opt == OptLevel::kO0 ? "-O0" : "-O2");
    CodeCacheOptions options;
    options.dir = dir;
    options.compiler.opt_level = opt;
    auto r = CodeCache::Open(options);
    if (!r.ok()) {
      fprintf(stderr, "code cache: %s\n", r.status().ToString().c_str());
      std::abort();
    }
    c = std::move(r).value().release();
  }
  return c;
}

CodeCache* SharedTccCache() {
  static std::mutex mu;
  static CodeCache* cache = nullptr;
  static bool tried = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!tried) {
    tried = true;
    CodeCacheOptions options;
    options.dir = std::string(CRUST_BINARY_DIR) + "/test-code-cache-tcc";
    options.compiler = CompilerOptions{.cc = "tcc", .flavor = CompilerFlavor::kTcc};
    auto r = CodeCache::Open(options);
    if (r.ok()) cache = std::move(r).value().release();
  }
  return cache;
}

}  // namespace crust::engine::testing
