// Copyright (c) crust authors. Licensed under the MIT license.
//
// The store commands: commits, show, verify, delete. Read-only commands open
// the store without the write lock, so they work beside a writer.
#include <string>
#include <vector>

#include "tools/crust/commands.h"
#include "tools/crust/views.h"

namespace crust::tool {
namespace {

// --- commits ---

void PrintCommitsJson(const std::vector<CommitInfo>& commits, const Output& out) {
  JsonWriter w;
  w.BeginObject();
  w.Key("commits");
  w.BeginArray();
  for (const CommitInfo& c : commits) {
    w.BeginObject();
    w.Field("root", c.root.ToHex());
    w.Field("created_unix_ns", c.created_unix_ns);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out.PrintJson(&w);
}

// The module count needs each commit's index; a commit whose index cannot be
// read (deleted meanwhile, corrupt) shows "?" and a warning — `verify` is the
// command that judges commits.
std::string ModuleCount(Store* store, const Root& root, const Output& out) {
  auto info = store->ShowCommit(root);
  if (!info.ok()) {
    out.Warn(info.status().message());
    return "?";
  }
  return std::to_string(info->modules.size());
}

int RunCommits(const ParsedArgs& args, const Output& out) {
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto commits = (*store)->ListCommits();
  if (!commits.ok()) return out.Fail(commits.status());
  if (out.json()) {
    PrintCommitsJson(*commits, out);
    return kExitOk;
  }
  if (commits->empty()) {
    out.Print("no commits in store " + Printable((*store)->dir()) + "\n");
    return kExitOk;
  }
  out.Print(std::string("ROOT") + std::string(62, ' ') + "CREATED (UTC)" + std::string(19, ' ') + "MODULES\n");
  for (const CommitInfo& c : *commits) {
    out.Print(c.root.ToHex() + "  " + FormatTime(c.created_unix_ns) + "  " +
              ModuleCount(store->get(), c.root, out) + "\n");
  }
  return kExitOk;
}

// --- show ---

void PrintShowJson(const CommitInfo& c, const Output& out) {
  JsonWriter w;
  WriteCommitJson(c, &w);
  out.PrintJson(&w);
}

void PrintShowHuman(const CommitInfo& c, const Output& out) {
  std::string text = "commit   " + c.root.ToHex() + "\n" +
                     "created  " + FormatTime(c.created_unix_ns) + "\n" +
                     "modules  " + std::to_string(c.modules.size()) + "\n";
  for (const ModuleInfo& m : c.modules) {
    text += "\nmodule " + m.id.ToHex() + "\n";
    text += "  bytecode hash  " + m.bytecode_hash.ToHex() + "\n";
    text += "  bytecode size  " + FormatSize(m.bytecode_size) + "\n";
    text += "  memory hash    " + m.memory_hash.ToHex() + "\n";
    text += "  memory length  " + FormatSize(m.memory_length) + "\n";
    text += "  delta layers   " + std::to_string(m.delta_layers) + "\n";
    text += "  metadata       " + (m.metadata.empty() ? std::string("(none)") : ToHex(m.metadata)) + "\n";
  }
  out.Print(text);
}

int RunShow(const ParsedArgs& args, const Output& out) {
  const Status syntax = CheckIdSyntax(args.positional[0], "ROOT");
  if (!syntax.ok()) return out.UsageFail(syntax);
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto root = ResolveRoot(store->get(), args.positional[0], "ROOT");
  if (!root.ok()) return IsInvalid(root.status()) ? out.UsageFail(root.status()) : out.Fail(root.status());
  auto info = (*store)->ShowCommit(*root);
  if (!info.ok()) return out.Fail(info.status());
  if (out.json()) {
    PrintShowJson(*info, out);
  } else {
    PrintShowHuman(*info, out);
  }
  return kExitOk;
}

// --- verify ---

struct Verdict {
  Root root;
  Status status;
};

void PrintVerifyJson(const std::vector<Verdict>& verdicts, bool all_ok, const Output& out) {
  JsonWriter w;
  w.BeginObject();
  w.Key("commits");
  w.BeginArray();
  for (const Verdict& v : verdicts) WriteVerdictJson(v.root, v.status, &w);
  w.EndArray();
  w.Field("ok", all_ok);
  w.EndObject();
  out.PrintJson(&w);
}

// One line per commit: "OK <root>", "CORRUPT <root>: <message>", or
// "FAILED <root>: <message>" for other errors (not found, I/O).
void PrintVerdictHuman(const Verdict& v, const Output& out) {
  if (v.status.ok()) {
    out.Print("OK       " + v.root.ToHex() + "\n");
    return;
  }
  const char* label = v.status.IsCorruption() ? "CORRUPT  " : "FAILED   ";
  out.Print(label + v.root.ToHex() + ": " + std::string(v.status.message()) + "\n");
}

// The roots named on the command line, or every commit when none are.
Result<std::vector<Root>> RootsToVerify(Store* store, const std::vector<Root>& named) {
  if (!named.empty()) return named;
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store->ListCommits());
  std::vector<Root> roots;
  for (const CommitInfo& c : commits) roots.push_back(c.root);
  return roots;
}

int RunVerify(const ParsedArgs& args, const Output& out) {
  for (const std::string& text : args.positional) {
    const Status syntax = CheckIdSyntax(text, "ROOT");
    if (!syntax.ok()) return out.UsageFail(syntax);
  }
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  std::vector<Root> named;
  for (const std::string& text : args.positional) {
    auto root = ResolveRoot(store->get(), text, "ROOT");
    if (!root.ok()) return IsInvalid(root.status()) ? out.UsageFail(root.status()) : out.Fail(root.status());
    named.push_back(*root);
  }
  auto roots = RootsToVerify(store->get(), named);
  if (!roots.ok()) return out.Fail(roots.status());
  std::vector<Verdict> verdicts;
  Status first_failure;
  size_t failures = 0;
  for (const Root& root : *roots) {
    verdicts.push_back({root, (*store)->VerifyCommit(root)});
    if (!out.json()) PrintVerdictHuman(verdicts.back(), out);
    if (!verdicts.back().status.ok() && failures++ == 0) first_failure = verdicts.back().status;
  }
  if (out.json()) PrintVerifyJson(verdicts, failures == 0, out);
  if (!out.json() && roots->empty()) out.Print("no commits in store " + Printable((*store)->dir()) + "\n");
  if (failures == 0) return kExitOk;
  return out.Fail(first_failure.WithContext(std::to_string(failures) + " of " + std::to_string(roots->size()) +
                                            " commit(s) failed verification; first"));
}

// --- delete ---

int RunDelete(const ParsedArgs& args, const Output& out) {
  const Status syntax = CheckIdSyntax(args.positional[0], "ROOT");
  if (!syntax.ok()) return out.UsageFail(syntax);
  auto store = OpenStore(args, StoreAccess::kWrite);
  if (!store.ok()) return out.Fail(store.status());
  auto root = ResolveRoot(store->get(), args.positional[0], "ROOT");
  if (!root.ok()) return IsInvalid(root.status()) ? out.UsageFail(root.status()) : out.Fail(root.status());
  const Status s = args.Flag("no-wait") ? (*store)->TryDeleteCommit(*root) : (*store)->DeleteCommit(*root);
  if (!s.ok()) return out.Fail(s);
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("deleted", root->ToHex());
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("deleted " + root->ToHex() + "\n");
  }
  return kExitOk;
}

constexpr OptionSpec kDeleteOptions[] = {
    {.name = "no-wait",
     .value_name = "",
     .help = "fail with \"in use\" instead of waiting while sessions pin the commit"},
};

constexpr Command kStoreCommands[] = {
    {.name = "commits",
     .usage = "commits",
     .summary = "List commits, oldest first",
     .help = "Lists every commit of the store, oldest first: its root, creation time (UTC)\n"
             "and number of modules. JSON: {\"commits\": [{\"root\": HEX, \"created_unix_ns\": N}, ...]}.\n"
             "Opens the store read-only, so it works beside a writer.",
     .options = {},
     .min_args = 0,
     .max_args = 0,
     .run = RunCommits},
    {.name = "show",
     .usage = "show ROOT",
     .summary = "Show a commit's modules and their hashes",
     .help = "Shows commit ROOT (64 hex characters, or a unique prefix of at least 8) and\n"
             "each of its modules: id, bytecode\n"
             "hash and size, memory hash and length, delta layers on disk, metadata (hex).\n"
             "Opens the store read-only, so it works beside a writer.",
     .options = {},
     .min_args = 1,
     .max_args = 1,
     .run = RunShow},
    {.name = "verify",
     .usage = "verify [ROOT...]",
     .summary = "Recompute every hash of commits (all when no ROOT is given)",
     .help = "Recomputes every hash of each commit ROOT (every commit when none is given)\n"
             "from its files and compares them with its index and root. Prints one line per\n"
             "commit: OK, CORRUPT (naming the first file that does not match) or FAILED.\n"
             "Exit status 0 only when every commit verifies. Opens the store read-only.",
     .options = {},
     .min_args = 0,
     .max_args = kAnyNumber,
     .run = RunVerify},
    {.name = "delete",
     .usage = "delete [--no-wait] ROOT",
     .summary = "Delete a commit (other commits are unaffected)",
     .help = "Deletes commit ROOT. Other commits never depend on it. Waits while sessions\n"
             "pin the commit, as the library does; --no-wait fails with \"in use\" instead.\n"
             "Opens the store for writing: fails, naming its pid, while another process\n"
             "has the store open for writing.",
     .options = kDeleteOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunDelete},
};

}  // namespace

std::span<const Command> StoreCommands() { return kStoreCommands; }

}  // namespace crust::tool
