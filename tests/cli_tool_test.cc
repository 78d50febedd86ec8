// Copyright (c) crust authors. Licensed under the MIT license.
//
// Tests of the tool for the people who operate it (issue 13): stores are
// never created by accident and non-stores are refused; receipts show events,
// fed data and the call tree; --meta, --arg-file, 0x hex and id prefixes;
// check, functions, diff, stat, prune, prune-code, --version and completion; terminal
// output escapes control characters. JSON output is parsed with nlohmann's
// parser, so it is checked to be valid JSON.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "tests/cli_util.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using crust::testing::RunResult;
using json = nlohmann::json;

std::string Contract(const std::string& name) { return std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm"; }

std::string Hex(const std::string& bytes) { return crust::testing::HexOf(bytes); }

std::string U32(uint32_t v) {
  return Hex(std::string{static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 24)});
}
std::string U64(uint64_t v) { return U32(static_cast<uint32_t>(v)) + U32(static_cast<uint32_t>(v >> 32)); }

class CliToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cache_ = new testing::TempDir(); }
  static void TearDownTestSuite() {
    delete cache_;
    cache_ = nullptr;
  }
  void SetUp() override {
    store_ = tmp_.Sub("store");
    for (const char* name : {"counter", "callcenter", "hostinfo", "panicker"}) {
      ASSERT_TRUE(std::filesystem::exists(Contract(name))) << Contract(name) << " (build crust_contracts)";
    }
  }

  RunResult Run(const std::vector<std::string>& args, const std::string& stdin_path = "") {
    const std::string out = tmp_.Sub("out" + std::to_string(runs_));
    const std::string err = tmp_.Sub("err" + std::to_string(runs_++));
    return crust::testing::RunTool(args, out, err, stdin_path);
  }
  // On the test store, with the shared code cache for deploy/call/run.
  RunResult On(std::vector<std::string> args, const std::string& stdin_path = "") {
    const std::string& cmd = args[0];
    if (cmd == "deploy" || cmd == "call" || cmd == "query" || cmd == "run") args.insert(args.begin() + 1, {"--code-cache", cache_->path()});
    args.insert(args.begin(), {"--store", store_});
    return Run(args, stdin_path);
  }
  json OnJson(std::vector<std::string> args, int status = 0) {
    args.insert(args.begin(), "--json");
    RunResult r = On(args);
    EXPECT_EQ(r.status, status) << r.err;
    const std::string& text = status == 0 ? r.out : r.err;
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
    return j;
  }
  std::string Deploy(const std::string& contract) {
    json j = OnJson({"deploy", Contract(contract)});
    return j.value("module", "");
  }
  std::vector<std::string> Roots() {
    json j = OnJson({"commits"});
    std::vector<std::string> roots;
    for (const auto& c : j["commits"]) roots.push_back(c["root"]);
    return roots;
  }
  void Init() { ASSERT_EQ(Run({"init", store_}).status, 0); }

  static testing::TempDir* cache_;
  testing::TempDir tmp_;
  std::string store_;
  int runs_ = 0;
};

testing::TempDir* CliToolTest::cache_ = nullptr;

TEST_F(CliToolTest, MissingStoreIsNeverCreatedByAccident) {
  const std::string script = tmp_.Sub("script.run");
  std::ofstream(script) << "commit\n";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"deploy", Contract("counter")}, {"call", std::string(64, 'a'), "read"}, {"run", script},
           {"commits"}, {"stat"}, {"prune", "--keep-last", "1"}, {"prune-code"}, {"ui", "--port", "0"}}) {
    RunResult r = On(args);
    EXPECT_EQ(r.status, 1) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("no crust store at " + store_ + ": create one with 'crust init")) << args[0];
    EXPECT_FALSE(std::filesystem::exists(store_)) << args[0] << " created the store";
  }
  // --create makes one; init on an existing store is harmless.
  RunResult r = On({"deploy", "--create", Contract("counter")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Roots().size(), 1u);
  r = Run({"init", store_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("exists already"));
}

TEST_F(CliToolTest, DirectoryThatIsNotAStoreIsRefusedByEveryCommand) {
  // Like --store /etc: a directory with unrelated files.
  const std::string dir = tmp_.Sub("etc");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/passwd") << "root:x:0:0\n";
  const std::string root(64, 'a');
  const std::string script = tmp_.Sub("script.run");
  std::ofstream(script) << "commit\n";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"commits"}, {"show", root}, {"verify"}, {"delete", root}, {"stat"}, {"diff", root, root},
           {"prune", "--keep-last", "1"}, {"functions", root}, {"ui", "--port", "0"},
           {"deploy", Contract("counter")}, {"deploy", "--create", Contract("counter")},
           {"call", root, "read"}, {"run", script}, {"prune-code", "--dry-run"}}) {
    std::vector<std::string> full = {"--store", dir};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_EQ(r.status, 1) << args[0];
    EXPECT_THAT(r.err, HasSubstr(dir)) << args[0];
    EXPECT_THAT(r.err, HasSubstr("not a crust store")) << args[0] << ": " << r.err;
  }
  EXPECT_EQ(Run({"init", dir}).status, 1);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
}

TEST_F(CliToolTest, ReceiptsShowEventsFedDataAndTheCallTree) {
  Init();
  const std::string cc = Deploy("callcenter");
  const std::string counter = Deploy("counter");
  // emit(u32 topic_len | topic | data)
  json j = OnJson({"call", "--no-commit", cc, "emit", U32(8) + Hex("transfer") + "cafe"});
  ASSERT_EQ(j["events"].size(), 1u) << j;
  EXPECT_EQ(j["events"][0]["topic"], "transfer");
  EXPECT_EQ(j["events"][0]["data"], "cafe");
  EXPECT_EQ(j["events"][0]["source"], cc);
  EXPECT_EQ(j["events"][0]["reverted"], false);
  EXPECT_TRUE(j["debug"].is_array());
  ASSERT_EQ(j["call_tree"].size(), 1u);
  EXPECT_EQ(j["call_tree"][0]["function"], "emit");
  EXPECT_EQ(j["call_tree"][0]["status"], "OK");
  EXPECT_FALSE(j.contains("fed"));
  RunResult r = On({"call", "--no-commit", cc, "emit", U32(8) + Hex("transfer") + "cafe"});
  EXPECT_THAT(r.out, HasSubstr("event      transfer cafe from " + cc.substr(0, 16) + "\n"));

  // feed_n(3) as a feeder call.
  j = OnJson({"call", "--no-commit", "--feed", cc, "feed_n", U32(3)});
  EXPECT_EQ(j["fed"], json::array({U32(0), U32(1), U32(2)}));
  r = On({"call", "--no-commit", "--feed", cc, "feed_n", U32(3)});
  EXPECT_THAT(r.out, HasSubstr("fed        " + U32(1) + "\n"));

  // call(id | gas | fn_len | fn | arg): callcenter calls counter.read.
  const std::string request = counter + U64(1000000) + U32(4) + Hex("read");
  j = OnJson({"call", "--no-commit", cc, "call", request});
  ASSERT_EQ(j["call_tree"].size(), 2u) << j;
  std::vector<std::string> functions = {j["call_tree"][0]["function"], j["call_tree"][1]["function"]};
  EXPECT_THAT(functions, ::testing::UnorderedElementsAre("call", "read"));
  r = On({"call", "--no-commit", cc, "call", request});
  EXPECT_THAT(r.out, HasSubstr("calls\n"));
  EXPECT_THAT(r.out, HasSubstr(counter.substr(0, 16) + " read  gas "));

  // query is call --no-commit: the same output, never a commit.
  const size_t commits = Roots().size();
  r = On({"query", counter, "read"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("data       " + U64(0)));
  EXPECT_EQ(Roots().size(), commits);
  EXPECT_EQ(On({"query", "--no-commit", counter, "read"}).status, 2);

  // Scripts print the same details.
  std::ofstream(tmp_.Sub("s.run")) << "call " << cc << " emit " << U32(8) + Hex("transfer") + "beef\n";
  r = On({"run", tmp_.Sub("s.run")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("    event      transfer beef from "));
  j = OnJson({"run", tmp_.Sub("s.run")});
  EXPECT_EQ(j["events"][0]["data"], "beef");
}

TEST_F(CliToolTest, MetaArgFileHexPrefixesAndAmbiguity) {
  Init();
  const std::string info = Deploy("hostinfo");
  const std::string panicker = Deploy("panicker");
  // --meta KEY=HEX (repeatable), hex with 0x.
  json j = OnJson({"call", "--no-commit", "--meta", "height=0x2a00", "--meta", "chain=01", info.substr(0, 8), "meta",
                   "0x" + Hex("height")});
  EXPECT_EQ(j["data"], "2a00");
  j = OnJson({"call", "--no-commit", "--meta", "height=0x2a00", "--meta", "chain=01", info, "meta", Hex("chain")});
  EXPECT_EQ(j["data"], "01");
  EXPECT_EQ(On({"call", "--meta", "nokey", info, "meta"}).status, 2);
  EXPECT_EQ(On({"call", "--meta", "k=xyz", info, "meta"}).status, 2);

  // A 64 KiB argument from a file and from standard input (echo returns it).
  const std::string big(65536, 'x');
  std::ofstream(tmp_.Sub("arg.bin"), std::ios::binary) << big;
  j = OnJson({"call", "--no-commit", panicker, "echo", "--arg-file", tmp_.Sub("arg.bin")});
  EXPECT_EQ(j["data"], Hex(big));
  RunResult r = Run({"--store", store_, "--code-cache", cache_->path(), "--json", "call", "--no-commit",
                     "--arg-file", "-", panicker, "echo"},
                    tmp_.Sub("arg.bin"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"data\":\"" + Hex(big) + "\""));
  EXPECT_EQ(On({"call", panicker, "echo", "00", "--arg-file", tmp_.Sub("arg.bin")}).status, 2);
  EXPECT_EQ(On({"call", panicker, "echo", "--arg-file", tmp_.Sub("missing")}).status, 1);

  // Roots by prefix; too short and unknown prefixes.
  const std::vector<std::string> roots = Roots();
  ASSERT_EQ(roots.size(), 2u);
  j = OnJson({"show", roots[0].substr(0, 8)});
  EXPECT_EQ(j["root"], roots[0]);
  r = On({"show", roots[0].substr(0, 7)});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("too short"));
  r = On({"call", "--no-commit", "ffffffffff", "meta"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("no MODULE starting with ffffffffff"));

  // Ambiguity: make commits until two roots share their first hex digit,
  // then ask with a prefix of 8 characters of which only the first matches...
  // A real 8-character collision needs ~2^16 commits, so build one from
  // modules instead: deploy with ids sharing their first 8 hex characters.
  const std::string id1 = "abcdef01" + std::string(56, '1');
  const std::string id2 = "abcdef01" + std::string(56, '2');
  ASSERT_EQ(On({"deploy", "--id", id1, Contract("counter")}).status, 0);
  ASSERT_EQ(On({"deploy", "--id", "0x" + id2, Contract("counter")}).status, 0);
  r = On({"call", "--no-commit", "abcdef01", "read"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("ambiguous"));
  EXPECT_THAT(r.err, HasSubstr(id1));
  EXPECT_THAT(r.err, HasSubstr(id2));
  EXPECT_EQ(OnJson({"call", "--no-commit", "abcdef012", "read"})["data"].get<std::string>().size(), 16u);
}

TEST_F(CliToolTest, CheckAndFunctions) {
  json j = OnJson({"check", Contract("callcenter")});  // no store needed
  EXPECT_EQ(j["ok"], true);
  std::vector<std::string> functions = j["functions"];
  EXPECT_THAT(functions, ::testing::IsSupersetOf({"call", "emit", "feed_n", "read"}));
  std::vector<std::string> imports = j["imports"];
  EXPECT_THAT(imports, ::testing::Contains("c"));
  EXPECT_FALSE(std::filesystem::exists(store_));
  RunResult r = Run({"check", Contract("counter")});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("deploy would accept it"));
  EXPECT_THAT(r.out, HasSubstr("  increment\n"));
  std::ofstream(tmp_.Sub("bad.wasm")) << "not wasm";
  r = Run({"check", tmp_.Sub("bad.wasm")});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("would be rejected by deploy"));
  EXPECT_THAT(r.err, HasSubstr("InvalidModule"));

  Init();
  const std::string counter = Deploy("counter");
  j = OnJson({"functions", counter.substr(0, 10)});
  EXPECT_EQ(j["module"], counter);
  functions = j["functions"].get<std::vector<std::string>>();
  EXPECT_THAT(functions, ::testing::Contains("increment"));
  EXPECT_THAT(functions, Not(::testing::Contains("init")));
}

// prune-code: the store's own code cache keeps what the commits need, and
// loses a deleted commit's contract, another build's objects and the
// leftovers of a crashed build; what is kept serves without compiling.
TEST_F(CliToolTest, PruneCodeRemovesWhatNoCommitNeeds) {
  Init();
  const std::string cache = store_ + "/.cache/code";
  auto objects = [&cache]() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(cache)) n += e.path().extension() == ".so";
    return n;
  };
  RunResult r = Run({"--store", store_, "--json", "deploy", Contract("counter")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string counter = json::parse(r.out)["module"];
  const size_t counter_objects = objects();  // one per code tier
  ASSERT_GE(counter_objects, 1u);
  r = Run({"--store", store_, "deploy", Contract("hostinfo")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> roots = Roots();
  ASSERT_EQ(roots.size(), 2u);
  ASSERT_EQ(On({"delete", roots[1]}).status, 0);  // hostinfo is in no commit now
  std::ofstream(cache + "/" + std::string(64, 'e') + ".so") << "an object of another crust";
  const std::string leftover = cache + "/tmp/0123456789abcdef.999999999.0.work";  // no such pid
  std::filesystem::create_directories(leftover);
  std::filesystem::last_write_time(leftover, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  const size_t before = objects();
  EXPECT_EQ(before, 2 * counter_objects + 1);

  json dry = OnJson({"prune-code", "--dry-run"});
  EXPECT_EQ(dry["dry_run"], true);
  EXPECT_EQ(dry["commits"], 1);
  EXPECT_EQ(dry["modules"], 1);
  EXPECT_EQ(dry["objects"]["kept"], counter_objects);
  EXPECT_EQ(dry["objects"]["removed"], counter_objects + 1);
  EXPECT_EQ(dry["prepared"]["kept"], 1);
  EXPECT_EQ(dry["prepared"]["removed"], 1);
  EXPECT_EQ(dry["leftovers_removed"], 1);
  EXPECT_EQ(objects(), before);

  r = On({"prune-code"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("objects   kept " + std::to_string(counter_objects) + ", "));
  EXPECT_THAT(r.out, HasSubstr("; removed " + std::to_string(counter_objects + 1) + ", "));
  EXPECT_THAT(r.out, HasSubstr("leftovers removed 1"));
  EXPECT_THAT(r.out, HasSubstr("for 1 module(s) in 1 commit(s)\n"));
  EXPECT_EQ(objects(), counter_objects);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  // The counter still answers, from the objects kept (nothing compiled).
  r = Run({"--store", store_, "query", counter, "read"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(objects(), counter_objects);
  json again = OnJson({"prune-code"});
  EXPECT_EQ(again["objects"]["removed"], 0);
  EXPECT_EQ(again["prepared"]["removed"], 0);
}

TEST_F(CliToolTest, DiffStatAndPrune) {
  Init();
  const std::string counter = Deploy("counter");
  ASSERT_EQ(On({"call", counter, "increment"}).status, 0);
  const std::string info = Deploy("hostinfo");
  std::vector<std::string> roots = Roots();
  ASSERT_EQ(roots.size(), 3u);

  json d = OnJson({"diff", roots[0], roots[1]});
  ASSERT_EQ(d["modules"].size(), 1u);
  EXPECT_EQ(d["modules"][0]["id"], counter);
  EXPECT_EQ(d["modules"][0]["change"], "changed");
  EXPECT_EQ(d["modules"][0]["memory_changed"], true);
  EXPECT_GE(d["modules"][0]["changed_pages"].size(), 1u);
  EXPECT_EQ(d["changed_page_bytes"], 4096 * d["modules"][0]["changed_pages"].size());
  d = OnJson({"diff", roots[1].substr(0, 12), roots[2]});
  ASSERT_EQ(d["modules"].size(), 1u);
  EXPECT_EQ(d["modules"][0]["change"], "added");
  RunResult r = On({"diff", roots[0], roots[1]});
  EXPECT_THAT(r.out, HasSubstr("changed  " + counter));
  EXPECT_THAT(r.out, HasSubstr("page(s) of 4 KiB changed"));

  json s = OnJson({"stat"});
  ASSERT_EQ(s["commits"].size(), 3u);
  EXPECT_FALSE(s["commits"][0].contains("parent"));
  EXPECT_EQ(s["commits"][1]["parent"], roots[0]);
  EXPECT_EQ(s["commits"][2]["parent"], roots[1]);
  EXPECT_GT(s["commits"][2]["shared_bytes"].get<uint64_t>(), 0u);
  EXPECT_LT(s["unique_bytes"].get<uint64_t>(), s["apparent_bytes"].get<uint64_t>());
  r = On({"stat", roots[1]});
  EXPECT_THAT(r.out, HasSubstr("delta layer(s)"));
  EXPECT_THAT(r.out, HasSubstr("shared "));

  // prune: dry run first, then for real (keeping the oldest by --keep).
  r = On({"prune", "--keep-last", "1", "--keep", roots[0].substr(0, 8), "--dry-run"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("would delete " + roots[1]));
  EXPECT_EQ(Roots().size(), 3u);
  json p = OnJson({"prune", "--keep-last", "1", "--keep", roots[0]});
  EXPECT_EQ(p["deleted"], json::array({roots[1]}));
  EXPECT_EQ(Roots(), (std::vector<std::string>{roots[0], roots[2]}));
  EXPECT_EQ(On({"verify"}).status, 0);
  EXPECT_EQ(On({"prune"}).status, 2);
  EXPECT_EQ(On({"prune", "--keep-last", "x"}).status, 2);
}

TEST_F(CliToolTest, TerminalOutputEscapesControlCharacters) {
  Init();
  const std::string panicker = Deploy("panicker");
  const std::string cc = Deploy("callcenter");
  // A panic message that would set the terminal's title and clear it (UTF-8,
  // as panic messages must be: U+009B is the C1 control sequence introducer).
  const std::string evil = "\x1b]0;owned\x07\x1b[2J\xc2\x9b done";
  RunResult r = On({"call", panicker, "panic", Hex(evil)});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, Not(HasSubstr("\x1b")));
  EXPECT_THAT(r.err, Not(HasSubstr("\x07")));
  EXPECT_THAT(r.err, HasSubstr("\\x1b]0;owned\\x07\\x1b[2J\\u{9b} done"));
  // The JSON error keeps the message, escaped as JSON.
  json j = OnJson({"call", panicker, "panic", Hex(evil)}, 1);
  EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr("owned"));
  // An event topic with escapes.
  r = On({"call", "--no-commit", cc, "emit", U32(4) + Hex("\x1b[2J") + "00"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("event      \\x1b[2J 00"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b")));
}

TEST_F(CliToolTest, VersionAndCompletion) {
  RunResult r = Run({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, ::testing::MatchesRegex("crust [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  r = Run({"completion", "bash"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("complete -F _crust crust"));
  for (const char* command : {"init", "check", "functions", "diff", "stat", "prune", "ui", "call"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("    ") + command + ") opts=")) << command;
  }
  EXPECT_THAT(r.out, HasSubstr("--keep-last"));
  EXPECT_EQ(Run({"completion", "zsh"}).status, 2);
  // Every command has help that names its usage.
  for (const char* command : {"init", "check", "functions", "diff", "stat", "prune", "prune-code", "ui", "completion"}) {
    r = Run({command, "--help"});
    EXPECT_EQ(r.status, 0) << command;
    EXPECT_THAT(r.out, HasSubstr(std::string("Usage: crust [--store DIR] [--json] ") + command)) << command;
  }
}

}  // namespace
}  // namespace crust
