// Copyright (c) crust authors. Licensed under the MIT license.
//
// `crust export`, `crust import` and `crust serve` (the library behind them
// is tested in src/sync/sync_test.cc): a commit exported, imported into a
// new store and served to another import, each verified.

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes.fill(n);
  return id;
}

TEST(CliSyncTest, ExportImportServe) {
  testing::TempDir tmp;
  const std::string src = tmp.Sub("src"), dst = tmp.Sub("dst"), exp = tmp.Sub("export");
  Root root1, root2;
  {
    auto store = Store::Open(src, StoreOptions{.sync = false});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto g = (*store)->StartGenesis();
    ASSERT_TRUE(g.ok());
    ASSERT_OK((*g)->AddModule(Id(1), Bytes{0, 'a', 's', 'm', 1, 0, 0, 0}, Bytes(3 * 4096, 7), 64 * 1024));
    ASSERT_OK_AND_ASSIGN(root1, (*g)->Commit());
    ASSERT_OK((*g)->WriteMemory(Id(1), 4096, Bytes{1, 2, 3}));
    ASSERT_OK_AND_ASSIGN(root2, (*g)->Commit());
  }
  auto run = [&](std::vector<std::string> args) { return testing::RunTool(args, tmp.Sub("out"), tmp.Sub("err")); };
  auto e = run({"--store", src, "export", "--to", exp, root1.ToHex().substr(0, 12)});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_THAT(e.out, HasSubstr("2 chunks written"));  // one run of 3 pages, the bytecode
  EXPECT_EQ(run({"--store", src, "export", root1.ToHex()}).status, 2) << "--to is required";
  auto missing = run({"--store", dst, "import", "--from", exp, root1.ToHex()});
  EXPECT_EQ(missing.status, 1) << "no store, no --create";
  auto i = run({"--store", dst, "--json", "import", "--create", "--from", exp, root1.ToHex()});
  ASSERT_EQ(i.status, 0) << i.err;
  EXPECT_THAT(i.out, HasSubstr("\"pages_fetched\":3"));
  EXPECT_EQ(run({"--store", dst, "verify", root1.ToHex()}).status, 0);
  EXPECT_EQ(run({"--store", dst, "import", root1.ToHex()}).status, 2) << "--from is required";
  // A root the export does not have: NotFound, exit 1.
  EXPECT_EQ(run({"--store", dst, "import", "--from", exp, root2.ToHex()}).status, 1);
  // serve prints its URL; an import from it fetches the one changed page.
  const std::string out = tmp.Sub("serve.out"), err = tmp.Sub("serve.err");
  testing::Child serve({CRUST_TOOL_PATH, "--store", src, "--json", "serve", "--port", "0"}, out, err);
  ASSERT_TRUE(serve.started());
  const std::string url = testing::WaitForUrl(out);
  EXPECT_FALSE(url.empty()) << testing::ReadAll(err);
  if (!url.empty()) {
    auto j = run({"--store", dst, "import", "--from", url, root2.ToHex()});
    EXPECT_EQ(j.status, 0) << j.err;
    EXPECT_THAT(j.out, HasSubstr("1 pages fetched"));
    EXPECT_EQ(run({"--store", dst, "verify", root2.ToHex()}).status, 0);
  }
}

}  // namespace
}  // namespace crust
