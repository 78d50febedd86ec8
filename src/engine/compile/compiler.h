// Copyright (c) crust authors. Licensed under the MIT license.
//
// Compiler: prepared WebAssembly -> native shared object. wasm2c (in
// process, compiler_translate.h) writes C; the system C compiler builds it
// in a child process under time and memory limits (compiler_process.h).
//
// The object is only loadable by this build's runtime: fingerprint()
// identifies everything besides the wasm that shapes it (compiler identity,
// flags, wasm2c version, runtime ABI text), and CodeCache keys on it.
//
// Flags (fixed; recorded in description()): -O2 (or -O0; see "Heavy
// modules" below) -fPIC -shared
// -fvisibility=hidden -fstack-clash-protection -ffp-contract=off
// -fno-strict-aliasing -fwrapv -DNDEBUG -w -g0 -fstack-usage -lm. Bounds checks are omitted
// (guard pages; see wasm_rt_abi.h).
//
// Heavy modules: gcc -O2 is superlinear in the size of one C function (its
// variables and statements): on a function near the wasm frame bound (about
// 12,000 values) cc1 runs for more than its 600 s limit. So that which
// modules deploy never depends on the optimisation level or tier, a module
// with a function over kHeavyFrameBytes of wasm frame or kHeavyBodyInstructions
// instructions, or over kHeavyModuleInstructions in all (module_limits.h
// ModuleStats of the prepared wasm, from the wasm alone) is compiled
// at -O0 even when opt_level is kO2; no real contract comes near either
// (docs/abi.md, "Deploy limits": measured compile times). Results and gas
// are the same at every level.
//
// Thread-safety: a Compiler is immutable after Create; Compile may run
// concurrently (each compile uses its own work directory).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/engine/compile/compiler_process.h"

namespace crust::os {
class Env;
}

namespace crust::engine {

enum class OptLevel : uint8_t { kO0 = 0, kO2 = 2 };

// A module with a function above either is compiled at -O0 (see above).
inline constexpr uint64_t kHeavyFrameBytes = 16 * 1024;
inline constexpr uint64_t kHeavyBodyInstructions = 100'000;
inline constexpr uint64_t kHeavyModuleInstructions = 600'000;

// The command-line dialect of CompilerOptions::cc.
enum class CompilerFlavor : uint8_t {
  kGcc = 0,  // gcc or clang: the flags above
  // The Tiny C Compiler (Debian package tcc, 0.9.27), the fast tier
  // (code_cache.h): compiles wasm2c's output ~30x faster than gcc -O2 into
  // code several times slower. The C gets a prelude (compiler_tcc.h) for the
  // GCC builtins wasm2c uses; flags: -shared -w -DNDEBUG -lm; opt_level is
  // ignored.
  kTcc = 1,
};

struct CompilerOptions {
  // The C compiler: a name looked up in PATH, or a path. Default: "cc".
  std::string cc = "cc";
  // -O2 for deployed code; -O0 compiles several times faster (test suites).
  OptLevel opt_level = OptLevel::kO2;
  // Limits of the compiler child process.
  ProcessLimits limits;
  // Insert the write barrier that notes every write to memory (wasm_rt_abi.h).
  // Off only to measure what it costs (bench/vm_bench.cc): code compiled
  // without it writes memory unseen by sessions with noted write tracking,
  // which the VM's are. Part of the fingerprint.
  bool write_barrier = true;
  // How `cc` is driven. Part of the fingerprint (through the flags).
  CompilerFlavor flavor = CompilerFlavor::kGcc;
};

class Compiler {
 public:
  // Runs `cc --version` once (output read through a pipe: no file is
  // written) to identify the compiler. IOError if it cannot be run.
  static Result<std::unique_ptr<Compiler>> Create(os::Env* env, const CompilerOptions& options);

  // Compiles `wasm` into a shared object written to `out_path` (replaced if
  // present). Temporaries go to `work_dir`, which is created and removed.
  // Errors: InvalidModule/NotSupported from translation, ResourceExhausted
  // when the compiler hits a limit, Internal naming the function when a
  // compiled function's native frame (the compiler's -fstack-usage report,
  // tcc's prologue) is over rt::NativeFrameBound of the module's largest wasm
  // frame or unbounded (a host defect: which modules deploy never depends on
  // the C compiler), IOError otherwise.
  Status Compile(ByteView wasm, const std::string& work_dir, const std::string& out_path) const;

  const Hash32& fingerprint() const { return fingerprint_; }
  // Human-readable: compiler version line, flags, wasm2c version, ABI version.
  const std::string& description() const { return description_; }
  const CompilerOptions& options() const { return options_; }

 private:
  Compiler(os::Env* env, CompilerOptions options, std::string version);
  // `heavy`: the module has a function over the kHeavy* thresholds.
  std::vector<std::string> Flags(bool heavy = false) const;
  // Reads the -fstack-usage reports in work_dir (see Compile).
  Status CheckFrames(const std::string& work_dir, uint64_t max_frame) const;

  os::Env* const env_;
  const CompilerOptions options_;
  std::string description_;
  Hash32 fingerprint_;
};

}  // namespace crust::engine
