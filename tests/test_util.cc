// Copyright (c) crust authors. Licensed under the MIT license.
#include "tests/test_util.h"

#include <cstdlib>
#include <filesystem>

namespace crust::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/crust-test-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) {
    fprintf(stderr, "keeping test directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  // Committed files are read-only; removal only needs write access to dirs.
  std::filesystem::remove_all(path_, ec);
}

}  // namespace crust::testing
