// Copyright (c) crust authors. Licensed under the MIT license.
//
// Shared by the bench programs' main(): the --crust_markdown=FILE flag.
#pragma once

#include <cstring>
#include <string>
#include <vector>

namespace crust::bench {

// Removes --crust_markdown=FILE from argv into the returned path (empty when
// absent); *args receives the rest, for benchmark::Initialize.
inline std::string TakeMarkdownFlag(int argc, char** argv, std::vector<char*>* args) {
  std::string markdown;
  for (int i = 0; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--crust_markdown=", 0) == 0) {
      markdown = a.substr(std::strlen("--crust_markdown="));
    } else {
      args->push_back(argv[i]);
    }
  }
  return markdown;
}

}  // namespace crust::bench
