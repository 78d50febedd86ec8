// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/host_abi.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "src/util/utf8.h"

namespace crust::engine {
namespace {

constexpr ValType I32 = ValType::kI32;
constexpr ValType I64 = ValType::kI64;

constexpr std::array<ValType, 0> kNone{};
constexpr std::array<ValType, 1> kI32{I32};
constexpr std::array<ValType, 1> kI64{I64};
constexpr std::array<ValType, 2> kI32x2{I32, I32};
constexpr std::array<ValType, 3> kI32x3{I32, I32, I32};
constexpr std::array<ValType, 5> kCParams{I32, I32, I32, I32, I64};

constexpr std::array<HostFunctionSpec, kHostFnCount> kTable{{
    {HostFn::kPanic, "panic", kI32, kNone, false},
    {HostFn::kLimit, "limit", kNone, kI64, false},
    {HostFn::kSpent, "spent", kNone, kI64, false},
    {HostFn::kSelfId, "self_id", kNone, kNone, false},
    {HostFn::kHd, "hd", kI32x2, kI32, false},
    {HostFn::kC, "c", kCParams, kI32, false},
    {HostFn::kHq, "hq", kI32x3, kI32, false},
    {HostFn::kEmit, "emit", kI32x3, kNone, false},
    {HostFn::kFeed, "feed", kI32, kNone, false},
    {HostFn::kCaller, "caller", kNone, kI32, false},
    {HostFn::kCallstack, "callstack", kNone, kI32, false},
    {HostFn::kOwner, "owner", kI32, kI32, false},
    {HostFn::kHdebug, "hdebug", kI32, kNone, false},
}};

constexpr bool TableIsInIdOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].id) != i) return false;
  }
  return true;
}
static_assert(TableIsInIdOrder(), "kTable must be indexed by HostFn");

}  // namespace

std::span<const HostFunctionSpec> HostFunctions() { return kTable; }

const HostFunctionSpec& GetHostFunction(HostFn id) { return kTable[static_cast<size_t>(id)]; }

const HostFunctionSpec* FindHostFunction(std::string_view name) {
  for (const HostFunctionSpec& f : kTable) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::span<const ValType> HostParams64(HostFn id) {
  static constexpr std::array<ValType, 2> kHd64{I64, I32};
  static constexpr std::array<ValType, 5> kC64{I64, I64, I32, I32, I64};
  static constexpr std::array<ValType, 3> kPtrLenLen64{I64, I32, I32};  // hq, emit
  static constexpr std::array<ValType, 1> kOwner64{I64};
  switch (id) {
    case HostFn::kHd: return kHd64;
    case HostFn::kC: return kC64;
    case HostFn::kHq: case HostFn::kEmit: return kPtrLenLen64;
    case HostFn::kOwner: return kOwner64;
    default: return GetHostFunction(id).params;
  }
}

std::span<const ValType> HostParams(const HostFunctionSpec& spec, bool memory64) {
  return memory64 ? HostParams64(spec.id) : spec.params;
}

std::string SignatureString(std::span<const ValType> params, std::span<const ValType> results) {
  auto list = [](std::span<const ValType> types) {
    std::string s = "(";
    for (size_t i = 0; i < types.size(); ++i) {
      if (i) s += ", ";
      s += ValTypeName(types[i]);
    }
    return s + ")";
  };
  return list(params) + " -> " + list(results);
}

HostRead CheckHostRead(uint64_t mem_size, uint64_t window, uint64_t ptr, uint64_t len) {
  HostRead r;
  if (ptr > window || len > window - ptr) return r;
  r.in_window = true;
  r.in_memory = ptr >= mem_size ? 0 : std::min(len, mem_size - ptr);
  return r;
}

bool HostReadIsUtf8(const uint8_t* mem, uint64_t ptr, const HostRead& r) {
  return r.in_memory == 0 || IsUtf8(mem + ptr, r.in_memory);
}

std::string_view HostReadBytes(const uint8_t* mem, uint64_t ptr, uint64_t len, const HostRead& r,
                               std::string* scratch) {
  if (r.in_memory == len) return {reinterpret_cast<const char*>(mem) + (len ? ptr : 0), len};
  scratch->assign(len, '\0');
  if (r.in_memory > 0) std::memcpy(scratch->data(), mem + ptr, r.in_memory);
  return *scratch;
}

}  // namespace crust::engine
