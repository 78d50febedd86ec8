// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/help.h"

#include <algorithm>
#include <string>

namespace crust::tool {
namespace {

constexpr std::string_view kGlobalOptions =
    "  --store DIR   store directory (default: ./crust-store); it must be a crust\n"
    "                store: create one with 'crust init DIR' (or deploy/call/run --create)\n"
    "  --json        print results as JSON (errors as {\"error\": {\"code\", \"message\"}})\n"
    "  -h, --help    show help\n"
    "  --version     print the version of crust and exit\n";

constexpr std::string_view kExitStatus = "Exit status: 0 success, 1 the operation failed, 2 usage error.\n";

std::string Padded(std::string_view text, size_t width) {
  std::string s(text);
  s.resize(std::max(width, s.size() + 2), ' ');
  return s;
}

}  // namespace

int PrintMainHelp(const std::vector<Command>& commands, const Output& out) {
  // Usages longer than kMaxUsageColumn get their summary on the next line.
  constexpr size_t kMaxUsageColumn = 36;
  size_t width = 0;
  for (const Command& c : commands) {
    if (c.usage.size() + 2 <= kMaxUsageColumn) width = std::max(width, c.usage.size() + 2);
  }
  std::string text =
      "Usage: crust [--store DIR] [--json] COMMAND [ARGS...]\n"
      "\n"
      "Inspects and maintains a crust store: a directory of immutable commits, each\n"
      "named by its 64-hex-character state root; deploys WebAssembly modules and\n"
      "calls them in sessions that commit new roots.\n"
      "\n"
      "Commands:\n";
  for (const Command& c : commands) {
    if (c.usage.size() + 2 > width) {
      text += "  " + std::string(c.usage) + "\n  " + std::string(width, ' ') + std::string(c.summary) + "\n";
    } else {
      text += "  " + Padded(c.usage, width) + std::string(c.summary) + "\n";
    }
  }
  text += "\nOptions (before or after the command):\n";
  text += kGlobalOptions;
  text += "\nRun 'crust COMMAND --help' for one command.\n";
  text += kExitStatus;
  out.Print(text);
  return kExitOk;
}

int PrintCommandHelp(const Command& command, const Output& out) {
  std::string text = "Usage: crust [--store DIR] [--json] " + std::string(command.usage) + "\n\n";
  text += std::string(command.help) + "\n";
  if (!command.options.empty()) {
    text += "\nOptions:\n";
    auto spelled = [](const OptionSpec& o) {
      std::string s = "--" + std::string(o.name);
      if (o.takes_value()) s += " " + std::string(o.value_name);
      return s;
    };
    size_t width = 14;
    for (const OptionSpec& o : command.options) width = std::max(width, spelled(o).size() + 2);
    for (const OptionSpec& o : command.options) text += "  " + Padded(spelled(o), width) + std::string(o.help) + "\n";
  }
  text += "\nGlobal options:\n";
  text += kGlobalOptions;
  text += "\n";
  text += kExitStatus;
  out.Print(text);
  return kExitOk;
}

}  // namespace crust::tool
