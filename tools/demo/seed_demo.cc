// Copyright (c) crust authors. Licensed under the MIT license.
//
// crust-demo: runs the design document's three-commit scenario end to end
// through the public API on a store directory, and prints what it did.
// scripts/demo.sh (make demo) prints the resulting tree with inode numbers.
//
// `crust-demo --contracts DIR STORE` is the demo's second part: it deploys the
// example contracts (DIR/<name>.wasm) in a new genesis session of the same
// store and calls them over several commits through the VM API (vm.h),
// printing decoded results, gas, a panic, traps and out of gas.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "crust/vm.h"

namespace {

crust::ModuleId Module(uint8_t n) {
  crust::ModuleId id;
  id.bytes[0] = n;
  return id;
}

int Fail(const char* what, const crust::Status& s) {
  std::fprintf(stderr, "crust-demo: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

#define CHECK_OK(what, expr)                  \
  do {                                        \
    crust::Status _s = (expr);                \
    if (!_s.ok()) return Fail(what, _s);      \
  } while (0)

crust::Bytes Text(const std::string& s) { return crust::Bytes(s.begin(), s.end()); }

}  // namespace

int RunContracts(const std::string& contracts_dir, const std::string& store_dir);

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--contracts") == 0) return RunContracts(argv[2], argv[3]);
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: crust-demo STORE_DIR (a new or empty directory)\n"
                 "       crust-demo --contracts CONTRACTS_DIR STORE_DIR\n");
    return 2;
  }
  auto store = crust::Store::Open(argv[1]);
  if (!store.ok()) return Fail("open store", store.status());
  const crust::ModuleId m1 = Module(1), m2 = Module(2), m3 = Module(3);
  const uint64_t kMemory = 1 << 20;

  std::printf("Genesis session: deploy module_1 and module_2 (1 MiB memories)\n");
  auto genesis = (*store)->StartGenesis();
  if (!genesis.ok()) return Fail("start genesis", genesis.status());
  CHECK_OK("add module_1", (*genesis)->AddModule(m1, Text("bytecode of module_1"), Text("hello from module_1"), kMemory));
  CHECK_OK("add module_2", (*genesis)->AddModule(m2, Text("bytecode of module_2"), Text("hello from module_2"), kMemory));
  auto root1 = (*genesis)->Commit();
  if (!root1.ok()) return Fail("commit", root1.status());
  genesis->reset();
  std::printf("  root_1 = %s\n\n", root1->ToHex().c_str());

  std::printf("Session on root_1: change module_1's memory, deploy module_3\n");
  auto s2 = (*store)->StartSession(*root1);
  if (!s2.ok()) return Fail("start session", s2.status());
  CHECK_OK("write module_1", (*s2)->WriteMemory(m1, 0, Text("HELLO")));
  CHECK_OK("add module_3", (*s2)->AddModule(m3, Text("bytecode of module_3"), Text("hello from module_3"), kMemory));
  auto root2 = (*s2)->Commit();
  if (!root2.ok()) return Fail("commit", root2.status());
  s2->reset();
  std::printf("  root_2 = %s\n\n", root2->ToHex().c_str());

  std::printf("Session on root_2: change module_2's memory\n");
  auto s3 = (*store)->StartSession(*root2);
  if (!s3.ok()) return Fail("start session", s3.status());
  CHECK_OK("write module_2", (*s3)->WriteMemory(m2, 6, Text("FROM")));
  auto root3 = (*s3)->Commit();
  if (!root3.ok()) return Fail("commit", root3.status());
  char buf[20] = {};
  CHECK_OK("read module_2", (*s3)->ReadMemory(m2, 0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf), 19)));
  s3->reset();
  std::printf("  root_3 = %s\n", root3->ToHex().c_str());
  std::printf("  module_2 memory now starts with \"%s\"\n\n", buf);

  for (const crust::Root& r : {*root1, *root2, *root3}) {
    CHECK_OK("verify", (*store)->VerifyCommit(r));
  }
  std::printf("All three commits verify.\n");
  std::printf("module ids: module_1 = %s\n            module_2 = %s\n            module_3 = %s\n",
              m1.ToHex().c_str(), m2.ToHex().c_str(), m3.ToHex().c_str());
  return 0;
}

// --- Part 2: the example contracts ---

namespace {

using crust::Bytes;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return in ? ss.str() : std::string();
}

Bytes U32(uint32_t v) {
  Bytes b(4);
  for (int i = 0; i < 4; i++) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}
Bytes U64(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; i++) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}
Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
uint64_t GetU64(const Bytes& b, size_t at = 0) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | (at + i < b.size() ? b[at + i] : 0);
  return v;
}
uint32_t GetU32(const Bytes& b, size_t at = 0) { return static_cast<uint32_t>(GetU64(Bytes(b.begin() + std::min(at, b.size()), b.end())) & 0xffffffff); }

// Decoders: the call's result for people.
using Decoder = std::string (*)(const Bytes&);
std::string AsU64(const Bytes& b) { return std::to_string(GetU64(b)); }
std::string AsEntries(const Bytes& b) { return std::to_string(GetU32(b)) + (GetU32(b) == 1 ? " entry" : " entries"); }
std::string AsBoxValue(const Bytes& b) {
  if (b.empty() || b[0] == 0) return "absent";
  return "\"" + std::string(b.begin() + 1, b.end()) + "\"";
}
std::string AsChunks(const Bytes& b) {
  return std::to_string(GetU32(b)) + " chunks, " + std::to_string(GetU32(b, 4)) + " pages of memory";
}
std::string AsVerify(const Bytes& b) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%u chunks intact, checksum %016" PRIx64, GetU32(b), GetU64(b, 4));
  return buf;
}
std::string AsNothing(const Bytes&) { return "(nothing)"; }

class ContractDemo {
 public:
  explicit ContractDemo(crust::VmSession* s) : s_(s) {}
  void Use(crust::VmSession* s) { s_ = s; }

  // Calls and prints one line: "  what  -> result   gas N" or the error.
  // Returns whether the call succeeded.
  bool Call(const crust::ModuleId& id, const std::string& what, const char* function, const Bytes& arg,
            Decoder decode, uint64_t gas = 1'000'000'000) {
    const crust::CallReceipt r = s_->Call(id, function, arg, gas);
    std::string result = r.ok() ? decode(r.data) : "error " + r.status.ToString();
    std::printf("  %-34s -> %-44s gas %" PRIu64 "\n", what.c_str(), result.c_str(), r.gas_spent);
    return r.ok();
  }

 private:
  crust::VmSession* s_;
};

}  // namespace

int RunContracts(const std::string& contracts_dir, const std::string& store_dir) {
  auto vm = crust::Vm::Open(store_dir);
  if (!vm.ok()) return Fail("open store", vm.status());

  std::printf("Genesis session: deploy the example contracts (compiled ahead of time, cached)\n");
  auto s = (*vm)->StartGenesis();
  if (!s.ok()) return Fail("start genesis", s.status());
  struct Contract {
    const char* name;
    crust::ModuleId id;
  };
  std::vector<Contract> contracts = {{"counter", {}}, {"box", {}}, {"fibonacci", {}}, {"grower", {}}, {"panicker", {}}};
  for (Contract& c : contracts) {
    const std::string path = contracts_dir + "/" + c.name + ".wasm";
    const std::string wasm = ReadFile(path);
    if (wasm.empty()) return Fail(path.c_str(), crust::Status::NotFound("cannot read the contract"));
    crust::DeployOptions options;
    options.owner = Text("demo");
    if (std::strcmp(c.name, "counter") == 0) options.init_arg = U64(10);  // init: start at 10
    auto id = (*s)->Deploy(crust::ByteView(reinterpret_cast<const uint8_t*>(wasm.data()), wasm.size()), options);
    if (!id.ok()) return Fail(c.name, id.status());
    c.id = *id;
    std::printf("  deploy %-15s %5zu bytes  -> module %s\n", (std::string(c.name) + ".wasm").c_str(), wasm.size(),
                id->ToHex().c_str());
  }
  const crust::ModuleId counter = contracts[0].id, box = contracts[1].id, fib = contracts[2].id,
                        grower = contracts[3].id, panicker = contracts[4].id;
  ContractDemo d(s->get());
  d.Call(counter, "counter.read() (init gave 10)", "read", {}, AsU64);
  d.Call(counter, "counter.increment()", "increment", {}, AsU64);
  d.Call(box, "box.set(\"colour\", \"blue\")", "set", Cat(Cat(U32(6), Text("colour")), Text("blue")), AsEntries);
  d.Call(box, "box.set(\"shape\", \"round\")", "set", Cat(Cat(U32(5), Text("shape")), Text("round")), AsEntries);
  d.Call(fib, "fibonacci.fib(20)", "fib", U32(20), AsU64);
  d.Call(grower, "grower.grow(seed 7, 2 chunks)", "grow", Cat(U32(7), U32(2)), AsChunks);
  auto root4 = (*s)->Commit();
  if (!root4.ok()) return Fail("commit", root4.status());
  s->reset();
  std::printf("  root_4 = %s\n\n", root4->ToHex().c_str());

  std::printf("Session on root_4: more calls; a failing call ends with its error and the session goes on\n");
  s = (*vm)->StartSession(*root4);
  if (!s.ok()) return Fail("start session", s.status());
  d.Use(s->get());
  d.Call(counter, "counter.add(5)", "add", U64(5), AsU64);
  d.Call(box, "box.get(\"colour\")", "get", Text("colour"), AsBoxValue);
  d.Call(box, "box.get(\"size\")", "get", Text("size"), AsBoxValue);
  d.Call(fib, "fibonacci.fib(30)", "fib", U32(30), AsU64);
  d.Call(panicker, "panicker.panic(\"no means no\")", "panic", Text("no means no"), AsNothing);
  d.Call(panicker, "panicker.unreachable()", "unreachable", {}, AsNothing);
  d.Call(panicker, "panicker.divide(1, 0)", "divide", Cat(U32(1), U32(0)), AsNothing);
  d.Call(panicker, "panicker.spin() with 100000 gas", "spin", {}, AsNothing, 100'000);
  d.Call(counter, "counter.nope()", "nope", {}, AsNothing);
  d.Call(grower, "grower.grow(seed 9, 1 chunk)", "grow", Cat(U32(9), U32(1)), AsChunks);
  d.Call(grower, "grower.verify()", "verify", {}, AsVerify);
  auto root5 = (*s)->Commit();
  if (!root5.ok()) return Fail("commit", root5.status());
  s->reset();
  std::printf("  root_5 = %s\n\n", root5->ToHex().c_str());

  std::printf("Session on root_5: one more increment\n");
  s = (*vm)->StartSession(*root5);
  if (!s.ok()) return Fail("start session", s.status());
  d.Use(s->get());
  d.Call(counter, "counter.increment()", "increment", {}, AsU64);
  auto root6 = (*s)->Commit();
  if (!root6.ok()) return Fail("commit", root6.status());
  s->reset();
  std::printf("  root_6 = %s\n\n", root6->ToHex().c_str());

  std::printf("Session on root_4 again (older commits stay usable; nothing committed)\n");
  s = (*vm)->StartSession(*root4);
  if (!s.ok()) return Fail("start session", s.status());
  d.Use(s->get());
  d.Call(counter, "counter.read()", "read", {}, AsU64);
  d.Call(grower, "grower.verify()", "verify", {}, AsVerify);
  s->reset();
  std::printf("\n");

  for (const crust::Root& r : {*root4, *root5, *root6}) {
    CHECK_OK("verify", (*vm)->store().VerifyCommit(r));
  }
  std::printf("root_4, root_5 and root_6 verify.\n");
  std::printf("module ids:");
  for (const Contract& c : contracts) std::printf("%s %-9s = %s\n", &c == &contracts[0] ? "" : "           ", c.name, c.id.ToHex().c_str());
  return 0;
}
