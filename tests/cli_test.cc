// Copyright (c) crust authors. Licensed under the MIT license.
//
// Tests of the `crust` command-line tool: a store is built through the public
// API, then the built tool (CRUST_TOOL_PATH) is run as a child process and its
// stdout, stderr and exit status are checked.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include <gmock/gmock.h>

#include "tests/cli_util.h"
#include "tests/test_util.h"

extern char** environ;

namespace crust {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kPage = 64 * 1024;

using crust::testing::RunResult;
using crust::testing::ReadAll;


ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[0] = 0xC0;
  id.bytes[31] = n;
  return id;
}

Bytes Fill(size_t n, uint8_t value) { return Bytes(n, value); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { store_dir_ = tmp_.Sub("store"); }

  // Runs the tool with `args`, capturing stdout and stderr in files.
  RunResult Run(const std::vector<std::string>& args) {
    const std::string out_path = tmp_.Sub("out" + std::to_string(runs_));
    const std::string err_path = tmp_.Sub("err" + std::to_string(runs_++));
    return crust::testing::RunTool(args, out_path, err_path);
  }
  // Runs with --store <the test store> first.
  RunResult RunOnStore(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", store_dir_});
    return Run(args);
  }

  // Two commits: genesis with modules 1 and 2; then module 1 changed and
  // module 3 added. The store is closed afterwards.
  void BuildStore() {
    auto opened = Store::Open(store_dir_, StoreOptions{.sync = false});
    ASSERT_OK(opened);
    std::unique_ptr<Store> store = std::move(opened).value();
    {
      ASSERT_OK_AND_ASSIGN(auto s, store->StartGenesis());
      ASSERT_OK(s->AddModule(Id(1), Fill(100, 0xB1), Fill(10, 7), kPage, Fill(3, 0xAA)));
      ASSERT_OK(s->AddModule(Id(2), Fill(50, 0xB2), {}, 2 * kPage));
      ASSERT_OK_AND_ASSIGN(root1_, s->Commit());
      ASSERT_OK(s->WriteMemory(Id(1), 5000, Fill(20, 9)));
      ASSERT_OK(s->AddModule(Id(3), Fill(30, 0xB3), Fill(4096, 3), 3 * kPage));
      ASSERT_OK_AND_ASSIGN(root2_, s->Commit());
    }
    ASSERT_OK_AND_ASSIGN(commits_, store->ListCommits());
    ASSERT_OK_AND_ASSIGN(show2_, store->ShowCommit(root2_));
  }

  std::unique_ptr<Store> OpenForWriting() {
    auto store = Store::Open(store_dir_, StoreOptions{.create_if_missing = false, .sync = false});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  testing::TempDir tmp_;
  std::string store_dir_;
  int runs_ = 0;
  Root root1_, root2_;
  std::vector<CommitInfo> commits_;
  CommitInfo show2_;
};

// --- commits ---

TEST_F(CliTest, CliCommitsHuman) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  RunResult r = RunOnStore({"commits"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], HasSubstr("ROOT"));
  // Oldest first, with module counts.
  EXPECT_EQ(lines[1].substr(0, 64), root1_.ToHex());
  EXPECT_EQ(lines[2].substr(0, 64), root2_.ToHex());
  EXPECT_THAT(lines[1], ::testing::EndsWith("  2"));
  EXPECT_THAT(lines[2], ::testing::EndsWith("  3"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex(".*  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z  2"));
}

TEST_F(CliTest, CliCommitsJson) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  ASSERT_EQ(commits_.size(), 2u);
  RunResult r = RunOnStore({"commits", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"commits\":[{\"root\":\"" + root1_.ToHex() + "\",\"created_unix_ns\":" +
                       std::to_string(commits_[0].created_unix_ns) + "},{\"root\":\"" + root2_.ToHex() +
                       "\",\"created_unix_ns\":" + std::to_string(commits_[1].created_unix_ns) + "}]}\n");
}

// A regular file named like a root is not a commit: `commits` and the
// default base of a write ignore it.
TEST_F(CliTest, CliCommitsIgnoresStrayRootNamedFile) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  { std::ofstream(store_dir_ + "/" + std::string(64, 'f')) << "stray"; }
  RunResult r = RunOnStore({"commits"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 3u) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr(std::string(64, 'f'))));
}

TEST_F(CliTest, CliCommitsEmptyStore) {
  ASSERT_OK(Store::Open(store_dir_));
  RunResult r = RunOnStore({"commits"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("no commits"));
  r = RunOnStore({"--json", "commits"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"commits\":[]}\n");
}

// --- show ---

TEST_F(CliTest, CliShowHuman) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  RunResult r = RunOnStore({"show", root2_.ToHex()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("commit   " + root2_.ToHex()));
  EXPECT_THAT(r.out, HasSubstr("modules  3"));
  ASSERT_EQ(show2_.modules.size(), 3u);
  for (const ModuleInfo& m : show2_.modules) {
    EXPECT_THAT(r.out, HasSubstr("module " + m.id.ToHex()));
    EXPECT_THAT(r.out, HasSubstr("bytecode hash  " + m.bytecode_hash.ToHex()));
    EXPECT_THAT(r.out, HasSubstr("memory hash    " + m.memory_hash.ToHex()));
    EXPECT_THAT(r.out, HasSubstr("(" + std::to_string(m.memory_length) + " bytes)"));
  }
  EXPECT_THAT(r.out, HasSubstr("bytecode size  100 bytes"));
  EXPECT_THAT(r.out, HasSubstr("metadata       aaaaaa"));
  EXPECT_THAT(r.out, HasSubstr("metadata       (none)"));
  EXPECT_THAT(r.out, HasSubstr("delta layers   "));
}

TEST_F(CliTest, CliShowJson) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  RunResult r = RunOnStore({"--json", "show", root2_.ToHex()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string expected = "{\"root\":\"" + root2_.ToHex() + "\",\"created_unix_ns\":" +
                         std::to_string(show2_.created_unix_ns) + ",\"modules\":[";
  for (size_t i = 0; i < show2_.modules.size(); i++) {
    const ModuleInfo& m = show2_.modules[i];
    expected += std::string(i ? "," : "") + "{\"id\":\"" + m.id.ToHex() + "\",\"bytecode_hash\":\"" +
                m.bytecode_hash.ToHex() + "\",\"bytecode_size\":" + std::to_string(m.bytecode_size) +
                ",\"memory_hash\":\"" + m.memory_hash.ToHex() + "\",\"memory_length\":" +
                std::to_string(m.memory_length) + ",\"delta_layers\":" + std::to_string(m.delta_layers) +
                ",\"metadata\":\"" + ToHex(m.metadata) + "\"}";
  }
  expected += "]}\n";
  EXPECT_EQ(r.out, expected);
  // Values match what was built: sizes, lengths, metadata, a delta on module 1.
  EXPECT_THAT(r.out, HasSubstr("\"id\":\"" + Id(1).ToHex() + "\""));
  EXPECT_THAT(r.out, HasSubstr("\"bytecode_size\":100,"));
  EXPECT_THAT(r.out, HasSubstr("\"memory_length\":" + std::to_string(3 * kPage) + ","));
  EXPECT_THAT(r.out, HasSubstr("\"metadata\":\"aaaaaa\""));
  EXPECT_EQ(show2_.modules[0].delta_layers, 1u);
}

// --- verify ---

TEST_F(CliTest, CliVerifyAllOk) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  RunResult r = RunOnStore({"verify"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "OK       " + root1_.ToHex() + "\nOK       " + root2_.ToHex() + "\n");
  EXPECT_EQ(r.err, "");
  r = RunOnStore({"verify", root2_.ToHex(), "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"commits\":[{\"root\":\"" + root2_.ToHex() + "\",\"ok\":true}],\"ok\":true}\n");
}

TEST_F(CliTest, CliVerifyCorruptionNamesFile) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  // Module 3 exists only in the second commit: its memory file is not shared.
  const std::string file = store_dir_ + "/" + root2_.ToHex() + "/memory/" + Id(3).ToHex();
  ASSERT_EQ(chmod(file.c_str(), 0644), 0) << file;
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << file;
    char c;
    f.seekg(100);
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x01));
  }
  RunResult r = RunOnStore({"verify"});
  EXPECT_EQ(r.status, 1);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "OK       " + root1_.ToHex());
  EXPECT_THAT(lines[1], ::testing::StartsWith("CORRUPT  " + root2_.ToHex() + ": "));
  EXPECT_THAT(lines[1], HasSubstr(root2_.ToHex() + "/memory/" + Id(3).ToHex()));
  EXPECT_THAT(r.err, HasSubstr("crust: 1 of 2 commit(s) failed verification"));

  r = RunOnStore({"--json", "verify", root2_.ToHex()});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("\"ok\":false,\"error\":{\"code\":\"Corruption\",\"message\":\""));
  EXPECT_THAT(r.out, HasSubstr("/memory/" + Id(3).ToHex()));
  EXPECT_THAT(r.err, ::testing::StartsWith("{\"error\":{\"code\":\"Corruption\""));
  // The first commit alone still verifies.
  EXPECT_EQ(RunOnStore({"verify", root1_.ToHex()}).status, 0);
}

TEST_F(CliTest, CliVerifyEmptyStore) {
  ASSERT_OK(Store::Open(store_dir_));
  RunResult r = RunOnStore({"verify"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("no commits"));
}

// --- delete ---

TEST_F(CliTest, CliDeleteRemovesCommit) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  RunResult r = RunOnStore({"delete", root1_.ToHex()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "deleted " + root1_.ToHex() + "\n");
  r = RunOnStore({"commits", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr(root1_.ToHex())));
  EXPECT_THAT(r.out, HasSubstr(root2_.ToHex()));
  EXPECT_EQ(RunOnStore({"verify"}).status, 0);
  // Deleting it again: not found.
  r = RunOnStore({"delete", root1_.ToHex()});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr(root1_.ToHex()));
}

TEST_F(CliTest, CliDeleteNoWaitJson) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  // Options before or after the command.
  RunResult r = RunOnStore({"--no-wait", "--json", "delete", root2_.ToHex()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"deleted\":\"" + root2_.ToHex() + "\"}\n");
  r = Run({"delete", root1_.ToHex(), "--no-wait", "--store=" + store_dir_});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(RunOnStore({"--json", "commits"}).out, "{\"commits\":[]}\n");
}

TEST_F(CliTest, CliDeleteWhileStoreHeldForWriting) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  std::unique_ptr<Store> writer = OpenForWriting();
  ASSERT_NE(writer, nullptr);
  RunResult r = RunOnStore({"delete", root1_.ToHex()});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("crust: "));
  EXPECT_THAT(r.err, HasSubstr(std::to_string(getpid())));
  r = RunOnStore({"--json", "delete", "--no-wait", root1_.ToHex()});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("{\"error\":{\"code\":\"Busy\""));
  EXPECT_THAT(r.err, HasSubstr(std::to_string(getpid())));
  ASSERT_OK_AND_ASSIGN(auto commits, writer->ListCommits());
  EXPECT_EQ(commits.size(), 2u);
}

TEST_F(CliTest, CliReadOnlyCommandsBesideWriter) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  std::unique_ptr<Store> writer = OpenForWriting();
  ASSERT_NE(writer, nullptr);
  ASSERT_OK_AND_ASSIGN(auto session, writer->StartSession(root2_));
  RunResult r = RunOnStore({"commits"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(root2_.ToHex()));
  r = RunOnStore({"show", root1_.ToHex()});
  EXPECT_EQ(r.status, 0) << r.err;
  r = RunOnStore({"verify"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 2u);
  // The writer can still commit while they run.
  ASSERT_OK(session->WriteMemory(Id(2), 0, Fill(8, 1)));
  ASSERT_OK_AND_ASSIGN(Root root3, session->Commit());
  r = RunOnStore({"verify", root3.ToHex()});
  EXPECT_EQ(r.status, 0) << r.err;
}

// --- errors ---

TEST_F(CliTest, CliUnknownRootFails) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  const std::string unknown(64, 'e');
  for (const char* command : {"show", "verify", "delete"}) {
    RunResult r = RunOnStore({command, unknown});
    EXPECT_EQ(r.status, 1) << command;
    EXPECT_THAT(r.err, HasSubstr(unknown)) << command;
    EXPECT_THAT(r.err, ::testing::StartsWith("crust: ")) << command;
  }
  RunResult r = RunOnStore({"--json", "show", unknown});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, ::testing::StartsWith("{\"error\":{\"code\":\"NotFound\",\"message\":\""));
  EXPECT_THAT(r.err, HasSubstr(unknown));
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, CliMalformedHexIsUsageError) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  const std::string short_root = root1_.ToHex().substr(0, 7);  // prefixes need 8 characters
  const std::string bad_digit = std::string(63, 'a') + "g";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"show", short_root}, {"delete", bad_digit}, {"verify", root1_.ToHex(), bad_digit}}) {
    RunResult r = RunOnStore(args);
    EXPECT_EQ(r.status, 2) << args[0];
    EXPECT_THAT(r.err, HasSubstr(args.back())) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
  }
  RunResult r = RunOnStore({"--json", "show", "xyz"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("{\"error\":{\"code\":\"InvalidArgument\""));
  EXPECT_THAT(r.err, HasSubstr("ROOT 'xyz' is not hex"));
}

TEST_F(CliTest, CliUsageErrors) {
  ASSERT_NO_FATAL_FAILURE(BuildStore());
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"commits", "--frob"}, "unknown option '--frob'"},
      {{"--frob", "commits"}, "unknown option '--frob'"},
      {{"-x", "commits"}, "unknown option '-x'"},
      {{"show", "--no-wait", root1_.ToHex()}, "option --no-wait is not valid for 'show'"},
      {{"show"}, "'show' needs an argument"},
      {{"show", root1_.ToHex(), root2_.ToHex()}, "too many arguments"},
      {{"commits", "extra"}, "too many arguments"},
      {{"commits", "--json=yes"}, "option --json takes no value"},
      {{}, "no command given"},
  };
  for (const Case& c : cases) {
    RunResult r = RunOnStore(c.args);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_THAT(r.err, HasSubstr("crust: " + c.message));
    EXPECT_EQ(r.out, "") << c.message;
  }
  RunResult r = Run({"commits", "--store"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("--store needs a value"));
  r = Run({"--json", "frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "{\"error\":{\"code\":\"InvalidArgument\",\"message\":\"unknown command 'frobnicate'\"}}\n");
}

TEST_F(CliTest, CliMissingStore) {
  const std::string missing = tmp_.Sub("no-such-store");
  const std::string root(64, 'a');
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"commits"}, {"show", root}, {"verify"}, {"delete", root}}) {
    std::vector<std::string> full = {"--store", missing};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_EQ(r.status, 1) << args[0];
    EXPECT_THAT(r.err, HasSubstr("crust: no crust store at " + missing + ": create one with 'crust init")) << args[0];
    EXPECT_FALSE(std::filesystem::exists(missing)) << args[0] << " created the store";
  }
}

TEST_F(CliTest, CliJsonErrorEscaping) {
  // The store name holds a quote, a backslash, a newline and a byte that is
  // not UTF-8: the JSON error must still be valid.
  const std::string missing = tmp_.Sub("a\"b\\c\nd\xff");
  RunResult r = Run({"--json", "--store", missing, "commits"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("no crust store at " + tmp_.path() + "/a\\\"b\\\\c\\nd\xef\xbf\xbd: create one"));
}

TEST_F(CliTest, CliHelp) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* usage : {"commits", "show ROOT", "verify [ROOT...]", "delete [--no-wait] ROOT", "--store DIR",
                            "--json"}) {
    EXPECT_THAT(r.out, HasSubstr(usage));
  }
  EXPECT_EQ(Run({"-h"}).out, r.out);
  for (const char* command : {"commits", "show", "verify", "delete"}) {
    RunResult c = Run({command, "--help"});
    EXPECT_EQ(c.status, 0) << command;
    EXPECT_THAT(c.out, HasSubstr(std::string("Usage: crust [--store DIR] [--json] ") + command));
    EXPECT_EQ(Run({"-h", command}).out, c.out);
  }
  EXPECT_THAT(Run({"delete", "-h"}).out, HasSubstr("--no-wait"));
}

}  // namespace
}  // namespace crust
