// Copyright (c) crust authors. Licensed under the MIT license.
//
// crust: a thin command line over the crust library. This file only
// dispatches: it parses the line (args.h), prints help, checks the number of
// arguments and runs the command's handler (commands_*.cc).
#include <cstdio>
#include <string>
#include <vector>

#include "crust/version.h"

#include "tools/crust/args.h"
#include "tools/crust/commands.h"
#include "tools/crust/help.h"
#include "tools/crust/output.h"

#ifndef CRUST_TOOL_VERSION
#define CRUST_TOOL_VERSION "unknown"
#endif

namespace crust::tool {
namespace {

// Every command, in the order `crust --help` lists them. A new group of
// commands adds its span here.
const std::vector<Command>& Commands() {
  static const auto* const commands = [] {
    auto* all = new std::vector<Command>;
    for (const Command& c : StoreCommands()) all->push_back(c);
    for (const Command& c : ExecCommands()) all->push_back(c);
    for (const Command& c : ProofCommands()) all->push_back(c);
    for (const Command& c : InspectCommands()) all->push_back(c);
    for (const Command& c : UiCommands()) all->push_back(c);
    for (const Command& c : SyncCommands()) all->push_back(c);
    return all;
  }();
  return *commands;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::span<const OptionSpec> OptionsOf(std::string_view name) {
  const Command* c = FindCommand(name);
  return c ? c->options : std::span<const OptionSpec>();
}

const std::vector<OptionSpec>& AllOptions() {
  static const auto* const options = [] {
    auto* all = new std::vector<OptionSpec>;
    for (const Command& c : Commands()) all->insert(all->end(), c.options.begin(), c.options.end());
    return all;
  }();
  return *options;
}

Status CheckArgCount(const Command& c, size_t n) {
  const std::string usage = "crust " + std::string(c.usage);
  if (n < c.min_args) return Status::InvalidArgument("'" + std::string(c.name) + "' needs an argument: " + usage);
  if (n > c.max_args) return Status::InvalidArgument("too many arguments for '" + std::string(c.name) + "': " + usage);
  return Status::OK();
}

}  // namespace

// Completes the command at COMP_CWORD == 1, then that command's options; the
// values of --store, --arg-file and file arguments complete as files.
int RunCompletion(const ParsedArgs& args, const Output& out) {
  if (args.positional[0] != "bash") {
    return out.UsageFail(Status::InvalidArgument("only 'bash' completion is available, not '" +
                                                 Printable(args.positional[0]) + "'"));
  }
  std::string names, cases;
  for (const Command& c : Commands()) {
    names += std::string(names.empty() ? "" : " ") + std::string(c.name);
    std::string opts = "--store --json --help";
    for (const OptionSpec& o : c.options) opts += " --" + std::string(o.name);
    cases += "    " + std::string(c.name) + ") opts=\"" + opts + "\" ;;\n";
  }
  std::string script =
      "# bash completion for crust (crust completion bash)\n"
      "_crust() {\n"
      "  local cur prev cmd opts i\n"
      "  cur=${COMP_WORDS[COMP_CWORD]}\n"
      "  prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  case $prev in\n"
      "    --store|--arg-file|--code-cache) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "  esac\n"
      "  cmd=\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${COMP_WORDS[i]} in\n"
      "      --store) ((i++)) ;;\n"
      "      -*) ;;\n"
      "      *) cmd=${COMP_WORDS[i]}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  if [[ -z $cmd ]]; then\n"
      "    COMPREPLY=($(compgen -W \"" + names + " --store --json --help --version\" -- \"$cur\"))\n"
      "    return\n"
      "  fi\n"
      "  opts=\n"
      "  case $cmd in\n" + cases +
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "complete -F _crust crust\n";
  out.Print(script);
  return kExitOk;
}

namespace {

int Main(int argc, const char* const* argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("crust %s\n", CRUST_VERSION_STRING);
    return 0;
  }
  const Output fallback(WantsJson(argc, argv));
  const ArgParser parser(AllOptions(), OptionsOf);
  auto args = parser.Parse(argc, argv);
  if (!args.ok()) return fallback.UsageFail(args.status());
  const Output out(args->json);
  if (args->version) {
    if (out.json()) {
      JsonWriter w;
      w.BeginObject();
      w.Field("version", CRUST_TOOL_VERSION);
      w.EndObject();
      out.PrintJson(&w);
    } else {
      out.Print("crust " CRUST_TOOL_VERSION "\n");
    }
    return kExitOk;
  }
  if (args->command.empty()) {
    if (args->help) return PrintMainHelp(Commands(), out);
    return out.UsageFail(Status::InvalidArgument("no command given"));
  }
  const Command* command = FindCommand(args->command);
  if (command == nullptr) return out.UsageFail(Status::InvalidArgument("unknown command '" + args->command + "'"));
  if (args->help) return PrintCommandHelp(*command, out);
  const Status count = CheckArgCount(*command, args->positional.size());
  if (!count.ok()) return out.UsageFail(count);
  return command->run(*args, out);
}

}  // namespace
}  // namespace crust::tool

int main(int argc, char** argv) { return crust::tool::Main(argc, argv); }
