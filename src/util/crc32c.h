// Copyright (c) crust authors. Licensed under the MIT license.
//
// CRC-32C (Castagnoli), the checksum of every crust file header and footer.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise; both
// give identical results (tested).
#pragma once

#include <cstddef>
#include <cstdint>

namespace crust {

uint32_t Crc32c(const void* data, size_t len, uint32_t init = 0);
// The portable implementation, exposed for tests.
uint32_t Crc32cPortable(const void* data, size_t len, uint32_t init = 0);

}  // namespace crust
