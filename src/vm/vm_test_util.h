// Copyright (c) crust authors. Licensed under the MIT license.
//
// Helpers shared by the VM tests: example contracts, WAT, little-endian
// arguments.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "crust/types.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "src/util/coding.h"

namespace crust::vmtest {

// An example contract built to <build>/contracts/<name>.wasm.
inline Bytes Contract(const std::string& name) {
  auto r = os::Env::Default()->ReadFile(std::string(CRUST_BINARY_DIR) + "/contracts/" + name + ".wasm");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

inline Bytes Wat(std::string_view text) {
  auto r = engine::WatToWasm(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  return r.ok() ? *r : Bytes{};
}

inline Bytes U32(uint32_t v) {
  Bytes b;
  PutFixed32(&b, v);
  return b;
}

inline Bytes U64(uint64_t v) {
  Bytes b;
  PutFixed64(&b, v);
  return b;
}

}  // namespace crust::vmtest
