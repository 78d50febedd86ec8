// Copyright (c) crust authors. Licensed under the MIT license.
//
// The official WebAssembly core spec tests through crust's engine: one test
// case per .wast file in the shared test suite (CRUST_SPEC_TESTSUITE
// overrides the directory). Modules are compiled at -O0 through a code cache
// kept in the build directory, two at a time. Skipped files (features crust
// rejects) instead check that crust rejects their modules.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "src/testing/runtime_test_util.h"
#include "src/testing/spec_test_runner.h"
#include "tests/test_util.h"

namespace crust::engine::spec {
namespace {

std::string SuiteDir() {
  const char* env = std::getenv("CRUST_SPEC_TESTSUITE");
  return env && *env ? env : CRUST_SPEC_TESTSUITE_DIR;
}

std::vector<std::string> WastFiles() {
  std::vector<std::string> out;
  DIR* d = opendir(SuiteDir().c_str());
  if (d == nullptr) return {"missing-testsuite"};
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".wast") out.push_back(n.substr(0, n.size() - 5));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  if (out.empty()) return {"missing-testsuite"};
  return out;
}

// Parameters: the .wast file, and whether its modules are compiled by tcc
// (the fast code tier, code_cache.h) instead of gcc -O0.
class SpecTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(SpecTest, File) {
  const std::string name = std::get<0>(GetParam());
  const bool tcc = std::get<1>(GetParam());
  // A missing suite is a failure, never a silent pass: CI must run it.
  if (name == "missing-testsuite") {
    FAIL() << "no spec test suite (*.wast) at " << SuiteDir()
           << ": put ../shared/wasm-testsuite beside the checkout or set CRUST_SPEC_TESTSUITE";
  }
  const std::string path = SuiteDir() + "/" + name + ".wast";
  CodeCache* cache = tcc ? testing::SharedTccCache() : testing::SharedCache(OptLevel::kO0);
  if (cache == nullptr) FAIL() << "tcc cannot be run: scripts/install-deps.sh installs it (Debian package tcc)";
  SpecRunner runner(cache, std::string(CRUST_BINARY_DIR) + (tcc ? "/spec-work-tcc" : "/spec-work"), 2);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string skip = SkipReason(name);
  if (!skip.empty()) {
    int modules = 0, rejected = 0;
    std::vector<std::string> accepted;
    ASSERT_OK(runner.CheckRejected(path, &modules, &rejected, &accepted));
    printf("SPEC%s %-40s skipped (%s): %d of %d modules rejected\n", tcc ? "(tcc)" : "", name.c_str(), skip.c_str(),
           rejected, modules);
    // Files of a rejected feature may contain a few modules without it.
    EXPECT_GT(rejected, 0) << "no module of " << name << " is rejected";
    return;
  }
  ASSERT_OK_AND_ASSIGN(FileResult r, runner.Run(path));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("SPEC%s %-40s passed %5d failed %3d skipped %3d known %3d modules %4d (%.1f s)\n", tcc ? "(tcc)" : "",
         name.c_str(), r.passed, r.failed, r.skipped, r.known, r.modules, s);
  for (const std::string& f : r.failures) ADD_FAILURE() << name << ".wast " << f;
  EXPECT_EQ(r.failed, 0);
}

INSTANTIATE_TEST_SUITE_P(Suite, SpecTest, ::testing::Combine(::testing::ValuesIn(WastFiles()), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, bool>>& info) {
                           std::string n = std::get<0>(info.param);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n + (std::get<1>(info.param) ? "_tcc" : "");
                         });

}  // namespace
}  // namespace crust::engine::spec
