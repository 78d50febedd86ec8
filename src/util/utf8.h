// Copyright (c) crust authors. Licensed under the MIT license.
//
// UTF-8 validation as Rust's core::str::from_utf8 defines it (piecrust's
// host functions reject names and messages that fail it).
//
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>

namespace crust {

// True when [p, p + n) is well-formed UTF-8: no overlong forms, no
// surrogates (U+D800..U+DFFF), no code points past U+10FFFF, no truncated
// sequence at the end.
bool IsUtf8(const uint8_t* p, size_t n);

}  // namespace crust
