// Copyright (c) crust authors. Licensed under the MIT license.
//
// vm_bench: the VM's figures of issue 3, each next to a comparison measured in
// the same run (docs/benchmarks.md, section "VM").
//
// Cases (one Google Benchmark entry each; --benchmark_filter selects):
//  * Calls/counter.read: calls per second of counter `read` (trivial: returns
//    8 bytes) through VmSession::Call (and CallInto, one receipt reused),
//    next to the raw engine rate
//    (engine::Instance::CallI32 on the same compiled code, no ABI work), a
//    "lean ABI" loop (CallI32 plus everything the ABI needs done per call —
//    gas/depth/trap globals, argument copy, result copy, state-global check —
//    with export lookups done once), and Node running the same prepared
//    module with the same per-call protocol.
//  * Fib/30: recursive fib(30) of the `fibonacci` contract through
//    VmSession::Call (-O2 code), next to the same prepared module in the wabt
//    interpreter (engine::InterpOracle, same instrumentation and gas) and in
//    Node (bench/vm_bench_node.js, run with popen): the original contract
//    (no gas/depth instrumentation) and the prepared one (instrumented, same
//    globals set as crust's host does: the fair engine-vs-engine comparison).
//  * Deploy/<module>/O<n>: VmSession::Deploy with an empty code cache (cold:
//    prepare + wasm2c + cc + dlopen + store), with a fresh Vm on the warm
//    cache directory (disk hit: verify + dlopen), and in the same Vm again
//    (memory hit). Modules: counter and a generated ~300 KB contract of 1000 functions
//    (vm_bench_large, CMakeLists.txt). Also PrepareModule alone and Node's
//    WebAssembly.Module compile time of the same module.
//  * SessionStart/<size>: StartSession + first call (grower `info`) on a
//    commit whose grower memory is 1 GiB (filled, every page stored) vs one
//    of 256 KiB (the contract's initial memory), alternating.
//  * Issue4/calls_and_rollback (issue 4): time per top-level call of
//    callcenter `call` forwarding to counter `read` vs counter `read` directly
//    (and callcenter `read`, the caller alone): the difference is the
//    inter-module call. And a page-writer module (inline WAT) that writes one
//    word into each of N distinct 4 KiB pages (N = 0, 1, 100) then returns,
//    panics or traps (rolled back): µs per call and per page, against the same
//    call that writes nothing. All variants interleaved, rotating order.
//
// Each figure is a median over repetitions. Stores and code caches live under
// $CRUST_BENCH_DIR (default: vm-bench-stores/ beside this executable), one
// directory per run, removed at exit unless CRUST_BENCH_KEEP=1.
//
// Environment: CRUST_BENCH_QUICK=1 (fewer repetitions and calls, 64 MiB
// instead of 1 GiB, no large module: a smoke test of ~15 s),
// CRUST_BENCH_REPS=n, CRUST_BENCH_DIR=dir, CRUST_BENCH_KEEP=1,
// CRUST_BENCH_NODE=path (default `node`; figures needing it are left out when
// it cannot run). Flag --crust_markdown=FILE writes the result table.
// No thresholds here: the targets are judged in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/session.h"
#include "crust/store.h"
#include "crust/vm.h"
#include "src/engine/compile/code_cache.h"
#include "src/engine/runtime/instance.h"
#include "src/testing/interp_oracle.h"
#include "src/engine/prepare/module_info.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/store/session_region.h"
#include "src/util/coding.h"
#include "src/engine/runtime/runtime.h"

// A host for calls that import nothing (counter.read, fib): every import
// would fail with NotSupported.
struct NoHost final : crust::engine::HostContext {};

namespace {

using crust::Bytes;
using crust::ModuleId;
using crust::Root;
using crust::bench::Check;
using crust::bench::Clock;
using crust::bench::EnvStr;
using crust::bench::Fail;
using crust::bench::Median;
using crust::bench::MsSince;
using crust::bench::Take;
constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr uint64_t kBigGas = 1ull << 62;

// ---------------------------------------------------------------- helpers

std::string F(double v, int prec = 2) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}
// Thousands separators for rates.
std::string Rate(double v) {
  std::string s = std::to_string(static_cast<uint64_t>(v + 0.5));
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}
std::string SizeName(uint64_t b) {
  char buf[32];
  if (b >= GiB && b % GiB == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " GiB", b / GiB);
  else if (b >= MiB && b % MiB == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " MiB", b / MiB);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " KiB", b / KiB);
  return buf;
}

Bytes U32(uint32_t v) {
  Bytes b;
  crust::PutFixed32(&b, v);
  return b;
}
Bytes U32Pair(uint32_t a, uint32_t b) {
  Bytes out = U32(a);
  crust::PutFixed32(&out, b);
  return out;
}

ModuleId Id(uint32_t i) {
  ModuleId id;
  for (int b = 0; b < 4; b++) id.bytes[b] = static_cast<uint8_t>((i + 1) >> (24 - 8 * b));
  id.bytes[31] = 0xbe;
  return id;
}

// ---------------------------------------------------------------- config

struct Config {
  bool quick = false;
  bool keep = false;
  int reps = 7;
  uint64_t calls = 1'000'000;  // per repetition of the call-rate loops
  int fib_n = 30;
  int interp_reps = 3;
  uint64_t big_mem = 1 * GiB;
  std::string root;            // this run's directory
  std::string contracts;       // built example contracts
  std::string large_wasm;      // generated large contract
  std::string node = "node";
  std::string node_script;
  bool node_ok = false;
};

Config& Cfg() {
  static Config c;
  return c;
}

void InitConfig(const char* argv0) {
  Config& c = Cfg();
  c.quick = EnvStr("CRUST_BENCH_QUICK") == "1";
  c.keep = EnvStr("CRUST_BENCH_KEEP") == "1";
  if (c.quick) {
    c.reps = 3;
    c.calls = 100'000;
    c.interp_reps = 1;
    c.big_mem = 64 * MiB;
  }
  if (!EnvStr("CRUST_BENCH_REPS").empty()) c.reps = std::max(1, std::atoi(EnvStr("CRUST_BENCH_REPS").c_str()));
  std::string exe_dir = std::filesystem::absolute(std::filesystem::path(argv0)).parent_path().string();
  std::string base = EnvStr("CRUST_BENCH_DIR", exe_dir + "/vm-bench-stores");
  std::filesystem::create_directories(base);
  std::string tmpl = base + "/run-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp under " + base);
  c.root = tmpl;
  c.contracts = std::string(CRUST_BINARY_DIR) + "/contracts";
  c.large_wasm = std::string(CRUST_BINARY_DIR) + "/bench-contracts/vm_bench_large.wasm";
  c.node = EnvStr("CRUST_BENCH_NODE", "node");
  c.node_script = std::string(CRUST_SOURCE_DIR) + "/bench/vm_bench_node.js";
  c.node_ok = std::system((c.node + " --version >/dev/null 2>&1").c_str()) == 0 &&
              std::filesystem::exists(c.node_script);
  if (!c.node_ok) std::fprintf(stderr, "vm_bench: node not usable; Node figures are left out\n");
}

int g_dir_seq = 0;
std::string NewDir(const std::string& what) {
  std::string d = Cfg().root + "/" + what + "-" + std::to_string(g_dir_seq++);
  std::filesystem::create_directories(d);
  return d;
}

Bytes ReadFile(const std::string& path) { return Take(crust::os::Env::Default()->ReadFile(path), "read " + path); }
Bytes Contract(const std::string& name) { return ReadFile(Cfg().contracts + "/" + name + ".wasm"); }

void WriteFile(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) Fail("cannot write " + path);
}

std::unique_ptr<crust::Vm> OpenVm(const std::string& store_dir, const std::string& cache_dir, int opt,
                                  bool sync = false) {
  crust::VmOptions o;
  o.store.sync = sync;
  o.opt_level = opt;
  o.tiers = crust::VmOptions::Tiers::kOptimisedOnly;  // tiers are measured by tier_bench
  o.code_cache_dir = cache_dir;
  return Take(crust::Vm::Open(store_dir, o), "Vm::Open " + store_dir);
}

// Runs node with `args` (after the script); returns the value of numeric or
// string field `key` of the JSON line it prints, or nullopt.
std::optional<std::string> NodeRun(const std::string& args, std::string* json_out = nullptr) {
  if (!Cfg().node_ok) return std::nullopt;
  std::string cmd = Cfg().node + " " + Cfg().node_script + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) {
    std::fprintf(stderr, "vm_bench: node failed (%s): %s\n", cmd.c_str(), out.c_str());
    return std::nullopt;
  }
  if (json_out) *json_out = out;
  return out;
}
// Minimal JSON field reader for the harness' flat output.
std::optional<std::string> JsonField(const std::string& json, const std::string& key) {
  std::string k = "\"" + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return std::nullopt;
  at += k.size();
  if (json[at] == '"') {
    size_t end = json.find('"', at + 1);
    return json.substr(at + 1, end - at - 1);
  }
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}
double JsonNum(const std::string& json, const std::string& key) {
  auto v = JsonField(json, key);
  return v ? std::atof(v->c_str()) : 0.0;
}

// ---------------------------------------------------------------- results

struct Row {
  std::string section;     // Calls, Fib, Deploy, SessionStart
  std::string figure;
  std::string value;       // crust's figure, with unit
  std::string comparison;  // what it is compared with, with its value
  std::string ratio;       // crust / comparison (time) or comparison / crust (rate), explained by the unit
  std::string target;
  std::string verdict;
};
std::vector<Row>& Rows() {
  static std::vector<Row> r;
  return r;
}
std::vector<std::string>& Notes() {
  static std::vector<std::string> n;
  return n;
}

// ---------------------------------------------------------------- 1. call rate

void BM_Calls(benchmark::State& state) {
  const Config& c = Cfg();
  const std::string cache_dir = NewDir("calls-cache");
  auto vm = OpenVm(NewDir("calls-store"), cache_dir, 2);
  auto s = Take(vm->StartGenesis(), "genesis");
  const Bytes wasm = Contract("counter");
  crust::DeployOptions d;
  d.id = Id(1);
  const ModuleId id = Take(s->Deploy(wasm, d), "deploy counter");
  const ModuleId fresh_id = id;
  Root root = Take(s->Commit(), "commit");

  // (a) VmSession::Call.
  uint64_t sink = 0;
  std::function<void()> vm_once = [&] {
    crust::CallReceipt r = s->Call(fresh_id, "read", {}, 1'000'000);
    sink += r.data.size() + (r.ok() ? 0 : 1001);
  };
  vm_once();
  if (sink != 8) Fail("counter.read failed through VmSession::Call");
  // (a') VmSession::CallInto, one receipt reused (no allocation per call).
  crust::CallReceipt reused;
  std::function<void()> into_once = [&] {
    s->CallInto(fresh_id, "read", {}, 1'000'000, &reused);
    sink += reused.data.size() + (reused.ok() ? 0 : 1001);
  };

  // (b) raw engine: same compiled code (the Vm's cache directory: a disk hit),
  // an instance over a separate store session's memory of the same module.
  crust::engine::PreparedModule prep = Take(crust::engine::PrepareModule(wasm), "prepare counter");
  crust::engine::CodeCacheOptions co;
  co.dir = cache_dir;
  co.compiler.opt_level = crust::engine::OptLevel::kO2;
  auto cache = Take(crust::engine::CodeCache::Open(co), "code cache");
  auto code = Take(cache->Get(prep.wasm), "code");
  if (cache->stats().compiled != 0) Fail("raw engine: expected a cache hit on the Vm's compiled code");
  auto raw_session = Take(vm->store().StartSession(root), "store session");
  crust::os::MemoryRegion* region = Take(crust::store::SessionMemoryRegion(*raw_session, id), "memory region");
  crust::engine::InstanceOptions io;
  io.memory = region;
  io.run_start = false;
  auto inst = Take(crust::engine::Instance::Create(code, io), "instance");
  std::map<std::string, Bytes, std::less<>> meta;
  NoHost host;
  Check(inst->SetGlobal(crust::engine::kGasGlobal, kBigGas), "gas");
  Check(inst->SetGlobal(crust::engine::kDepthGlobal, 1000), "depth");
  Check(inst->SetGlobal(crust::engine::kTrapGlobal, 0), "trap");
  auto fn = Take(inst->FindI32Function("read"), "read");
  uint64_t raw_failed = 0;
  std::function<void()> raw_once = [&] {
    auto r = inst->CallI32(fn, 0, &host);
    if (r.ok()) sink += *r;
    else raw_failed++;
  };

  // (c) lean ABI call: what VmSession::Call must do per call, with lookups
  // hoisted (export addresses resolved once, no strings, no Status on success).
  auto* gas = static_cast<uint64_t*>(Take(inst->ExportAddress(crust::engine::kGasGlobal, CRUST_EXTERN_GLOBAL), "gas"));
  auto* depth = static_cast<uint32_t*>(Take(inst->ExportAddress(crust::engine::kDepthGlobal, CRUST_EXTERN_GLOBAL), "d"));
  auto* trap = static_cast<uint32_t*>(Take(inst->ExportAddress(crust::engine::kTrapGlobal, CRUST_EXTERN_GLOBAL), "t"));
  std::vector<uint32_t*> state_globals;
  std::vector<uint64_t> state_values;
  for (const auto& g : prep.state_globals) {
    if (g.type != crust::engine::ValType::kI32) Fail("counter: expected i32 state globals only");
    state_globals.push_back(static_cast<uint32_t*>(Take(inst->ExportAddress(g.export_name, CRUST_EXTERN_GLOBAL), "g")));
    state_values.push_back(g.initial);
  }
  const uint32_t a = prep.arg_buffer;
  std::function<void()> lean_once = [&] {
    for (size_t i = 0; i < state_globals.size(); i++) *state_globals[i] = static_cast<uint32_t>(state_values[i]);
    *gas = 1'000'000;
    *depth = 1000;
    *trap = 0;
    NoHost h;
    auto r = inst->CallI32(fn, 0, &h);
    crust::CallReceipt receipt;
    receipt.gas_limit = 1'000'000;
    receipt.gas_spent = 1'000'000 - *gas;
    if (r.ok()) receipt.data.assign(inst->memory_data() + a, inst->memory_data() + a + *r);
    for (size_t i = 0; i < state_globals.size(); i++) sink += *state_globals[i] != state_values[i];
    sink += receipt.data.size();
    benchmark::DoNotOptimize(receipt);
  };

  // (d) Node: the prepared module, the same per-call protocol in JS, one
  // process per repetition (its own warm-up excluded from its timing).
  std::vector<double> node_rates;
  std::string pw = c.root + "/counter.prepared.wasm";
  WriteFile(pw, prep.wasm);
  std::vector<double> best;
  std::vector<double> rates;
  {
    // Interleave: VM, raw, lean loops (count calls each), then Node, per repetition.
    for (const auto& once : {vm_once, raw_once, lean_once, into_once}) {
      *gas = kBigGas;
      for (uint64_t i = 0; i < 2000; i++) once();  // warm up
    }
    std::vector<std::vector<double>> all(4);
    for (int r = 0; r < c.reps; r++) {
      int l = 0;
      for (const auto& once : {vm_once, raw_once, lean_once, into_once}) {
        *gas = kBigGas;  // the raw loop never resets it; the lean loop sets its own
        *depth = 1000;
        *trap = 0;
        // c.calls calls, or fewer when that would take over a second.
        auto t0 = Clock::now();
        uint64_t done = 0;
        while (done < c.calls) {
          for (int i = 0; i < 1024; i++) once();
          done += 1024;
          if (MsSince(t0) > 1000) break;
        }
        all[l++].push_back(static_cast<double>(done) / (MsSince(t0) / 1e3));
      }
      std::string node_json;
      if (c.node_ok && NodeRun("calls " + pw + " read " + std::to_string(c.calls), &node_json)) {
        node_rates.push_back(JsonNum(node_json, "calls_per_s"));
      }
    }
    for (auto& v : all) {
      rates.push_back(Median(v));
      best.push_back(*std::max_element(v.begin(), v.end()));
    }
  }
  if (raw_failed != 0) Fail("raw engine calls failed: " + std::to_string(raw_failed));
  inst.reset();
  raw_session.reset();
  const double vm_rate = rates[0], raw_rate = rates[1], lean_rate = rates[2], into_rate = rates[3];
  const double node_rate = Median(node_rates);
  Notes().push_back("Call rates, best repetition: VmSession::Call " + Rate(best[0]) + ", CallInto " + Rate(best[3]) +
                    ", raw engine " + Rate(best[1]) +
                    ", lean ABI " + Rate(best[2]) + (node_rates.empty() ? "" : ", Node " +
                    Rate(*std::max_element(node_rates.begin(), node_rates.end()))) + " calls/s.");

  Rows().push_back({"Calls", "trivial call (counter `read`) via `VmSession::Call`", Rate(vm_rate) + " calls/s",
                    "raw engine `Instance::CallI32`, same code: " + Rate(raw_rate) + " calls/s",
                    F(raw_rate / vm_rate, 1) + "× slower", "≥ 1,000,000 calls/s",
                    vm_rate >= 1e6 ? "met" : "**missed**"});
  Rows().push_back({"Calls", "", "", "`VmSession::CallInto`, one receipt reused: " + Rate(into_rate) + " calls/s",
                    into_rate >= vm_rate ? F(into_rate / vm_rate, 2) + "× faster" : F(vm_rate / into_rate, 2) + "× slower",
                    "", ""});
  Rows().push_back({"Calls", "", "", "lean ABI call (engine + per-call protocol, lookups hoisted): " + Rate(lean_rate) +
                    " calls/s", F(lean_rate / vm_rate, 1) + "× slower", "", ""});
  if (node_rate > 0) {
    Rows().push_back({"Calls", "", "", "Node, prepared module, same protocol in JS: " + Rate(node_rate) + " calls/s",
                      vm_rate >= node_rate ? F(vm_rate / node_rate, 2) + "× faster" : F(node_rate / vm_rate, 2) + "× slower",
                      "", ""});
  }
  for (auto _ : state) state.SetIterationTime(1.0 / vm_rate);
  state.counters["vm_calls_per_s"] = vm_rate;
  state.counters["raw_calls_per_s"] = raw_rate;
  state.counters["lean_calls_per_s"] = lean_rate;
  state.counters["into_calls_per_s"] = into_rate;
  state.counters["node_calls_per_s"] = node_rate;
  state.counters["vm_ns_per_call"] = 1e9 / vm_rate;
  state.counters["raw_ns_per_call"] = 1e9 / raw_rate;
  benchmark::DoNotOptimize(sink);
}

// ---------------------------------------------------------------- 2. fibonacci

// Parses the harness' "times_ms":[...] array.
std::vector<double> JsonTimes(const std::string& json) {
  std::vector<double> out;
  size_t at = json.find("\"times_ms\":[");
  if (at == std::string::npos) return out;
  at += std::strlen("\"times_ms\":[");
  while (at < json.size() && json[at] != ']') {
    char* end = nullptr;
    out.push_back(std::strtod(json.c_str() + at, &end));
    at = static_cast<size_t>(end - json.c_str());
    if (json[at] == ',') at++;
  }
  return out;
}

double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

void BM_Fib(benchmark::State& state) {
  const Config& c = Cfg();
  const uint32_t n = static_cast<uint32_t>(c.fib_n);
  auto vm = OpenVm(NewDir("fib-store"), NewDir("fib-cache"), 2);
  auto s = Take(vm->StartGenesis(), "genesis");
  const Bytes wasm = Contract("fibonacci");
  crust::DeployOptions d;
  d.id = Id(2);
  const ModuleId id = Take(s->Deploy(wasm, d), "deploy fibonacci");
  const Bytes arg = U32(n);
  const uint64_t gas_limit = 1ull << 40;
  crust::engine::PreparedModule prep = Take(crust::engine::PrepareModule(wasm), "prepare fibonacci");

  // crust (-O2 native code through VmSession::Call).
  uint64_t vm_gas = 0, vm_result = 0;
  auto vm_call = [&] {
    auto t0 = Clock::now();
    crust::CallReceipt rec = s->Call(id, "fib", arg, gas_limit);
    double ms = MsSince(t0);
    if (!rec.ok() || rec.data.size() != 8) Fail("fib via VmSession: " + rec.status.ToString());
    vm_result = crust::DecodeFixed64(rec.data.data());
    vm_gas = rec.gas_spent;
    return ms;
  };
  vm_call();  // instantiates the module

  // crust's engine on the original (uninstrumented) contract, same -O2: what
  // the gas and depth instrumentation costs in native code. The instance runs
  // over a throwaway store session's copy of the module's memory.
  std::unique_ptr<crust::Session> raw;
  std::unique_ptr<crust::engine::Instance> orig;
  std::optional<crust::engine::FunctionRef> orig_fn;
  std::map<std::string, Bytes, std::less<>> meta;
  NoHost host;
  {
    const Root root = Take(s->Commit(), "commit");
    crust::engine::CodeCacheOptions co;
    co.dir = NewDir("fib-orig-cache");
    co.compiler.opt_level = crust::engine::OptLevel::kO2;
    auto cache = Take(crust::engine::CodeCache::Open(co), "code cache");
    auto code = cache->Get(wasm);
    if (!code.ok()) {
      Notes().push_back("crust engine on the original fibonacci module: " + code.status().ToString());
    } else {
      raw = Take(vm->store().StartSession(root), "store session");
      crust::engine::InstanceOptions io;
      io.memory = Take(crust::store::SessionMemoryRegion(*raw, id), "region");
      orig = Take(crust::engine::Instance::Create(*code, io), "instance of the original module");
      orig_fn = Take(orig->FindI32Function("fib"), "fib");
    }
  }
  auto orig_call = [&] {
    std::memcpy(orig->memory_data() + prep.arg_buffer, arg.data(), 4);
    auto t0 = Clock::now();
    auto ret = orig->CallI32(*orig_fn, 4, &host);
    double t = MsSince(t0);
    if (!ret.ok() || *ret != 8 || crust::DecodeFixed64(orig->memory_data() + prep.arg_buffer) != vm_result) {
      Fail("fib on the original module gave a different result");
    }
    return t;
  };
  if (orig) orig_call();

  // Node: original and prepared module, one process per round; each process
  // runs per_round + 1 calls and its first (tier-up) call is dropped.
  std::string pw = c.root + "/fibonacci.prepared.wasm";
  WriteFile(pw, prep.wasm);
  std::string node_gas;
  double node_orig_first = 0, node_prep_first = 0;
  auto node_run = [&](const std::string& file, std::vector<double>* out, double* first, std::string* gas, int k) {
    std::string json;
    if (!NodeRun("fib " + file + " " + std::to_string(n) + " " + std::to_string(k + 1), &json)) return;
    if (JsonField(json, "result").value_or("") != std::to_string(vm_result)) Fail("node fib result differs: " + json);
    std::vector<double> t = JsonTimes(json);
    if (t.empty()) return;
    *first = t[0];
    out->insert(out->end(), t.begin() + 1, t.end());
    if (gas) *gas = JsonField(json, "gas_spent").value_or("");
  };

  // Rounds: VM, original in crust's engine, Node original, Node prepared.
  const int rounds = c.quick ? 1 : 5;
  const int per_round = c.quick ? 3 : 5;
  std::vector<double> vm_ms, orig_ms, node_orig, node_prep;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < per_round; k++) vm_ms.push_back(vm_call());
    if (orig) {
      for (int k = 0; k < per_round; k++) orig_ms.push_back(orig_call());
    }
    if (c.node_ok) {
      node_run(c.contracts + "/fibonacci.wasm", &node_orig, &node_orig_first, nullptr, per_round);
      node_run(pw, &node_prep, &node_prep_first, &node_gas, per_round);
    }
  }
  orig.reset();
  raw.reset();
  if (!node_gas.empty() && node_gas != std::to_string(vm_gas)) {
    Notes().push_back("**fib gas differs in Node**: native " + std::to_string(vm_gas) + ", Node " + node_gas);
  }

  // wabt interpreter on the same prepared module (slow: a few runs apart).
  crust::engine::BasicOracleHost ohost;
  ohost.self_id = id;
  auto oracle = Take(crust::engine::InterpOracle::Create(prep, &ohost), "oracle");
  std::vector<double> int_ms;
  uint64_t int_gas = 0, int_result = 0;
  for (int r = 0; r < c.interp_reps; r++) {
    auto t0 = Clock::now();
    crust::engine::OracleOutcome o = oracle->Call("fib", arg, gas_limit);
    int_ms.push_back(MsSince(t0));
    if (!o.status.ok() || o.data.size() != 8) Fail("fib in the interpreter: " + o.status.ToString());
    int_result = crust::DecodeFixed64(o.data.data());
    int_gas = o.gas_spent;
  }
  if (int_result != vm_result) Fail("fib: interpreter and native results differ");
  if (int_gas != vm_gas) Notes().push_back("**fib gas differs**: native " + std::to_string(vm_gas) + ", interpreter " +
                                           std::to_string(int_gas));

  const double vm_med = Median(vm_ms), int_med = Median(int_ms);
  const double no = Median(node_orig), np = Median(node_prep), nat = Median(orig_ms);
  auto mm = [](const std::vector<double>& v) { return F(Median(v)) + " ms (min " + F(Min(v)) + ")"; };
  const std::string fig = "fib(" + std::to_string(n) + ") recursive, `VmSession::Call`, -O2 (gas " +
                          std::to_string(vm_gas) + ")";
  bool first_row = true;
  auto row = [&](const std::string& comparison, const std::string& ratio, const std::string& target,
                 const std::string& verdict) {
    Rows().push_back({"Fib", first_row ? fig : "", first_row ? mm(vm_ms) : "", comparison, ratio, target, verdict});
    first_row = false;
  };
  if (np > 0) {
    row("Node, prepared (instrumented) module: " + mm(node_prep) + "; first call " + F(node_prep_first) + " ms",
        F(vm_med / np) + "× (min/min " + F(Min(vm_ms) / Min(node_prep)) + "×)", "≤ 1.5× Node",
        vm_med <= 1.5 * np ? "met" : "**missed**");
  }
  if (no > 0) {
    row("Node, original contract (no gas/depth): " + mm(node_orig) + "; first call " + F(node_orig_first) + " ms",
        F(vm_med / no) + "× (min/min " + F(Min(vm_ms) / Min(node_orig)) + "×)", "≤ 1.5× Node",
        vm_med <= 1.5 * no ? "met" : "**missed**");
  }
  if (nat > 0) {
    row("crust's engine on the original contract (no gas/depth), -O2: " + mm(orig_ms),
        F(vm_med / nat, 1) + "× (cost of the instrumentation)", "", "");
  }
  row("wabt interpreter, same prepared module and gas: " + F(int_med, 0) + " ms" +
          (int_gas == vm_gas ? " (same gas)" : " (gas differs!)"),
      F(int_med / vm_med, 0) + "× faster", "", "");
  for (auto _ : state) state.SetIterationTime(vm_med / 1e3);
  state.counters["vm_ms"] = vm_med;
  state.counters["interp_ms"] = int_med;
  state.counters["node_orig_ms"] = no;
  state.counters["node_prep_ms"] = np;
  state.counters["native_orig_ms"] = nat;
  state.counters["gas"] = static_cast<double>(vm_gas);
}

// ---------------------------------------------------------------- 3. deploy

void BM_Deploy(benchmark::State& state, std::string name, int opt, int cold_reps) {
  const Config& c = Cfg();
  const Bytes wasm = name == "large" ? ReadFile(c.large_wasm) : Contract(name);
  const int warm_reps = c.reps;
  // PrepareModule alone (validate, instrument, memory image).
  std::vector<double> prep_ms;
  for (int r = 0; r < warm_reps; r++) {
    auto t0 = Clock::now();
    auto p = crust::engine::PrepareModule(wasm);
    prep_ms.push_back(MsSince(t0));
    Check(p.status(), "prepare " + name);
  }
  std::vector<double> cold, disk, mem;
  std::string cache_dir;
  uint32_t seq = 100;
  for (int r = 0; r < cold_reps; r++) {
    cache_dir = NewDir("deploy-cache");
    auto vm = OpenVm(NewDir("deploy-store"), cache_dir, opt);
    auto s = Take(vm->StartGenesis(), "genesis");
    crust::DeployOptions d;
    d.id = Id(seq++);
    auto t0 = Clock::now();
    Take(s->Deploy(wasm, d), "deploy " + name);
    cold.push_back(MsSince(t0));
  }
  for (int r = 0; r < warm_reps; r++) {
    auto vm = OpenVm(NewDir("deploy-store"), cache_dir, opt);  // new process-level cache: disk hit
    auto s = Take(vm->StartGenesis(), "genesis");
    crust::DeployOptions d;
    d.id = Id(seq++);
    auto t0 = Clock::now();
    Take(s->Deploy(wasm, d), "deploy " + name + " (disk hit)");
    disk.push_back(MsSince(t0));
    auto s2 = Take(vm->StartGenesis(), "genesis");
    d.id = Id(seq++);
    t0 = Clock::now();
    Take(s2->Deploy(wasm, d), "deploy " + name + " (memory hit)");
    mem.push_back(MsSince(t0));
  }
  double node_ms = 0;
  if (c.node_ok && opt == 2) {
    std::string json;
    const std::string path = name == "large" ? c.large_wasm : c.contracts + "/" + name + ".wasm";
    // Node's synchronous WebAssembly.Module (V8 Liftoff, TurboFan lazily later).
    if (NodeRun("compile " + path, &json)) node_ms = JsonNum(json, "compile_ms");
  }
  const double cold_med = Median(cold), disk_med = Median(disk), mem_med = Median(mem), prep_med = Median(prep_ms);
  const std::string label = (name == "large" ? "large generated contract" : name) + " (" +
                            F(static_cast<double>(wasm.size()) / 1024.0, 1) + " KiB), -O" + std::to_string(opt);
  Rows().push_back({"Deploy", "deploy, cold cache: " + label, F(cold_med, 1) + " ms",
                    "warm cache, fresh Vm (disk hit): " + F(disk_med) + " ms", F(cold_med / disk_med, 0) + "×",
                    "warm ≈ milliseconds", disk_med < 20 ? "met" : "**missed**"});
  Rows().push_back({"Deploy", "", "", "warm cache, same Vm (memory hit): " + F(mem_med) + " ms; PrepareModule alone: " +
                    F(prep_med) + " ms" + (node_ms > 0 ? "; Node `new WebAssembly.Module`: " + F(node_ms) + " ms" : ""),
                    F(cold_med / mem_med, 0) + "×", "", ""});
  for (auto _ : state) state.SetIterationTime(cold_med / 1e3);
  state.counters["cold_ms"] = cold_med;
  state.counters["disk_hit_ms"] = disk_med;
  state.counters["mem_hit_ms"] = mem_med;
  state.counters["prepare_ms"] = prep_med;
  state.counters["node_compile_ms"] = node_ms;
  state.counters["wasm_bytes"] = static_cast<double>(wasm.size());
}

// ---------------------------------------------------------------- 4. session start

void BM_SessionStart(benchmark::State& state) {
  const Config& c = Cfg();
  auto vm = OpenVm(NewDir("start-store"), NewDir("start-cache"), 2, /*sync=*/!c.quick);
  const Bytes wasm = Contract("grower");
  const ModuleId id = Id(7);
  crust::DeployOptions d;
  d.id = id;
  // Small: the contract's initial memory.
  auto s = Take(vm->StartGenesis(), "genesis");
  Take(s->Deploy(wasm, d), "deploy grower");
  const Root small_root = Take(s->Commit(), "commit small");
  const uint64_t small_len = Take(s->state().MemoryLength(id), "length");
  s.reset();
  // Big: the same module grown (and filled) to big_mem.
  s = Take(vm->StartGenesis(), "genesis");
  Take(s->Deploy(wasm, d), "deploy grower");
  auto t0 = Clock::now();
  const uint64_t want_pages = c.big_mem / 65536;
  uint32_t seed = 1;
  for (;;) {
    uint64_t pages = Take(s->state().MemoryLength(id), "length") / 65536;
    if (pages >= want_pages) break;
    uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(want_pages - pages, 1024));
    crust::CallReceipt r = s->Call(id, "grow", U32Pair(seed, count), kBigGas);
    if (!r.ok()) Fail("grow: " + r.status.ToString());
    seed += count;
  }
  const double grow_ms = MsSince(t0);
  t0 = Clock::now();
  const Root big_root = Take(s->Commit(), "commit big");
  const double commit_ms = MsSince(t0);
  const uint64_t big_len = Take(s->state().MemoryLength(id), "length");
  s.reset();
  std::fprintf(stderr, "vm_bench: grew grower to %s in %.0f ms, committed in %.0f ms\n", SizeName(big_len).c_str(),
               grow_ms, commit_ms);

  struct Sample {
    std::vector<double> start, first, total, second, end;
  } small, big;
  auto one = [&](const Root& root, Sample* out) {
    auto t0 = Clock::now();
    auto sess = Take(vm->StartSession(root), "start session");
    const double start = MsSince(t0);
    auto t1 = Clock::now();
    crust::CallReceipt r = sess->Call(id, "info", {}, 10'000'000);
    const double first = MsSince(t1);
    if (!r.ok() || r.data.size() != 12) Fail("info: " + r.status.ToString());
    auto t2 = Clock::now();
    r = sess->Call(id, "info", {}, 10'000'000);
    const double second = MsSince(t2);
    auto t3 = Clock::now();
    sess.reset();
    out->start.push_back(start);
    out->first.push_back(first);
    out->total.push_back(start + first);
    out->second.push_back(second);
    out->end.push_back(MsSince(t3));
  };
  one(small_root, &small);  // warm-up (page cache, code loaded)
  one(big_root, &big);
  small = {};
  big = {};
  const int reps = std::max(c.reps * 2, 5);
  for (int r = 0; r < reps; r++) {
    if (r % 2) {
      one(small_root, &small);
      one(big_root, &big);
    } else {
      one(big_root, &big);
      one(small_root, &small);
    }
  }
  const double bt = Median(big.total), st = Median(small.total);
  Rows().push_back({"SessionStart",
                    "StartSession + first call (grower `info`), memory " + SizeName(big_len) + " (every page stored)",
                    F(bt, 3) + " ms (start " + F(Median(big.start), 3) + " + call " + F(Median(big.first), 3) + ")",
                    "same, memory " + SizeName(small_len) + ": " + F(st, 3) + " ms (start " + F(Median(small.start), 3) +
                        " + call " + F(Median(small.first), 3) + ")",
                    F(bt / st) + "×", "independent of memory size", bt <= 1.3 * st ? "met" : "**missed**"});
  Rows().push_back({"SessionStart", "", "",
                    "second call: " + F(Median(big.second), 4) + " / " + F(Median(small.second), 4) +
                        " ms; session end: " + F(Median(big.end), 3) + " / " + F(Median(small.end), 3) + " ms",
                    "", "", ""});
  Notes().push_back("Session start setup: growing grower to " + SizeName(big_len) + " took " + F(grow_ms, 0) +
                    " ms, its commit " + F(commit_ms, 0) + " ms (sync " + (c.quick ? "off" : "on") + ").");
  for (auto _ : state) state.SetIterationTime(bt / 1e3);
  state.counters["big_ms"] = bt;
  state.counters["small_ms"] = st;
  state.counters["ratio"] = bt / st;
}

// ---------------------------------------------------------------- 5. issue 4

// Inter-module calls and rolled-back calls (issue 4), one table of their own.
struct Issue4Row {
  std::string figure, per_call, comparison, ratio, difference, per_page;
};
std::vector<Issue4Row>& Issue4Rows() {
  static std::vector<Issue4Row> r;
  return r;
}

// A module that writes one i32 into each of n distinct 4 KiB pages (from
// 64 KiB on, above the argument buffer), then returns (mode 0), panics
// (mode 1, env.panic) or traps (mode 2, unreachable). Argument: u32 n ‖
// u32 mode ‖ u32 value. Memory: 16 wasm pages (1 MiB): up to 240 pages.
constexpr const char* kPageWriterWat = R"((module
  (import "env" "panic" (func $panic (param i32)))
  (memory (export "memory") 16)
  (global (export "A") i32 (i32.const 0))
  (func (export "w") (param $len i32) (result i32)
    (local $n i32) (local $i i32) (local $v i32)
    (local.set $n (i32.load (i32.const 0)))
    (local.set $v (i32.load (i32.const 8)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 12)))
                   (i32.add (local.get $v) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.eq (i32.load (i32.const 4)) (i32.const 1))
      (then (call $panic (i32.const 0))))
    (if (i32.eq (i32.load (i32.const 4)) (i32.const 2))
      (then unreachable))
    (i32.const 0)))
)";

void BM_Issue4(benchmark::State& state) {
  const Config& c = Cfg();
  auto vm = OpenVm(NewDir("issue4-store"), NewDir("issue4-cache"), 2);
  auto s = Take(vm->StartGenesis(), "genesis");
  crust::DeployOptions d;
  d.id = Id(40);
  const ModuleId counter = Take(s->Deploy(Contract("counter"), d), "deploy counter");
  d.id = Id(41);
  const ModuleId center = Take(s->Deploy(Contract("callcenter"), d), "deploy callcenter");
  d.id = Id(42);
  const Bytes pw_wasm = Take(crust::engine::WatToWasm(kPageWriterWat), "page writer wat");
  const ModuleId writer = Take(s->Deploy(pw_wasm, d), "deploy page writer");
  Take(s->Commit(), "commit");
  const uint64_t gas = 10'000'000;

  // Request for callcenter.call: counter ‖ gas 0 (93% of what is left) ‖ "read".
  Bytes req(counter.bytes.begin(), counter.bytes.end());
  crust::PutFixed64(&req, 0);
  crust::PutFixed32(&req, 4);
  for (char ch : std::string("read")) req.push_back(static_cast<uint8_t>(ch));

  uint64_t sink = 0;
  auto expect = [&](const crust::CallReceipt& r, crust::Status::Code code, const char* what) {
    if (r.status.code() != code) Fail(std::string(what) + ": unexpected status " + r.status.ToString());
    sink += r.data.size();
  };
  uint32_t value = 1;
  auto writer_call = [&](uint32_t n, uint32_t mode) {
    Bytes arg = U32Pair(n, mode);
    crust::PutFixed32(&arg, value++);
    crust::CallReceipt r = s->Call(writer, "w", arg, gas);
    expect(r, mode == 0 ? crust::Status::Code::kOk : mode == 1 ? crust::Status::Code::kPanic
                                                              : crust::Status::Code::kTrap, "page writer");
  };
  struct Variant {
    std::string name;
    std::function<void()> once;
    uint64_t calls;  // per repetition (fewer when over the time cap)
  };
  const uint64_t small = c.quick ? 2'000 : 20'000, big = c.quick ? 200 : 2'000;
  std::vector<Variant> vs = {
      {"direct", [&] { expect(s->Call(counter, "read", {}, gas), crust::Status::Code::kOk, "counter.read"); }, small},
      {"center.read", [&] { expect(s->Call(center, "read", {}, gas), crust::Status::Code::kOk, "callcenter.read"); },
       small},
      {"forward",
       [&] {
         crust::CallReceipt r = s->Call(center, "call", req, gas);
         expect(r, crust::Status::Code::kOk, "callcenter.call");
         if (r.data.size() != 12 || crust::DecodeFixed32(r.data.data()) != 8) Fail("callcenter.call: bad response");
       },
       small},
  };
  for (uint32_t n : {0u, 1u, 100u}) {
    for (uint32_t mode : {0u, 1u, 2u}) {
      static const char* kMode[] = {"ok", "panic", "trap"};
      vs.push_back({std::string(kMode[mode]) + "/" + std::to_string(n), [&, n, mode] { writer_call(n, mode); },
                    n == 100 ? big : small});
    }
  }
  // Check rollback once: a panicking call that wrote 100 pages leaves the root unchanged.
  {
    const Root before = Take(s->CurrentRoot(), "root");
    writer_call(100, 1);
    writer_call(100, 2);
    if (Take(s->CurrentRoot(), "root") != before) Fail("rolled-back call changed the root");
  }
  for (auto& v : vs)
    for (int i = 0; i < 50; i++) v.once();  // warm-up (instances loaded, pages touched)

  std::vector<std::vector<double>> us(vs.size());
  const double cap_ms = c.quick ? 40 : 300;
  for (int r = 0; r < c.reps; r++) {
    for (size_t k = 0; k < vs.size(); k++) {
      const size_t i = (k + static_cast<size_t>(r)) % vs.size();  // rotate the order
      auto t0 = Clock::now();
      uint64_t done = 0;
      while (done < vs[i].calls) {
        for (int j = 0; j < 10; j++) vs[i].once();
        done += 10;
        if (MsSince(t0) > cap_ms) break;
      }
      us[i].push_back(MsSince(t0) * 1e3 / static_cast<double>(done));
    }
  }
  std::map<std::string, double> m;
  for (size_t i = 0; i < vs.size(); i++) m[vs[i].name] = Median(us[i]);
  auto U = [](double v) { return F(v, v < 10 ? 2 : 1) + " µs"; };

  Issue4Rows().push_back({"top-level `counter.read` (direct)", U(m["direct"]), "", "", "", ""});
  Issue4Rows().push_back({"top-level `callcenter.read` (caller alone, no inner call)", U(m["center.read"]),
                          "direct counter.read", F(m["center.read"] / m["direct"]) + "×",
                          U(m["center.read"] - m["direct"]), ""});
  Issue4Rows().push_back({"`callcenter.call` → `counter.read` (one inter-module call)", U(m["forward"]),
                          "direct counter.read", F(m["forward"] / m["direct"]) + "×",
                          U(m["forward"] - m["direct"]), ""});
  Issue4Rows().push_back({"", "", "callcenter.read", F(m["forward"] / m["center.read"]) + "×",
                          U(m["forward"] - m["center.read"]) + " (the inner call)", ""});
  const double base = m["ok/0"];
  Issue4Rows().push_back({"page writer, writes nothing, succeeds", U(base), "", "", "", ""});
  for (const char* mode : {"panic", "trap"}) {
    const std::string k = std::string(mode) + "/0";
    Issue4Rows().push_back({std::string("page writer, writes nothing, ") + mode + " (rolled back)", U(m[k]),
                            "writes nothing, succeeds", F(m[k] / base) + "×", U(m[k] - base), ""});
  }
  for (uint32_t n : {1u, 100u}) {
    const std::string N = std::to_string(n), ok = "ok/" + N;
    Issue4Rows().push_back({"writes " + N + " page(s), succeeds", U(m[ok]), "writes nothing, succeeds",
                            F(m[ok] / base) + "×", U(m[ok] - base), U((m[ok] - base) / n)});
    for (const char* mode : {"panic", "trap"}) {
      const std::string k = std::string(mode) + "/" + N;
      Issue4Rows().push_back({"writes " + N + " page(s), " + mode + " (rolled back)", U(m[k]),
                              "writes nothing, succeeds", F(m[k] / base) + "×", U(m[k] - base),
                              U((m[k] - base) / n)});
      Issue4Rows().push_back({"", "", "writes " + N + ", succeeds", F(m[k] / m[ok]) + "×", U(m[k] - m[ok]), ""});
    }
  }
  for (auto _ : state) state.SetIterationTime(m["forward"] / 1e6);
  for (auto& [k, v] : m) state.counters[k + "_us"] = v;
  benchmark::DoNotOptimize(sink);
}


// ---------------------------------------------------------------- 6. write barrier

// What the write barrier costs (docs/architecture.md, "noted"): a store loop
// run by the same prepared module compiled with and without the barrier, and
// by Node. `dense`: N i64 stores cycling over 64 KiB (16 pages: the barrier's
// slow path runs 16 times per call, every other store is one byte test).
// `sparse`: one i32 store in each of N distinct pages (slow path every time).
constexpr const char* kStoresWat = R"((module
  (memory (export "memory") 272)
  (global (export "A") i32 (i32.const 0))
  (func (export "dense") (param $len i32) (result i32)
    (local $n i32) (local $i i32)
    (local.set $n (i32.load (i32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i64.store (i32.add (i32.const 65536) (i32.and (i32.shl (local.get $i) (i32.const 3)) (i32.const 65535)))
                   (i64.extend_i32_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  (func (export "sparse") (param $len i32) (result i32)
    (local $n i32) (local $i i32)
    (local.set $n (i32.load (i32.const 0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (i32.const 131072) (i32.shl (local.get $i) (i32.const 12))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0)))
)";

struct BarrierRow {
  std::string figure, vm, with_barrier, without, cost, node;
};
std::vector<BarrierRow>& BarrierRows() {
  static std::vector<BarrierRow> r;
  return r;
}

void BM_Barrier(benchmark::State& state) {
  const Config& c = Cfg();
  const Bytes wasm = Take(crust::engine::WatToWasm(kStoresWat), "stores wat");
  crust::engine::PreparedModule prep = Take(crust::engine::PrepareModule(wasm), "prepare stores");
  auto vm = OpenVm(NewDir("barrier-store"), NewDir("barrier-cache"), 2);
  auto s = Take(vm->StartGenesis(), "genesis");
  crust::DeployOptions d;
  d.id = Id(60);
  const ModuleId id = Take(s->Deploy(wasm, d), "deploy stores");

  // The prepared module in crust's engine, with and without the barrier, each
  // over its own memory (noted tracking for the one with the barrier: its
  // notes are collected after every call, as a VM call's checkpoint does).
  struct Engine {
    std::unique_ptr<crust::os::MemoryRegion> region;
    std::unique_ptr<crust::engine::Instance> inst;
    crust::engine::FunctionRef dense, sparse;
    crust::engine::Instance::GlobalRef gas, depth, trap;
  };
  auto make = [&](bool barrier) {
    Engine e;
    crust::engine::CodeCacheOptions co;
    co.dir = NewDir(barrier ? "barrier-on" : "barrier-off");
    co.compiler.opt_level = crust::engine::OptLevel::kO2;
    co.compiler.write_barrier = barrier;
    auto cache = Take(crust::engine::CodeCache::Open(co), "code cache");
    auto code = Take(cache->Get(prep.wasm), "compile stores");
    e.region = Take(crust::os::Env::Default()->MapMemory(nullptr, 0, 272 * 65536, 272 * 65536), "memory");
    if (barrier) Check(e.region->UseNotedWrites(), "noted");
    crust::engine::InstanceOptions io;
    io.memory = e.region.get();
    io.run_start = false;
    e.inst = Take(crust::engine::Instance::Create(code, io), "instance");
    e.dense = Take(e.inst->FindI32Function("dense"), "dense");
    e.sparse = Take(e.inst->FindI32Function("sparse"), "sparse");
    e.gas = Take(e.inst->FindGlobal(crust::engine::kGasGlobal), "gas");
    e.depth = Take(e.inst->FindGlobal(crust::engine::kDepthGlobal), "depth");
    e.trap = Take(e.inst->FindGlobal(crust::engine::kTrapGlobal), "trap");
    return e;
  };
  Engine on = make(true), off = make(false);
  NoHost host;
  std::vector<uint32_t> pages;
  auto engine_call = [&](Engine& e, bool dense, uint32_t n) {
    std::memcpy(e.inst->WritableMemory(prep.arg_buffer, 4), &n, 4);
    crust::engine::Instance::Set(e.gas, 1ull << 40);
    crust::engine::Instance::Set(e.depth, 1000);
    crust::engine::Instance::Set(e.trap, 0);
    auto t0 = Clock::now();
    auto r = e.inst->CallI32(dense ? e.dense : e.sparse, 4, &host);
    pages.clear();
    if (e.region->noted()) Check(e.region->CollectWritten(/*rearm=*/true, &pages), "collect");
    const double ms = MsSince(t0);
    if (!r.ok()) Fail("stores in crust's engine: " + r.status().ToString());
    return ms;
  };
  auto vm_call = [&](bool dense, uint32_t n) {
    auto t0 = Clock::now();
    crust::CallReceipt r = s->Call(id, dense ? "dense" : "sparse", U32(n), 1ull << 40);
    const double ms = MsSince(t0);
    if (!r.ok()) Fail("stores via VmSession: " + r.status.ToString());
    return ms;
  };
  std::string pw = c.root + "/stores.prepared.wasm";
  WriteFile(pw, prep.wasm);

  const uint32_t dense_n = c.quick ? 100'000 : 1'000'000, sparse_n = 4096;
  const int rounds = c.quick ? 1 : 5, per_round = c.quick ? 3 : 5;
  for (bool dense : {true, false}) {
    const uint32_t n = dense ? dense_n : sparse_n;
    std::vector<double> vm_ms, on_ms, off_ms, node_ms;
    for (int k = 0; k < 3; k++) vm_call(dense, n), engine_call(on, dense, n), engine_call(off, dense, n);  // warm
    for (int r = 0; r < rounds; r++) {
      for (int k = 0; k < per_round; k++) vm_ms.push_back(vm_call(dense, n));
      for (int k = 0; k < per_round; k++) on_ms.push_back(engine_call(on, dense, n));
      for (int k = 0; k < per_round; k++) off_ms.push_back(engine_call(off, dense, n));
      std::string json;
      if (c.node_ok && NodeRun(std::string("run ") + pw + (dense ? " dense " : " sparse ") + std::to_string(n) + " " +
                                   std::to_string(per_round + 1),
                               &json)) {
        std::vector<double> t = JsonTimes(json);
        if (t.size() > 1) node_ms.insert(node_ms.end(), t.begin() + 1, t.end());
      }
    }
    const double vm = Median(vm_ms), with = Median(on_ms), without = Median(off_ms);
    auto ms = [](double v) { return F(v, v < 1 ? 3 : 2) + " ms"; };
    const std::string what = dense ? "dense: " + Rate(n) + " i64 stores over 16 pages"
                                   : "sparse: one i32 store in each of " + std::to_string(n) + " pages";
    const double per = dense ? (with - without) * 1e6 / n : (with - without) * 1e3 / n;
    BarrierRows().push_back({what, ms(vm), ms(with), ms(without),
                             F(with / without) + "× (" + F(per, 2) + (dense ? " ns per store)" : " µs per page)"),
                             node_ms.empty() ? "" : ms(Median(node_ms)) + " (" + F(with / Median(node_ms)) + "×)"});
    state.counters[std::string(dense ? "dense" : "sparse") + "_barrier_ratio"] = with / without;
  }
  for (auto _ : state) state.SetIterationTime(0.001);
}

// ---------------------------------------------------------------- output

void WriteMarkdown(const std::string& path) {
  const Config& c = Cfg();
  std::ostringstream o;
  o << "Run: " << (c.quick ? "quick mode, " : "") << c.reps << " repetitions (medians)"
    << ", up to " << Rate(static_cast<double>(c.calls)) << " calls (at most ~1 s) per call-rate repetition.\n\n";
  o << "| figure | crust | comparison (same run) | ratio | target | verdict |\n|---|---|---|---|---|---|\n";
  for (const Row& r : Rows()) {
    o << "| " << r.figure << " | " << r.value << " | " << r.comparison << " | " << r.ratio << " | " << r.target
      << " | " << r.verdict << " |\n";
  }
  if (!Issue4Rows().empty()) {
    o << "\n### Inter-module calls and rollback (issue 4)\n\n"
      << "| figure | crust per call | compared with (same run) | ratio | difference | per page |\n"
      << "|---|---:|---|---:|---:|---:|\n";
    for (const Issue4Row& r : Issue4Rows()) {
      o << "| " << r.figure << " | " << r.per_call << " | " << r.comparison << " | " << r.ratio << " | "
        << r.difference << " | " << r.per_page << " |\n";
    }
  }
  if (!BarrierRows().empty()) {
    o << "\n### Write barrier\n\n"
      << "| store loop | `VmSession::Call` | engine, barrier | engine, no barrier | barrier cost | Node, same prepared module |\n"
      << "|---|---:|---:|---:|---|---:|\n";
    for (const BarrierRow& r : BarrierRows()) {
      o << "| " << r.figure << " | " << r.vm << " | " << r.with_barrier << " | " << r.without << " | " << r.cost
        << " | " << r.node << " |\n";
    }
  }
  if (!Notes().empty()) {
    o << "\n";
    for (const auto& n : Notes()) o << "* " << n << "\n";
  }
  std::ofstream out(path);
  out << o.str();
  if (!out) Fail("cannot write " + path);
}

void RegisterAll() {
  const Config& c = Cfg();
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  };
  reg("Calls/counter.read", BM_Calls);
  reg("Fib/" + std::to_string(c.fib_n), BM_Fib);
  const int small_cold = c.quick ? 2 : 5;
  for (int opt : {2, 0}) {
    reg("Deploy/counter/O" + std::to_string(opt),
        [=](benchmark::State& st) { BM_Deploy(st, "counter", opt, small_cold); });
  }
  if (c.quick) {
    std::fprintf(stderr, "vm_bench: quick mode: large deploy left out (its -O0 compile alone takes 15-35 s)\n");
  } else if (std::filesystem::exists(c.large_wasm)) {
    reg("Deploy/large/O2", [](benchmark::State& st) { BM_Deploy(st, "large", 2, 1); });
    reg("Deploy/large/O0", [](benchmark::State& st) { BM_Deploy(st, "large", 0, 1); });
  } else {
    std::fprintf(stderr, "vm_bench: %s missing; large deploy left out\n", c.large_wasm.c_str());
  }
  reg("SessionStart/" + SizeName(c.big_mem).erase(SizeName(c.big_mem).find(' '), 1), BM_SessionStart);
  reg("Issue4/calls_and_rollback", BM_Issue4);
  reg("Barrier/stores", BM_Barrier);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string markdown = crust::bench::TakeMarkdownFlag(argc, argv, &args);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  InitConfig(argv[0]);
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!markdown.empty()) WriteMarkdown(markdown);
  if (!Cfg().keep) {
    std::error_code ec;
    std::filesystem::remove_all(Cfg().root, ec);
    if (ec) std::fprintf(stderr, "vm_bench: could not remove %s: %s\n", Cfg().root.c_str(), ec.message().c_str());
  } else {
    std::fprintf(stderr, "vm_bench: kept %s\n", Cfg().root.c_str());
  }
  return 0;
}
