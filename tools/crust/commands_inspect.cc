// Copyright (c) crust authors. Licensed under the MIT license.
//
// Commands that create, inspect and trim a store without running contracts:
// init, check, functions, diff, stat, prune, completion. Each is a thin layer
// over the library (crust/inspect.h, crust/module_check.h).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "crust/inspect.h"
#include "crust/module_check.h"
#include "crust/session.h"
#include "tools/crust/commands.h"
#include "tools/crust/views.h"

namespace crust::tool {
namespace {

int FailResolved(const Output& out, const Status& s) { return IsInvalid(s) ? out.UsageFail(s) : out.Fail(s); }

std::string Short(const Hash32& h) { return h.ToHex().substr(0, 16); }

// --- init ---

int RunInit(const ParsedArgs& args, const Output& out) {
  const std::string dir = args.positional.empty() ? args.store_dir : args.positional[0];
  const Status can = CheckCanCreateStore(dir);
  if (!can.ok()) return out.Fail(can);
  const bool existed = CheckIsStore(dir).ok();
  StoreOptions options;
  options.create_if_missing = true;
  auto store = Store::Open(dir, options);
  if (!store.ok()) return out.Fail(store.status().WithContext("cannot create store " + dir));
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("store", (*store)->dir());
    w.Field("created", !existed);
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print((existed ? "store " + Printable((*store)->dir()) + " exists already\n"
                       : "created store " + Printable((*store)->dir()) + "\n"));
  }
  return kExitOk;
}

// --- check ---

int RunCheck(const ParsedArgs& args, const Output& out) {
  const std::string& file = args.positional[0];
  auto wasm = ReadInput(file);
  if (!wasm.ok()) return out.Fail(wasm.status());
  auto check = CheckModule(*wasm);
  if (!check.ok()) {
    const Status& s = check.status();
    return out.Fail(s.WithContext(file + " would be rejected by deploy (" + std::string(Status::CodeName(s.code())) + ")"));
  }
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("file", file);
    w.Field("ok", true);
    w.Field("size", check->size);
    w.Key("functions");
    w.BeginArray();
    for (const std::string& f : check->functions) w.String(f);
    w.EndArray();
    w.Field("init", check->has_init);
    w.Key("imports");
    w.BeginArray();
    for (const std::string& f : check->imports) w.String(f);
    w.EndArray();
    w.Field("arg_buffer", uint64_t{check->arg_buffer});
    w.Field("initial_pages", uint64_t{check->initial_pages});
    if (check->max_pages) w.Field("max_pages", uint64_t{*check->max_pages});
    w.EndObject();
    out.PrintJson(&w);
    return kExitOk;
  }
  std::string text = "OK " + Printable(file) + ": deploy would accept it (nothing compiled)\n";
  text += "size           " + FormatSize(check->size) + "\n";
  text += "memory         " + std::to_string(check->initial_pages) + " pages of 64 KiB" +
          (check->max_pages ? ", at most " + std::to_string(*check->max_pages) : std::string(", no maximum")) + "\n";
  text += "argument at    A = " + std::to_string(check->arg_buffer) + "\n";
  text += "init           " + std::string(check->has_init ? "yes (runs once at deploy)" : "no") + "\n";
  text += "exports        " + std::to_string(check->functions.size()) + " callable function(s)\n";
  for (const std::string& f : check->functions) text += "  " + Printable(f) + "\n";
  text += "imports        " + std::to_string(check->imports.size()) + " host function(s) from env\n";
  for (const std::string& f : check->imports) text += "  env." + Printable(f) + "\n";
  out.Print(text);
  return kExitOk;
}

// --- functions ---

int RunFunctions(const ParsedArgs& args, const Output& out) {
  const Status syntax = CheckIdSyntax(args.positional[0], "MODULE");
  if (!syntax.ok()) return out.UsageFail(syntax);
  if (auto base = args.Value("base")) {
    const Status s = CheckIdSyntax(*base, "--base");
    if (!s.ok()) return out.UsageFail(s);
  }
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  Root root;
  if (auto base = args.Value("base")) {
    auto r = ResolveRoot(store->get(), *base, "--base");
    if (!r.ok()) return FailResolved(out, r.status());
    root = *r;
  } else {
    auto commits = (*store)->ListCommits();
    if (!commits.ok()) return out.Fail(commits.status());
    if (commits->empty()) return out.Fail(Status::NotFound("store " + (*store)->dir() + " has no commits; deploy a module first"));
    root = commits->back().root;
  }
  auto session = (*store)->StartSession(root);
  if (!session.ok()) return out.Fail(session.status());
  auto module = ResolveModule(session->get(), args.positional[0], "MODULE");
  if (!module.ok()) return FailResolved(out, module.status().WithContext("in commit " + root.ToHex()));
  auto code = (*session)->Bytecode(*module);
  if (!code.ok()) return out.Fail(code.status());
  auto functions = ModuleFunctions(*code);
  if (!functions.ok()) return out.Fail(functions.status().WithContext("module " + module->ToHex()));
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("module", module->ToHex());
    w.Field("root", root.ToHex());
    w.Key("functions");
    w.BeginArray();
    for (const std::string& f : *functions) w.String(f);
    w.EndArray();
    w.EndObject();
    out.PrintJson(&w);
  } else {
    std::string text;
    for (const std::string& f : *functions) text += Printable(f) + "\n";
    if (functions->empty()) text = "(module " + module->ToHex() + " exports no callable function)\n";
    out.Print(text);
  }
  return kExitOk;
}

// --- diff ---

std::string DiffHuman(const CommitDiff& d) {
  std::string text = "diff " + d.from.ToHex() + "\n  -> " + d.to.ToHex() + "\n";
  if (d.modules.empty()) return text + "no module differs\n";
  for (const ModuleChange& m : d.modules) {
    text += std::string(ChangeName(m.kind)) + std::string(9 - std::string(ChangeName(m.kind)).size(), ' ') +
            m.id.ToHex() + "\n";
    if (m.kind == ModuleChange::Kind::kAdded) {
      text += "         bytecode " + FormatSize(m.new_bytecode_size) + ", memory " + FormatSize(m.new_memory_length) + "\n";
      continue;
    }
    if (m.kind == ModuleChange::Kind::kRemoved) {
      text += "         bytecode " + FormatSize(m.old_bytecode_size) + ", memory " + FormatSize(m.old_memory_length) + "\n";
      continue;
    }
    if (m.bytecode_changed) {
      text += "         bytecode " + FormatSize(m.old_bytecode_size) + " -> " + FormatSize(m.new_bytecode_size) + "\n";
    }
    if (m.metadata_changed) text += "         metadata changed\n";
    if (m.memory_changed) {
      std::string pages;
      size_t shown = 0;
      for (size_t i = 0; i < m.changed_pages.size() && shown < 16; shown++) {
        size_t j = i;
        while (j + 1 < m.changed_pages.size() && m.changed_pages[j + 1] == m.changed_pages[j] + 1) j++;
        pages += (pages.empty() ? "" : ",") + std::to_string(m.changed_pages[i]) +
                 (j > i ? "-" + std::to_string(m.changed_pages[j]) : "");
        i = j + 1;
      }
      if (shown == 16) pages += ",...";
      text += "         memory " + std::to_string(m.changed_pages.size()) + " page(s) of 4 KiB changed (" +
              FormatSize(m.changed_pages.size() * kInspectPageSize) + ")" + (pages.empty() ? "" : ": " + pages) + "\n";
      if (m.old_memory_length != m.new_memory_length) {
        text += "         memory length " + FormatSize(m.old_memory_length) + " -> " + FormatSize(m.new_memory_length) + "\n";
      }
    }
  }
  text += "changed pages total " + FormatSize(d.changed_page_bytes) + "\n";
  return text;
}

int RunDiff(const ParsedArgs& args, const Output& out) {
  for (const std::string& t : args.positional) {
    const Status s = CheckIdSyntax(t, "ROOT");
    if (!s.ok()) return out.UsageFail(s);
  }
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto from = ResolveRoot(store->get(), args.positional[0], "ROOT1");
  if (!from.ok()) return FailResolved(out, from.status());
  auto to = ResolveRoot(store->get(), args.positional[1], "ROOT2");
  if (!to.ok()) return FailResolved(out, to.status());
  auto diff = DiffCommits(store->get(), *from, *to);
  if (!diff.ok()) return out.Fail(diff.status());
  if (out.json()) {
    JsonWriter w;
    WriteDiffJson(*diff, &w);
    out.PrintJson(&w);
  } else {
    out.Print(DiffHuman(*diff));
  }
  return kExitOk;
}

// --- stat ---

int RunStat(const ParsedArgs& args, const Output& out) {
  if (!args.positional.empty()) {
    const Status s = CheckIdSyntax(args.positional[0], "ROOT");
    if (!s.ok()) return out.UsageFail(s);
  }
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  std::optional<Root> only;
  if (!args.positional.empty()) {
    auto r = ResolveRoot(store->get(), args.positional[0], "ROOT");
    if (!r.ok()) return FailResolved(out, r.status());
    only = *r;
  }
  auto usage = MeasureDiskUsage(store->get());
  if (!usage.ok()) return out.Fail(usage.status());
  if (only) {
    auto keep = std::find_if(usage->commits.begin(), usage->commits.end(),
                             [&](const CommitUsage& c) { return c.root == *only; });
    if (keep == usage->commits.end()) return out.Fail(Status::NotFound("no commit " + only->ToHex() + " in store " + (*store)->dir()));
    CommitUsage one = *keep;
    usage->commits = {one};
  }
  if (out.json()) {
    JsonWriter w;
    WriteUsageJson(*usage, &w);
    out.PrintJson(&w);
    return kExitOk;
  }
  std::string text;
  for (const CommitUsage& c : usage->commits) {
    text += "commit " + c.root.ToHex() + "  " + FormatTime(c.created_unix_ns) + "\n";
    text += "  parent        " + (c.parent ? c.parent->ToHex() + " (most files shared)" : std::string("(none: shares no file)")) + "\n";
    text += "  files         " + std::to_string(c.files) + ", " + FormatSize(c.bytes) + "\n";
    text += "  written       " + FormatSize(c.new_bytes) + " (files no older commit has)\n";
    text += "  shared        " + FormatSize(c.shared_bytes) + " (hard links with other commits)\n";
    for (const MemoryLayers& m : c.memories) {
      text += "  memory " + Short(m.id) + "  " + std::to_string(m.delta_layers) + " delta layer(s)\n";
    }
  }
  if (!only) {
    text += "total: " + std::to_string(usage->commits.size()) + " commit(s), " + FormatSize(usage->unique_bytes) +
            " on disk; " + FormatSize(usage->apparent_bytes) + " if nothing were shared\n";
  }
  out.Print(text);
  return kExitOk;
}

// --- prune ---

int RunPrune(const ParsedArgs& args, const Output& out) {
  auto n_text = args.Value("keep-last");
  if (!n_text) return out.UsageFail(Status::InvalidArgument("prune needs --keep-last N (the number of newest commits to keep)"));
  uint64_t keep_last = 0;
  {
    const std::string& t = *n_text;
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 18) {
      return out.UsageFail(Status::InvalidArgument("--keep-last must be a decimal number, not '" + Printable(t) + "'"));
    }
    keep_last = std::stoull(t);
  }
  const std::vector<std::string> keep_text = args.Values("keep");
  for (const std::string& t : keep_text) {
    const Status s = CheckIdSyntax(t, "--keep");
    if (!s.ok()) return out.UsageFail(s);
  }
  const bool dry_run = args.Flag("dry-run");
  auto store = OpenStore(args, dry_run ? StoreAccess::kReadOnly : StoreAccess::kWrite);
  if (!store.ok()) return out.Fail(store.status());
  std::set<Root> keep;
  for (const std::string& t : keep_text) {
    auto r = ResolveRoot(store->get(), t, "--keep");
    if (!r.ok()) return FailResolved(out, r.status());
    keep.insert(*r);
  }
  auto commits = (*store)->ListCommits();
  if (!commits.ok()) return out.Fail(commits.status());
  std::vector<Root> doomed;
  const size_t n = commits->size();
  for (size_t i = 0; i < n; i++) {
    const Root& r = (*commits)[i].root;
    if (n - i <= keep_last || keep.count(r)) continue;
    doomed.push_back(r);
  }
  JsonWriter w;
  w.BeginObject();
  w.Field("dry_run", dry_run);
  w.Key(dry_run ? "would_delete" : "deleted");
  w.BeginArray();
  std::string text;
  Status failure;
  size_t deleted = 0;
  for (const Root& r : doomed) {
    if (!dry_run) {
      const Status s = (*store)->DeleteCommit(r);
      if (!s.ok()) {
        failure = s;
        break;
      }
    }
    deleted++;
    w.String(r.ToHex());
    text += (dry_run ? "would delete " : "deleted ") + r.ToHex() + "\n";
  }
  w.EndArray();
  w.Field("kept", uint64_t{n - deleted});
  w.EndObject();
  if (out.json()) {
    out.PrintJson(&w);
  } else {
    text += "kept " + std::to_string(n - deleted) + " of " + std::to_string(n) + " commit(s)" +
            (dry_run ? " (dry run: nothing deleted)" : "") + "\n";
    out.Print(text);
  }
  if (!failure.ok()) return out.Fail(failure.WithContext("prune stopped after " + std::to_string(deleted) + " deletion(s)"));
  return kExitOk;
}

constexpr OptionSpec kFunctionsOptions[] = {
    {.name = "base", .value_name = "ROOT", .help = "the commit to look in (default: the newest commit)"},
};
constexpr OptionSpec kPruneOptions[] = {
    {.name = "keep-last", .value_name = "N", .help = "keep the N newest commits (required)"},
    {.name = "keep", .value_name = "ROOT", .help = "also keep commit ROOT (repeatable)"},
    {.name = "dry-run", .value_name = "", .help = "print what would be deleted; delete nothing"},
};

constexpr Command kInspectCommands[] = {
    {.name = "init",
     .usage = "init [DIR]",
     .summary = "Create a store (DIR, default: --store)",
     .help = "Creates an empty crust store in DIR (default: the --store directory), which\n"
             "must be missing or an empty directory. Other commands refuse a missing store\n"
             "and a directory that is not a store, so a mistyped --store changes nothing.\n"
             "Initialising an existing store is harmless. JSON: {\"store\": DIR, \"created\": BOOL}.",
     .options = {},
     .min_args = 0,
     .max_args = 1,
     .run = RunInit},
    {.name = "check",
     .usage = "check FILE.wasm",
     .summary = "Check a module against the ABI as deploy would (no store)",
     .help = "Runs every check deploy runs before compiling (decoding, validation,\n"
             "rejected features, the contract ABI, the initial memory, instrumentation) and\n"
             "lists the callable exports and the host functions imported. Compiles nothing\n"
             "and needs no store ('-' reads standard input). Exit status 1 when deploy would\n"
             "reject the module, with the reason. JSON: {\"file\", \"ok\", \"size\", \"functions\",\n"
             "\"init\", \"imports\", \"arg_buffer\", \"initial_pages\"[, \"max_pages\"]}.",
     .options = {},
     .min_args = 1,
     .max_args = 1,
     .run = RunCheck},
    {.name = "functions",
     .usage = "functions [--base ROOT] MODULE",
     .summary = "List a deployed module's callable functions",
     .help = "Lists the callable functions of module MODULE (64 hex characters or a unique\n"
             "prefix of at least 8) in commit --base (default: the newest commit).\n"
             "JSON: {\"module\", \"root\", \"functions\": [NAME]}. Opens the store read-only.",
     .options = kFunctionsOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunFunctions},
    {.name = "diff",
     .usage = "diff ROOT1 ROOT2",
     .summary = "What changed between two commits",
     .help = "Compares commit ROOT1 with ROOT2: modules added, removed and changed (bytecode,\n"
             "metadata, memory), and for each changed memory the 4 KiB pages that differ\n"
             "and their bytes. Unchanged modules cost nothing; a changed memory is read in\n"
             "both commits. JSON: {\"from\", \"to\", \"changed_page_bytes\", \"page_size\",\n"
             "\"modules\": [{\"id\", \"change\", ..., \"changed_pages\": [N]}]}. Opens the store read-only.",
     .options = {},
     .min_args = 2,
     .max_args = 2,
     .run = RunDiff},
    {.name = "stat",
     .usage = "stat [ROOT]",
     .summary = "Disk used and shared by each commit",
     .help = "For each commit (or only ROOT): its files and their allocated bytes, the bytes\n"
             "it wrote (files no older commit has), the bytes it shares with other commits\n"
             "through hard links, its likely parent (the older commit sharing most files)\n"
             "and the delta layers of each memory; then the store's total on disk, each file\n"
             "counted once, beside what it would take if nothing were shared.\n"
             "JSON: {\"commits\": [{\"root\", \"files\", \"bytes\", \"new_bytes\", \"shared_bytes\",\n"
             "\"parent\", \"memories\": [{\"id\", \"delta_layers\"}]}], \"apparent_bytes\", \"unique_bytes\"}.",
     .options = {},
     .min_args = 0,
     .max_args = 1,
     .run = RunStat},
    {.name = "prune",
     .usage = "prune --keep-last N [--keep ROOT...] [--dry-run]",
     .summary = "Delete all but the newest N commits (and those kept)",
     .help = "Deletes every commit except the N most recently created and each --keep ROOT,\n"
             "oldest first, through the same deletion as 'crust delete' (waiting while\n"
             "sessions pin a commit). --dry-run prints what would be deleted and deletes\n"
             "nothing. Other commits never depend on deleted ones. Compiled code of contracts\n"
             "left in no commit stays in the code cache: see 'crust prune-code'.\n"
             "JSON: {\"dry_run\", \"deleted\" (or \"would_delete\"): [ROOT], \"kept\": N}.",
     .options = kPruneOptions,
     .min_args = 0,
     .max_args = 0,
     .run = RunPrune},
    {.name = "completion",
     .usage = "completion bash",
     .summary = "Print a bash completion script",
     .help = "Prints a bash completion script for crust's commands and options. Use it with\n"
             "  source <(crust completion bash)\n"
             "or save it as /etc/bash_completion.d/crust.",
     .options = {},
     .min_args = 1,
     .max_args = 1,
     .run = RunCompletion},
};

}  // namespace

std::span<const Command> InspectCommands() { return kInspectCommands; }

}  // namespace crust::tool
