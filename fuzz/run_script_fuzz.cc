// Copyright (c) crust authors. Licensed under the MIT license.
//
// The `crust run` script parser (tools/crust/commands_exec.cc): every line
// of the input goes through the tool's own Tokens + ParseOp, exactly as
// RunScript checks a script before opening the store. The parser lives in
// that file's unnamed namespace, so this target compiles the file itself.
// Deploy lines name files relative to an empty scratch directory (reading
// them fails cleanly). Properties: no crash, no exception, every error a
// Status.
#include "tools/crust/commands_exec.cc"

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crust::tool;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const std::filesystem::path dir(crust::fuzz::ScratchDir());
  size_t deployed = 0, line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const std::vector<std::string> tokens = Tokens(line);
    if (tokens.empty()) continue;
    ScriptOp op;
    op.line = line_no;
    op.text = Join(tokens);
    bool file_error = false;
    if (!ParseOp(tokens, dir, deployed, &op, &file_error).ok()) break;  // RunScript stops at the first error
    if (op.kind == ScriptOp::Kind::kDeploy) ++deployed;
  }
  return 0;
}
