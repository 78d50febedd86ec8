// Copyright (c) crust authors. Licensed under the MIT license.
//
// A small JSON reader for wast2json's output (spec-test harness only).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crust/status.h"

namespace crust::engine::spec {

struct Json {
  // Declared here, defined in the .cc: a recursive member type
  // (pair<string, Json>) must not be instantiated while this class is being
  // defined (clang with libstdc++ refuses it).
  Json();
  ~Json();
  Json(const Json&);
  Json(Json&&) noexcept;
  Json& operator=(const Json&);
  Json& operator=(Json&&) noexcept;

  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  std::string text;  // strings (decoded), numbers (as written), "true"/"false"
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  // The member `key` of an object, or nullptr.
  const Json* Get(std::string_view key) const;
  // The string member `key`, or "" if absent.
  std::string_view Str(std::string_view key) const;
};

Result<Json> ParseJson(std::string_view text);

}  // namespace crust::engine::spec
