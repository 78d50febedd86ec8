// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/output.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace crust::tool {

void Output::Print(std::string_view text) const {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void Output::PrintJson(JsonWriter* writer) const {
  const std::string text = writer->Take() + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void Output::Warn(std::string_view message) const {
  std::fprintf(stderr, "crust: warning: %.*s\n", static_cast<int>(message.size()), message.data());
}

void Output::Error(const Status& status, bool usage) const {
  std::fflush(stdout);  // keep stdout and stderr in order on a terminal
  std::string text;
  if (json_) {
    JsonWriter w;
    w.BeginObject();
    w.Key("error");
    w.BeginObject();
    w.Field("code", Status::CodeName(status.code()));
    w.Field("message", status.message());
    w.EndObject();
    w.EndObject();
    text = w.Take() + "\n";
  } else {
    text = "crust: " + std::string(status.message()) + "\n";
    if (usage) text += "Run 'crust --help' for usage.\n";
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
}

int Output::Fail(const Status& status) const {
  Error(status, /*usage=*/false);
  return kExitFailed;
}

int Output::UsageFail(const Status& status) const {
  Error(status, /*usage=*/true);
  return kExitUsage;
}

std::string FormatTime(uint64_t unix_ns) {
  const time_t seconds = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm = {};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRIu64 "Z", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ns % 1000000000);
  return buf;
}

std::string FormatSize(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 2) {
    value /= 1024;
    unit++;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g %s (%" PRIu64 " bytes)", value, kUnits[unit], bytes);
  return buf;
}

}  // namespace crust::tool
