// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepared_format.h"

#include <cstring>
#include <string>

#include "src/util/coding.h"
#include "src/util/crc32c.h"

namespace crust::engine {
namespace {

constexpr char kMagic[8] = {'C', 'R', 'U', 'S', 'T', 'P', 'M', 1};

void PutString(Bytes* b, std::string_view s) {
  PutFixed32(b, static_cast<uint32_t>(s.size()));
  b->insert(b->end(), s.begin(), s.end());
}

void PutBlob(Bytes* b, ByteView v) {
  PutFixed64(b, v.size());
  PutBytes(b, v);
}

// Reads the body; the first failure is kept in `error` (all getters then fail).
class BodyReader {
 public:
  explicit BodyReader(ByteView body) : d_(body) {}

  bool U8(uint8_t* v) { return Check(d_.GetU8(v)); }
  bool U32(uint32_t* v) { return Check(d_.GetU32(v)); }
  bool U64(uint64_t* v) { return Check(d_.GetU64(v)); }
  bool Bool(bool* v) {
    uint8_t b = 0;
    if (!U8(&b)) return false;
    if (b > 1) return Fail("flag byte " + std::to_string(b) + " is not 0 or 1");
    *v = b == 1;
    return true;
  }
  bool Blob(Bytes* out) {
    uint64_t n = 0;
    ByteView v;
    if (!U64(&n)) return false;
    if (n > d_.remaining()) return Fail("truncated body");
    if (!Check(d_.GetView(static_cast<size_t>(n), &v))) return false;
    out->assign(v.begin(), v.end());
    return true;
  }
  bool String(std::string* out) {
    uint32_t n = 0;
    ByteView v;
    if (!U32(&n) || !Check(d_.GetView(n, &v))) return false;
    out->assign(v.begin(), v.end());
    return true;
  }
  bool Fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }
  size_t remaining() const { return d_.remaining(); }
  const std::string& error() const { return error_; }

 private:
  bool Check(bool ok) { return ok ? true : Fail("truncated body"); }
  Decoder d_;
  std::string error_;
};

bool ReadMemory(BodyReader* r, MemoryImage* m) {
  bool has_max = false;
  uint32_t max_pages = 0, chunks = 0;
  if (!r->U32(&m->initial_pages) || !r->Bool(&has_max) || !r->U32(&max_pages) || !r->U32(&chunks)) return false;
  if (has_max) m->max_pages = max_pages;
  if (!has_max && max_pages != 0) return r->Fail("maximum pages " + std::to_string(max_pages) + " without a maximum");
  uint64_t end = 0;  // end of the previous chunk
  for (uint32_t i = 0; i < chunks; ++i) {
    MemoryImage::Chunk c;
    if (!r->U32(&c.offset) || !r->Blob(&c.data)) return false;
    if (c.offset < end || c.offset + uint64_t{c.data.size()} > m->ByteSize()) {
      return r->Fail("memory chunk " + std::to_string(i) + " overlaps or lies outside the initial memory");
    }
    end = c.offset + uint64_t{c.data.size()};
    m->chunks.push_back(std::move(c));
  }
  return true;
}

bool ReadStateGlobal(BodyReader* r, StateGlobal* g) {
  uint8_t type = 0;
  if (!r->U32(&g->index) || !r->U8(&type) || !r->U64(&g->initial) || !r->Bool(&g->initial_known) ||
      !r->String(&g->export_name)) {
    return false;
  }
  if (type > static_cast<uint8_t>(ValType::kF64)) return r->Fail("unknown value type " + std::to_string(type));
  g->type = static_cast<ValType>(type);
  if (g->export_name != std::string(kStateGlobalPrefix) + std::to_string(g->index)) {
    return r->Fail("state global " + std::to_string(g->index) + " has export name \"" + g->export_name + "\"");
  }
  return true;
}

bool ReadStrings(BodyReader* r, std::vector<std::string>* out) {
  uint32_t n = 0;
  if (!r->U32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string s;
    if (!r->String(&s)) return false;
    out->push_back(std::move(s));
  }
  return true;
}

bool ReadBody(BodyReader* r, PreparedModule* m) {
  bool has_memory = false;
  if (!r->Blob(&m->wasm) || !r->Bool(&has_memory)) return false;
  if (has_memory && !ReadMemory(r, &m->memory.emplace())) return false;
  if (!r->Bool(&m->data_segments_in_wasm) || !r->U32(&m->arg_buffer) || !ReadStrings(r, &m->functions) ||
      !r->Bool(&m->has_init)) {
    return false;
  }
  uint32_t globals = 0;
  if (!r->U32(&globals)) return false;
  for (uint32_t i = 0; i < globals; ++i) {
    if (!ReadStateGlobal(r, &m->state_globals.emplace_back())) return false;
  }
  if (!ReadStrings(r, &m->host_imports)) return false;
  if (r->remaining() != 0) return r->Fail(std::to_string(r->remaining()) + " trailing bytes");
  return true;
}

}  // namespace

Bytes EncodePreparedModule(const PreparedModule& m) {
  Bytes b;
  b.reserve(m.wasm.size() + 256);
  PutBlob(&b, m.wasm);
  b.push_back(m.memory.has_value() ? 1 : 0);
  if (m.memory) {
    PutFixed32(&b, m.memory->initial_pages);
    b.push_back(m.memory->max_pages.has_value() ? 1 : 0);
    PutFixed32(&b, m.memory->max_pages.value_or(0));
    PutFixed32(&b, static_cast<uint32_t>(m.memory->chunks.size()));
    for (const MemoryImage::Chunk& c : m.memory->chunks) {
      PutFixed32(&b, c.offset);
      PutBlob(&b, c.data);
    }
  }
  b.push_back(m.data_segments_in_wasm ? 1 : 0);
  PutFixed32(&b, m.arg_buffer);
  PutFixed32(&b, static_cast<uint32_t>(m.functions.size()));
  for (const std::string& f : m.functions) PutString(&b, f);
  b.push_back(m.has_init ? 1 : 0);
  PutFixed32(&b, static_cast<uint32_t>(m.state_globals.size()));
  for (const StateGlobal& g : m.state_globals) {
    PutFixed32(&b, g.index);
    b.push_back(static_cast<uint8_t>(g.type));
    PutFixed64(&b, g.initial);
    b.push_back(g.initial_known ? 1 : 0);
    PutString(&b, g.export_name);
  }
  PutFixed32(&b, static_cast<uint32_t>(m.host_imports.size()));
  for (const std::string& h : m.host_imports) PutString(&b, h);
  return b;
}

Bytes EncodePreparedEntry(const Hash32& key, const PreparedModule& module) {
  const Bytes body = EncodePreparedModule(module);
  Bytes e(kMagic, kMagic + 8);
  e.reserve(kPreparedEntryHeaderSize + body.size());
  PutFixed32(&e, kPreparedEntryVersion);
  PutFixed32(&e, 0);
  PutFixed64(&e, body.size());
  PutHash(&e, key);
  PutFixed32(&e, Crc32c(body.data(), body.size()));
  PutFixed32(&e, Crc32c(e.data(), e.size()));
  PutBytes(&e, body);
  return e;
}

Result<PreparedModule> DecodePreparedEntry(ByteView entry, const Hash32& key, std::string_view name) {
  auto corrupt = [&](std::string_view what) { return Status::Corruption(std::string(name) + ": " + std::string(what)); };
  if (entry.size() < kPreparedEntryHeaderSize) return corrupt("truncated header");
  const uint8_t* h = entry.data();
  if (std::memcmp(h, kMagic, 8) != 0) return corrupt("not a prepared-module entry (bad magic)");
  if (DecodeFixed32(h + 60) != Crc32c(h, 60)) return corrupt("header checksum mismatch");
  if (DecodeFixed32(h + 8) != kPreparedEntryVersion) {
    return corrupt("unknown version " + std::to_string(DecodeFixed32(h + 8)));
  }
  if (DecodeFixed32(h + 12) != 0) return corrupt("unknown flags");
  const ByteView body = entry.subspan(kPreparedEntryHeaderSize);
  if (DecodeFixed64(h + 16) != body.size()) {
    return corrupt(DecodeFixed64(h + 16) > body.size() ? "truncated body" : "trailing bytes after the body");
  }
  if (std::memcmp(h + 24, key.bytes.data(), 32) != 0) return corrupt("entry is for another key");
  if (DecodeFixed32(h + 56) != Crc32c(body.data(), body.size())) return corrupt("body checksum mismatch");
  PreparedModule m;
  BodyReader r(body);
  if (!ReadBody(&r, &m)) return corrupt(r.error());
  return m;
}

}  // namespace crust::engine
