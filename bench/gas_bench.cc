// Copyright (c) crust authors. Licensed under the MIT license.
//
// gas_bench: what a unit of gas buys in host time and memory, across
// ordinary and adversarial contracts (issue 15, "gas bounds resources"), and
// piecrust's fixtures (deploy of the stake contract cold and cached, its
// first call, calls per second of counter's `increment`).
//
// Each case runs in a forked child with its own store (the shared code cache
// is warmed first, so compilation is never timed), which reports the call's
// gas, wall time and the growth of its peak RSS (VmHWM) over the RSS before
// the call. ns/gas = time / gas spent; "per 1e9 gas" extrapolates linearly
// to the default limit. For the cases that write pages, the pages written
// (the memory itself) and the RSS growth beyond them (shadow copies,
// journal, bookkeeping: the host's memory per gas). Cases:
//   straight_line   a counting loop (the cheapest gas there is)
//   counter_inc     piecrust's counter `increment`, top-level calls
//   fork_bomb       a contract calling itself twice per level through `c`
//                   with gas 0 (93 % each) until gas or depth runs out
//   grow_write      memory.grow by N pages, one store per 4 KiB page, trap
//   grow_max_write  memory.grow to 4 GiB, one store per 4 KiB page until
//                   gas runs out (the most fresh pages 10^9 gas buys)
//   rewrite         one store per 4 KiB page of an existing memory
//   churn           one store to the same page, then `c` to a function that
//                   returns at once, until 10^9 gas runs out: every store is
//                   a page first written since a checkpoint operation (a
//                   journal entry each)
//   call_loop       `c` to a function that returns at once, until gas runs
//                   out (call-tree nodes)
//   events          emit(64 KiB topic, 64 KiB data) n times
//
// Environment: CRUST_BENCH_DIR (stores; default <exe dir>/gas-bench-stores),
// CRUST_FIXTURES_DIR (the piecrust contracts; default
// CRUST_SOURCE_DIR/../shared/piecrust-contracts), CRUST_BENCH_QUICK=1
// (smaller sizes, no cold stake deploy). Prints a Markdown table on stdout.
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/vm.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "src/util/coding.h"

namespace crust {
namespace {

using bench::Check;
using bench::Clock;
using bench::EnvStr;
using bench::MsSince;
using bench::Take;

std::string g_base;
std::string FixturesDir() {
  return EnvStr("CRUST_FIXTURES_DIR", std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts");
}

Bytes Wat(const std::string& text) { return Take(engine::WatToWasm(text), "wat"); }
Bytes U32(uint32_t v) {
  Bytes b;
  PutFixed32(&b, v);
  return b;
}

const char kForkBomb[] = R"(
(module
  (import "env" "c" (func $c (param i32 i32 i32 i32 i64) (result i32)))
  (import "env" "self_id" (func $self_id))
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  (data (i32.const 16) "bombnoop")
  (func (export "bomb") (param i32) (result i32)
    call $self_id
    (memory.copy (i32.const 64) (i32.const 65536) (i32.const 32))
    (drop (call $c (i32.const 64) (i32.const 16) (i32.const 4) (i32.const 0) (i64.const 0)))
    (drop (call $c (i32.const 64) (i32.const 16) (i32.const 4) (i32.const 0) (i64.const 0)))
    (i32.const 0))
  (func (export "noop") (param i32) (result i32) (i32.const 0))
  ;; churn(u32 store?): [store to page 1;] c(self, noop, 10,000 gas), forever
  (func (export "churn") (param i32) (result i32) (local $w i32)
    (local.set $w (i32.load (i32.const 65536)))
    call $self_id
    (memory.copy (i32.const 64) (i32.const 65536) (i32.const 32))
    (loop $l
      (if (local.get $w) (then (i32.store (i32.const 4096) (i32.const 1))))
      (drop (call $c (i32.const 64) (i32.const 20) (i32.const 4) (i32.const 0) (i64.const 10000)))
      (br $l))
    (i32.const 0)))
)";

const char kPages[] = R"(
(module
  (memory (export "memory") 2)
  (global (export "A") i32 (i32.const 65536))
  ;; one store per 4 KiB page of [0, memory.size)
  (func $touch (local $p i32) (local $end i32)
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (i32.store8 (local.get $p) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br $l))))
  (func (export "grow_write") (param i32) (result i32)
    (drop (memory.grow (i32.load (i32.const 65536))))
    call $touch
    unreachable)
  (func (export "grow") (param i32) (result i32)
    (drop (memory.grow (i32.load (i32.const 65536))))
    (i32.const 0))
  (func (export "rewrite") (param i32) (result i32)
    call $touch
    (i32.const 0))
  (func (export "spin") (param i32) (result i32) (local $i i32)
    (local.set $i (i32.load (i32.const 65536)))
    (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    (i32.const 0))
))";

const char kEvents[] = R"(
(module
  (import "env" "emit" (func $emit (param i32 i32 i32)))
  (memory (export "memory") 4)
  (global (export "A") i32 (i32.const 65536))
  (func (export "events") (param i32) (result i32) (local $i i32) (local $n i32)
    (local.set $n (i32.load (i32.const 65536)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (call $emit (i32.const 131072) (i32.const 65536) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.const 0))
))";

long RssKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return 0;
}

struct Result_ {
  std::string name;
  uint64_t gas = 0;
  double ms = 0;
  long rss_kb = 0;  // peak RSS growth during the timed part
  std::string status;
  std::string note;
  // 4 KiB pages of the module's memory the call wrote (the memory itself,
  // resident after the call): RSS growth beyond them is the host's overhead.
  uint64_t written_pages = 0;
};

// Pages kPages' touch loop writes when `gas` runs out after growing by
// `grow` pages: each page costs the page-write charge plus the loop's 13
// gas, except the 16 pages of A (13 gas); growth costs 4,096 per page + 10.
uint64_t PagesWritten(uint64_t gas, uint64_t grow) {
  const uint64_t after_grow = gas - 10 - 4096 * grow - 20;
  return 16 + (after_grow - 16 * 13) / (4096 + 13);
}

VmOptions Options() {
  VmOptions o;
  o.store.sync = false;
  o.code_cache_dir = g_base + "/code";
  return o;
}

// Runs `body` in a child process; the child prints one result line into a pipe.
Result_ InChild(const std::string& name, const std::function<Result_(Vm&)>& body) {
  int fds[2];
  if (pipe(fds) != 0) bench::Fail("pipe");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const std::string dir = g_base + "/" + name;
    os::Env::Default()->RemoveDirRecursive(dir).IgnoreError();
    auto vm = Take(Vm::Open(dir, Options()), "open " + dir);
    Result_ r = body(*vm);
    char buf[512];
    int n = std::snprintf(buf, sizeof(buf), "%" PRIu64 " %.3f %ld %" PRIu64 " %s|%s", r.gas, r.ms, r.rss_kb,
                          r.written_pages, r.status.c_str(), r.note.c_str());
    if (write(fds[1], buf, n) != n) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  Result_ r;
  r.name = name;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    r.status = "child failed";
    return r;
  }
  char status[256] = {0};
  std::sscanf(out.c_str(), "%" SCNu64 " %lf %ld %" SCNu64 " %255[^|]", &r.gas, &r.ms, &r.rss_kb, &r.written_pages,
              status);
  r.status = status;
  if (auto bar = out.find('|'); bar != std::string::npos) r.note = out.substr(bar + 1);
  return r;
}

// Deploys `wasm`, then times one call of `fn`.
Result_ TimedCall(Vm& vm, const Bytes& wasm, const std::string& fn, const Bytes& arg, uint64_t gas,
                  VmOptions* = nullptr) {
  auto s = Take(vm.StartGenesis(), "genesis");
  ModuleId id = Take(s->Deploy(wasm, {}), "deploy");
  Take(s->Commit(), "commit");
  auto s2 = Take(vm.StartSession(Take(s->CurrentRoot(), "root")), "session");
  s.reset();
  const long rss0 = RssKb("VmRSS:");
  auto t0 = Clock::now();
  CallReceipt r = s2->Call(id, fn, arg, gas);
  Result_ out;
  out.ms = MsSince(t0);
  out.rss_kb = RssKb("VmHWM:") - rss0;
  out.gas = r.gas_spent;
  out.status = r.ok() ? "OK" : std::string(Status::CodeName(r.status.code()));
  out.note = std::to_string(r.call_tree.size()) + " calls, " + std::to_string(r.events.size()) + " events";
  if (r.ok()) {
    auto t1 = Clock::now();
    Take(s2->Commit(), "commit");
    out.note += ", commit " + std::to_string(static_cast<int>(MsSince(t1))) + " ms";
  }
  return out;
}

// Compiles every module once into the shared code cache. Runs in a child,
// like every case: the parent never opens a store (a forked child cannot use
// the parent's userfaultfd).
Result_ WarmCache(Vm& vm_ref) {
  Vm* vm = &vm_ref;
  auto s = Take(vm->StartGenesis(), "genesis");
  DeployOptions d;
  for (const Bytes& w : {Wat(kForkBomb), Wat(kPages), Wat(kEvents)}) {
    Take(s->Deploy(w, d), "warm");
    d.nonce++;
  }
  auto counter = os::Env::Default()->ReadFile(FixturesDir() + "/counter.wasm");
  if (counter.ok()) Take(s->Deploy(*counter, d), "warm counter");
  // The cases must run optimised code: deploy answers with the fast tier and
  // builds -O2 in the background, which the child's exit would cancel.
  vm->WaitForOptimisedCode();
  Result_ r;
  r.status = "OK";
  return r;
}

}  // namespace
}  // namespace crust

int main(int argc, char** argv) {
  using namespace crust;
  (void)argc;
  const std::string exe_dir = std::string(argv[0]).substr(0, std::string(argv[0]).rfind('/'));
  g_base = bench::EnvStr("CRUST_BENCH_DIR", exe_dir + "/gas-bench-stores");
  Check(os::Env::Default()->CreateDirs(g_base), "mkdir " + g_base);
  const bool quick = bench::EnvStr("CRUST_BENCH_QUICK") == "1";
  if (InChild("warm", WarmCache).status != "OK") bench::Fail("warming the code cache failed");
  const uint64_t kLimit = 1'000'000'000;
  const uint32_t grow_pages = quick ? 256 : 4096;  // 16 MiB / 256 MiB
  std::vector<Result_> rows;
  rows.push_back(InChild("straight_line", [&](Vm& vm) {
    return TimedCall(vm, Wat(kPages), "spin", U32(quick ? 10'000'000 : 150'000'000), kLimit);
  }));
  rows.push_back(InChild("counter_inc", [&](Vm& vm) {
    Result_ r;
    auto wasm = os::Env::Default()->ReadFile(FixturesDir() + "/counter.wasm");
    if (!wasm.ok()) {
      r.status = "no fixture";
      return r;
    }
    auto s = Take(vm.StartGenesis(), "genesis");
    ModuleId id = Take(s->Deploy(*wasm, {}), "deploy counter");
    const int n = quick ? 20'000 : 200'000;
    auto t0 = Clock::now();
    for (int i = 0; i < n; i++) {
      CallReceipt c = s->Call(id, "increment", {}, 1'000'000);
      if (!c.ok()) bench::Fail("increment: " + c.status.ToString());
      r.gas += c.gas_spent;
    }
    r.ms = MsSince(t0);
    r.status = "OK";
    char note[128];
    std::snprintf(note, sizeof(note), "%d calls, %.0f calls/s, %" PRIu64 " gas each", n, n / (r.ms / 1000),
                  r.gas / n);
    r.note = note;
    return r;
  }));
  rows.push_back(InChild("fork_bomb", [&](Vm& vm) { return TimedCall(vm, Wat(kForkBomb), "bomb", {}, kLimit); }));
  rows.push_back(InChild("grow_write", [&](Vm& vm) {
    Result_ r = TimedCall(vm, Wat(kPages), "grow_write", U32(grow_pages), kLimit);
    r.written_pages = (2 + uint64_t{grow_pages}) * 16;  // every 4 KiB page, then the trap
    return r;
  }));
  rows.push_back(InChild("grow_max_write", [&](Vm& vm) {
    // To 65,535 pages (4 GiB - 64 KiB): at 65,536 the loop bound 65536 * pages wraps to 0.
    Result_ r = TimedCall(vm, Wat(kPages), "grow_write", U32(65533), kLimit);
    r.written_pages = PagesWritten(kLimit, 65533);
    return r;
  }));
  // The whole default limit: a release costs what the released frame holds
  // (one journal entry per page), so churn is linear in gas (it was
  // quadratic before e72de0a: 10^9 did not finish in 20 minutes).
  rows.push_back(InChild("churn", [&](Vm& vm) {
    return TimedCall(vm, Wat(kForkBomb), "churn", U32(1), quick ? 20'000'000 : kLimit);
  }));
  rows.push_back(InChild("call_loop", [&](Vm& vm) { return TimedCall(vm, Wat(kForkBomb), "churn", U32(0), kLimit); }));
  rows.push_back(InChild("rewrite", [&](Vm& vm) {
    auto s = Take(vm.StartGenesis(), "genesis");
    ModuleId id = Take(s->Deploy(Wat(kPages), {}), "deploy");
    CallReceipt g = s->Call(id, "grow", U32(grow_pages), kLimit);
    if (!g.ok()) bench::Fail("grow: " + g.status.ToString());
    CallReceipt w = s->Call(id, "rewrite", {}, kLimit);  // first write: fresh pages
    if (!w.ok()) bench::Fail("rewrite: " + w.status.ToString());
    Take(s->Commit(), "commit");
    auto s2 = Take(vm.StartSession(Take(s->CurrentRoot(), "root")), "session");
    s.reset();
    const long rss0 = RssKb("VmRSS:");
    auto t0 = Clock::now();
    CallReceipt r = s2->Call(id, "rewrite", {}, kLimit);
    Result_ out;
    out.ms = MsSince(t0);
    out.rss_kb = RssKb("VmHWM:") - rss0;
    out.gas = r.gas_spent;
    out.status = r.ok() ? "OK" : std::string(Status::CodeName(r.status.code()));
    auto t1 = Clock::now();
    Take(s2->Commit(), "commit");
    out.note = "commit " + std::to_string(static_cast<int>(MsSince(t1))) + " ms";
    out.written_pages = (2 + uint64_t{grow_pages}) * 16;
    return out;
  }));
  rows.push_back(InChild("events", [&](Vm& vm) {
    return TimedCall(vm, Wat(kEvents), "events", U32(quick ? 64 : 1500), kLimit);
  }));

  // piecrust fixtures: deploy of the stake contract with an empty code cache
  // (cold: prepare + compile), again in another store with the cache warm,
  // and the first call in a fresh session (instance creation included).
  Result_ stake = InChild("stake_deploy", [&](Vm&) {
    Result_ r;
    if (quick) {
      r.status = "skipped (quick)";
      return r;
    }
    auto wasm = os::Env::Default()->ReadFile(FixturesDir() + "/stake_contract.wasm");
    if (!wasm.ok()) {
      r.status = "no fixture";
      return r;
    }
    VmOptions o = Options();
    o.code_cache_dir = g_base + "/stake-cold-code";
    os::Env::Default()->RemoveDirRecursive(o.code_cache_dir).IgnoreError();
    double cold = 0, warm = 0, first = 0, second = 0;
    for (int round = 0; round < 2; round++) {
      const std::string dir = g_base + "/stake-" + std::to_string(round);
      os::Env::Default()->RemoveDirRecursive(dir).IgnoreError();
      auto vm = Take(Vm::Open(dir, o), "open");
      auto s = Take(vm->StartGenesis(), "genesis");
      auto t0 = Clock::now();
      ModuleId id = Take(s->Deploy(*wasm, {}), "deploy stake");
      (round == 0 ? cold : warm) = MsSince(t0);
      Root root = Take(s->Commit(), "commit");
      s.reset();
      auto s2 = Take(vm->StartSession(root), "session");
      auto t1 = Clock::now();
      CallReceipt c = s2->Call(id, "get_version", {}, 1'000'000);
      if (round == 1) first = MsSince(t1);
      auto t2 = Clock::now();
      CallReceipt c2 = s2->Call(id, "get_version", {}, 1'000'000);
      if (round == 1) second = MsSince(t2);
      if (!c.ok() || !c2.ok()) bench::Fail("get_version: " + c.status.ToString());
      r.gas = c.gas_spent;
    }
    char note[256];
    std::snprintf(note, sizeof(note), "deploy cold %.1f ms, deploy cached %.2f ms, first call %.3f ms, next call %.4f ms",
                  cold, warm, first, second);
    r.status = "OK";
    r.note = note;
    return r;
  });

  double lo = 1e100, hi = 0;
  std::printf("| case | status | gas spent | time (ms) | ns/gas | time per 1e9 gas (s) | peak RSS growth (MB) | "
              "pages written (MB) | RSS beyond them (MB) | notes |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Result_& r : rows) {
    const double ns_per_gas = r.gas ? r.ms * 1e6 / static_cast<double>(r.gas) : 0;
    // counter_inc's cost is per top-level call, which the transaction pays
    // outside its gas limit: not a resource gas buys.
    if (r.gas && r.name != "counter_inc") {
      lo = std::min(lo, ns_per_gas);
      hi = std::max(hi, ns_per_gas);
    }
    const double written_mb = static_cast<double>(r.written_pages) * 4096 / (1 << 20);
    std::printf("| %s | %s | %" PRIu64 " | %.1f | %.4f | %.2f | %.1f | %.1f | %.1f | %s |\n", r.name.c_str(),
                r.status.c_str(), r.gas, r.ms, ns_per_gas, ns_per_gas, r.rss_kb / 1024.0, written_mb,
                r.rss_kb / 1024.0 - written_mb, r.note.c_str());
  }
  std::printf("\nspread (without counter_inc): %.4f .. %.4f ns/gas (x%.0f)\n", lo, hi, lo > 0 ? hi / lo : 0);
  std::printf("\nstake_contract (%s, get_version %" PRIu64 " gas): %s\n", stake.status.c_str(), stake.gas,
              stake.note.c_str());
  return 0;
}
