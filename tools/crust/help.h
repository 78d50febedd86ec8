// Copyright (c) crust authors. Licensed under the MIT license.
//
// `crust --help` and `crust COMMAND --help` (plain text on stdout, also with
// --json).
#pragma once

#include <vector>

#include "tools/crust/commands.h"
#include "tools/crust/output.h"

namespace crust::tool {

// Both return kExitOk.
int PrintMainHelp(const std::vector<Command>& commands, const Output& out);
int PrintCommandHelp(const Command& command, const Output& out);

}  // namespace crust::tool
