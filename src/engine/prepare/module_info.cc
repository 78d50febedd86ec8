// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/module_info.h"

#include <algorithm>

namespace crust::engine {

const char* ValTypeName(ValType t) {
  switch (t) {
    case ValType::kI32: return "i32";
    case ValType::kI64: return "i64";
    case ValType::kF32: return "f32";
    case ValType::kF64: return "f64";
  }
  return "?";
}

Bytes MemoryImage::Flatten() const {
  Bytes out(ByteSize(), 0);
  for (const Chunk& c : chunks) {
    std::copy(c.data.begin(), c.data.end(), out.begin() + c.offset);
  }
  return out;
}

}  // namespace crust::engine
