// Copyright (c) crust authors. Licensed under the MIT license.
//
// Page inclusion proofs (crust/proof.h): making one from a commit
// (Store::ProvePage: index, one page, 20 stored tree nodes, the state's
// leaves) and checking one (VerifyPageProof: 21 BLAKE3 and ~log2(modules)
// SHA-256 hashes). The state: `modules` modules of 4 MiB each, every page
// written, committed twice so that the second commit's memories are a base
// image plus a delta layer (the usual shape). The page proved is random.
// Console output only (Google Benchmark); docs/benchmarks.md quotes it.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>

#include "bench/bench_main.h"
#include "crust/proof.h"
#include "crust/session.h"
#include "crust/store.h"

namespace {

constexpr uint64_t kMemory = 4ull << 20;
constexpr uint32_t kPages = kMemory / 4096;

struct Fixture {
  std::string dir;
  std::unique_ptr<crust::Store> store;
  crust::Root root;
  uint32_t modules = 0;
};

crust::ModuleId Id(uint32_t n) {
  crust::ModuleId id;
  for (int b = 0; b < 4; b++) id.bytes[28 + b] = static_cast<uint8_t>(n >> (8 * (3 - b)));
  return id;
}

Fixture& Get(uint32_t modules) {
  static Fixture f;
  if (f.modules == modules) return f;
  using crust::bench::Check;
  using crust::bench::Take;
  f.store.reset();
  if (!f.dir.empty()) std::system(("rm -rf " + f.dir).c_str());
  char tmpl[] = "/tmp/crust-proof-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) crust::bench::Fail("mkdtemp");
  f.dir = tmpl;
  crust::StoreOptions opt;
  opt.sync = false;
  f.store = Take(crust::Store::Open(f.dir + "/store", opt), "open");
  auto g = Take(f.store->StartGenesis(), "genesis");
  crust::Bytes mem(kMemory);
  std::mt19937_64 rng(7);
  for (uint32_t m = 0; m < modules; m++) {
    for (size_t i = 0; i < mem.size(); i += 8) *reinterpret_cast<uint64_t*>(mem.data() + i) = rng();
    Check(g->AddModule(Id(m), crust::Bytes{0, 'a', 's', 'm', 1, 0, 0, 0}, mem, kMemory), "add");
  }
  Take(g->Commit(), "commit");
  for (uint32_t m = 0; m < modules; m++) {
    for (uint32_t p = 0; p < kPages; p += 97) Check(g->WriteMemory(Id(m), uint64_t{p} * 4096, crust::Bytes{1}), "write");
  }
  f.root = Take(g->Commit(), "commit");
  f.modules = modules;
  return f;
}

void BM_ProvePage(benchmark::State& state) {
  Fixture& f = Get(static_cast<uint32_t>(state.range(0)));
  std::mt19937 rng(1);
  for (auto _ : state) {
    auto proof = f.store->ProvePage(f.root, Id(rng() % f.modules), rng() % kPages);
    if (!proof.ok()) crust::bench::Fail(proof.status().ToString());
    benchmark::DoNotOptimize(proof->data.data());
  }
}

void BM_VerifyPageProof(benchmark::State& state) {
  Fixture& f = Get(static_cast<uint32_t>(state.range(0)));
  auto proof = crust::bench::Take(f.store->ProvePage(f.root, Id(f.modules / 2), 123), "prove");
  for (auto _ : state) {
    crust::Status s = crust::VerifyPageProof(f.root, proof);
    if (!s.ok()) crust::bench::Fail(s.ToString());
  }
}

BENCHMARK(BM_ProvePage)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyPageProof)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
