// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compiler.h"

#include <atomic>
#include <unistd.h>

#include "src/engine/compiler_tcc.h"
#include "src/engine/compiler_translate.h"
#include "src/os/env.h"
#include "src/util/sha256.h"
#include "src/engine/wasm_rt_abi.h"

namespace crust::engine {
namespace {

std::atomic<uint64_t> g_counter{0};

std::string UniqueSuffix() {
  return std::to_string(::getpid()) + "." + std::to_string(g_counter.fetch_add(1));
}

Status WriteWholeFile(os::Env* env, const std::string& path, std::string_view text) {
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return f->Close();
}

std::string FirstLine(const Bytes& b) {
  std::string s(b.begin(), b.end());
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

Result<std::unique_ptr<Compiler>> Compiler::Create(os::Env* env, const CompilerOptions& options,
                                                   const std::string& scratch_dir) {
  const std::string out = scratch_dir + "/cc-version." + UniqueSuffix() + ".txt";
  ProcessLimits limits = options.limits;
  limits.wall_seconds = 60;
  Status s = RunProcess({options.cc, "--version"}, out, limits);
  auto text = env->ReadFile(out, 1 << 20);
  env->RemoveFile(out).IgnoreError();
  if (!s.ok()) {
    // The usual cause is a machine without a C compiler: say what to install.
    return Status::IOError("the C compiler \"" + options.cc + "\" cannot be run (" + std::string(s.message()) +
                           "): crust compiles every deployed contract to native code and needs a C compiler at "
                           "run time; install one (Debian: apt-get install gcc" +
                           (options.cc == "tcc" ? std::string(" tcc") : std::string()) +
                           ") or name another in CompilerOptions::cc");
  }
  if (!text.ok()) return text.status();
  return std::unique_ptr<Compiler>(new Compiler(env, options, FirstLine(text.value())));
}

Compiler::Compiler(os::Env* env, CompilerOptions options, std::string version)
    : env_(env), options_(std::move(options)) {
  description_ = "cc=" + options_.cc + " (" + version + "); flags=";
  for (const std::string& f : Flags()) description_ += f + " ";
  description_ += "; wasm2c " + std::string(Wasm2cVersion()) + "; abi " + std::to_string(CRUST_RT_ABI_VERSION) +
                  "; glue " + std::to_string(kTranslatorVersion);
  if (!options_.write_barrier) description_ += "; no write barrier";
  if (options_.flavor == CompilerFlavor::kTcc) description_ += "; tcc prelude " + std::to_string(kTccPreludeVersion);
  Sha256 h;
  h.Update(description_.data(), description_.size());
  const std::string& abi = RuntimeHeaderText();
  h.Update(abi.data(), abi.size());
  const std::string& glue = TranslatorText();
  h.Update(glue.data(), glue.size());
  if (options_.flavor == CompilerFlavor::kTcc) h.Update(TccPrelude().data(), TccPrelude().size());
  fingerprint_ = h.Finish();
}

std::vector<std::string> Compiler::Flags() const {
  if (options_.flavor == CompilerFlavor::kTcc) return {"-shared", "-w", "-DNDEBUG"};
  return {options_.opt_level == OptLevel::kO0 ? "-O0" : "-O2",
          "-fPIC",
          "-shared",
          "-fvisibility=hidden",
          "-fstack-clash-protection",
          "-ffp-contract=off",
          "-fno-strict-aliasing",
          "-fwrapv",
          "-DNDEBUG",
          "-w",
          "-g0"};
}

Status Compiler::Compile(ByteView wasm, const std::string& work_dir, const std::string& out_path) const {
  ASSIGN_OR_RETURN(CSource src, TranslateToC(wasm, options_.write_barrier));
  RETURN_IF_ERROR(env_->CreateDir(work_dir));
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/" + kRuntimeHeaderName, RuntimeHeaderText()));
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/" + kGeneratedHeaderName, src.h));
    if (options_.flavor == CompilerFlavor::kTcc) AdaptForTcc(&src.c);
    RETURN_IF_ERROR(WriteWholeFile(env_, work_dir + "/module.c", src.c));
    std::vector<std::string> argv = {options_.cc};
    for (const std::string& f : Flags()) argv.push_back(f);
    argv.insert(argv.end(), {"-I" + work_dir, work_dir + "/module.c", "-o", out_path, "-lm"});
    return RunProcess(argv, work_dir + "/cc.log", options_.limits);
  };
  Status s = run();
  env_->RemoveDirRecursive(work_dir).IgnoreError();
  return s.WithContext("compile wasm to native code");
}

}  // namespace crust::engine
