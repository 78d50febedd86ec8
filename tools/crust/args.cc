// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/args.h"

namespace crust::tool {
namespace {

bool IsOption(std::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

// "--name=value" -> name "name", value "value"; "--name" -> name, nullopt.
void SplitOption(std::string_view arg, std::string_view* name, std::optional<std::string_view>* value) {
  std::string_view body = arg.substr(2);
  const size_t eq = body.find('=');
  *name = body.substr(0, eq);
  if (eq != std::string_view::npos) *value = body.substr(eq + 1);
}

// Global options take precedence over command options of the same name.
bool IsGlobal(std::string_view name) {
  return name == "store" || name == "json" || name == "help" || name == "version";
}

Status Usage(std::string message) { return Status::InvalidArgument(message); }

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

std::optional<std::string> ParsedArgs::Value(std::string_view name) const {
  auto it = values.find(std::string(name));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

const OptionSpec* ArgParser::Find(std::span<const OptionSpec> specs, std::string_view name) const {
  for (const OptionSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// The command is the first argument that is neither an option nor an option's
// value. Whether an option before the command takes a value is decided by any
// command's option of that name (commands agree on this).
Result<std::string> ArgParser::FindCommand(const std::vector<std::string_view>& args) const {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string_view arg = args[i];
    if (arg == "--") return i + 1 < args.size() ? std::string(args[i + 1]) : std::string();
    if (!IsOption(arg)) return std::string(arg);
    if (arg[1] != '-') continue;  // -h; other short options fail later
    std::string_view name;
    std::optional<std::string_view> value;
    SplitOption(arg, &name, &value);
    if (value) continue;
    const OptionSpec* spec = Find(all_options_, name);
    if (name == "store" || (spec != nullptr && spec->takes_value() && !IsGlobal(name))) i++;
  }
  return std::string();
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  auto it = all_values.find(std::string(name));
  return it == all_values.end() ? std::vector<std::string>() : it->second;
}

Status ArgParser::ParseOption(std::string_view arg, const std::vector<std::string_view>& args, size_t* i,
                              std::span<const OptionSpec> command_options, ParsedArgs* out) const {
  if (arg == "-h") {
    out->help = true;
    return Status::OK();
  }
  if (arg[1] != '-') return Usage("unknown option " + Quoted(arg));
  std::string_view name;
  std::optional<std::string_view> value;
  SplitOption(arg, &name, &value);
  const OptionSpec* spec = IsGlobal(name) ? nullptr : Find(command_options, name);
  const bool takes_value = name == "store" || (spec != nullptr && spec->takes_value());
  if (!IsGlobal(name) && spec == nullptr) {
    if (!out->command.empty() && Find(all_options_, name) != nullptr) {
      return Usage("option --" + std::string(name) + " is not valid for '" + out->command + "'");
    }
    return Usage("unknown option " + Quoted(arg));
  }
  if (takes_value && !value) {
    if (*i + 1 >= args.size()) return Usage("option --" + std::string(name) + " needs a value");
    value = args[++*i];
  }
  if (!takes_value && value) return Usage("option --" + std::string(name) + " takes no value");
  if (name == "store") {
    if (value->empty()) return Usage("option --store needs a non-empty directory");
    out->store_dir = std::string(*value);
  } else if (name == "json") {
    out->json = true;
  } else if (name == "help") {
    out->help = true;
  } else if (name == "version") {
    out->version = true;
  } else if (takes_value) {
    out->values[std::string(name)] = std::string(*value);
    out->all_values[std::string(name)].emplace_back(*value);
  } else {
    out->flags.insert(std::string(name));
  }
  return Status::OK();
}

Result<ParsedArgs> ArgParser::Parse(int argc, const char* const* argv) const {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  ParsedArgs out;
  ASSIGN_OR_RETURN(out.command, FindCommand(args));
  const std::span<const OptionSpec> command_options =
      out.command.empty() ? std::span<const OptionSpec>() : options_of_(out.command);
  bool command_seen = false, options_ended = false;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string_view arg = args[i];
    if (!options_ended && arg == "--") {
      options_ended = true;
    } else if (!options_ended && IsOption(arg)) {
      RETURN_IF_ERROR(ParseOption(arg, args, &i, command_options, &out));
    } else if (!command_seen) {
      command_seen = true;  // args[i] == out.command
    } else {
      out.positional.emplace_back(arg);
    }
  }
  return out;
}

bool WantsJson(int argc, const char* const* argv) {
  for (int i = 1; i < argc; i++) {
    const std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--json") return true;
  }
  return false;
}

}  // namespace crust::tool
