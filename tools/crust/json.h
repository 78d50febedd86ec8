// Copyright (c) crust authors. Licensed under the MIT license.
//
// The tool's JSON writer (--json output and the web view's API), a streaming
// front end over nlohmann-json (Debian nlohmann-json3-dev), which escapes
// and serialises: quotes, backslashes and control characters are escaped, and
// bytes that are not valid UTF-8 (file names can hold any bytes) become
// U+FFFD, so the output is always valid JSON. Members keep the order they
// were written in.
//
// Usage:
//   JsonWriter w;
//   w.BeginObject(); w.Key("root"); w.String(hex); w.EndObject();
//   std::string text = w.Take();
//
// REQUIRES: calls form a well-nested document (checked by assert).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace crust::tool {

class JsonWriter {
 public:
  JsonWriter();
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Number(uint64_t value);
  void Bool(bool value);
  void Null();

  // Shorthands for a key and its value.
  void Field(std::string_view key, std::string_view value) { Key(key); String(value); }
  void Field(std::string_view key, const char* value) { Key(key); String(value); }
  void Field(std::string_view key, uint64_t value) { Key(key); Number(value); }
  void Field(std::string_view key, bool value) { Key(key); Bool(value); }

  // The document written so far; the writer is empty afterwards.
  std::string Take();

 private:
  struct Tree;
  void Add(nlohmann::ordered_json value);
  void Open(bool object);
  void Close();

  std::unique_ptr<Tree> tree_;
};

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace crust::tool
