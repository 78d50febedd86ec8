// Copyright (c) crust authors. Licensed under the MIT license.
//
// How the tool reports: results go to stdout, for people or (with --json) as
// one JSON document per line; errors go to stderr as "crust: <message>" or as
// {"error": {"code": "<Status code name>", "message": "..."}}. Exit statuses
// are the constants below.
#pragma once

#include <string>
#include <string_view>

#include "crust/status.h"
#include "tools/crust/json.h"

namespace crust::tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the operation failed (not found, corruption, busy, ...)
inline constexpr int kExitUsage = 2;   // the command line is wrong (unknown command/option, bad hex, ...)

class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  bool json() const { return json_; }

  // Human output: `text` as is (callers end lines with '\n').
  void Print(std::string_view text) const;
  // JSON output: the writer's document followed by a newline.
  void PrintJson(JsonWriter* writer) const;
  // A warning on stderr that does not change the exit status.
  void Warn(std::string_view message) const;

  // Report `status` as an error; return kExitFailed / kExitUsage.
  int Fail(const Status& status) const;
  int UsageFail(const Status& status) const;

 private:
  void Error(const Status& status, bool usage) const;

  const bool json_;
};

// `text` made safe for a terminal: control characters (C0, DEL, C1) become
// \n, \t, \r or \xNN / \u{NN}, bytes that are not valid UTF-8 become \xNN,
// and a backslash becomes \\. Everything a contract or a file name put into
// human-readable output goes through it, so no escape sequence reaches the
// terminal.
std::string Printable(std::string_view text);

// "2024-05-01T12:00:00.123456789Z" (UTC).
std::string FormatTime(uint64_t unix_ns);
// "1.5 MiB (1572864 bytes)"-style text for people.
std::string FormatSize(uint64_t bytes);

}  // namespace crust::tool
