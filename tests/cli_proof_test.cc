// Copyright (c) crust authors. Licensed under the MIT license.
//
// `crust prove` and `crust check-proof`: a proof written from a store is
// checked with nothing but the root, and a wrong one is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kWasmPage = 64 * 1024;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes.fill(n);
  return id;
}

class CliProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_dir_ = tmp_.Sub("store");
    StoreOptions opt;
    opt.sync = false;
    auto store = Store::Open(store_dir_, opt);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto g = (*store)->StartGenesis();
    ASSERT_TRUE(g.ok());
    for (uint8_t n : {1, 2}) {
      Bytes mem(2 * 4096, n);
      ASSERT_OK((*g)->AddModule(Id(n), Bytes{0, 'a', 's', 'm', 1, 0, 0, 0}, mem, kWasmPage));
    }
    auto root = (*g)->Commit();
    ASSERT_TRUE(root.ok());
    root_ = root->ToHex();
    ASSERT_OK((*g)->WriteMemory(Id(2), 0, Bytes{0x77}));
    auto second = (*g)->Commit();
    ASSERT_TRUE(second.ok());
    second_ = second->ToHex();
  }
  testing::RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", store_dir_});
    return testing::RunTool(args, tmp_.Sub("out"), tmp_.Sub("err"));
  }
  crust::testing::TempDir tmp_;
  std::string store_dir_, root_, second_;
};

TEST_F(CliProofTest, ProveThenCheck) {
  const std::string file = tmp_.Sub("p.proof");
  auto r = Run({"prove", "--out", file, root_, Id(2).ToHex(), "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("page 1 of module " + Id(2).ToHex()));
  // No store is needed to check it.
  auto c = testing::RunTool({"--store", tmp_.Sub("nowhere"), "check-proof", root_, file}, tmp_.Sub("o2"),
                            tmp_.Sub("e2"));
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_THAT(c.out, HasSubstr("valid: page 1 of module " + Id(2).ToHex() + " is in root " + root_));
  auto j = Run({"--json", "check-proof", "--module", Id(2).ToHex(), "--page", "1", root_, file});
  ASSERT_EQ(j.status, 0) << j.err;
  std::string page_hex;
  for (int i = 0; i < 4096; i++) page_hex += "02";
  EXPECT_THAT(j.out, HasSubstr("\"data\":\"" + page_hex + "\""));
}

TEST_F(CliProofTest, WrongRootModulePageOrBytesFail) {
  const std::string file = tmp_.Sub("p.proof");
  ASSERT_EQ(Run({"prove", "--out", file, root_, Id(2).ToHex(), "0"}).status, 0);
  auto other_root = Run({"check-proof", second_, file});
  EXPECT_EQ(other_root.status, 1);
  EXPECT_THAT(other_root.err, HasSubstr("not " + second_));
  EXPECT_EQ(Run({"check-proof", "--module", Id(1).ToHex(), root_, file}).status, 1);
  EXPECT_EQ(Run({"check-proof", "--page", "1", root_, file}).status, 1);
  // Flip a byte of the page's data (offset 152: after the fields before it).
  std::string bytes = testing::ReadAll(file);
  bytes[152 + 9] ^= 1;
  const std::string bad = tmp_.Sub("bad.proof");
  FILE* f = std::fopen(bad.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  auto flipped = Run({"check-proof", root_, bad});
  EXPECT_EQ(flipped.status, 1);
  EXPECT_THAT(flipped.err, HasSubstr("does not lead to root"));
  auto garbage = Run({"check-proof", root_, store_dir_ + "/FORMAT"});
  EXPECT_EQ(garbage.status, 1);
  EXPECT_THAT(garbage.err, HasSubstr("page proof"));
}

TEST_F(CliProofTest, UsageAndLookupErrors) {
  EXPECT_EQ(Run({"prove", root_, Id(2).ToHex(), "0"}).status, 2);  // no --out
  EXPECT_EQ(Run({"prove", "--out", tmp_.Sub("x"), root_, Id(2).ToHex(), "one"}).status, 2);
  auto missing = Run({"prove", "--out", tmp_.Sub("x"), root_, Id(9).ToHex(), "0"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.err, HasSubstr("module " + Id(9).ToHex() + " is not in commit"));
  auto past = Run({"prove", "--out", tmp_.Sub("x"), root_, Id(2).ToHex(), "16"});
  EXPECT_EQ(past.status, 1);
  EXPECT_THAT(past.err, HasSubstr("past the end"));
}

}  // namespace
}  // namespace crust
