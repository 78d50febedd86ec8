// Copyright (c) crust authors. Licensed under the MIT license.
//
// crust-demo: runs the design document's three-commit scenario end to end
// through the public API on a store directory, and prints what it did.
// scripts/demo.sh (make demo) prints the resulting tree with inode numbers.
#include <cstdio>
#include <cstring>
#include <string>

#include "crust/session.h"
#include "crust/store.h"

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

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: crust-demo STORE_DIR (a new or empty directory)\n");
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
