// Copyright (c) crust authors. Licensed under the MIT license.
//
// Deploy and first-call times of Dusk's mainnet transfer contract (memory64,
// 533 KB) through the public API (docs/benchmarks.md, "memory64: the
// transfer contract"):
//   cold deploy    fresh store, empty code cache (prepare + wasm2c + cc + load)
//   cached deploy  fresh store, the code cache the cold deploy filled
//   first call     num_notes in a new session of a reopened Vm (loads the
//                  compiled code), then the same call again (warm)
//
//   memory64_bench [transfer_contract.wasm] [repetitions]
// Default path: ../shared/piecrust-contracts/transfer_contract.wasm relative
// to the current directory's parent (run from build/).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crust/vm.h"
#include "src/os/env.h"

using namespace crust;

namespace {

double Ms(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

struct Times {
  double deploy_ms = 0, first_call_ms = 0, second_call_ms = 0;
};

Times DeployAndCall(const Bytes& wasm, const std::string& store, const std::string& cache) {
  VmOptions o;
  o.store.sync = false;
  o.code_cache_dir = cache;
  Times t;
  Root root;
  ModuleId id;
  {
    auto vm = Vm::Open(store, o);
    Check(vm.status(), "open");
    auto s = (*vm)->StartGenesis();
    Check(s.status(), "genesis");
    DeployOptions d;
    d.owner = Bytes(32, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = (*s)->Deploy(wasm, d);
    t.deploy_ms = Ms(std::chrono::steady_clock::now() - t0);
    Check(r.status(), "deploy");
    id = *r;
    auto c = (*s)->Commit();
    Check(c.status(), "commit");
    root = *c;
  }
  auto vm = Vm::Open(store, o);
  Check(vm.status(), "reopen");
  auto s = (*vm)->StartSession(root);
  Check(s.status(), "session");
  for (double* out : {&t.first_call_ms, &t.second_call_ms}) {
    const auto t0 = std::chrono::steady_clock::now();
    CallReceipt r = (*s)->Call(id, "num_notes", {}, 1'000'000'000);
    *out = Ms(std::chrono::steady_clock::now() - t0);
    Check(r.status, "num_notes");
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "../../shared/piecrust-contracts/transfer_contract.wasm";
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  auto wasm = os::Env::Default()->ReadFile(path);
  Check(wasm.status(), path.c_str());
  char tmpl[] = "/tmp/crust-m64-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  std::vector<double> cold, cached, first, second;
  for (int i = 0; i < reps; ++i) {
    const std::string cache = dir + "/cache" + std::to_string(i);
    Times c = DeployAndCall(*wasm, dir + "/cold" + std::to_string(i), cache);
    Times w = DeployAndCall(*wasm, dir + "/warm" + std::to_string(i), cache);
    cold.push_back(c.deploy_ms);
    cached.push_back(w.deploy_ms);
    first.push_back(w.first_call_ms);
    second.push_back(w.second_call_ms);
    std::printf("rep %d: cold deploy %.1f ms, cached deploy %.1f ms, first call %.2f ms, second call %.3f ms\n", i,
                c.deploy_ms, w.deploy_ms, w.first_call_ms, w.second_call_ms);
  }
  std::printf("median of %d: cold deploy %.1f ms, cached deploy %.1f ms, first call %.2f ms, second call %.3f ms\n",
              reps, Median(cold), Median(cached), Median(first), Median(second));
  std::printf("(temporary files in %s)\n", dir.c_str());
  return 0;
}
