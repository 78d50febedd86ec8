// Copyright (c) crust authors. Licensed under the MIT license.
//
// kernel_bench: compute kernels written as a contract (bench/kernels/
// vm_kernels.c: SHA-256, Keccak-f[1600], quicksort, integer matrix multiply,
// 256-bit modexp, a bytecode interpreter, a hash map, 16 MiB of stores) run by
// crust (VmSession::Call, -O2 native code, gas and write barrier), next to
// the same wasm in Node (V8, bench/vm_bench_node.js `run`) and the same C
// compiled natively by gcc -O2 and clang -O2 (a shared object built at start,
// see bench/kernels/native_shim.h). Issue 11 point 2: the geometric mean of
// crust/V8 <= 1.0, no kernel above 1.3.
//
// Rounds interleave the engines kernel by kernel; each figure is the median
// of its samples (Node: each process runs reps + 1 calls, the first, tier-up
// call is dropped). Results are checked equal across engines.
//
// Environment: CRUST_BENCH_QUICK=1 (small sizes, one round), CRUST_BENCH_REPS
// (rounds, default 5), CRUST_BENCH_DIR, CRUST_BENCH_KEEP=1, CRUST_BENCH_NODE,
// CRUST_KERNEL_FILTER=substring, CRUST_KERNEL_WALL=1 (wall-clock instead of
// process CPU time per call). Flag --crust_markdown=FILE writes the table.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/session.h"
#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"

namespace {

using crust::Bytes;
using crust::bench::Fail;
using crust::bench::Median;
using crust::bench::MsSince;
using crust::bench::Take;
using Clock = crust::bench::Clock;

struct Kernel {
  const char* name;
  uint32_t n, quick_n;
  const char* what;
};
const Kernel kKernels[] = {
    {"sha256", 40000, 2000, "SHA-256 compressions (W[64] on the shadow stack)"},
    {"keccak", 15000, 500, "Keccak-f[1600] permutations (state and lanes in memory)"},
    {"qsort", 200000, 20000, "quicksort of u32"},
    {"matmul", 160, 40, "n×n u32 matrix product"},
    {"modexp", 40, 2, "256-bit modexp (Montgomery, 32-bit limbs)"},
    {"interp", 2000000, 100000, "bytecode interpreter loop iterations"},
    {"hashmap", 150000, 10000, "hash map inserts (+2n lookups)"},
    {"fill", 6, 1, "passes of u64 stores over 16 MiB"},
};

std::string F(double v, int digits = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string Run(const std::string& cmd, int* rc) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) Fail("popen " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *rc = pclose(p);
  return out;
}

std::string JsonField(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return "";
  at += k.size();
  if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
  return json.substr(at, json.find_first_of(",}", at) - at);
}

std::vector<double> JsonTimes(const std::string& json, const std::string& key) {
  std::vector<double> out;
  size_t at = json.find("\"" + key + "\":[");
  if (at == std::string::npos) return out;
  at += key.size() + 4;
  while (at < json.size() && json[at] != ']') {
    char* end = nullptr;
    out.push_back(std::strtod(json.c_str() + at, &end));
    at = static_cast<size_t>(end - json.c_str());
    if (json[at] == ',') at++;
  }
  return out;
}

// CPU time of this process (all threads) in ms, or wall-clock time: on a
// machine shared with other work the CPU time of a single-threaded kernel is
// the steadier figure (Node reports the same: process.cpuUsage).
bool cpu_time = true;
double NowMs() {
  if (!cpu_time) return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// The kernels compiled natively by `cc` into a shared object.
struct Native {
  std::string cc;
  void* so = nullptr;
  unsigned char* arg = nullptr;
  bool Load(const std::string& dir) {
    const std::string out = dir + "/kernels-" + cc + ".so";
    int rc = 0;
    std::string log = Run(cc + " -O2 -shared -fPIC -o " + out + " " + CRUST_SOURCE_DIR +
                              "/bench/kernels/vm_kernels.c", &rc);
    if (rc != 0) {
      std::fprintf(stderr, "kernel_bench: %s could not build the native kernels: %s\n", cc.c_str(), log.c_str());
      return false;
    }
    so = dlopen(out.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (so == nullptr) return false;
    arg = static_cast<unsigned char*>(dlsym(so, "kernel_arg"));
    return arg != nullptr;
  }
  // ms of one call, *result its u64.
  double Call(const std::string& name, uint32_t n, uint64_t* result) {
    auto fn = reinterpret_cast<int32_t (*)(int32_t)>(dlsym(so, ("crust_export_" + name).c_str()));
    if (fn == nullptr) Fail("native " + name + " missing");
    std::memcpy(arg, &n, 4);
    const double t0 = NowMs();
    int32_t len = fn(4);
    const double ms = NowMs() - t0;
    if (len != 8) Fail("native " + name + " returned " + std::to_string(len));
    std::memcpy(result, arg, 8);
    return ms;
  }
};

double Geomean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += std::log(x);
  return std::exp(s / static_cast<double>(v.size()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  const std::string markdown = crust::bench::TakeMarkdownFlag(argc, argv, &args);
  const bool quick = crust::bench::EnvStr("CRUST_BENCH_QUICK") == "1";
  const int rounds = std::max(1, std::atoi(crust::bench::EnvStr("CRUST_BENCH_REPS", quick ? "1" : "5").c_str()));
  const int per_round = quick ? 2 : 3;
  const std::string filter = crust::bench::EnvStr("CRUST_KERNEL_FILTER");
  cpu_time = crust::bench::EnvStr("CRUST_KERNEL_WALL") != "1";
  const std::string node = crust::bench::EnvStr("CRUST_BENCH_NODE", "node");
  const std::string exe_dir = std::filesystem::absolute(std::filesystem::path(argv[0])).parent_path().string();
  std::string root = crust::bench::EnvStr("CRUST_BENCH_DIR", exe_dir + "/kernel-bench-stores") + "/run-XXXXXX";
  std::filesystem::create_directories(std::filesystem::path(root).parent_path());
  if (mkdtemp(root.data()) == nullptr) Fail("mkdtemp " + root);
  const std::string wasm_path = std::string(CRUST_BINARY_DIR) + "/contracts/vm_kernels.wasm";
  const Bytes wasm = Take(crust::os::Env::Default()->ReadFile(wasm_path), "read " + wasm_path);

  crust::VmOptions o;
  o.store.sync = false;
  o.opt_level = 2;
  o.tiers = crust::VmOptions::Tiers::kOptimisedOnly;
  o.code_cache_dir = root + "/cache";
  auto vm = Take(crust::Vm::Open(root + "/store", o), "Vm::Open");
  auto s = Take(vm->StartGenesis(), "genesis");
  crust::ModuleId id;
  id.bytes[0] = 0x4b;
  crust::DeployOptions d;
  d.id = id;
  auto t0 = Clock::now();
  Take(s->Deploy(wasm, d), "deploy vm_kernels");
  const double deploy_ms = MsSince(t0);

  int rc = 0;
  const bool node_ok = (Run(node + " --version", &rc), rc == 0);
  std::vector<Native> natives;
  for (const char* cc : {"gcc", "clang"}) {
    Native nat;
    nat.cc = cc;
    if (nat.Load(root)) natives.push_back(nat);
  }

  struct Samples {
    std::vector<double> crust, node;
    std::map<std::string, std::vector<double>> native;
    uint64_t result = 0, gas = 0;
  };
  std::map<std::string, Samples> all;
  std::vector<const Kernel*> run;
  for (const Kernel& k : kKernels) {
    if (filter.empty() || std::string(k.name).find(filter) != std::string::npos) run.push_back(&k);
  }
  for (int r = 0; r < rounds; ++r) {
    for (const Kernel* k : run) {
      Samples& sm = all[k->name];
      const uint32_t n = quick ? k->quick_n : k->n;
      Bytes arg;
      crust::PutFixed32(&arg, n);
      for (int i = 0; i < per_round + (r == 0 ? 1 : 0); ++i) {
        const double t = NowMs();
        crust::CallReceipt rec = s->Call(id, k->name, arg, 1ull << 50);
        const double ms = NowMs() - t;
        if (!rec.ok() || rec.data.size() != 8) Fail(std::string(k->name) + ": " + rec.status.ToString());
        const uint64_t v = crust::DecodeFixed64(rec.data.data());
        if (r == 0 && i == 0) {
          sm.result = v;
          sm.gas = rec.gas_spent;
          continue;  // the first call instantiates
        }
        if (v != sm.result || rec.gas_spent != sm.gas) Fail(std::string(k->name) + ": result or gas changed");
        sm.crust.push_back(ms);
      }
      if (node_ok) {
        const std::string json = Run(node + " " + CRUST_SOURCE_DIR + "/bench/vm_bench_node.js run " + wasm_path +
                                         " " + k->name + " " + std::to_string(n) + " " + std::to_string(per_round + 1),
                                     &rc);
        if (rc != 0) Fail("node: " + json);
        if (JsonField(json, "result") != std::to_string(sm.result)) {
          Fail(std::string(k->name) + ": Node's result " + JsonField(json, "result") + " differs from crust's " +
               std::to_string(sm.result));
        }
        std::vector<double> t = JsonTimes(json, cpu_time ? "cpu_ms" : "times_ms");
        sm.node.insert(sm.node.end(), t.begin() + 1, t.end());
      }
      for (Native& nat : natives) {
        for (int i = 0; i < per_round; ++i) {
          uint64_t v = 0;
          const double ms = nat.Call(k->name, n, &v);
          if (v != sm.result) Fail(nat.cc + " " + k->name + ": result differs");
          sm.native[nat.cc].push_back(ms);
        }
      }
    }
  }

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::ostringstream md;
  auto min_of = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); };
  md << "| kernel | work | gas | crust ms | Node (V8, original wasm) ms | crust / V8 | min / min |";
  for (const Native& nat : natives) md << " " << nat.cc << " -O2 ms | crust / " << nat.cc << " |";
  md << "\n|---|---|---:|---:|---:|---:|---:|";
  for (size_t i = 0; i < natives.size(); ++i) md << "---:|---:|";
  md << "\n";
  std::vector<double> vs_node, vs_node_min;
  std::map<std::string, std::vector<double>> vs_native;
  double worst = 0;
  std::string worst_name;
  for (const Kernel* k : run) {
    Samples& sm = all[k->name];
    const double c = Median(sm.crust), nd = Median(sm.node);
    md << "| " << k->name << " | " << (quick ? k->quick_n : k->n) << " " << k->what << " | " << sm.gas << " | "
       << F(c) << " | " << (nd > 0 ? F(nd) : "–") << " | " << (nd > 0 ? F(c / nd) : "–") << " | "
       << (nd > 0 ? F(min_of(sm.crust) / min_of(sm.node)) : "–") << " |";
    if (nd > 0) {
      vs_node.push_back(c / nd);
      vs_node_min.push_back(min_of(sm.crust) / min_of(sm.node));
      if (c / nd > worst) worst = c / nd, worst_name = k->name;
    }
    for (const Native& nat : natives) {
      const double nm = Median(sm.native[nat.cc]);
      md << " " << F(nm) << " | " << F(c / nm) << " |";
      vs_native[nat.cc].push_back(c / nm);
    }
    md << "\n";
  }
  md << "| **geometric mean** | | | | | **" << F(Geomean(vs_node)) << "** | **" << F(Geomean(vs_node_min)) << "** |";
  for (const Native& nat : natives) md << " | **" << F(Geomean(vs_native[nat.cc])) << "** |";
  md << "\n\nLoad average at the end " << F(load[0]) << " / " << F(load[1]) << " / " << F(load[2])
     << "; worst kernel vs V8: " << worst_name << " " << F(worst) << "×; " << rounds << " rounds × " << per_round
     << " calls; cold deploy of the kernels contract " << F(deploy_ms, 0) << " ms; times are "
     << (cpu_time ? "process CPU time" : "wall-clock time") << ".\n";
  std::fputs(md.str().c_str(), stdout);
  if (!markdown.empty()) {
    std::ofstream out(markdown);
    out << md.str();
  }
  s.reset();
  vm.reset();
  if (crust::bench::EnvStr("CRUST_BENCH_KEEP") != "1") std::filesystem::remove_all(root);
  return 0;
}
