// Copyright (c) crust authors. Licensed under the MIT license.
//
// Shared by the bench programs: the --crust_markdown=FILE flag of main(),
// and the helpers every bench uses (fail fast on an unexpected error, time,
// medians, environment).
#pragma once

#include <errno.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "crust/status.h"

namespace crust::bench {

using Clock = std::chrono::steady_clock;

// Prints "<program>: <what>" and exits 1 (a bench cannot go on after an
// unexpected error; its figures would be meaningless).
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}
inline void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.ToString());
}
template <class T>
T Take(Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.status().ToString());
  return std::move(r).value();
}

inline double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The environment variable's value, or `dflt` when unset or empty.
inline std::string EnvStr(const char* name, const std::string& dflt = "") {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : dflt;
}

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
