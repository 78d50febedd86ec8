// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/spec_test_json.h"

#include <cstdlib>

namespace crust::engine::spec {

Json::Json() = default;
Json::~Json() = default;
Json::Json(const Json&) = default;
Json::Json(Json&&) noexcept = default;
Json& Json::operator=(const Json&) = default;
Json& Json::operator=(Json&&) noexcept = default;
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<Json> Value() {
    Skip();
    if (pos_ >= s_.size()) return Fail("unexpected end");
    const char c = s_[pos_];
    Json j;
    if (c == '{') return Object();
    if (c == '[') return Array();
    if (c == '"') {
      j.kind = Json::Kind::kString;
      RETURN_IF_ERROR(String(&j.text));
      return j;
    }
    if (s_.substr(pos_, 4) == "null") {
      pos_ += 4;
      return j;
    }
    if (s_.substr(pos_, 4) == "true" || s_.substr(pos_, 5) == "false") {
      j.kind = Json::Kind::kBool;
      j.text = c == 't' ? "true" : "false";
      pos_ += c == 't' ? 4 : 5;
      return j;
    }
    j.kind = Json::Kind::kNumber;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
                                s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      j.text += s_[pos_++];
    }
    if (j.text.empty()) return Fail("unexpected character");
    return j;
  }

  bool AtEnd() {
    Skip();
    return pos_ == s_.size();
  }

 private:
  Status Fail(const std::string& what) const {
    return Status::InvalidArgument("json: " + what + " at offset " + std::to_string(pos_));
  }
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  bool Eat(char c) {
    Skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  Result<Json> Object() {
    Json j;
    j.kind = Json::Kind::kObject;
    ++pos_;
    if (Eat('}')) return j;
    do {
      Skip();
      std::string key;
      RETURN_IF_ERROR(String(&key));
      if (!Eat(':')) return Fail("expected ':'");
      ASSIGN_OR_RETURN(Json v, Value());
      j.members.emplace_back(std::move(key), std::move(v));
    } while (Eat(','));
    if (!Eat('}')) return Fail("expected '}'");
    return j;
  }

  Result<Json> Array() {
    Json j;
    j.kind = Json::Kind::kArray;
    ++pos_;
    if (Eat(']')) return j;
    do {
      ASSIGN_OR_RETURN(Json v, Value());
      j.items.push_back(std::move(v));
    } while (Eat(','));
    if (!Eat(']')) return Fail("expected ']'");
    return j;
  }

  static void PutUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xc0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xe0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  Result<uint32_t> Hex4() {
    if (pos_ + 4 > s_.size()) return Fail("short \\u escape");
    const std::string h(s_.substr(pos_, 4));
    pos_ += 4;
    return static_cast<uint32_t>(std::strtoul(h.c_str(), nullptr, 16));
  }

  Status String(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected string");
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= s_.size()) return Fail("bad escape");
      c = s_[pos_++];
      switch (c) {
        case 'n': *out += '\n'; break;
        case 't': *out += '\t'; break;
        case 'r': *out += '\r'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'u': {
          ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            ASSIGN_OR_RETURN(uint32_t lo, Hex4());
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          PutUtf8(cp, out);
          break;
        }
        default: *out += c;
      }
    }
    if (pos_ >= s_.size()) return Fail("unterminated string");
    ++pos_;
    return Status::OK();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

const Json* Json::Get(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view Json::Str(std::string_view key) const {
  const Json* j = Get(key);
  return j == nullptr ? std::string_view() : std::string_view(j->text);
}

Result<Json> ParseJson(std::string_view text) {
  Parser p(text);
  ASSIGN_OR_RETURN(Json j, p.Value());
  if (!p.AtEnd()) return Status::InvalidArgument("json: trailing characters");
  return j;
}

}  // namespace crust::engine::spec
