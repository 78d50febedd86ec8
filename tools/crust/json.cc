// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/json.h"

#include <cassert>
#include <optional>

#include <nlohmann/json.hpp>

namespace crust::tool {

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; k++) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// The document is built as an nlohmann::ordered_json tree (members keep
// the order they were written in) and serialised by the library.
struct JsonWriter::Tree {
  nlohmann::ordered_json root;
  bool has_root = false;
  std::vector<nlohmann::ordered_json> open;  // containers being written
  std::vector<std::string> keys;             // per open object: the key of the container inside it
  std::optional<std::string> key;            // a key waiting for its value
};

JsonWriter::JsonWriter() : tree_(std::make_unique<Tree>()) {}
JsonWriter::~JsonWriter() = default;

void JsonWriter::Add(nlohmann::ordered_json value) {
  Tree& t = *tree_;
  if (t.open.empty()) {
    assert(!t.has_root);
    t.root = std::move(value);
    t.has_root = true;
    return;
  }
  nlohmann::ordered_json& top = t.open.back();
  if (top.is_array()) {
    assert(!t.key);
    top.push_back(std::move(value));
  } else {
    assert(t.key);
    top[*t.key] = std::move(value);
    t.key.reset();
  }
}

void JsonWriter::Open(bool object) {
  Tree& t = *tree_;
  t.keys.push_back(t.key.value_or(""));
  t.key.reset();
  t.open.push_back(object ? nlohmann::ordered_json::object() : nlohmann::ordered_json::array());
}

void JsonWriter::Close() {
  Tree& t = *tree_;
  assert(!t.open.empty() && !t.key);
  nlohmann::ordered_json done = std::move(t.open.back());
  t.open.pop_back();
  std::string key = std::move(t.keys.back());
  t.keys.pop_back();
  if (!t.open.empty() && t.open.back().is_object()) t.key = std::move(key);
  Add(std::move(done));
}

void JsonWriter::BeginObject() { Open(true); }
void JsonWriter::EndObject() { Close(); }
void JsonWriter::BeginArray() { Open(false); }
void JsonWriter::EndArray() { Close(); }

void JsonWriter::Key(std::string_view key) {
  assert(!tree_->key && !tree_->open.empty() && tree_->open.back().is_object());
  tree_->key = std::string(key);
}

void JsonWriter::String(std::string_view value) { Add(std::string(value)); }
void JsonWriter::Number(uint64_t value) { Add(value); }
void JsonWriter::Bool(bool value) { Add(value); }
void JsonWriter::Null() { Add(nullptr); }

std::string JsonWriter::Take() {
  Tree& t = *tree_;
  assert(t.open.empty() && !t.key);
  // Bytes that are not UTF-8 (file names can hold any) become U+FFFD.
  std::string out = t.has_root ? t.root.dump(-1, ' ', /*ensure_ascii=*/false,
                                             nlohmann::ordered_json::error_handler_t::replace)
                               : std::string();
  tree_ = std::make_unique<Tree>();
  return out;
}

}  // namespace crust::tool
