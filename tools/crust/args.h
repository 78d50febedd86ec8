// Copyright (c) crust authors. Licensed under the MIT license.
//
// A small command-line parser for the crust tool. The command line is
//   crust [OPTIONS] COMMAND [OPTIONS] [ARGS...]
// where global options (--store DIR, --json, -h/--help) and the command's own
// options may appear anywhere, before or after the command. `--name=value`
// and `--name value` are both accepted; `--` ends option parsing.
//
// Errors are usage errors (InvalidArgument) naming the offending text.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"

namespace crust::tool {

// One option a command accepts (always spelled `--name`).
struct OptionSpec {
  std::string_view name;        // without the leading dashes, e.g. "no-wait"
  std::string_view value_name;  // e.g. "ROOT"; empty for a flag
  std::string_view help;        // one line for `crust COMMAND --help`

  bool takes_value() const { return !value_name.empty(); }
};

// Global options, accepted by every command: --store DIR (default below),
// --json, -h/--help, --version.
inline constexpr std::string_view kDefaultStoreDir = "./crust-store";

struct ParsedArgs {
  std::string command;                  // empty when none was given
  std::vector<std::string> positional;  // arguments after the command
  std::string store_dir{kDefaultStoreDir};
  bool json = false;
  bool help = false;
  bool version = false;  // --version
  std::set<std::string> flags;                // command flags that were given
  std::map<std::string, std::string> values;  // command options with values (last wins)
  std::map<std::string, std::vector<std::string>> all_values;  // every value, in order (repeatable options)

  bool Flag(std::string_view name) const { return flags.count(std::string(name)) > 0; }
  std::optional<std::string> Value(std::string_view name) const;
  // Every value given for a repeatable option, in order.
  std::vector<std::string> Values(std::string_view name) const;
};

// Parses argv[1..argc). `all_options` is every option of every command (used
// to tell whether an option before the command takes a value); `options_of`
// returns the options of the command found. Unknown commands are reported by
// the caller (the parser only splits the line).
// Errors: InvalidArgument (unknown option, option not valid for the command,
// missing or unexpected option value).
class ArgParser {
 public:
  ArgParser(std::span<const OptionSpec> all_options,
            std::span<const OptionSpec> (*options_of)(std::string_view command))
      : all_options_(all_options), options_of_(options_of) {}

  Result<ParsedArgs> Parse(int argc, const char* const* argv) const;

 private:
  const OptionSpec* Find(std::span<const OptionSpec> specs, std::string_view name) const;
  Result<std::string> FindCommand(const std::vector<std::string_view>& args) const;
  Status ParseOption(std::string_view arg, const std::vector<std::string_view>& args, size_t* i,
                     std::span<const OptionSpec> command_options, ParsedArgs* out) const;

  const std::span<const OptionSpec> all_options_;
  std::span<const OptionSpec> (*const options_of_)(std::string_view command);
};

// True when --json appears among the options (before any `--`), so that even
// a parse error can be reported as JSON.
bool WantsJson(int argc, const char* const* argv);

}  // namespace crust::tool
