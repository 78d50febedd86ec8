// Copyright (c) crust authors. Licensed under the MIT license.
//
// Crafted hostile WebAssembly binaries for the deploy-limit tests (engine
// and integration): each is small to build and to store, and each asks a
// deploy for far more work or memory than its size (huge local counts, deep
// nesting, many functions or exports, ...). Written byte by byte so they do
// not depend on any text parser accepting them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crust/types.h"

namespace crust::hostile {

inline void Leb(Bytes* out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    out->push_back(b);
  } while (v);
}

inline void Append(Bytes* out, const Bytes& b) { out->insert(out->end(), b.begin(), b.end()); }

inline void Name(Bytes* out, const std::string& s) {
  Leb(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

// A module under construction: sections are appended in the order given.
class Module {
 public:
  Module() : bytes_{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00} {}
  Module& Section(uint8_t id, const Bytes& payload) {
    bytes_.push_back(id);
    Leb(&bytes_, payload.size());
    Append(&bytes_, payload);
    return *this;
  }
  // Section whose payload is `count` followed by `count` copies of what
  // `item(i)` appends.
  template <typename Fn>
  Module& Vector(uint8_t id, uint64_t count, Fn item) {
    Bytes p;
    Leb(&p, count);
    for (uint64_t i = 0; i < count; ++i) item(&p, i);
    return Section(id, p);
  }
  // Type section with `n` copies of () -> ().
  Module& VoidTypes(uint64_t n = 1) {
    return Vector(1, n, [](Bytes* p, uint64_t) { Append(p, {0x60, 0x00, 0x00}); });
  }
  // Function section: `n` functions of type 0.
  Module& Functions(uint64_t n) {
    return Vector(3, n, [](Bytes* p, uint64_t) { p->push_back(0x00); });
  }
  // Code section: `n` copies of `body` (locals declarations + code + end).
  Module& Bodies(uint64_t n, const Bytes& body) {
    return Vector(10, n, [&](Bytes* p, uint64_t) {
      Leb(p, body.size());
      Append(p, body);
    });
  }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

// A body: local declarations (count, type) then `code` then `end`.
inline Bytes Body(const std::vector<std::pair<uint64_t, uint8_t>>& locals, const Bytes& code = {}) {
  Bytes b;
  Leb(&b, locals.size());
  for (const auto& [count, type] : locals) {
    Leb(&b, count);
    b.push_back(type);
  }
  Append(&b, code);
  b.push_back(0x0b);
  return b;
}

constexpr uint8_t kI32 = 0x7f;
constexpr uint8_t kI64 = 0x7e;

// One function declaring the given locals (e.g. {{0x0FFFFFFF, kI32}}).
inline Bytes ManyLocals(const std::vector<std::pair<uint64_t, uint8_t>>& locals) {
  return Module().VoidTypes().Functions(1).Bodies(1, Body(locals)).bytes();
}

// `functions` functions each declaring `locals` i32 locals.
inline Bytes LocalsInManyFunctions(uint64_t functions, uint64_t locals) {
  return Module().VoidTypes().Functions(functions).Bodies(functions, Body({{locals, kI32}})).bytes();
}

// One function nesting `depth` blocks (opcode 0x02) or loops (0x03).
inline Bytes Nested(uint64_t depth, uint8_t opcode = 0x02) {
  Bytes code;
  for (uint64_t i = 0; i < depth; ++i) Append(&code, {opcode, 0x40});
  for (uint64_t i = 0; i < depth; ++i) code.push_back(0x0b);
  return Module().VoidTypes().Functions(1).Bodies(1, Body({}, code)).bytes();
}

// `n` functions of one instruction (nop).
inline Bytes ManyFunctions(uint64_t n) {
  return Module().VoidTypes().Functions(n).Bodies(n, Body({}, {0x01})).bytes();
}

// One function of `n` nops.
inline Bytes ManyInstructions(uint64_t n) {
  return Module().VoidTypes().Functions(1).Bodies(1, Body({}, Bytes(n, 0x01))).bytes();
}

// One function exported `n` times.
inline Bytes ManyExports(uint64_t n) {
  Module m;
  m.VoidTypes().Functions(1);
  m.Vector(7, n, [](Bytes* p, uint64_t i) {
    Name(p, "e" + std::to_string(i));
    Append(p, {0x00, 0x00});
  });
  return m.Bodies(1, Body({})).bytes();
}

// `types` types () -> (), `functions` one-instruction functions, `exports`
// exports (of function 0, then globals) and `globals` mutable i32 globals.
inline Bytes Everything(uint64_t types, uint64_t functions, uint64_t exports, uint64_t globals) {
  Module m;
  m.VoidTypes(types).Functions(functions);
  m.Vector(6, globals, [](Bytes* p, uint64_t) { Append(p, {kI32, 0x01, 0x41, 0x00, 0x0b}); });
  m.Vector(7, exports, [&](Bytes* p, uint64_t i) {
    Name(p, "e" + std::to_string(i));
    if (i < functions) {
      p->push_back(0x00);
      Leb(p, i);
    } else {
      p->push_back(0x03);
      Leb(p, (i - functions) % globals);
    }
  });
  return m.Bodies(functions, Body({}, {0x01})).bytes();
}

// `n` imported functions env.f<i>.
inline Bytes ManyImports(uint64_t n) {
  Module m;
  m.VoidTypes();
  m.Vector(2, n, [](Bytes* p, uint64_t i) {
    Name(p, "env");
    Name(p, "f" + std::to_string(i));
    Append(p, {0x00, 0x00});
  });
  return m.bytes();
}

// `n` immutable i32 globals initialised to 0.
inline Bytes ManyGlobals(uint64_t n) {
  return Module().Vector(6, n, [](Bytes* p, uint64_t) { Append(p, {kI32, 0x00, 0x41, 0x00, 0x0b}); }).bytes();
}

// `n` function types () -> ().
inline Bytes ManyTypes(uint64_t n) { return Module().VoidTypes(n).bytes(); }

// One function type with `params` i32 params.
inline Bytes WideType(uint64_t params) {
  return Module()
      .Vector(1, 1,
              [&](Bytes* p, uint64_t) {
                p->push_back(0x60);
                Leb(p, params);
                p->insert(p->end(), params, kI32);
                p->push_back(0x00);
              })
      .bytes();
}

// A funcref table of `initial` entries (no maximum).
inline Bytes Table(uint64_t initial) {
  return Module()
      .Vector(4, 1,
              [&](Bytes* p, uint64_t) {
                Append(p, {0x70, 0x00});
                Leb(p, initial);
              })
      .bytes();
}

// A table of `table_size` entries and an active element segment at `offset`
// holding `entries` references to function 0.
inline Bytes ElementsPastTable(uint64_t table_size, uint32_t offset, uint64_t entries) {
  Module m;
  m.VoidTypes().Functions(1);
  m.Vector(4, 1, [&](Bytes* p, uint64_t) {
    Append(p, {0x70, 0x00});
    Leb(p, table_size);
  });
  m.Vector(9, 1, [&](Bytes* p, uint64_t) {
    Append(p, {0x00, 0x41});  // flags 0: table 0, offset expr, func indices
    int64_t v = static_cast<int32_t>(offset);  // i32.const: signed LEB
    for (;;) {
      uint8_t b = v & 0x7f;
      v >>= 7;
      const bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
      p->push_back(done ? b : (b | 0x80));
      if (done) break;
    }
    p->push_back(0x0b);
    Leb(p, entries);
    p->insert(p->end(), entries, 0x00);
  });
  return m.Bodies(1, Body({})).bytes();
}

// A data-count section announcing `count` segments and no data section.
inline Bytes DataCountWithoutData(uint64_t count) {
  Bytes p;
  Leb(&p, count);
  return Module().Section(12, p).bytes();
}

// `n` element segments, each declaring one passive funcref (ref.null).
inline Bytes ManyElementSegments(uint64_t n) {
  return Module()
      .Vector(9, n, [](Bytes* p, uint64_t) { Append(p, {0x05, 0x70, 0x01, 0xd0, 0x70, 0x0b}); })
      .bytes();
}

// `n` empty passive data segments.
inline Bytes ManyDataSegments(uint64_t n) {
  return Module().Vector(11, n, [](Bytes* p, uint64_t) { Append(p, {0x01, 0x00}); }).bytes();
}

}  // namespace crust::hostile
