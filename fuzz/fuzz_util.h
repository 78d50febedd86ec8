// Copyright (c) crust authors. Licensed under the MIT license.
//
// Helpers shared by the libFuzzer targets: a per-process scratch file (for
// decoders that read files or map them) and a crash-on-violation check that
// libFuzzer reports as a finding.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "crust/types.h"
#include "src/os/env.h"

namespace crust::fuzz {

// Aborts (a libFuzzer finding) with `what` when `ok` is false.
inline void Check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

// A scratch directory of this process under $TMPDIR (or /tmp).
inline const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* d = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/crust-fuzz-" + std::to_string(::getpid()));
    os::Env::Default()->CreateDirs(*d).IgnoreError();
    std::atexit([] { os::Env::Default()->RemoveDirRecursive(ScratchDir()).IgnoreError(); });
    return d;
  }();
  return *dir;
}

// Writes `bytes` to a fresh scratch file `name` and returns its path.
inline std::string WriteScratch(const std::string& name, ByteView bytes) {
  const std::string path = ScratchDir() + "/" + name;
  os::Env* env = os::Env::Default();
  env->RemoveFile(path).IgnoreError();
  auto f = env->NewWritableFile(path);
  Check(f.ok(), "create " + path);
  Check((*f)->Append(bytes).ok() && (*f)->Close().ok(), "write " + path);
  return path;
}

}  // namespace crust::fuzz
