// Copyright (c) crust authors. Licensed under the MIT license.
//
// Tests of the tool's execution commands (deploy, call, run): the built tool
// (CRUST_TOOL_PATH) runs the example contracts built by CMake
// (CRUST_BINARY_DIR/contracts/*.wasm) as a child process; its stdout, stderr,
// exit status and the resulting commits are checked. Every test has its own
// store but all share one code cache (--code-cache), so each contract is
// compiled once per test run.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>

#include "crust/store.h"
#include "tests/cli_util.h"
#include "tests/test_util.h"

extern char** environ;

namespace crust {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using crust::testing::RunResult;
using crust::testing::ReadAll;


std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

// The value of `key` in a flat JSON object as printed by the tool: a string's
// contents or a number's digits; nullopt when the key is absent.
std::optional<std::string> Field(const std::string& json, const std::string& key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\":\"([^\"]*)\""))) return m[1].str();
  if (std::regex_search(json, m, std::regex("\"" + key + "\":([0-9]+)"))) return m[1].str();
  return std::nullopt;
}

bool IsHex64(const std::optional<std::string>& s) {
  return s && std::regex_match(*s, std::regex("[0-9a-f]{64}"));
}

std::string Contract(const std::string& name) { return std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm"; }

using crust::testing::HexOf;

std::string U64(uint64_t v) {
  std::string hex;
  for (int i = 0; i < 8; i++) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned>((v >> (8 * i)) & 0xff));
    hex += buf;
  }
  return hex;
}

std::string U32(uint32_t v) { return U64(v).substr(0, 8); }

class CliExecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cache_ = new testing::TempDir(); }
  static void TearDownTestSuite() {
    delete cache_;
    cache_ = nullptr;
  }

  void SetUp() override {
    store_dir_ = tmp_.Sub("store");
    ASSERT_EQ(Run({"init", store_dir_}).status, 0);
    for (const char* name : {"counter", "box", "fibonacci", "panicker"}) {
      ASSERT_TRUE(std::filesystem::exists(Contract(name))) << Contract(name) << " (build crust_contracts)";
    }
  }

  RunResult Run(const std::vector<std::string>& args) {
    const std::string out_path = tmp_.Sub("out" + std::to_string(runs_));
    const std::string err_path = tmp_.Sub("err" + std::to_string(runs_++));
    return crust::testing::RunTool(args, out_path, err_path);
  }

  // deploy/call/run on the test's store with the shared code cache.
  RunResult Exec(std::vector<std::string> args, const std::string& store = "") {
    args.insert(args.begin(), {"--store", store.empty() ? store_dir_ : store, "--code-cache", cache_->path()});
    return Run(args);
  }

  std::vector<std::string> Commits(const std::string& store = "") {
    RunResult r = Run({"--store", store.empty() ? store_dir_ : store, "--json", "commits"});
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::string> roots;
    const std::regex root("\"root\":\"([0-9a-f]{64})\"");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), root), end; it != end; ++it) {
      roots.push_back((*it)[1].str());
    }
    return roots;
  }

  // Deploys `contract` with --json (extra options first); returns the module id
  // and sets *root.
  std::string Deploy(const std::string& contract, std::vector<std::string> options = {}, std::string* root = nullptr) {
    std::vector<std::string> args = {"--json", "deploy"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(Contract(contract));
    RunResult r = Exec(args);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(IsHex64(Field(r.out, "module"))) << r.out;
    EXPECT_TRUE(IsHex64(Field(r.out, "root"))) << r.out;
    if (root) *root = Field(r.out, "root").value_or("");
    return Field(r.out, "module").value_or("");
  }

  struct CallOut {
    std::string data;
    uint64_t gas = 0;
    std::optional<std::string> root;
  };
  CallOut Call(std::vector<std::string> args) {
    args.insert(args.begin(), {"--json", "call"});
    RunResult r = Exec(args);
    EXPECT_EQ(r.status, 0) << r.err;
    CallOut c;
    c.data = Field(r.out, "data").value_or("?");
    c.gas = std::stoull(Field(r.out, "gas_spent").value_or("0"));
    c.root = Field(r.out, "root");
    EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;
    return c;
  }

  std::string WriteScript(const std::string& name, const std::string& text) {
    const std::string path = tmp_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  static testing::TempDir* cache_;
  testing::TempDir tmp_;
  std::string store_dir_;
  int runs_ = 0;
};

testing::TempDir* CliExecTest::cache_ = nullptr;

TEST_F(CliExecTest, CliExecDeployAndCallCounterOverCommits) {
  std::string root0;
  const std::string counter = Deploy("counter", {"--genesis"}, &root0);
  EXPECT_EQ(Commits(), std::vector<std::string>{root0});

  CallOut c1 = Call({counter, "increment"});
  EXPECT_EQ(c1.data, U64(1));
  EXPECT_GT(c1.gas, 0u);
  ASSERT_TRUE(IsHex64(c1.root));
  EXPECT_NE(*c1.root, root0);

  CallOut c2 = Call({counter, "add", U64(41)});
  EXPECT_EQ(c2.data, U64(42));
  ASSERT_TRUE(IsHex64(c2.root));
  EXPECT_NE(*c2.root, *c1.root);
  EXPECT_EQ(Commits(), (std::vector<std::string>{root0, *c1.root, *c2.root}));

  // --no-commit: the result is shown, no root, the commits do not change.
  CallOut c3 = Call({"--no-commit", counter, "increment"});
  EXPECT_EQ(c3.data, U64(43));
  EXPECT_FALSE(c3.root.has_value());
  EXPECT_EQ(Call({counter, "read", "--no-commit"}).data, U64(42));
  EXPECT_EQ(Commits().size(), 3u);
  {
    // --no-commit needs no write lock: it runs while a writer holds it.
    auto writer = Store::Open(store_dir_);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    EXPECT_EQ(Call({counter, "read", "--no-commit"}).data, U64(42));
  }

  // Human output.
  RunResult r = Exec({"call", counter, "read", "--no-commit"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("data       " + U64(42) + "\n"));
  EXPECT_THAT(r.out, HasSubstr("gas spent  "));
  EXPECT_THAT(r.out, HasSubstr("not committed"));
  r = Exec({"deploy", "--nonce", "7", Contract("counter")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::MatchesRegex("module  [0-9a-f]{64}\nroot    [0-9a-f]{64}\n"));

  // The same code, owner and nonce give the same id: taken.
  r = Exec({"deploy", Contract("counter")});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("AlreadyExists"));
}

TEST_F(CliExecTest, CliExecDeployIdOwnerInit) {
  const std::string id = std::string(63, '0') + "7";
  EXPECT_EQ(Deploy("counter", {"--id", id, "--owner", "abcd", "--init", U64(1000)}), id);
  EXPECT_EQ(Call({id, "read"}).data, U64(1000));
  EXPECT_EQ(Call({id, "increment"}).data, U64(1001));

  // init runs once: it cannot be called afterwards.
  RunResult r = Exec({"call", id, "init", U64(5)});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("init"));

  // A derived id depends on the owner and the nonce.
  const std::string a = Deploy("counter", {"--owner", "01"});
  const std::string b = Deploy("counter", {"--owner", "02"});
  const std::string c = Deploy("counter", {"--owner", "02", "--nonce", "1"});
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);

  // An init that fails fails the deploy, which commits nothing.
  const size_t commits = Commits().size();
  r = Exec({"deploy", "--init", "01", Contract("counter")});  // wrong length: panics
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("Panic"));
  r = Exec({"deploy", "--init", U64(3), "--gas", "1", "--nonce", "9", Contract("counter")});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("OutOfGas"));
  EXPECT_EQ(Commits().size(), commits);
}

TEST_F(CliExecTest, CliExecPanicAndTrapExitOne) {
  const std::string p = Deploy("panicker");
  const size_t commits = Commits().size();

  RunResult r = Exec({"call", p, "panic", HexOf("no means no")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("Panic: no means no"));

  r = Exec({"--json", "call", p, "maybe_panic", "01" + HexOf("stop")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Field(r.err, "code"), "Panic");
  EXPECT_THAT(Field(r.err, "message").value_or(""), HasSubstr("stop"));
  EXPECT_GT(std::stoull(Field(r.err, "gas_spent").value_or("0")), 0u);
  EXPECT_EQ(Call({p, "maybe_panic", "00" + HexOf("go"), "--no-commit"}).data, HexOf("go"));

  // A state change before the panic is not committed.
  r = Exec({"call", p, "set_then_panic", U64(9)});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("set_then_panic"));
  EXPECT_EQ(Call({p, "get", "--no-commit"}).data, U64(0));

  r = Exec({"call", p, "unreachable"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("Trap: unreachable"));
  r = Exec({"--json", "call", p, "divide", U32(1) + U32(0)});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Field(r.err, "code"), "Trap");
  EXPECT_EQ(Commits().size(), commits);  // failed calls commit nothing
}

TEST_F(CliExecTest, CliExecOutOfGas) {
  const std::string p = Deploy("panicker");
  const size_t commits = Commits().size();
  RunResult r = Exec({"call", "--gas", "100000", p, "spin"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("OutOfGas"));
  r = Exec({"--json", "call", p, "spin", "--gas=5000"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Field(r.err, "code"), "OutOfGas");
  EXPECT_EQ(Field(r.err, "gas_spent"), "5000");
  EXPECT_EQ(Commits().size(), commits);
  // Enough gas: the same loop ends.
  CallOut c = Call({p, "burn", U32(1000), "--gas", "1000000"});
  EXPECT_EQ(c.data, U32(1000));
  EXPECT_GT(c.gas, 1000u);
  EXPECT_LE(c.gas, 1000000u);
}

TEST_F(CliExecTest, CliExecUnknownModuleOrFunction) {
  const std::string counter = Deploy("counter");
  RunResult r = Exec({"call", std::string(64, 'e'), "read"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("NotFound"));
  r = Exec({"--json", "call", counter, "no_such_function"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Field(r.err, "code"), "NotFound");
  EXPECT_THAT(Field(r.err, "message").value_or(""), HasSubstr("no_such_function"));
  r = Exec({"call", "--base", std::string(64, 'a'), counter, "read"});
  EXPECT_EQ(r.status, 1);  // no such commit
  r = Exec({"deploy", tmp_.Sub("missing.wasm")});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("missing.wasm"));
  // Bytes that are not WebAssembly.
  std::ofstream(tmp_.Sub("bad.wasm")) << "not wasm";
  r = Exec({"deploy", tmp_.Sub("bad.wasm")});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("InvalidModule"));
}

TEST_F(CliExecTest, CliExecUsageErrors) {
  const std::string counter = Deploy("counter");
  const size_t commits = Commits().size();
  const std::vector<std::vector<std::string>> cases = {
      {"call", counter, "add", "abc"},            // odd length
      {"call", counter, "add", "zz"},             // not hex
      {"call", "1234", "read"},                   // short module id
      {"call", counter},                          // no function
      {"call", counter, "read", "00", "extra"},   // too many
      {"call", "--gas", "lots", counter, "read"},
      {"call", "--genesis", counter, "read"},     // not an option of call
      {"deploy"},                                 // no file
      {"deploy", "--id", "xyz", Contract("counter")},
      {"deploy", "--owner", "0", Contract("counter")},
      {"deploy", "--init", "g0", Contract("counter")},
      {"deploy", "--nonce", "-1", Contract("counter")},
      {"deploy", "--base", std::string(64, '0'), "--genesis", Contract("counter")},
      {"deploy", "--frobnicate", Contract("counter")},
      {"run"},
  };
  for (const auto& args : cases) {
    RunResult r = Exec(args);
    std::string line;
    for (const std::string& a : args) line += a + " ";
    EXPECT_EQ(r.status, 2) << line << "\n" << r.err;
    EXPECT_EQ(r.out, "") << line;
  }
  EXPECT_EQ(Commits().size(), commits);
}

TEST_F(CliExecTest, CliExecOlderBase) {
  std::string root0;
  const std::string counter = Deploy("counter", {}, &root0);
  const std::string root1 = *Call({counter, "increment"}).root;
  const std::string root2 = *Call({counter, "increment"}).root;
  const std::string root3 = *Call({counter, "increment"}).root;
  EXPECT_EQ(Call({"--base", root1, counter, "read", "--no-commit"}).data, U64(1));
  EXPECT_EQ(Call({"--base", root0, counter, "read", "--no-commit"}).data, U64(0));
  // The same state gives the same root: incrementing root1's counter is root2.
  CallOut again = Call({"--base", root1, counter, "increment"});
  EXPECT_EQ(again.data, U64(2));
  EXPECT_EQ(again.root, root2);
  // Without --base: the most recently created commit (root3).
  EXPECT_EQ(Call({counter, "read", "--no-commit"}).data, U64(3));
  // A deploy on an older base does not see later modules... and --genesis sees none.
  RunResult r = Exec({"call", "--create", counter, "read"}, tmp_.Sub("empty-store"));
  EXPECT_EQ(r.status, 1);  // a new store: genesis, no module
  std::string other_root;
  const std::string fib = Deploy("fibonacci", {"--genesis"}, &other_root);
  r = Exec({"call", "--base", other_root, counter, "read"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("NotFound"));
  EXPECT_EQ(Call({"--base", other_root, fib, "fib", U32(10), "--no-commit"}).data, U64(55));
}

constexpr char kScript[] =
    "# A script: three contracts over two commits.\n"
    "\n"
    "deploy wasm/counter.wasm --init 0a00000000000000\n"
    "deploy wasm/box.wasm   # a key-value box\n"
    "deploy wasm/fibonacci.wasm --id 00000000000000000000000000000000000000000000000000000000000000f1\n"
    "call $1 increment\n"
    "call $2 set 010000006b7631 --gas 10000000\n"
    "  commit\n"
    "\t# indented comment\n"
    "call $3 fib 14000000\n"
    "call $2 get 6b\n"
    "call $1 add 0500000000000000\n"
    "commit\n"
    "call $1 increment  # not committed\n";

// Copies the contracts next to a script (relative FILE paths).
std::string ScriptDir(const testing::TempDir& tmp, const std::string& name) {
  const std::string dir = tmp.Sub(name);
  std::filesystem::create_directories(dir + "/wasm");
  for (const char* c : {"counter", "box", "fibonacci", "panicker"}) {
    std::filesystem::copy_file(Contract(c), dir + "/wasm/" + c + ".wasm");
  }
  return dir;
}

TEST_F(CliExecTest, CliExecRunScriptJsonAndHuman) {
  const std::string dir = ScriptDir(tmp_, "scripts");
  const std::string script = dir + "/demo.run";
  std::ofstream(script) << kScript;

  RunResult r = Exec({"--json", "run", script});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 11u) << r.out;
  const std::vector<std::string> ops = {"deploy", "deploy", "deploy", "call",   "call", "commit",
                                        "call",   "call",   "call",   "commit", "call"};
  for (size_t i = 0; i < lines.size(); i++) EXPECT_EQ(Field(lines[i], "op"), ops[i]) << lines[i];
  const std::string counter = *Field(lines[0], "module");
  EXPECT_TRUE(IsHex64(Field(lines[1], "module")));
  EXPECT_EQ(Field(lines[2], "module"), std::string(62, '0') + "f1");
  EXPECT_EQ(Field(lines[3], "data"), U64(11));
  EXPECT_EQ(Field(lines[4], "data"), U32(1));
  EXPECT_GT(std::stoull(Field(lines[4], "gas_spent").value_or("0")), 0u);
  EXPECT_EQ(Field(lines[6], "data"), U64(6765));
  EXPECT_EQ(Field(lines[7], "data"), "01" + HexOf("v1"));
  EXPECT_EQ(Field(lines[8], "data"), U64(16));
  EXPECT_EQ(Field(lines[10], "data"), U64(17));
  const std::string root_a = *Field(lines[5], "root"), root_b = *Field(lines[9], "root");
  EXPECT_NE(root_a, root_b);
  EXPECT_EQ(Commits(), (std::vector<std::string>{root_a, root_b}));
  // The last line's increment was not committed.
  EXPECT_EQ(Call({counter, "read", "--no-commit"}).data, U64(16));

  // Human output, from another directory, on a fresh store: same ids and roots.
  const std::string other = tmp_.Sub("store2");
  r = Exec({"run", "--create", "--genesis", script}, other);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("line 3: deploy wasm/counter.wasm --init 0a00000000000000\n    module $1 = " + counter));
  EXPECT_THAT(r.out, HasSubstr("line 6: call $1 increment\n    data " + U64(11) + ", gas spent "));
  EXPECT_THAT(r.out, HasSubstr("line 8: commit\n    root " + root_a));
  EXPECT_THAT(r.out, HasSubstr("line 13: commit\n    root " + root_b));
  EXPECT_THAT(r.out, HasSubstr("not committed"));
  EXPECT_EQ(Commits(other), (std::vector<std::string>{root_a, root_b}));

  // A script's ids can be used by later commands; run continues from the newest commit.
  const std::string more = WriteScript("more.run", "call " + counter + " read\ncall " + counter + " increment\ncommit\n");
  r = Exec({"--json", "run", more});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Field(Lines(r.out)[0], "data"), U64(16));
  EXPECT_EQ(Field(Lines(r.out)[1], "data"), U64(17));
  // From an older base.
  r = Exec({"--json", "run", "--base", root_a, more});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Field(Lines(r.out)[0], "data"), U64(11));
}

TEST_F(CliExecTest, CliExecRunFailingLine) {
  const std::string dir = ScriptDir(tmp_, "scripts");
  const std::string script = dir + "/fail.run";
  std::ofstream(script) << "deploy wasm/panicker.wasm\n"
                           "call $1 set 0500000000000000\n"
                           "commit\n"
                           "\n"
                           "call $1 set 0600000000000000\n"
                           "call $1 panic 6e6f206d65616e73206e6f\n"
                           "commit\n";
  RunResult r = Exec({"run", script});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("fail.run:6"));
  EXPECT_THAT(r.err, HasSubstr("Panic: no means no"));
  EXPECT_THAT(r.out, HasSubstr("line 3: commit"));
  EXPECT_THAT(r.out, Not(HasSubstr("line 7")));
  const std::vector<std::string> commits = Commits();
  ASSERT_EQ(commits.size(), 1u);  // line 3's commit stays
  r = Exec({"--json", "run", "--create", script}, tmp_.Sub("store2"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(Lines(r.out).size(), 4u) << r.out;
  EXPECT_EQ(Field(r.err, "code"), "Panic");
  EXPECT_EQ(Field(r.err, "line"), "6");

  // Malformed lines are found before anything runs: usage error, no commit.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"deploy wasm/counter.wasm\ncommit\ncall $1 add 0g\n", "bad.run:3"},
      {"commit\ncall $2 read\n", "bad.run:2"},
      {"deploy wasm/counter.wasm --colour red\n", "bad.run:1"},
      {"# comment\nfrobnicate\n", "bad.run:2"},
      {"deploy wasm/counter.wasm\ncommit now\n", "bad.run:2"},
      {"call " + std::string(64, '0') + "\n", "bad.run:1"},
  };
  for (const auto& [text, where] : bad) {
    std::ofstream(dir + "/bad.run") << text;
    r = Exec({"run", dir + "/bad.run"});
    EXPECT_EQ(r.status, 2) << text << r.err;
    EXPECT_THAT(r.err, HasSubstr(where)) << text;
    EXPECT_EQ(r.out, "");
  }
  std::ofstream(dir + "/bad.run") << "commit\ndeploy wasm/nothing.wasm\n";
  r = Exec({"run", dir + "/bad.run"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.run:2"));
  EXPECT_EQ(Commits(), commits);
  r = Exec({"run", dir + "/no-such-script"});
  EXPECT_EQ(r.status, 1);
}

TEST_F(CliExecTest, CliExecHelp) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* usage : {"deploy [--base ROOT | --genesis]", "call [--base ROOT]", "run [--base ROOT | --genesis]"}) {
    EXPECT_THAT(r.out, HasSubstr(usage));
  }
  for (const char* command : {"deploy", "call", "run"}) {
    RunResult c = Run({command, "--help"});
    EXPECT_EQ(c.status, 0) << command;
    EXPECT_THAT(c.out, HasSubstr(std::string("Usage: crust [--store DIR] [--json] ") + command));
    EXPECT_THAT(c.out, HasSubstr("--code-cache DIR"));
  }
  EXPECT_THAT(Run({"run", "--help"}).out, HasSubstr("$N"));
}

// Dusk's mainnet transfer contract (memory64) through the CLI: deploys and
// answers its read-only queries (fixture: <source>/../shared/piecrust-contracts).
TEST_F(CliExecTest, CliExecMemory64TransferContract) {
  std::string wasm = std::string(CRUST_SOURCE_DIR) + "/../shared/piecrust-contracts/transfer_contract.wasm";
  if (!std::filesystem::exists(wasm)) {  // a source tree in a worktree directory
    wasm = std::string(CRUST_SOURCE_DIR) + "/../../shared/piecrust-contracts/transfer_contract.wasm";
  }
  ASSERT_TRUE(std::filesystem::exists(wasm)) << "fixture missing: " << wasm;
  RunResult r = Exec({"--json", "deploy", "--genesis", wasm});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string id = Field(r.out, "module").value_or("");
  ASSERT_TRUE(IsHex64(id)) << r.out;
  CallOut notes = Call({"--no-commit", id, "num_notes"});
  EXPECT_EQ(notes.data, U64(0));
  CallOut root = Call({"--no-commit", id, "root"});
  EXPECT_TRUE(IsHex64(root.data)) << root.data;  // 32 bytes
  EXPECT_EQ(Call({"--no-commit", id, "root"}).data, root.data);
}

}  // namespace
}  // namespace crust
