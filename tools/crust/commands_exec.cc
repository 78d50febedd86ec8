// Copyright (c) crust authors. Licensed under the MIT license.
//
// The execution commands: deploy, call, run. Each opens the store for writing
// (creating it when missing) through the VM (vm.h), runs one session on a
// base commit and commits. The whole command line, and for `run` the whole
// script, is checked before the store is opened, so a usage error changes
// nothing.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "crust/vm.h"
#include "tools/crust/commands.h"

namespace crust::tool {
namespace {

constexpr uint64_t kDefaultGas = 1'000'000'000;

// --- Parsing values (usage errors) ---

Result<uint64_t> ParseNumber(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(std::string(what) + " must be a decimal number below 2^64, not '" +
                                   std::string(text) + "'");
  }
  return value;
}

Result<Bytes> ParseBytes(std::string_view text, std::string_view what) {
  auto bytes = FromHex(text);
  if (!bytes.ok()) return bytes.status().WithContext(what);
  return bytes;
}

Result<Hash32> ParseId(std::string_view text, std::string_view what) {
  auto id = ParseHash(text);
  if (!id.ok()) return id.status().WithContext(what);
  return id;
}

// Where a session starts: genesis, a named root, or (neither) the most
// recently created commit, genesis when the store has none.
struct Base {
  bool genesis = false;
  std::optional<Root> root;
};

Result<Base> ParseBase(const ParsedArgs& args, bool genesis_allowed) {
  Base base;
  base.genesis = genesis_allowed && args.Flag("genesis");
  if (auto text = args.Value("base")) {
    if (base.genesis) return Status::InvalidArgument("--base and --genesis exclude each other");
    ASSIGN_OR_RETURN(base.root, ParseId(*text, "--base"));
  }
  return base;
}

// The deploy options shared by `deploy` and the script's deploy lines.
// `value` returns an option's text, if given.
template <typename ValueOf>
Result<DeployOptions> ParseDeployOptions(ValueOf value) {
  DeployOptions o;
  o.gas_limit = kDefaultGas;
  if (auto t = value("id")) {
    ASSIGN_OR_RETURN(o.id, ParseId(*t, "--id"));
  }
  if (auto t = value("owner")) {
    ASSIGN_OR_RETURN(o.owner, ParseBytes(*t, "--owner"));
  }
  if (auto t = value("init")) {
    ASSIGN_OR_RETURN(o.init_arg, ParseBytes(*t, "--init"));
  }
  if (auto t = value("gas")) {
    ASSIGN_OR_RETURN(o.gas_limit, ParseNumber(*t, "--gas"));
  }
  if (auto t = value("nonce")) {
    ASSIGN_OR_RETURN(o.nonce, ParseNumber(*t, "--nonce"));
  }
  return o;
}

Result<Bytes> ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(path + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status::NotFound("cannot read " + path + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  const std::string text = ss.str();
  return Bytes(text.begin(), text.end());
}

// --- The VM ---

// read_only: the store is opened without its write lock (beside a writer);
// sessions can never commit.
Result<std::unique_ptr<Vm>> OpenVm(const ParsedArgs& args, bool read_only = false) {
  VmOptions options;
  options.store.create_if_missing = !read_only;
  options.store.read_only = read_only;
  if (auto dir = args.Value("code-cache")) options.code_cache_dir = *dir;
  return Vm::Open(args.store_dir, options);
}

Result<std::unique_ptr<VmSession>> StartSession(Vm* vm, const Base& base) {
  if (base.genesis) return vm->StartGenesis();
  if (base.root) return vm->StartSession(*base.root);
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, vm->store().ListCommits());
  if (commits.empty()) return vm->StartGenesis();
  return vm->StartSession(commits.back().root);
}

// --- Reporting ---

// A failure of an operation (exit status 1): "crust: <context>: <Code>:
// <message>[ (gas spent N)]" or, with --json, {"error": {"code", "message"
// (context included), ["gas_spent": N,] ["line": N]}}.
int ReportFailure(const Output& out, const std::string& context, const Status& status,
                  std::optional<uint64_t> gas_spent = std::nullopt, std::optional<uint64_t> line = std::nullopt) {
  std::fflush(stdout);
  std::string text;
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Key("error");
    w.BeginObject();
    w.Field("code", Status::CodeName(status.code()));
    w.Field("message", context.empty() ? std::string(status.message())
                                       : context + ": " + std::string(status.message()));
    if (gas_spent) w.Field("gas_spent", *gas_spent);
    if (line) w.Field("line", *line);
    w.EndObject();
    w.EndObject();
    text = w.Take() + "\n";
  } else {
    text = "crust: " + (context.empty() ? std::string() : context + ": ") + status.ToString();
    if (gas_spent) text += " (gas spent " + std::to_string(*gas_spent) + ")";
    text += "\n";
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
  return kExitFailed;
}

std::string HexOrEmpty(const Bytes& data) { return data.empty() ? "(empty)" : ToHex(data); }

// --- deploy ---

int RunDeploy(const ParsedArgs& args, const Output& out) {
  auto base = ParseBase(args, /*genesis_allowed=*/true);
  if (!base.ok()) return out.UsageFail(base.status());
  auto options = ParseDeployOptions([&](std::string_view name) { return args.Value(name); });
  if (!options.ok()) return out.UsageFail(options.status());
  const std::string& file = args.positional[0];
  auto wasm = ReadFile(file);
  if (!wasm.ok()) return out.Fail(wasm.status());

  auto vm = OpenVm(args);
  if (!vm.ok()) return out.Fail(vm.status());
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return out.Fail(session.status());
  auto id = (*session)->Deploy(*wasm, *options);
  if (!id.ok()) return ReportFailure(out, "deploy " + file, id.status());
  auto root = (*session)->Commit();
  if (!root.ok()) return out.Fail(root.status());
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("module", id->ToHex());
    w.Field("root", root->ToHex());
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("module  " + id->ToHex() + "\nroot    " + root->ToHex() + "\n");
  }
  return kExitOk;
}

// --- call ---

int RunCall(const ParsedArgs& args, const Output& out) {
  auto base = ParseBase(args, /*genesis_allowed=*/false);
  if (!base.ok()) return out.UsageFail(base.status());
  auto module = ParseId(args.positional[0], "MODULE");
  if (!module.ok()) return out.UsageFail(module.status());
  const std::string& function = args.positional[1];
  Bytes arg;
  if (args.positional.size() > 2) {
    auto parsed = ParseBytes(args.positional[2], "ARG_HEX");
    if (!parsed.ok()) return out.UsageFail(parsed.status());
    arg = std::move(parsed).value();
  }
  uint64_t gas = kDefaultGas;
  if (auto t = args.Value("gas")) {
    auto parsed = ParseNumber(*t, "--gas");
    if (!parsed.ok()) return out.UsageFail(parsed.status());
    gas = *parsed;
  }
  const bool commit = !args.Flag("no-commit");

  auto vm = OpenVm(args, /*read_only=*/!commit);
  if (!vm.ok()) return out.Fail(vm.status());
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return out.Fail(session.status());
  const CallReceipt receipt = (*session)->Call(*module, function, arg, gas);
  if (!receipt.ok()) {
    return ReportFailure(out, "call " + function, receipt.status, receipt.gas_spent);
  }
  std::optional<Root> root;
  if (commit) {
    auto committed = (*session)->Commit();
    if (!committed.ok()) return out.Fail(committed.status());
    root = *committed;
  }
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("data", ToHex(receipt.data));
    w.Field("gas_spent", receipt.gas_spent);
    if (root) w.Field("root", root->ToHex());
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("data       " + HexOrEmpty(receipt.data) + "\n" +
              "gas spent  " + std::to_string(receipt.gas_spent) + "\n" +
              "root       " + (root ? root->ToHex() : std::string("(not committed: --no-commit)")) + "\n");
  }
  return kExitOk;
}

// --- run ---

// One line of a script, checked and with its file read before anything runs.
struct ScriptOp {
  enum class Kind { kDeploy, kCall, kCommit };
  Kind kind = Kind::kCommit;
  size_t line = 0;
  std::string text;  // the line as written (trimmed, without comment)
  // deploy
  std::string file;
  Bytes wasm;
  DeployOptions deploy;
  // call: a module id, or the index (1-based) of a module deployed by the script
  std::optional<ModuleId> module;
  size_t module_index = 0;
  std::string function;
  Bytes arg;
  uint64_t gas = kDefaultGas;
};

std::vector<std::string> Tokens(const std::string& line) {
  std::vector<std::string> tokens;
  std::istringstream in(line);
  for (std::string token; in >> token;) {
    if (token[0] == '#') break;  // a comment runs to the end of the line
    tokens.push_back(token);
  }
  return tokens;
}

// Splits `tokens` (after the operation) into positionals and `--name value` /
// `--name=value` options, each of which must be in `allowed`.
Status SplitLine(const std::vector<std::string>& tokens, std::initializer_list<std::string_view> allowed,
                 std::vector<std::string>* positional, std::map<std::string, std::string>* options) {
  for (size_t i = 1; i < tokens.size(); i++) {
    const std::string& t = tokens[i];
    if (t.size() < 2 || t[0] != '-' || t[1] != '-') {
      positional->push_back(t);
      continue;
    }
    std::string name = t.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= tokens.size()) return Status::InvalidArgument("option --" + name + " needs a value");
      value = tokens[++i];
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Status::InvalidArgument("unknown option '--" + name + "' for '" + tokens[0] + "'");
    }
    (*options)[name] = value;
  }
  return Status::OK();
}

// Parses one non-empty line. `deployed` is the number of deploy lines before
// it (for $N). File errors are reported as such (exit 1), others as usage.
Status ParseOp(const std::vector<std::string>& tokens, const std::filesystem::path& dir, size_t deployed,
               ScriptOp* op, bool* file_error) {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opts;
  auto value = [&](std::string_view name) -> std::optional<std::string> {
    auto it = opts.find(std::string(name));
    if (it == opts.end()) return std::nullopt;
    return it->second;
  };
  const std::string& verb = tokens[0];
  if (verb == "deploy") {
    op->kind = ScriptOp::Kind::kDeploy;
    RETURN_IF_ERROR(SplitLine(tokens, {"id", "owner", "init", "gas", "nonce"}, &pos, &opts));
    if (pos.size() != 1) return Status::InvalidArgument("expected: deploy FILE [--id HEX] [--owner HEX] [--init HEX] [--gas N] [--nonce N]");
    ASSIGN_OR_RETURN(op->deploy, ParseDeployOptions(value));
    op->file = pos[0];
    const std::filesystem::path path(pos[0]);
    auto wasm = ReadFile(path.is_absolute() ? path.string() : (dir / path).string());
    if (!wasm.ok()) {
      *file_error = true;
      return wasm.status();
    }
    op->wasm = std::move(wasm).value();
    return Status::OK();
  }
  if (verb == "call") {
    op->kind = ScriptOp::Kind::kCall;
    RETURN_IF_ERROR(SplitLine(tokens, {"gas"}, &pos, &opts));
    if (pos.size() < 2 || pos.size() > 3) return Status::InvalidArgument("expected: call MODULE FUNCTION [ARG_HEX] [--gas N]");
    if (pos[0].size() > 1 && pos[0][0] == '$') {
      auto n = ParseNumber(std::string_view(pos[0]).substr(1), "$N");
      if (!n.ok() || *n == 0) return Status::InvalidArgument("'" + pos[0] + "' is not $1, $2, ...");
      if (*n > deployed) {
        return Status::InvalidArgument("'" + pos[0] + "': only " + std::to_string(deployed) +
                                       " module(s) are deployed by the lines above");
      }
      op->module_index = *n;
    } else {
      ASSIGN_OR_RETURN(op->module, ParseId(pos[0], "MODULE"));
    }
    op->function = pos[1];
    if (pos.size() == 3) {
      ASSIGN_OR_RETURN(op->arg, ParseBytes(pos[2], "ARG_HEX"));
    }
    if (auto t = value("gas")) {
      ASSIGN_OR_RETURN(op->gas, ParseNumber(*t, "--gas"));
    }
    return Status::OK();
  }
  if (verb == "commit") {
    op->kind = ScriptOp::Kind::kCommit;
    if (tokens.size() != 1) return Status::InvalidArgument("'commit' takes no arguments");
    return Status::OK();
  }
  return Status::InvalidArgument("unknown operation '" + verb + "' (expected deploy, call or commit)");
}

std::string Join(const std::vector<std::string>& tokens) {
  std::string s;
  for (const std::string& t : tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

int RunScript(const ParsedArgs& args, const Output& out) {
  auto base = ParseBase(args, /*genesis_allowed=*/true);
  if (!base.ok()) return out.UsageFail(base.status());
  const std::string& script = args.positional[0];
  auto text = ReadFile(script);
  if (!text.ok()) return out.Fail(text.status());
  const std::filesystem::path dir = std::filesystem::path(script).parent_path();

  // Check every line (and read every file) first.
  std::vector<ScriptOp> ops;
  size_t deployed = 0;
  {
    std::istringstream in(std::string(text->begin(), text->end()));
    size_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
      line_no++;
      const std::vector<std::string> tokens = Tokens(line);
      if (tokens.empty()) continue;
      ScriptOp op;
      op.line = line_no;
      op.text = Join(tokens);
      bool file_error = false;
      const Status s = ParseOp(tokens, dir, deployed, &op, &file_error);
      if (!s.ok()) {
        const Status where = s.WithContext(script + ":" + std::to_string(line_no));
        return file_error ? out.Fail(where) : out.UsageFail(where);
      }
      if (op.kind == ScriptOp::Kind::kDeploy) deployed++;
      ops.push_back(std::move(op));
    }
  }

  auto vm = OpenVm(args);
  if (!vm.ok()) return out.Fail(vm.status());
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return out.Fail(session.status());
  std::vector<ModuleId> modules;  // deployed by the script, in order
  size_t uncommitted = 0;         // operations since the last commit
  for (const ScriptOp& op : ops) {
    const std::string where = script + ":" + std::to_string(op.line) + ": " + op.text;
    JsonWriter w;
    w.BeginObject();
    std::string human = "line " + std::to_string(op.line) + ": " + op.text + "\n    ";
    switch (op.kind) {
      case ScriptOp::Kind::kDeploy: {
        auto id = (*session)->Deploy(op.wasm, op.deploy);
        if (!id.ok()) return ReportFailure(out, where, id.status(), std::nullopt, op.line);
        modules.push_back(*id);
        uncommitted++;
        w.Field("op", "deploy");
        w.Field("module", id->ToHex());
        human += "module $" + std::to_string(modules.size()) + " = " + id->ToHex();
        break;
      }
      case ScriptOp::Kind::kCall: {
        const ModuleId module = op.module ? *op.module : modules[op.module_index - 1];
        const CallReceipt r = (*session)->Call(module, op.function, op.arg, op.gas);
        if (!r.ok()) return ReportFailure(out, where, r.status, r.gas_spent, op.line);
        uncommitted++;
        w.Field("op", "call");
        w.Field("data", ToHex(r.data));
        w.Field("gas_spent", r.gas_spent);
        human += "data " + HexOrEmpty(r.data) + ", gas spent " + std::to_string(r.gas_spent);
        break;
      }
      case ScriptOp::Kind::kCommit: {
        auto root = (*session)->Commit();
        if (!root.ok()) return ReportFailure(out, where, root.status(), std::nullopt, op.line);
        uncommitted = 0;
        w.Field("op", "commit");
        w.Field("root", root->ToHex());
        human += "root " + root->ToHex();
        break;
      }
    }
    w.EndObject();
    if (out.json()) {
      out.PrintJson(&w);
    } else {
      out.Print(human + "\n");
    }
  }
  if (!out.json() && uncommitted > 0) {
    out.Print("note: the last " + std::to_string(uncommitted) +
              " operation(s) were not committed (no 'commit' line after them)\n");
  }
  return kExitOk;
}

// --- The table ---

constexpr OptionSpec kDeployOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "genesis", .value_name = "", .help = "start from an empty state"},
    {.name = "id", .value_name = "HEX", .help = "the module id (64 hex characters; default: derived)"},
    {.name = "owner", .value_name = "HEX", .help = "the owner, as hex bytes (default: empty)"},
    {.name = "init", .value_name = "HEX", .help = "the argument of the module's init, as hex bytes"},
    {.name = "gas", .value_name = "N", .help = "gas limit of init (default: 1000000000)"},
    {.name = "nonce", .value_name = "N", .help = "nonce for the derived id (default: 0)"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr OptionSpec kCallOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "gas", .value_name = "N", .help = "gas limit of the call (default: 1000000000)"},
    {.name = "no-commit", .value_name = "", .help = "do not commit the call's changes"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr OptionSpec kRunOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "genesis", .value_name = "", .help = "start from an empty state"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr Command kExecCommands[] = {
    {.name = "deploy",
     .usage = "deploy [--base ROOT | --genesis] [--id HEX] [--owner HEX] [--init HEX] [--gas N] [--nonce N] FILE.wasm",
     .summary = "Deploy a WebAssembly module and commit",
     .help = "Deploys FILE.wasm in a session on the base commit (default: the most recently\n"
             "created commit, or genesis when the store has none; --genesis forces genesis),\n"
             "runs its init (if exported) with the --init argument, and commits. Prints the\n"
             "module id and the new root. JSON: {\"module\": HEX, \"root\": HEX}.\n"
             "Without --id, the id is derived from the bytecode, --owner and --nonce:\n"
             "SHA-256(\"crust-module-id-v1\" || SHA-256(bytecode) || u32le(len(owner)) ||\n"
             "owner || u64le(nonce)).\n"
             "Opens the store for writing and creates it when missing. Compiled code is\n"
             "cached in STORE/.cache/code (or --code-cache DIR), so the first deploy of a\n"
             "module compiles it and later uses of the same code do not.",
     .options = kDeployOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunDeploy},
    {.name = "call",
     .usage = "call [--base ROOT] [--gas N] [--no-commit] MODULE FUNCTION [ARG_HEX]",
     .summary = "Call a module's function and commit",
     .help = "Calls FUNCTION of module MODULE (64 hex characters) with the argument ARG_HEX\n"
             "(hex bytes; default empty) in a session on the base commit (default: the most\n"
             "recently created commit), then commits unless --no-commit is given. Prints the\n"
             "returned bytes (hex), the gas spent and the new root.\n"
             "JSON: {\"data\": HEX, \"gas_spent\": N, \"root\": HEX} (no root with --no-commit).\n"
             "A failed call (NotFound, Panic, OutOfGas, Trap, ...) prints the error and the\n"
             "gas spent, commits nothing and exits with status 1; with --json the error is\n"
             "{\"error\": {\"code\", \"message\", \"gas_spent\"}}.\n"
             "Opens the store for writing and creates it when missing.",
     .options = kCallOptions,
     .min_args = 2,
     .max_args = 3,
     .run = RunCall},
    {.name = "run",
     .usage = "run [--base ROOT | --genesis] SCRIPT",
     .summary = "Run a script of deploys, calls and commits in one session",
     .help = "Runs the operations of the text file SCRIPT, one per line, in one session on\n"
             "the base commit (default: the most recently created commit, or genesis when\n"
             "the store has none; --genesis forces genesis):\n"
             "\n"
             "  deploy FILE [--id HEX] [--owner HEX] [--init HEX] [--gas N] [--nonce N]\n"
             "  call MODULE FUNCTION [ARG_HEX] [--gas N]\n"
             "  commit\n"
             "\n"
             "Options mean what they mean for 'crust deploy' and 'crust call'. FILE is\n"
             "relative to the script's directory. MODULE is a module id (64 hex characters)\n"
             "or $N, the N-th module deployed by this script ($1 is the first). Blank lines\n"
             "are ignored and '#' starts a comment that runs to the end of the line; tokens\n"
             "are separated by white space (file names cannot contain spaces).\n"
             "\n"
             "Every line is checked (and every FILE read) before anything runs: a malformed\n"
             "line is a usage error (status 2). A line that fails when run (deploy rejected,\n"
             "call failed, ...) stops the script with an error naming SCRIPT:LINE and exit\n"
             "status 1; what earlier 'commit' lines committed stays committed, and changes\n"
             "after the last 'commit' are discarded.\n"
             "Prints one line per operation; with --json one object per operation:\n"
             "{\"op\": \"deploy\", \"module\": HEX}, {\"op\": \"call\", \"data\": HEX, \"gas_spent\": N},\n"
             "{\"op\": \"commit\", \"root\": HEX}. An error is {\"error\": {\"code\", \"message\",\n"
             "\"line\"}} on stderr (with \"gas_spent\" for a failed call).\n"
             "Opens the store for writing and creates it when missing.",
     .options = kRunOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunScript},
};

}  // namespace

std::span<const Command> ExecCommands() { return kExecCommands; }

}  // namespace crust::tool
