// Copyright (c) crust authors. Licensed under the MIT license.
//
// The tool's command table. Each group of commands lives in its own file
// (commands_store.cc: commits, show, verify, delete; commands_exec.cc:
// deploy, call, run) and exposes its entries
// through a function returning a span; main.cc concatenates the groups, so
// a new group (e.g. deploy/call/run) is one file plus one line in main.cc.
// Handlers only parse arguments, call the library and print.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

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
// commands_exec.cc: deploy, call, run
std::span<const Command> ExecCommands();
// commands_proof.cc: prove, check-proof
std::span<const Command> ProofCommands();

// --- Helpers shared by command handlers (command_util.cc) ---

// Parses a full 64-hex-character root or module id. InvalidArgument naming
// `text` otherwise (a usage error).
Result<Hash32> ParseHash(std::string_view text);

enum class StoreAccess {
  kReadOnly,  // no write lock: works beside a writer
  kWrite,     // takes the write lock: Busy naming the holder's pid
};
// Opens the store named by --store. Never creates a store: a missing
// directory is NotFound naming it.
Result<std::unique_ptr<Store>> OpenStore(const ParsedArgs& args, StoreAccess access);

// The whole file. NotFound (missing or unreadable, with the reason),
// InvalidArgument (a directory), IOError.
Result<Bytes> ReadFile(const std::string& path);

}  // namespace crust::tool
