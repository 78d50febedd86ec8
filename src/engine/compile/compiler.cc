// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/compiler.h"

#include <cstdlib>
#include <string_view>

#include "src/engine/compile/compiler_tcc.h"
#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/module_limits.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/os/env.h"
#include "src/util/sha256.h"
#include "src/engine/runtime/wasm_rt_abi.h"

namespace crust::engine {
namespace {

Status WriteWholeFile(os::Env* env, const std::string& path, std::string_view text) {
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return f->Close();
}

std::string FirstLine(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// One line of a -fstack-usage report: "file:line[:col]:name<TAB>bytes<TAB>qualifiers".
// A frame over `max_frame` (rt::NativeFrameBound of the module's largest wasm
// frame) or of unbounded size breaks the bound the call stack is sized by: a
// host error (Internal), not a property of the module.
Status CheckFrameLine(std::string_view line, const std::string& report, uint64_t max_frame) {
  const size_t t1 = line.find('\t');
  const size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
  if (t2 == std::string_view::npos) return Status::Internal(report + ": unreadable line: " + std::string(line));
  const std::string_view where = line.substr(0, t1);
  const std::string name(where.substr(where.rfind(':') + 1));
  uint64_t bytes = 0;
  for (char c : line.substr(t1 + 1, t2 - t1 - 1)) {
    if (c < '0' || c > '9' || bytes > (uint64_t{1} << 40)) return Status::Internal(report + ": bad size: " + std::string(line));
    bytes = bytes * 10 + static_cast<uint64_t>(c - '0');
  }
  const std::string_view qual = line.substr(t2 + 1);
  if (qual.find("dynamic") != std::string_view::npos && qual.find("bounded") == std::string_view::npos) {
    return Status::Internal("compiled function " + name + " has a native stack frame of unbounded size (" + report +
                            "); the bound is " + std::to_string(max_frame) + " bytes");
  }
  if (bytes > max_frame) {
    return Status::Internal("compiled function " + name + " has a native stack frame of " + std::to_string(bytes) +
                            " bytes, more than the " + std::to_string(max_frame) +
                            " bytes its module's wasm frames allow (runtime_call.h NativeFrameBound)");
  }
  return Status::OK();
}

}  // namespace

Status Compiler::CheckFrames(const std::string& work_dir, uint64_t max_frame) const {
  ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(work_dir));
  bool found = false;
  for (const std::string& n : names) {
    if (n.size() < 3 || n.compare(n.size() - 3, 3, ".su") != 0) continue;
    found = true;
    const std::string report = work_dir + "/" + n;
    ASSIGN_OR_RETURN(Bytes text, env_->ReadFile(report, 1ull << 30));
    std::string_view rest(reinterpret_cast<const char*>(text.data()), text.size());
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (!line.empty()) RETURN_IF_ERROR(CheckFrameLine(line, report, max_frame));
    }
  }
  if (!found) return Status::Internal(options_.cc + " wrote no stack usage report (-fstack-usage) in " + work_dir);
  return Status::OK();
}

Result<std::unique_ptr<Compiler>> Compiler::Create(os::Env* env, const CompilerOptions& options) {
  ProcessLimits limits = options.limits;
  limits.wall_seconds = 60;
  // Through a pipe: the fingerprint never depends on writing a file (a full
  // or read-only disk must not change it).
  auto text = RunProcessCapture({options.cc, "--version"}, limits);
  if (!text.ok()) {
    // The usual cause is a machine without a C compiler: say what to install.
    return Status::IOError("the C compiler \"" + options.cc + "\" cannot be run (" +
                           std::string(text.status().message()) +
                           "): crust compiles every deployed contract to native code and needs a C compiler at "
                           "run time; install one (Debian: apt-get install gcc" +
                           (options.cc == "tcc" ? std::string(" tcc") : std::string()) +
                           ") or name another in CompilerOptions::cc");
  }
  return std::unique_ptr<Compiler>(new Compiler(env, options, FirstLine(text.value())));
}

Compiler::Compiler(os::Env* env, CompilerOptions options, std::string version)
    : env_(env), options_(std::move(options)) {
  description_ = "cc=" + options_.cc + " (" + version + "); flags=";
  for (const std::string& f : Flags()) description_ += f + " ";
  if (options_.flavor == CompilerFlavor::kGcc && options_.opt_level == OptLevel::kO2) {
    description_ += "(-O0 for a function over " + std::to_string(kHeavyFrameBytes) + " wasm frame bytes or " +
                    std::to_string(kHeavyBodyInstructions) + " instructions, or a module over " +
                    std::to_string(kHeavyModuleInstructions) + " instructions) ";
  }
  description_ += "; wasm2c " + std::string(Wasm2cVersion()) + "; abi " + std::to_string(CRUST_RT_ABI_VERSION) +
                  "; glue " + std::to_string(kTranslatorVersion);
  if (!options_.write_barrier) description_ += "; no write barrier";
  if (options_.flavor == CompilerFlavor::kTcc) description_ += "; tcc prelude " + std::to_string(kTccPreludeVersion);
  // Objects were checked against this frame bound when built (CheckFrames).
  description_ += "; native frame <= " + std::to_string(rt::kNativeBytesPerWasmByte) + " x wasm frame + " +
                  std::to_string(rt::kNativeFrameSlack);
  Sha256 h;
  h.Update(description_.data(), description_.size());
  const std::string& abi = RuntimeHeaderText();
  h.Update(abi.data(), abi.size());
  const std::string& glue = TranslatorText();
  h.Update(glue.data(), glue.size());
  if (options_.flavor == CompilerFlavor::kTcc) h.Update(TccPrelude().data(), TccPrelude().size());
  fingerprint_ = h.Finish();
}

std::vector<std::string> Compiler::Flags(bool heavy) const {
  if (options_.flavor == CompilerFlavor::kTcc) return {"-shared", "-w", "-DNDEBUG"};
  return {options_.opt_level == OptLevel::kO0 || heavy ? "-O0" : "-O2",
          "-fPIC",
          "-shared",
          "-fvisibility=hidden",
          "-fstack-clash-protection",
          "-ffp-contract=off",
          "-fno-strict-aliasing",
          "-fwrapv",
          "-DNDEBUG",
          "-w",
          "-g0",
          "-fstack-usage"};
}

Status Compiler::Compile(ByteView wasm, const std::string& work_dir, const std::string& out_path) const {
  // The module's largest wasm frame bounds every compiled frame.
  ModuleStats stats;
  RETURN_IF_ERROR(CheckModuleLimits(wasm, kDeployLimits.Prepared(), &stats));
  const uint64_t max_frame = rt::NativeFrameBound(stats.max_frame_bytes);
  const bool heavy = stats.max_frame_bytes > kHeavyFrameBytes || stats.max_body_instructions > kHeavyBodyInstructions ||
                     stats.instructions > kHeavyModuleInstructions;
  ASSIGN_OR_RETURN(CSource src, TranslateToC(wasm, options_.write_barrier));
  RETURN_IF_ERROR(env_->CreateDir(work_dir));
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/" + kRuntimeHeaderName, RuntimeHeaderText()));
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/" + kGeneratedHeaderName, src.h));
    if (options_.flavor == CompilerFlavor::kTcc) AdaptForTcc(&src.c);
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/module.c", src.c));
    std::vector<std::string> argv = {options_.cc};
    for (const std::string& f : Flags(heavy)) argv.push_back(f);
    // Built inside work_dir, where the compiler also writes its stack usage
    // report (gcc: module.so-module.su, clang: module.su).
    const std::string so = work_dir + "/module.so";
    argv.insert(argv.end(), {"-I" + work_dir, work_dir + "/module.c", "-o", so, "-lm"});
    RETURN_IF_ERROR(RunProcess(argv, work_dir + "/cc.log", options_.limits));
    if (options_.flavor == CompilerFlavor::kTcc) {
      RETURN_IF_ERROR(CheckTccFrames(so, max_frame));
    } else {
      RETURN_IF_ERROR(CheckFrames(work_dir, max_frame));
    }
    return env_->Rename(so, out_path);
  };
  Status s = run();
  if (std::getenv("CRUST_KEEP_WORK") == nullptr) env_->RemoveDirRecursive(work_dir).IgnoreError();
  return s.WithContext("compile wasm to native code");
}

}  // namespace crust::engine
