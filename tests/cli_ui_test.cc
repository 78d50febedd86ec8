// Copyright (c) crust authors. Licensed under the MIT license.
//
// `crust ui` in a real browser: the test builds a store through the public
// API, starts the tool's web view on a free loopback port, loads the page in
// headless Chromium (Debian's `chromium`, installed by scripts/install-deps.sh)
// and checks the DOM the page's JavaScript rendered: every commit listed, the
// parent links, a diff between two commits. A writer then commits beside the
// running view and the page shows the new commit. A screenshot is kept in the
// build directory (ui-screenshot.png; docs/ui.png is one such).
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "crust/session.h"
#include "crust/store.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;
using crust::testing::Child;
using crust::testing::ReadAll;

constexpr uint64_t kPage = 64 * 1024;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[0] = 0xC0;
  id.bytes[31] = n;
  return id;
}

std::string FindChromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

class CliUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    ASSERT_FALSE(chromium_.empty()) << "the web view test needs Chromium: run scripts/install-deps.sh "
                                       "(Debian package 'chromium')";
    store_dir_ = tmp_.Sub("store");
    auto opened = Store::Open(store_dir_, StoreOptions{.sync = false});
    ASSERT_OK(opened);
    store_ = std::move(opened).value();
    ASSERT_OK_AND_ASSIGN(auto g, store_->StartGenesis());
    ASSERT_OK(g->AddModule(Id(1), Bytes(100, 0xB1), Bytes(10, 7), 4 * kPage));
    ASSERT_OK(g->AddModule(Id(2), Bytes(50, 0xB2), {}, kPage));
    ASSERT_OK_AND_ASSIGN(Root r1, g->Commit());
    ASSERT_OK_AND_ASSIGN(auto s2, store_->StartSession(r1));
    ASSERT_OK(s2->WriteMemory(Id(1), 3 * 4096, Bytes{1, 2, 3}));
    ASSERT_OK(s2->WriteMemory(Id(1), 40 * 4096, Bytes{4}));
    ASSERT_OK_AND_ASSIGN(Root r2, s2->Commit());
    ASSERT_OK_AND_ASSIGN(auto s3, store_->StartSession(r2));
    ASSERT_OK(s3->RemoveModule(Id(2)));
    ASSERT_OK(s3->AddModule(Id(3), Bytes(30, 0xB3), {}, kPage));
    ASSERT_OK_AND_ASSIGN(Root r3, s3->Commit());
    roots_ = {r1.ToHex(), r2.ToHex(), r3.ToHex()};
  }

  // Starts `crust ui --port 0` and returns its URL (empty on failure).
  std::string StartUi() {
    const std::string out = tmp_.Sub("ui.out");
    ui_ = std::make_unique<Child>(std::vector<std::string>{CRUST_TOOL_PATH, "--store", store_dir_, "ui", "--port", "0"},
                                  out, tmp_.Sub("ui.err"));
    EXPECT_GT(ui_->pid(), 0);
    // The URL is printed once the socket is bound.
    return testing::WaitForUrl(out);
  }

  // Loads `url` in headless Chromium and returns the DOM after the page's
  // scripts ran (virtual time lets the fetches and rendering finish).
  std::string DumpDom(const std::string& url, const std::string& screenshot = "") {
    const std::string profile = tmp_.Sub("chromium-profile-" + std::to_string(loads_++));
    std::vector<std::string> argv = {chromium_, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                     "--no-first-run", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                                     "--user-data-dir=" + profile, "--virtual-time-budget=20000",
                                     "--window-size=1400,1000"};
    if (screenshot.empty()) {
      argv.push_back("--dump-dom");
    } else {
      argv.push_back("--screenshot=" + screenshot);
    }
    argv.push_back(url);
    const std::string out = tmp_.Sub("dom" + std::to_string(loads_));
    Child browser(argv, out, tmp_.Sub("chromium.err"));
    EXPECT_EQ(browser.Wait(), 0) << ReadAll(tmp_.Sub("chromium.err"));
    return ReadAll(out);
  }

  testing::TempDir tmp_;
  std::string chromium_;
  std::string store_dir_;
  std::unique_ptr<Store> store_;  // open for writing: the view runs beside a writer
  std::vector<std::string> roots_;
  std::unique_ptr<Child> ui_;
  int loads_ = 0;
};

TEST_F(CliUiTest, BrowserShowsCommitsParentsHeatMapAndDiff) {
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  const std::string dom = DumpDom(url + "?commit=" + roots_[1] + "&from=" + roots_[0] + "&to=" + roots_[2]);
  EXPECT_THAT(dom, HasSubstr("data-loaded=\"yes\"")) << dom;
  for (const std::string& root : roots_) EXPECT_THAT(dom, HasSubstr("data-root=\"" + root + "\""));
  // Parent links: commit 2's parent is commit 1.
  EXPECT_THAT(dom, HasSubstr("parent <a class=\"parent mono\">" + roots_[0].substr(0, 12) + "</a>"));
  // Commit 2 is selected: its heat map marks the two pages written.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("<div class=\"heat\"[^>]*>(.*?)</div>"))) << dom;
  const std::string heat = m[1].str();
  size_t changed = 0;
  for (size_t at = heat.find("changed"); at != std::string::npos; at = heat.find("changed", at + 1)) changed++;
  EXPECT_EQ(changed, 2u) << heat;
  // The diff between commits 1 and 3: module 1 changed (2 pages), 2 removed, 3 added.
  EXPECT_THAT(dom, HasSubstr("id=\"diff-table\""));
  EXPECT_THAT(dom, HasSubstr("3 module(s) differ"));
  EXPECT_THAT(dom, HasSubstr("2 page(s) changed (8.00 KiB)"));
  EXPECT_THAT(dom, HasSubstr("<td class=\"removed\">removed</td>"));
  EXPECT_THAT(dom, HasSubstr("<td class=\"added\">added</td>"));

  // A writer commits beside the running view; a new load lists it.
  ASSERT_OK_AND_ASSIGN(auto s, store_->StartSession(Hash32::FromHex(roots_[2]).value()));
  ASSERT_OK(s->WriteMemory(Id(1), 0, Bytes{9}));
  ASSERT_OK_AND_ASSIGN(Root r4, s->Commit());
  const std::string again = DumpDom(url);
  EXPECT_THAT(again, HasSubstr("data-root=\"" + r4.ToHex() + "\""));
  EXPECT_THAT(again, HasSubstr("4 commits"));

  const std::string png = std::string(CRUST_BINARY_DIR) + "/ui-screenshot.png";
  std::filesystem::remove(png);
  DumpDom(url + "?commit=" + roots_[1] + "&from=" + roots_[0] + "&to=" + roots_[2], png);
  EXPECT_GT(std::filesystem::exists(png) ? std::filesystem::file_size(png) : 0, 10000u);
}

TEST_F(CliUiTest, ApiErrorsAreJsonAndStoreIsReadOnly) {
  const std::string url = StartUi();
  ASSERT_FALSE(url.empty());
  // The browser shows what the API answers for a bad and an unknown root.
  std::string dom = DumpDom(url + "api/diff?from=zz&to=" + roots_[0]);
  EXPECT_THAT(dom, HasSubstr("InvalidArgument"));
  dom = DumpDom(url + "api/commit?root=" + std::string(64, 'e'));
  EXPECT_THAT(dom, HasSubstr("NotFound"));
  // The view holds no lock: the writer above holds it, and the view still
  // started. Nothing it did changed the store.
  ASSERT_OK_AND_ASSIGN(auto commits, store_->ListCommits());
  EXPECT_EQ(commits.size(), 3u);
}

}  // namespace
}  // namespace crust
