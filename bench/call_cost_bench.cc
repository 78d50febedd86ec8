// Copyright (c) crust authors. Licensed under the MIT license.
//
// call_cost_bench: a fixed number of top-level calls of one kind, for
// counting instructions per call with valgrind's callgrind (deterministic,
// unlike the time vm_bench measures on a shared machine). The calls run in
// RunCalls(), so that callgrind can count only them:
//
//   valgrind --tool=callgrind --toggle-collect='*RunCalls*' --callgrind-out-file=/tmp/c.cg ./call_cost_bench read 20000
//   callgrind_annotate --inclusive=yes /tmp/c.cg
//
// and Ir / calls is the cost of one call (docs/benchmarks.md, "Per-call
// session overhead"). Kinds:
//   read      counter `read` (trivial: no argument, 8-byte result)
//   read_into the same through VmSession::CallInto, one receipt reused
//   add       counter `add` (8-byte argument; writes the counter's page)
//   nested    callcenter `call` forwarding to counter `read` (one `c`)
//   panic     counter `add` with a 1-byte argument (panics: rolled back)
// Set CRUST_CALL_COST_CACHE=dir to keep the compiled code between runs (run
// once without valgrind to fill it). Without valgrind it also prints nanoseconds per call (one run: noisy).
//
// The store maps committed memories eagerly (StoreOptions::lazy_layers =
// false): valgrind does not know userfaultfd.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "crust/vm.h"
#include "src/os/env.h"

namespace {

using crust::Bytes;
using crust::ModuleId;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "call_cost_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Take(crust::Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.status().ToString());
  return std::move(*r);
}

Bytes ReadWasm(const std::string& name) {
  return Take(crust::os::Env::Default()->ReadFile(std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm"),
              "read " + name);
}

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes.fill(0);
  id.bytes[0] = n;
  return id;
}

struct Call {
  ModuleId module;
  std::string function;
  Bytes arg;
  bool expect_ok = true;
  bool reuse = false;  // VmSession::CallInto one receipt
};

// The measured loop (callgrind --toggle-collect='*RunCalls*'); returns the
// number of calls whose outcome was not the expected one.
__attribute__((noinline)) uint64_t RunCalls(crust::VmSession* s, const Call& c, uint64_t n) {
  uint64_t unexpected = 0;
  crust::CallReceipt reused;
  for (uint64_t i = 0; i < n; i++) {
    if (c.reuse) {
      s->CallInto(c.module, c.function, c.arg, 1'000'000, &reused);
      unexpected += reused.ok() == c.expect_ok && (!reused.ok() || !reused.data.empty()) ? 0 : 1;
    } else {
      crust::CallReceipt r = s->Call(c.module, c.function, c.arg, 1'000'000);
      unexpected += r.ok() == c.expect_ok && (!r.ok() || !r.data.empty()) ? 0 : 1;
    }
  }
  return unexpected;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "read";
  const uint64_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  char tmpl[] = "/tmp/call_cost-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
  const std::string dir = tmpl;
  {
    crust::VmOptions o;
    o.store.sync = false;
    o.store.lazy_layers = false;  // valgrind: no userfaultfd
    o.tiers = crust::VmOptions::Tiers::kOptimisedOnly;
    // A cache filled by an earlier run outside valgrind: compilation runs a
    // compiler in a child process, which valgrind would follow.
    const char* cache = std::getenv("CRUST_CALL_COST_CACHE");
    o.code_cache_dir = cache != nullptr ? std::string(cache) : dir + "/cache";
    auto vm = Take(crust::Vm::Open(dir + "/store", o), "Vm::Open");
    auto s = Take(vm->StartGenesis(), "genesis");
    auto deploy = [&](const std::string& name, uint8_t n) {
      crust::DeployOptions d;
      d.id = Id(n);
      return Take(s->Deploy(ReadWasm(name), d), "deploy " + name);
    };
    const ModuleId counter = deploy("counter", 1);
    const ModuleId center = deploy("callcenter", 2);
    Take(s->Commit(), "commit");

    Call c;
    if (kind == "read" || kind == "read_into") {
      c = {counter, "read", {}, true, kind == "read_into"};
    } else if (kind == "add") {
      c = {counter, "add", Bytes(8, 0), true};
      c.arg[0] = 1;
    } else if (kind == "nested") {
      Bytes req(counter.bytes.begin(), counter.bytes.end());
      const uint64_t gas = 0;
      const uint32_t len = 4;
      req.insert(req.end(), reinterpret_cast<const uint8_t*>(&gas), reinterpret_cast<const uint8_t*>(&gas) + 8);
      req.insert(req.end(), reinterpret_cast<const uint8_t*>(&len), reinterpret_cast<const uint8_t*>(&len) + 4);
      for (char ch : std::string("read")) req.push_back(static_cast<uint8_t>(ch));
      c = {center, "call", req, true};
    } else if (kind == "panic") {
      c = {counter, "add", Bytes(1, 0), false};
    } else {
      Fail("unknown kind " + kind + " (read, read_into, add, nested, panic)");
    }
    if (RunCalls(s.get(), c, 1000) != 0) Fail("warm-up: unexpected outcome");
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t unexpected = RunCalls(s.get(), c, n);
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (unexpected != 0) Fail("unexpected outcome");
    std::printf("%s: %llu calls, %.1f ns per call\n", kind.c_str(), static_cast<unsigned long long>(n),
                ns / static_cast<double>(n));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
