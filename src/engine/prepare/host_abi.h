// Copyright (c) crust authors. Licensed under the MIT license.
//
// The host functions a crust module may import: module "env" only, each with
// one exact WebAssembly signature. Deploy checks every import against this
// table (name and signature) before anything is compiled; the execution half
// binds imports through the same table (switch on HostFn).
//
// Functions marked `reserved` are accepted at deploy but not implemented by
// the host yet: calling one must fail the call cleanly. (None is today.)
//
// Thread-safety: the table is immutable static data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "src/engine/prepare/module_info.h"

namespace crust::engine {

inline constexpr std::string_view kHostModule = "env";

// Stable ids, in table order. Do not renumber (engines may index by them).
enum class HostFn : uint8_t {
  kPanic = 0,      // panic(msg_len: i32)                      message in A
  kLimit = 1,      // limit() -> i64                           gas limit of the call
  kSpent = 2,      // spent() -> i64                           gas spent so far
  kSelfId = 3,     // self_id()                                writes the 32-byte id to A
  kHd = 4,         // hd(name_ptr: i32, name_len: i32) -> i32  session metadata into A
  kC = 5,          // c(mod_ptr, fn_ptr, fn_len, arg_len: i32, gas: i64) -> i32
  kHq = 6,         // hq(name_ptr, name_len, arg_len: i32) -> i32
  kEmit = 7,       // emit(topic_ptr, topic_len, arg_len: i32)
  kFeed = 8,       // feed(arg_len: i32)
  kCaller = 9,     // caller() -> i32
  kCallstack = 10, // callstack() -> i32
  kOwner = 11,     // owner(mod_ptr: i32) -> i32                 mod_ptr 0: own owner
  kHdebug = 12,    // hdebug(msg_len: i32)                        debug line in A
};
inline constexpr size_t kHostFnCount = 13;

struct HostFunctionSpec {
  HostFn id;
  std::string_view name;  // field name under module "env"
  std::span<const ValType> params;
  std::span<const ValType> results;
  bool reserved;  // accepted at deploy, implemented by a later issue
};

// The whole table, indexed by HostFn.
std::span<const HostFunctionSpec> HostFunctions();
const HostFunctionSpec& GetHostFunction(HostFn id);
// The entry named `name`, or nullptr.
const HostFunctionSpec* FindHostFunction(std::string_view name);

// The parameters of `id` as a module with a 64-bit memory (memory64) imports
// it: as piecrust binds them for wasm64, every pointer parameter is i64
// (lengths stay i32). hd(i64, i32), c(i64, i64, i32, i32, i64),
// hq(i64, i32, i32), emit(i64, i32, i32), owner(i64); every other function
// has the same parameters as in the 32-bit table. Results never change.
std::span<const ValType> HostParams64(HostFn id);
// Params or HostParams64(spec.id), for a module whose memory is 64-bit.
std::span<const ValType> HostParams(const HostFunctionSpec& spec, bool memory64);

// ---- What a host function may read of a contract's memory (docs/abi.md §15) ----
// As in piecrust, a pointer a contract passes to the host is checked against
// the whole address range its memory maps, not the memory's current size:
// [0, 4 GiB) for a 32-bit memory, [0, 4 TiB) for a 64-bit one (piecrust's
// 65,536 and 2^26 pages). Bytes past the current size read as zero: memories
// never shrink, so nothing was ever written there. A module's window is the
// 64-bit one when it imports the 64-bit-pointer forms (HostParams64).
inline constexpr uint64_t kHostWindow32 = uint64_t{1} << 32;
inline constexpr uint64_t kHostWindow64 = uint64_t{1} << 42;
// A name read past the memory's end (zero-filled) longer than this matches
// nothing (no export, metadata key or host query) and is never materialised.
inline constexpr uint64_t kMaxZeroFilledName = uint64_t{8} << 20;

// The host's view of [ptr, ptr + len).
struct HostRead {
  bool in_window = false;  // false: the access traps "out of bounds"
  uint64_t in_memory = 0;  // leading bytes inside the memory; the rest read as zero
};
HostRead CheckHostRead(uint64_t mem_size, uint64_t window, uint64_t ptr, uint64_t len);
// True when the bytes of `r` (a read at `ptr` of `mem`) are UTF-8, as
// piecrust requires of names and topics. Zeros are UTF-8; a sequence cut
// short by the memory's end is not.
bool HostReadIsUtf8(const uint8_t* mem, uint64_t ptr, const HostRead& r);
// The bytes of a read that is in the window: a view into memory when it lies
// wholly inside, else a zero-extended copy in *scratch (len bytes: callers
// bound len first, e.g. by kMaxZeroFilledName).
std::string_view HostReadBytes(const uint8_t* mem, uint64_t ptr, uint64_t len, const HostRead& r,
                               std::string* scratch);

// "(i32, i32) -> i32", "() -> nil" style text, for error messages.
std::string SignatureString(std::span<const ValType> params, std::span<const ValType> results);

}  // namespace crust::engine
