// Copyright (c) crust authors. Licensed under the MIT license.
//
// Deploy and the prepared-module cache (src/engine/prepare/prepared_cache.h) through
// the public API: the entry under <code cache>/prepared is what makes a
// second deploy of the same bytes skip PrepareModule. The engine's own test
// (prepared_cache_test.cc) counts hits; here they are observed on disk: a
// memory hit never touches the entry, a disk hit reads it without replacing
// it, and a damaged entry is prepared again and replaced.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "crust/vm.h"
#include "src/os/env.h"
#include "src/util/coding.h"
#include "src/vm/vm_test_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
using vmtest::Contract;
using vmtest::U64;

constexpr uint64_t kGas = 100'000'000;

class DeployCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<Vm> OpenVm(const std::string& store) {
    VmOptions o;
    o.store.write_audit = true;  // fail on any page the engine wrote without noting it
    o.store.sync = false;
    o.opt_level = 0;
    o.code_cache_dir = cache_.path();
    auto vm = Vm::Open(dir_.Sub(store), o);
    EXPECT_TRUE(vm.ok()) << vm.status().ToString();
    return vm.ok() ? std::move(vm).value() : nullptr;
  }
  std::string PreparedDir() const { return cache_.path() + "/prepared"; }
  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    auto names = os::Env::Default()->ListDir(PreparedDir());
    if (names.ok()) {
      for (const std::string& n : *names) {
        if (n.ends_with(".prep")) out.push_back(PreparedDir() + "/" + n);
      }
    }
    return out;
  }
  // Deploys counter under `nonce`, checks it works, returns its bytecode.
  Bytes DeployCounter(Vm* vm, uint64_t nonce) {
    auto s = vm->StartGenesis();
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return {};
    DeployOptions d;
    d.nonce = nonce;
    d.init_arg = U64(nonce);
    auto id = (*s)->Deploy(Contract("counter"), d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    CallReceipt r = (*s)->Call(*id, "increment", {}, kGas);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.data, U64(nonce + 1));
    auto code = (*s)->state().Bytecode(*id);
    EXPECT_TRUE(code.ok());
    return code.ok() ? *code : Bytes{};
  }

  TempDir dir_, cache_;
};

ino_t Inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST_F(DeployCacheTest, SecondDeployHitsThePreparedCache) {
  auto vm = OpenVm("a");
  const Bytes first = DeployCounter(vm.get(), 1);
  ASSERT_FALSE(first.empty());
  const std::vector<std::string> entries = Entries();
  ASSERT_EQ(entries.size(), 1u);
  ASSERT_OK_AND_ASSIGN(const Bytes entry, os::Env::Default()->ReadFile(entries[0]));

  // Same Vm: served from memory, the disk is not consulted (a removed entry
  // stays removed).
  ASSERT_OK(os::Env::Default()->RemoveFile(entries[0]));
  EXPECT_EQ(DeployCounter(vm.get(), 2), first);
  EXPECT_TRUE(Entries().empty());
  vm.reset();

  // A fresh Vm (another process) prepares again when the entry is missing...
  vm = OpenVm("b");
  EXPECT_EQ(DeployCounter(vm.get(), 3), first);
  ASSERT_EQ(Entries(), entries);
  ASSERT_OK_AND_ASSIGN(Bytes again, os::Env::Default()->ReadFile(entries[0]));
  EXPECT_EQ(again, entry);
  vm.reset();

  // ...and reads it, without replacing it, when it is there.
  const ino_t inode = Inode(entries[0]);
  vm = OpenVm("c");
  EXPECT_EQ(DeployCounter(vm.get(), 4), first);
  EXPECT_EQ(Inode(entries[0]), inode);
}

TEST_F(DeployCacheTest, DamagedEntryIsPreparedAgainWithTheSameResult) {
  Bytes first, entry;
  std::string path;
  {
    auto vm = OpenVm("a");
    first = DeployCounter(vm.get(), 1);
    ASSERT_EQ(Entries().size(), 1u);
    path = Entries()[0];
    ASSERT_OK_AND_ASSIGN(entry, os::Env::Default()->ReadFile(path));
  }
  int store = 0;
  for (bool truncate : {false, true}) {
    SCOPED_TRACE(truncate ? "truncated" : "byte flipped");
    Bytes bad = entry;
    if (truncate) {
      bad.resize(bad.size() / 2);
    } else {
      bad[bad.size() / 2] ^= 0x10;
    }
    ASSERT_OK(os::Env::Default()->RemoveFile(path));
    {
      ASSERT_OK_AND_ASSIGN(auto f, os::Env::Default()->NewWritableFile(path));
      ASSERT_OK(f->Append(bad));
      ASSERT_OK(f->Close());
    }
    auto vm = OpenVm("s" + std::to_string(store++));
    EXPECT_EQ(DeployCounter(vm.get(), 2), first);
    ASSERT_OK_AND_ASSIGN(Bytes now, os::Env::Default()->ReadFile(path));
    EXPECT_EQ(now, entry);  // republished
  }
}

TEST_F(DeployCacheTest, RejectedModuleIsNeverCached) {
  auto vm = OpenVm("a");
  ASSERT_OK_AND_ASSIGN(auto s, vm->StartGenesis());
  // Valid WebAssembly that breaks the contract ABI (no `A`).
  const Bytes wasm = vmtest::Wat("(module (memory (export \"memory\") 1))");
  Result<ModuleId> first = s->Deploy(wasm, {});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), Status::Code::kInvalidModule);
  for (int i = 0; i < 2; ++i) {
    Result<ModuleId> again = s->Deploy(wasm, {});
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().ToString(), first.status().ToString());
  }
  EXPECT_TRUE(Entries().empty());
  auto vm2 = OpenVm("b");
  ASSERT_OK_AND_ASSIGN(auto s2, vm2->StartGenesis());
  EXPECT_EQ(s2->Deploy(wasm, {}).status().ToString(), first.status().ToString());
}

}  // namespace
}  // namespace crust
