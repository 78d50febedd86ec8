// Copyright (c) crust authors. Licensed under the MIT license.
//
// Out-of-tree C++ example against an installed crust (find_package):
//   cxx_example STORE_DIR COUNTER_WASM
// deploys counter with init 41, increments it, commits, reopens the store
// and reads 42 back from the commit.
#include <cstdio>
#include <fstream>
#include <iterator>

#include <crust/version.h>
#include <crust/vm.h>

static int Fail(const char* what, const crust::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  std::ifstream in(argv[2], std::ios::binary);
  const crust::Bytes wasm((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  crust::VmOptions options;
  options.opt_level = 0;
  crust::ModuleId id;
  crust::Root root;
  {
    auto vm = crust::Vm::Open(argv[1], options);
    if (!vm.ok()) return Fail("open", vm.status());
    auto session = (*vm)->StartGenesis();
    if (!session.ok()) return Fail("session", session.status());
    crust::DeployOptions deploy;
    deploy.init_arg = {41, 0, 0, 0, 0, 0, 0, 0};
    auto deployed = (*session)->Deploy(wasm, deploy);
    if (!deployed.ok()) return Fail("deploy", deployed.status());
    id = *deployed;
    crust::CallReceipt r = (*session)->Call(id, "increment", {}, 1'000'000);
    if (!r.ok()) return Fail("call", r.status);
    auto committed = (*session)->Commit();
    if (!committed.ok()) return Fail("commit", committed.status());
    root = *committed;
  }
  auto vm = crust::Vm::Open(argv[1], options);
  if (!vm.ok()) return Fail("reopen", vm.status());
  auto session = (*vm)->StartSession(root);
  if (!session.ok()) return Fail("session on root", session.status());
  crust::CallReceipt r = (*session)->Call(id, "read", {}, 1'000'000);
  if (!r.ok() || r.data.size() != 8) return Fail("read", r.status);
  uint64_t value = 0;
  for (size_t i = 8; i-- > 0;) value = (value << 8) | r.data[i];
  std::printf("c++: crust %s counter = %llu\n", CRUST_VERSION_STRING, static_cast<unsigned long long>(value));
  return value == 42 ? 0 : 1;
}
