// Copyright (c) crust authors. Licensed under the MIT license.
//
// The execution commands: deploy, call, query, run, and prune-code (the
// store's code cache). Each opens the store for writing through the VM
// (vm.h; the store must exist unless --create is given); the first four run
// one session on a base commit and commit (query never does). The whole
// command line, and for `run` the whole script, is checked before the store
// is opened, so a usage error changes nothing.
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

Result<Bytes> ParseBytes(std::string_view text, std::string_view what) { return ParseHexBytes(text, what); }

Result<Hash32> ParseId(std::string_view text, std::string_view what) {
  auto id = ParseHash(text);
  if (!id.ok()) return id.status().WithContext(what);
  return id;
}

// Where a session starts: genesis, a named root (full or a unique prefix,
// resolved once the store is open), or (neither) the most recently created
// commit, genesis when the store has none.
struct Base {
  bool genesis = false;
  std::optional<std::string> root;
};

Result<Base> ParseBase(const ParsedArgs& args, bool genesis_allowed) {
  Base base;
  base.genesis = genesis_allowed && args.Flag("genesis");
  if (auto text = args.Value("base")) {
    if (base.genesis) return Status::InvalidArgument("--base and --genesis exclude each other");
    RETURN_IF_ERROR(CheckIdSyntax(*text, "--base"));
    base.root = *text;
  }
  return base;
}

// Session metadata from --meta KEY=HEX (repeatable; a later KEY wins).
Result<std::vector<std::pair<std::string, Bytes>>> ParseMeta(const ParsedArgs& args) {
  std::vector<std::pair<std::string, Bytes>> meta;
  for (const std::string& text : args.Values("meta")) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--meta '" + Printable(text) + "' is not KEY=HEX (e.g. --meta height=0x2a00000000000000)");
    }
    ASSIGN_OR_RETURN(Bytes value, ParseHexBytes(std::string_view(text).substr(eq + 1), "--meta " + text.substr(0, eq)));
    meta.emplace_back(text.substr(0, eq), std::move(value));
  }
  return meta;
}

// The call argument: ARG_HEX, or the bytes of --arg-file FILE ("-": stdin).
// Returns a file error (exit 1) through *file_error.
Result<Bytes> ParseArg(const ParsedArgs& args, size_t arg_index, bool* file_error) {
  auto file = args.Value("arg-file");
  if (file && args.positional.size() > arg_index) {
    return Status::InvalidArgument("give the argument either as ARG_HEX or with --arg-file, not both");
  }
  if (file) {
    auto bytes = ReadInput(*file);
    if (!bytes.ok()) *file_error = true;
    return bytes.ok() ? bytes : Result<Bytes>(bytes.status().WithContext("--arg-file"));
  }
  if (args.positional.size() > arg_index) return ParseBytes(args.positional[arg_index], "ARG_HEX");
  return Bytes();
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

Result<Bytes> ReadFile(const std::string& path) { return ReadInput(path); }

// --- The VM ---

// Opens the store for writing. It must exist (CheckIsStore) unless --create
// is given, which makes one in a new or empty directory. read_only: the store
// is opened without its write lock (beside a writer); sessions can never
// commit.
Result<std::unique_ptr<Vm>> OpenVm(const ParsedArgs& args, bool read_only = false) {
  if (args.Flag("create") && !read_only) {
    RETURN_IF_ERROR(CheckCanCreateStore(args.store_dir));
  } else {
    RETURN_IF_ERROR(CheckIsStore(args.store_dir));
  }
  VmOptions options;
  options.store.create_if_missing = args.Flag("create") && !read_only;
  options.store.read_only = read_only;
  if (auto dir = args.Value("code-cache")) options.code_cache_dir = *dir;
  return Vm::Open(args.store_dir, options);
}

// A command that deployed or called contracts whose optimised code was not
// cached yet answered from the fast tier (docs/architecture.md, "Code
// tiers") while the optimised build ran in the background. Before the
// process exits (after the command has printed everything) it waits for
// those builds, so that they reach the code cache and later commands start
// on optimised code; ending the process would cancel them. Declared after
// the Vm and before the session: it runs once the session is gone.
struct OptimisedCodeWait {
  Vm* vm;
  ~OptimisedCodeWait() {
    std::fflush(stdout);
    std::fflush(stderr);
    vm->WaitForOptimisedCode();
  }
};

Result<std::unique_ptr<VmSession>> StartSession(Vm* vm, const Base& base) {
  if (base.genesis) return vm->StartGenesis();
  if (base.root) {
    ASSIGN_OR_RETURN(Root root, ResolveRoot(&vm->store(), *base.root, "--base"));
    return vm->StartSession(root);
  }
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, vm->store().ListCommits());
  if (commits.empty()) return vm->StartGenesis();
  return vm->StartSession(commits.back().root);
}

// --- Reporting ---

std::string HexOrEmpty(const Bytes& data) { return data.empty() ? "(empty)" : ToHex(data); }

// A failure to resolve a prefix is a usage error (ambiguous, malformed);
// anything else (no match, store errors) a failure.
int FailResolve(const Output& out, const Status& s) {
  return IsInvalid(s) ? out.UsageFail(s) : out.Fail(s);
}

// What a call produced besides its result: fed data (feeder calls), events,
// debug lines and the call tree.
struct CallOutput {
  CallReceipt receipt;
  std::vector<Bytes> fed;
};

CallOutput DoCall(VmSession* session, const ModuleId& module, const std::string& function, const Bytes& arg,
                  uint64_t gas, bool feed) {
  CallOutput o;
  if (feed) {
    o.receipt = session->FeederCall(module, function, arg, gas, [&](ByteView b) { o.fed.emplace_back(b.begin(), b.end()); });
  } else {
    o.receipt = session->Call(module, function, arg, gas);
  }
  return o;
}

// The receipt's details as fields of the current JSON object: "events",
// "debug", "call_tree" and, for feeder calls, "fed" (empty arrays included,
// so scripts can rely on the keys).
void ReceiptDetailsJson(const CallOutput& o, bool feed, JsonWriter* w) {
  const CallReceipt& r = o.receipt;
  w->Key("events");
  w->BeginArray();
  for (const Event& e : r.events) {
    w->BeginObject();
    w->Field("source", e.source.ToHex());
    w->Field("topic", e.topic);
    w->Field("data", ToHex(e.data));
    w->Field("reverted", e.reverted);
    w->EndObject();
  }
  w->EndArray();
  w->Key("debug");
  w->BeginArray();
  for (const std::string& line : r.debug) w->String(line);
  w->EndArray();
  w->Key("call_tree");
  w->BeginArray();
  for (const CallNode& n : r.call_tree) {
    w->BeginObject();
    w->Field("module", n.module.ToHex());
    w->Field("function", n.function);
    w->Field("depth", uint64_t{n.depth});
    w->Field("gas_limit", n.gas_limit);
    w->Field("gas_spent", n.gas_spent);
    w->Field("status", Status::CodeName(n.status.code()));
    if (!n.status.ok()) w->Field("message", n.status.message());
    w->EndObject();
  }
  w->EndArray();
  if (feed) {
    w->Key("fed");
    w->BeginArray();
    for (const Bytes& b : o.fed) w->String(ToHex(b));
    w->EndArray();
  }
}

// The call tree in pre-order (each call before the calls it made), for
// indenting. Receipts list calls in pre-order (the top-level call, depth 0,
// first) or in post-order (each call after the calls it made: the top-level
// call last); post-order is rebuilt into subtrees from the depths.
std::vector<const CallNode*> PreOrder(const std::vector<CallNode>& nodes) {
  std::vector<const CallNode*> out;
  if (nodes.empty() || nodes.front().depth == 0) {
    for (const CallNode& n : nodes) out.push_back(&n);
    return out;
  }
  // Post-order: a node's children are the finished subtrees just before it
  // whose roots are one level deeper.
  std::vector<std::vector<const CallNode*>> subtrees;  // each in pre-order
  for (const CallNode& n : nodes) {
    size_t first = subtrees.size();
    while (first > 0 && subtrees[first - 1].front()->depth == n.depth + 1) first--;
    std::vector<const CallNode*> tree = {&n};
    for (size_t i = first; i < subtrees.size(); i++) tree.insert(tree.end(), subtrees[i].begin(), subtrees[i].end());
    subtrees.resize(first);
    subtrees.push_back(std::move(tree));
  }
  for (const auto& tree : subtrees) out.insert(out.end(), tree.begin(), tree.end());
  return out;
}

// The same for people; every contract-made string is escaped (Printable).
// Each line starts with `indent`. Empty sections are left out.
std::string ReceiptDetailsHuman(const CallOutput& o, const std::string& indent) {
  const CallReceipt& r = o.receipt;
  std::string text;
  for (const Bytes& b : o.fed) text += indent + "fed        " + HexOrEmpty(b) + "\n";
  for (const Event& e : r.events) {
    text += indent + "event      " + Printable(e.topic) + " " + HexOrEmpty(e.data) + " from " +
            e.source.ToHex().substr(0, 16) + (e.reverted ? " (reverted)" : "") + "\n";
  }
  for (const std::string& line : r.debug) text += indent + "debug      " + Printable(line) + "\n";
  if (r.call_tree.size() > 1) {
    text += indent + "calls\n";
    for (const CallNode* node : PreOrder(r.call_tree)) {
      const CallNode& n = *node;
      text += indent + "  " + std::string(2 * n.depth, ' ') + n.module.ToHex().substr(0, 16) + " " +
              Printable(n.function) + "  gas " + std::to_string(n.gas_spent) + "/" + std::to_string(n.gas_limit) +
              (n.status.ok() ? "" : "  " + Printable(n.status.ToString())) + "\n";
    }
  }
  return text;
}


// A failure of an operation (exit status 1): "crust: <context>: <Code>:
// <message>[ (gas spent N)]" or, with --json, {"error": {"code", "message"
// (context included), ["gas_spent": N,] ["line": N]}}.
int ReportFailure(const Output& out, const std::string& context, const Status& status,
                  std::optional<uint64_t> gas_spent = std::nullopt, std::optional<uint64_t> line = std::nullopt,
                  const CallOutput* call = nullptr, bool feed = false) {
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
    if (call) ReceiptDetailsJson(*call, feed, &w);
    w.EndObject();
    w.EndObject();
    text = w.Take() + "\n";
  } else {
    text = "crust: " + Printable((context.empty() ? std::string() : context + ": ") + status.ToString());
    if (gas_spent) text += " (gas spent " + std::to_string(*gas_spent) + ")";
    text += "\n";
    if (call) text += ReceiptDetailsHuman(*call, "  ");
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
  return kExitFailed;
}

// --- deploy ---

int RunDeploy(const ParsedArgs& args, const Output& out) {
  auto base = ParseBase(args, /*genesis_allowed=*/true);
  if (!base.ok()) return out.UsageFail(base.status());
  auto options = ParseDeployOptions([&](std::string_view name) { return args.Value(name); });
  if (!options.ok()) return out.UsageFail(options.status());
  const std::string& file = args.positional[0];
  auto meta = ParseMeta(args);
  if (!meta.ok()) return out.UsageFail(meta.status());
  auto wasm = ReadFile(file);
  if (!wasm.ok()) return out.Fail(wasm.status());

  auto vm = OpenVm(args);
  if (!vm.ok()) return out.Fail(vm.status());
  const OptimisedCodeWait wait_for_code{vm->get()};
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return FailResolve(out, session.status());
  for (auto& [key, value] : *meta) (*session)->SetMeta(key, value);
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

int CallAndMaybeCommit(const ParsedArgs& args, const Output& out, bool commit);

int RunCall(const ParsedArgs& args, const Output& out) {
  return CallAndMaybeCommit(args, out, /*commit=*/!args.Flag("no-commit"));
}

// `query`: a call that never commits (the easy way to call a getter).
int RunQuery(const ParsedArgs& args, const Output& out) { return CallAndMaybeCommit(args, out, /*commit=*/false); }

int CallAndMaybeCommit(const ParsedArgs& args, const Output& out, bool commit) {
  auto base = ParseBase(args, /*genesis_allowed=*/false);
  if (!base.ok()) return out.UsageFail(base.status());
  const Status module_syntax = CheckIdSyntax(args.positional[0], "MODULE");
  if (!module_syntax.ok()) return out.UsageFail(module_syntax);
  const std::string& function = args.positional[1];
  bool file_error = false;
  auto arg = ParseArg(args, 2, &file_error);
  if (!arg.ok()) return file_error ? out.Fail(arg.status()) : out.UsageFail(arg.status());
  uint64_t gas = kDefaultGas;
  if (auto t = args.Value("gas")) {
    auto parsed = ParseNumber(*t, "--gas");
    if (!parsed.ok()) return out.UsageFail(parsed.status());
    gas = *parsed;
  }
  auto meta = ParseMeta(args);
  if (!meta.ok()) return out.UsageFail(meta.status());
  const bool feed = args.Flag("feed");

  auto vm = OpenVm(args, /*read_only=*/!commit);
  if (!vm.ok()) return out.Fail(vm.status());
  const OptimisedCodeWait wait_for_code{vm->get()};
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return FailResolve(out, session.status());
  auto module = ResolveModule(&(*session)->state(), args.positional[0], "MODULE");
  if (!module.ok()) return FailResolve(out, module.status());
  for (auto& [key, value] : *meta) (*session)->SetMeta(key, value);
  const CallOutput call = DoCall(session->get(), *module, function, *arg, gas, feed);
  const CallReceipt& receipt = call.receipt;
  if (!receipt.ok()) {
    return ReportFailure(out, "call " + function, receipt.status, receipt.gas_spent, std::nullopt, &call, feed);
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
    ReceiptDetailsJson(call, feed, &w);
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("data       " + HexOrEmpty(receipt.data) + "\n" +
              "gas spent  " + std::to_string(receipt.gas_spent) + "\n" +
              ReceiptDetailsHuman(call, "") +
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
  std::string module_text;  // a full id or a unique prefix, resolved when the line runs
  size_t module_index = 0;
  std::string function;
  Bytes arg;
  uint64_t gas = kDefaultGas;
  bool feed = false;  // --feed: a feeder call
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
                 std::vector<std::string>* positional, std::map<std::string, std::string>* options,
                 std::initializer_list<std::string_view> flags = {}) {
  for (size_t i = 1; i < tokens.size(); i++) {
    const std::string& t = tokens[i];
    if (t.size() < 2 || t[0] != '-' || t[1] != '-') {
      positional->push_back(t);
      continue;
    }
    std::string name = t.substr(2), value;
    const size_t eq = name.find('=');
    if (eq == std::string::npos && std::find(flags.begin(), flags.end(), name) != flags.end()) {
      (*options)[name] = "";
      continue;
    }
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
    RETURN_IF_ERROR(SplitLine(tokens, {"gas", "arg-file"}, &pos, &opts, {"feed"}));
    if (pos.size() < 2 || pos.size() > 3) {
      return Status::InvalidArgument("expected: call MODULE FUNCTION [ARG_HEX | --arg-file FILE] [--gas N] [--feed]");
    }
    if (pos[0].size() > 1 && pos[0][0] == '$') {
      auto n = ParseNumber(std::string_view(pos[0]).substr(1), "$N");
      if (!n.ok() || *n == 0) return Status::InvalidArgument("'" + pos[0] + "' is not $1, $2, ...");
      if (*n > deployed) {
        return Status::InvalidArgument("'" + pos[0] + "': only " + std::to_string(deployed) +
                                       " module(s) are deployed by the lines above");
      }
      op->module_index = *n;
    } else {
      RETURN_IF_ERROR(CheckIdSyntax(pos[0], "MODULE"));
      op->module_text = pos[0];
    }
    op->function = pos[1];
    op->feed = opts.count("feed") > 0;
    if (pos.size() == 3 && opts.count("arg-file")) {
      return Status::InvalidArgument("give the argument either as ARG_HEX or with --arg-file, not both");
    }
    if (pos.size() == 3) {
      ASSIGN_OR_RETURN(op->arg, ParseBytes(pos[2], "ARG_HEX"));
    }
    if (auto f = value("arg-file")) {
      const std::filesystem::path path(*f);
      auto bytes = ReadFile(path.is_absolute() || *f == "-" ? *f : (dir / path).string());
      if (!bytes.ok()) {
        *file_error = true;
        return bytes.status();
      }
      op->arg = std::move(bytes).value();
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

  auto meta = ParseMeta(args);
  if (!meta.ok()) return out.UsageFail(meta.status());
  auto vm = OpenVm(args);
  if (!vm.ok()) return out.Fail(vm.status());
  const OptimisedCodeWait wait_for_code{vm->get()};
  auto session = StartSession(vm->get(), *base);
  if (!session.ok()) return FailResolve(out, session.status());
  for (auto& [key, value] : *meta) (*session)->SetMeta(key, value);
  std::vector<ModuleId> modules;  // deployed by the script, in order
  size_t uncommitted = 0;         // operations since the last commit
  for (const ScriptOp& op : ops) {
    const std::string where = script + ":" + std::to_string(op.line) + ": " + op.text;
    JsonWriter w;
    w.BeginObject();
    std::string human = "line " + std::to_string(op.line) + ": " + Printable(op.text) + "\n    ";
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
        ModuleId module;
        if (op.module_text.empty()) {
          module = modules[op.module_index - 1];
        } else {
          auto resolved = ResolveModule(&(*session)->state(), op.module_text, "MODULE");
          if (!resolved.ok()) return ReportFailure(out, where, resolved.status(), std::nullopt, op.line);
          module = *resolved;
        }
        const CallOutput call = DoCall(session->get(), module, op.function, op.arg, op.gas, op.feed);
        const CallReceipt& r = call.receipt;
        if (!r.ok()) return ReportFailure(out, where, r.status, r.gas_spent, op.line, &call, op.feed);
        uncommitted++;
        w.Field("op", "call");
        w.Field("data", ToHex(r.data));
        w.Field("gas_spent", r.gas_spent);
        ReceiptDetailsJson(call, op.feed, &w);
        human += "data " + HexOrEmpty(r.data) + ", gas spent " + std::to_string(r.gas_spent);
        if (const std::string details = ReceiptDetailsHuman(call, "    "); !details.empty()) {
          human += "\n" + details.substr(0, details.size() - 1);
        }
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
    {.name = "meta", .value_name = "KEY=HEX", .help = "session metadata contracts read with hd(KEY) (repeatable)"},
    {.name = "create", .value_name = "", .help = "create the store when missing (in a new or empty directory)"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr OptionSpec kCallOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "gas", .value_name = "N", .help = "gas limit of the call (default: 1000000000)"},
    {.name = "no-commit", .value_name = "", .help = "do not commit the call's changes (use it for getters)"},
    {.name = "arg-file", .value_name = "FILE", .help = "read the argument's bytes from FILE ('-': standard input)"},
    {.name = "feed", .value_name = "", .help = "a feeder call: print the data the contract feeds"},
    {.name = "meta", .value_name = "KEY=HEX", .help = "session metadata contracts read with hd(KEY) (repeatable)"},
    {.name = "create", .value_name = "", .help = "create the store when missing (in a new or empty directory)"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr OptionSpec kQueryOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "gas", .value_name = "N", .help = "gas limit of the call (default: 1000000000)"},
    {.name = "arg-file", .value_name = "FILE", .help = "read the argument's bytes from FILE ('-': standard input)"},
    {.name = "feed", .value_name = "", .help = "a feeder call: print the data the contract feeds"},
    {.name = "meta", .value_name = "KEY=HEX", .help = "session metadata contracts read with hd(KEY) (repeatable)"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr OptionSpec kRunOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "start from commit ROOT (default: the newest commit)"},
    {.name = "genesis", .value_name = "", .help = "start from an empty state"},
    {.name = "meta", .value_name = "KEY=HEX", .help = "session metadata contracts read with hd(KEY) (repeatable)"},
    {.name = "create", .value_name = "", .help = "create the store when missing (in a new or empty directory)"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

// --- prune-code ---

int RunPruneCode(const ParsedArgs& args, const Output& out) {
  const bool dry_run = args.Flag("dry-run");
  auto vm = OpenVm(args);
  if (!vm.ok()) return out.Fail(vm.status());
  auto sweep = (*vm)->SweepCodeCache(dry_run);
  if (!sweep.ok()) return out.Fail(sweep.status().WithContext("prune-code removed nothing"));
  const CodeCacheSweep& r = *sweep;
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("dry_run", dry_run);
    w.Field("commits", r.commits);
    w.Field("modules", r.modules);
    auto counts = [&w](std::string_view key, uint64_t kept, uint64_t kept_bytes, uint64_t removed,
                       uint64_t removed_bytes) {
      w.Key(key);
      w.BeginObject();
      w.Field("kept", kept);
      w.Field("kept_bytes", kept_bytes);
      w.Field("removed", removed);
      w.Field("removed_bytes", removed_bytes);
      w.EndObject();
    };
    counts("objects", r.objects_kept, r.objects_kept_bytes, r.objects_removed, r.objects_removed_bytes);
    counts("prepared", r.prepared_kept, r.prepared_kept_bytes, r.prepared_removed, r.prepared_removed_bytes);
    w.Field("leftovers_removed", r.leftovers_removed);
    w.EndObject();
    out.PrintJson(&w);
    return kExitOk;
  }
  const std::string removed = dry_run ? "would remove " : "removed ";
  auto line = [&removed](const char* what, uint64_t kept, uint64_t kept_bytes, uint64_t gone, uint64_t gone_bytes) {
    return std::string(what) + "kept " + std::to_string(kept) + ", " + FormatSize(kept_bytes) + "; " + removed +
           std::to_string(gone) + ", " + FormatSize(gone_bytes) + "\n";
  };
  std::string text = line("objects   ", r.objects_kept, r.objects_kept_bytes, r.objects_removed,
                          r.objects_removed_bytes);
  text += line("prepared  ", r.prepared_kept, r.prepared_kept_bytes, r.prepared_removed, r.prepared_removed_bytes);
  text += "leftovers " + removed + std::to_string(r.leftovers_removed) + " (temporaries of interrupted builds)\n";
  text += "for " + std::to_string(r.modules) + " module(s) in " + std::to_string(r.commits) + " commit(s)" +
          (dry_run ? " (dry run: nothing removed)" : "") + "\n";
  out.Print(text);
  return kExitOk;
}

constexpr OptionSpec kPruneCodeOptions[] = {
    {.name = "dry-run", .value_name = "", .help = "print what would be removed; remove nothing"},
    {.name = "code-cache", .value_name = "DIR", .help = "compiled code cache (default: STORE/.cache/code)"},
};

constexpr Command kExecCommands[] = {
    {.name = "deploy",
     .usage = "deploy [--base ROOT | --genesis] [--id HEX] [--owner HEX] [--init HEX] [--gas N] [--nonce N] [--meta KEY=HEX] [--create] FILE.wasm",
     .summary = "Deploy a WebAssembly module and commit",
     .help = "Deploys FILE.wasm in a session on the base commit (default: the most recently\n"
             "created commit, or genesis when the store has none; --genesis forces genesis),\n"
             "runs its init (if exported) with the --init argument, and commits. Prints the\n"
             "module id and the new root. JSON: {\"module\": HEX, \"root\": HEX}.\n"
             "Without --id, the id is derived from the bytecode, --owner and --nonce:\n"
             "SHA-256(\"crust-module-id-v1\" || SHA-256(bytecode) || u32le(len(owner)) ||\n"
             "owner || u64le(nonce)).\n"
             "Opens the store for writing; it must exist (see 'crust init') unless --create\n"
             "is given. Compiled code is cached in STORE/.cache/code (or --code-cache DIR),\n"
             "so the first deploy of a module compiles it and later uses of the same code do\n"
             "not. 'crust check FILE.wasm' runs deploy's checks without a store.",
     .options = kDeployOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunDeploy},
    {.name = "call",
     .usage = "call [--base ROOT] [--gas N] [--no-commit] [--feed] [--meta KEY=HEX] MODULE FUNCTION [ARG_HEX | --arg-file FILE]",
     .summary = "Call a module's function and commit",
     .help = "Calls FUNCTION of module MODULE (64 hex characters, or a unique prefix of at\n"
             "least 8) with the argument ARG_HEX (hex bytes, 0x optional; default empty) or\n"
             "the bytes of --arg-file FILE ('-' reads standard input), in a session on the\n"
             "base commit (default: the most recently created commit), then commits unless\n"
             "--no-commit is given.\n"
             "A call that only reads still changes memory (the argument and the shadow stack\n"
             "are written into it), so without --no-commit even a getter makes a new commit:\n"
             "call getters with --no-commit.\n"
             "Prints the returned bytes (hex), the gas spent, the data fed (--feed), the\n"
             "events (topic, data, source, reverted), the contracts' debug lines, the call\n"
             "tree (when the call made calls) and the new root. Text a contract chose is\n"
             "printed with control characters escaped.\n"
             "JSON: {\"data\": HEX, \"gas_spent\": N, \"root\": HEX, \"events\": [{\"source\",\n"
             "\"topic\", \"data\", \"reverted\"}], \"debug\": [TEXT], \"call_tree\": [{\"module\",\n"
             "\"function\", \"depth\", \"gas_limit\", \"gas_spent\", \"status\"[, \"message\"]}]\n"
             "[, \"fed\": [HEX]]} (no root with --no-commit).\n"
             "A failed call (NotFound, Panic, OutOfGas, Trap, ...) prints the error, the gas\n"
             "spent and the same details, commits nothing and exits with status 1; with\n"
             "--json the error is {\"error\": {\"code\", \"message\", \"gas_spent\", \"events\", ...}}.\n"
             "--meta KEY=HEX sets session metadata (repeatable). Opens the store for writing;\n"
             "it must exist unless --create is given.",
     .options = kCallOptions,
     .min_args = 2,
     .max_args = 3,
     .run = RunCall},
    {.name = "query",
     .usage = "query [--base ROOT] [--gas N] [--feed] [--meta KEY=HEX] MODULE FUNCTION [ARG_HEX | --arg-file FILE]",
     .summary = "Call a function without committing (getters)",
     .help = "Exactly 'crust call --no-commit': calls FUNCTION of MODULE on the base commit\n"
             "and prints what 'crust call' prints, but never commits, so reading a value\n"
             "never creates a commit. See 'crust call --help' for the options and output.",
     .options = kQueryOptions,
     .min_args = 2,
     .max_args = 3,
     .run = RunQuery},
    {.name = "run",
     .usage = "run [--base ROOT | --genesis] [--meta KEY=HEX] [--create] SCRIPT",
     .summary = "Run a script of deploys, calls and commits in one session",
     .help = "Runs the operations of the text file SCRIPT, one per line, in one session on\n"
             "the base commit (default: the most recently created commit, or genesis when\n"
             "the store has none; --genesis forces genesis):\n"
             "\n"
             "  deploy FILE [--id HEX] [--owner HEX] [--init HEX] [--gas N] [--nonce N]\n"
             "  call MODULE FUNCTION [ARG_HEX | --arg-file FILE] [--gas N] [--feed]\n"
             "  commit\n"
             "\n"
             "Options mean what they mean for 'crust deploy' and 'crust call'. FILE is\n"
             "relative to the script's directory. MODULE is a module id (64 hex characters\n"
             "or a unique prefix of at least 8) or $N, the N-th module deployed by this\n"
             "script ($1 is the first). Blank lines\n"
             "are ignored and '#' starts a comment that runs to the end of the line; tokens\n"
             "are separated by white space (file names cannot contain spaces).\n"
             "\n"
             "Every line is checked (and every FILE read) before anything runs: a malformed\n"
             "line is a usage error (status 2). A line that fails when run (deploy rejected,\n"
             "call failed, ...) stops the script with an error naming SCRIPT:LINE and exit\n"
             "status 1; what earlier 'commit' lines committed stays committed, and changes\n"
             "after the last 'commit' are discarded.\n"
             "Prints one line per operation; with --json one object per operation:\n"
             "{\"op\": \"deploy\", \"module\": HEX}, {\"op\": \"call\", \"data\": HEX, \"gas_spent\": N,\n"
             "\"events\", \"debug\", \"call_tree\"[, \"fed\"]} (as for 'crust call'),\n"
             "{\"op\": \"commit\", \"root\": HEX}. An error is {\"error\": {\"code\", \"message\",\n"
             "\"line\"}} on stderr (with \"gas_spent\" for a failed call).\n"
             "Opens the store for writing; it must exist unless --create is given.",
     .options = kRunOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunScript},
    {.name = "prune-code",
     .usage = "prune-code [--dry-run] [--code-cache DIR]",
     .summary = "Remove compiled code no commit needs",
     .help = "Removes from the code cache (STORE/.cache/code, or --code-cache DIR) the compiled\n"
             "objects and prepared modules of contracts that are in no commit of the store,\n"
             "objects built by another crust, C compiler or set of flags (after an upgrade\n"
             "every contract is compiled again and the old objects would stay), and the\n"
             "temporaries of builds a crash interrupted. Keeps the objects of every module\n"
             "in every commit for this tool's compilers (gcc -O2 and tcc, the defaults; a\n"
             "node embedding crust with other VmOptions sweeps with Vm::SweepCodeCache).\n"
             "Nothing in the store depends on the cache: what is removed is compiled again\n"
             "if it is ever needed. A cache shared by several stores loses what only the\n"
             "others need. Reads every commit's index and each distinct bytecode once, and\n"
             "removes nothing if that fails. --dry-run counts without removing.\n"
             "JSON: {\"dry_run\", \"commits\", \"modules\", \"objects\": {\"kept\", \"kept_bytes\",\n"
             "\"removed\", \"removed_bytes\"}, \"prepared\": {...the same}, \"leftovers_removed\"}.\n"
             "Opens the store for writing (it refuses while a node or another command holds\n"
             "it).",
     .options = kPruneCodeOptions,
     .min_args = 0,
     .max_args = 0,
     .run = RunPruneCode},
};

}  // namespace

std::span<const Command> ExecCommands() { return kExecCommands; }

}  // namespace crust::tool
