// Copyright (c) crust authors. Licensed under the MIT license.
//
// tier_bench: code tiers (issue 11; docs/benchmarks.md, section "Code
// tiers"). For Dusk's stake contract (../shared/piecrust-contracts, 238 KB)
// and the large generated contract of vm_bench (vm_bench_large, ~300 KB), and
// for two configurations of the VM, kOptimisedOnly (gcc -O2 before the first
// call) and kFastThenOptimised (tcc first, gcc -O2 in the background):
//
//   * cold: an empty code cache and store: Deploy, then the first call; the
//     time from Deploy's start to the first answered call;
//   * steady state before the swap: calls per second on the code that
//     answered the first call;
//   * the background build: time until WaitForOptimisedCode returns;
//   * steady state after the swap (the next top-level call swaps);
//   * cached: a fresh Vm and store over the warm cache directory: Deploy +
//     first call.
//
// The calls: stake `get_version` (returns 8 as a u64), large `run(i, x)` over
// i = 0..999 (every function once per 1000 calls).
//
// Not a Google Benchmark program: one pass, each figure printed with the
// load average (these are seconds-long cold compiles; repetitions would take
// minutes). CRUST_BENCH_DIR=dir (default tier-bench-stores/ beside the
// executable, removed at exit), CRUST_TIER_BENCH_STAKE=path,
// CRUST_TIER_BENCH_LARGE=path override the modules.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/vm.h"
#include "src/engine/compile/code_cache.h"
#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/prepare.h"
#include "src/os/env.h"

namespace {

using crust::Bytes;
using crust::ModuleId;
using crust::VmOptions;
using crust::bench::Clock;
using crust::bench::EnvStr;
using crust::bench::Fail;
using crust::bench::MsSince;
using crust::bench::Take;

std::string Load() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Module {
  std::string name;
  Bytes wasm;
  std::string fn;
  std::function<Bytes(int)> arg;
};

Bytes U32Pair(uint32_t a, uint32_t b) {
  Bytes out(8);
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(a >> (8 * i));
    out[4 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  return out;
}

std::unique_ptr<crust::Vm> OpenVm(const std::string& store, const std::string& cache, VmOptions::Tiers tiers) {
  VmOptions o;
  o.store.sync = false;
  o.tiers = tiers;
  o.code_cache_dir = cache;
  return Take(crust::Vm::Open(store, o), "Vm::Open " + store);
}

// Calls per second of m.fn over `n` calls (arguments rotating).
double Rate(crust::VmSession& s, const ModuleId& id, const Module& m, int n) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    crust::CallReceipt r = s.Call(id, m.fn, m.arg(i), 1'000'000'000);
    if (!r.ok()) Fail(m.name + " " + m.fn + ": " + r.status.ToString());
  }
  return n / (MsSince(t0) / 1000);
}

// The best of `rounds` rates (the least disturbed on a loaded machine).
double BestRate(crust::VmSession& s, const ModuleId& id, const Module& m, int n, int rounds = 5) {
  double best = 0;
  for (int r = 0; r < rounds; ++r) best = std::max(best, Rate(s, id, m, n));
  return best;
}

// Steady state of the two tiers' code side by side, from the warm cache of
// the tiered run: a kFastOnly Vm (tcc objects) and a kOptimisedOnly Vm (-O2
// objects) over the same cache directory, rounds alternating.
void Interleaved(const std::string& root, const Module& m, int calls) {
  const std::string cache = root + "/" + m.name + "-tiered-cache";
  auto fast_vm = OpenVm(root + "/" + m.name + "-il-fast", cache, VmOptions::Tiers::kFastOnly);
  auto opt_vm = OpenVm(root + "/" + m.name + "-il-opt", cache, VmOptions::Tiers::kOptimisedOnly);
  auto fs = Take(fast_vm->StartGenesis(), "StartGenesis");
  auto os = Take(opt_vm->StartGenesis(), "StartGenesis");
  const ModuleId fid = Take(fs->Deploy(m.wasm, {}), "deploy");
  const ModuleId oid = Take(os->Deploy(m.wasm, {}), "deploy");
  std::vector<double> f, o;
  for (int r = 0; r < 7; ++r) {
    f.push_back(Rate(*fs, fid, m, calls));
    o.push_back(Rate(*os, oid, m, calls));
  }
  const double fm = crust::bench::Median(f), om = crust::bench::Median(o);
  std::printf("%-6s interleaved steady state (7 rounds of %d calls, medians): tcc %.0f calls/s, gcc -O2 %.0f calls/s "
              "(-O2 %.2fx faster; best rounds %.0f / %.0f)   (load %s)\n",
              m.name.c_str(), calls, fm, om, om / fm, *std::max_element(f.begin(), f.end()),
              *std::max_element(o.begin(), o.end()), Load().c_str());
}

// Where a cold fast-tier deploy's time goes: preparation, wasm2c alone,
// and wasm2c + tcc + publishing (CodeCache::Get with tcc as the compiler).
void Breakdown(const std::string& root, const Module& m) {
  auto t0 = Clock::now();
  crust::engine::PreparedModule pm = Take(crust::engine::PrepareModule(m.wasm), "prepare " + m.name);
  const double prepare_ms = MsSince(t0);
  t0 = Clock::now();
  crust::engine::CSource c = Take(crust::engine::TranslateToC(pm.wasm), "wasm2c " + m.name);
  const double wasm2c_ms = MsSince(t0);
  crust::engine::CodeCacheOptions co;
  co.dir = root + "/" + m.name + "-breakdown-cache";
  co.compiler.cc = "tcc";
  co.compiler.flavor = crust::engine::CompilerFlavor::kTcc;
  auto cache = Take(crust::engine::CodeCache::Open(co), "open tcc cache");
  t0 = Clock::now();
  Take(cache->Get(pm.wasm), "tcc " + m.name);
  const double tcc_ms = MsSince(t0);
  std::printf("%-6s breakdown: %zu bytes of wasm (%zu prepared), %.1f MB of C; prepare %.1f ms, wasm2c %.1f ms, "
              "wasm2c + tcc + publish + dlopen %.1f ms   (load %s)\n",
              m.name.c_str(), m.wasm.size(), pm.wasm.size(), c.c.size() / 1e6, prepare_ms, wasm2c_ms, tcc_ms,
              Load().c_str());
}

void Run(const std::string& root, const Module& m, VmOptions::Tiers tiers, const char* label, int calls) {
  const std::string cache = root + "/" + m.name + "-" + label + "-cache";
  double deploy_ms, first_ms;
  {
    auto vm = OpenVm(root + "/" + m.name + "-" + label + "-cold", cache, tiers);
    auto session = Take(vm->StartGenesis(), "StartGenesis");
    const auto t0 = Clock::now();
    const ModuleId id = Take(session->Deploy(m.wasm, {}), "deploy " + m.name);
    deploy_ms = MsSince(t0);
    crust::CallReceipt r = session->Call(id, m.fn, m.arg(0), 1'000'000'000);
    if (!r.ok()) Fail(m.name + " first call: " + r.status.ToString());
    first_ms = MsSince(t0);
    std::printf("%-6s %-9s cold: deploy %8.1f ms, first answered call at %8.1f ms   (load %s)\n", m.name.c_str(),
                label, deploy_ms, first_ms, Load().c_str());
    const double before = BestRate(*session, id, m, calls);
    const auto tb = Clock::now();
    vm->WaitForOptimisedCode();
    const double wait_ms = MsSince(tb);
    Rate(*session, id, m, 1);  // the swap happens at this call's start
    const double after = BestRate(*session, id, m, calls);
    std::printf("%-6s %-9s steady state (best of 5 rounds): %10.0f calls/s before the swap, %10.0f after (ratio %.2f); "
                "background build finished %.1f s after the first call   (load %s)\n",
                m.name.c_str(), label, before, after, after / before, wait_ms / 1000, Load().c_str());
  }
  {
    auto vm = OpenVm(root + "/" + m.name + "-" + label + "-warm", cache, tiers);
    auto session = Take(vm->StartGenesis(), "StartGenesis");
    const auto t0 = Clock::now();
    const ModuleId id = Take(session->Deploy(m.wasm, {}), "deploy " + m.name);
    crust::CallReceipt r = session->Call(id, m.fn, m.arg(0), 1'000'000'000);
    if (!r.ok()) Fail(m.name + " first call (cached): " + r.status.ToString());
    std::printf("%-6s %-9s cached: deploy + first call %8.1f ms   (load %s)\n", m.name.c_str(), label, MsSince(t0),
                Load().c_str());
  }
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  const std::string exe_dir = std::filesystem::path(program_invocation_name).parent_path().string();
  const std::string root = EnvStr("CRUST_BENCH_DIR", (exe_dir.empty() ? "." : exe_dir) + "/tier-bench-stores") +
                           "/run-" + std::to_string(::getpid());
  std::filesystem::create_directories(root);
  std::vector<Module> modules;
  // The shared material sits beside the repository (or beside its worktree directory).
  std::string stake = EnvStr("CRUST_TIER_BENCH_STAKE", CRUST_SOURCE_DIR "/../shared/piecrust-contracts/stake_contract.wasm");
  if (!std::filesystem::exists(stake) && EnvStr("CRUST_TIER_BENCH_STAKE").empty()) {
    stake = CRUST_SOURCE_DIR "/../../shared/piecrust-contracts/stake_contract.wasm";
  }
  const std::string large = EnvStr("CRUST_TIER_BENCH_LARGE", CRUST_BINARY_DIR "/bench-contracts/vm_bench_large.wasm");
  auto read = [](const std::string& p) { return crust::os::Env::Default()->ReadFile(p); };
  if (auto b = read(stake); b.ok()) {
    modules.push_back({"stake", *b, "get_version", [](int) { return Bytes(); }});
  } else {
    std::printf("stake contract not found (%s): skipped\n", b.status().ToString().c_str());
  }
  if (auto b = read(large); b.ok()) {
    modules.push_back({"large", *b, "run", [](int i) { return U32Pair(static_cast<uint32_t>(i % 1000), 12345); }});
  } else {
    std::printf("large module not found (%s; build vm_bench first): skipped\n", b.status().ToString().c_str());
  }
  const int calls = std::atoi(EnvStr("CRUST_TIER_BENCH_CALLS", "20000").c_str());
  std::printf("tier_bench: %d calls per steady-state figure; load %s\n", calls, Load().c_str());
  for (const Module& m : modules) {
    Breakdown(root, m);
    Run(root, m, VmOptions::Tiers::kFastThenOptimised, "tiered", calls);
    Run(root, m, VmOptions::Tiers::kOptimisedOnly, "O2-only", calls);
    Interleaved(root, m, calls);
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
