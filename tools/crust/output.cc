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
  const std::string text = "crust: warning: " + Printable(message) + "\n";
  std::fwrite(text.data(), 1, text.size(), stderr);
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
    text = "crust: " + Printable(status.message()) + "\n";
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

std::string Printable(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      i++;
      continue;
    }
    if (c == '\n' || c == '\t' || c == '\r') {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r";
      i++;
      continue;
    }
    const size_t len = c >= 0x80 ? Utf8SequenceLength(text, i) : 0;
    if (len == 0) {  // C0 control, DEL or a byte that is not UTF-8
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      i++;
      continue;
    }
    // C1 controls (U+0080..U+009F) are encoded as C2 80..C2 9F.
    const unsigned char c2 = static_cast<unsigned char>(text[i + 1]);
    if (c == 0xC2 && c2 < 0xA0) {
      out += "\\u{";
      out += kHex[c2 >> 4];
      out += kHex[c2 & 15];
      out += '}';
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
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
