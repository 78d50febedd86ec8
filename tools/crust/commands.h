// Copyright (c) crust authors. Licensed under the MIT license.
//
// The tool's command table. Each group of commands lives in its own file
// (commands_store.cc: commits, show, verify, delete; commands_exec.cc:
// deploy, call, query, run; commands_inspect.cc: init, check, functions,
// diff, stat, prune, completion; commands_ui.cc: ui) and exposes its entries
// through a function returning a span; main.cc concatenates the groups, so
// a new group (e.g. deploy/call/run) is one file plus one line in main.cc.
// Handlers only parse arguments, call the library and print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "crust/session.h"
#include "crust/store.h"
#include "tools/crust/args.h"
#include "tools/crust/output.h"

namespace crust::tool {

inline constexpr size_t kAnyNumber = SIZE_MAX;

struct Command {
  std::string_view name;
  std::string_view usage;    // what follows "crust", e.g. "delete [--no-wait] ROOT"
  std::string_view summary;  // one line for `crust --help`
  std::string_view help;     // paragraph(s) for `crust COMMAND --help`
  std::span<const OptionSpec> options;
  size_t min_args = 0;  // positional arguments
  size_t max_args = 0;  // kAnyNumber: no limit
  // Runs the command; returns the exit status (kExitOk, kExitFailed, kExitUsage).
  int (*run)(const ParsedArgs& args, const Output& out) = nullptr;
};

// commands_store.cc
std::span<const Command> StoreCommands();
// commands_exec.cc: deploy, call, query, run
std::span<const Command> ExecCommands();
// commands_proof.cc: prove, check-proof
std::span<const Command> ProofCommands();
// commands_inspect.cc: init, check, functions, diff, stat, prune, completion
std::span<const Command> InspectCommands();
// commands_ui.cc: ui
std::span<const Command> UiCommands();
// commands_sync.cc: export, import, serve
std::span<const Command> SyncCommands();

// main.cc: `crust completion bash` (needs the whole command table).
int RunCompletion(const ParsedArgs& args, const Output& out);

// --- Helpers shared by command handlers (command_util.cc) ---

// Parses a full 64-hex-character root or module id (an 0x prefix is
// allowed). InvalidArgument naming `text` otherwise (a usage error).
Result<Hash32> ParseHash(std::string_view text);
// Hex bytes, with or without 0x. InvalidArgument naming `what` otherwise.
Result<Bytes> ParseHexBytes(std::string_view text, std::string_view what);

inline bool IsInvalid(const Status& s) { return s.code() == Status::Code::kInvalidArgument; }

// Roots and module ids may be given by a unique prefix of at least this many
// hex characters.
inline constexpr size_t kMinPrefix = 8;
bool IsFullHash(std::string_view text);
// Usage error when `text` is neither a full id nor a prefix of >= kMinPrefix
// hex characters (checked before the store is opened).
Status CheckIdSyntax(std::string_view text, std::string_view what);
// A full root, or the one commit of `store` whose root starts with `text`.
// Errors: InvalidArgument (not hex, too short, ambiguous: names two matches),
// NotFound (no commit matches).
Result<Root> ResolveRoot(Store* store, std::string_view text, std::string_view what);
// The same for module ids, among the modules of `session`.
Result<ModuleId> ResolveModule(Session* session, std::string_view text, std::string_view what);

// OK when `dir` is a crust store (a directory with a FORMAT file); else
// NotFound (missing: says to run 'crust init' or pass --create) or
// InvalidArgument (exists but is not a store).
Status CheckIsStore(const std::string& dir);
// OK when a store may be created at `dir`: it is missing, empty or a store.
Status CheckCanCreateStore(const std::string& dir);

// The bytes of file `path`, or of standard input when `path` is "-".
Result<Bytes> ReadInput(const std::string& path);

enum class StoreAccess {
  kReadOnly,  // no write lock: works beside a writer
  kWrite,     // takes the write lock: Busy naming the holder's pid
};
// Opens the store named by --store. Never creates a store: a missing
// directory is NotFound naming it, a directory that is not a store
// (CheckIsStore) is refused.
Result<std::unique_ptr<Store>> OpenStore(const ParsedArgs& args, StoreAccess access);

}  // namespace crust::tool
