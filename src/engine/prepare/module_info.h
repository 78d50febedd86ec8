// Copyright (c) crust authors. Licensed under the MIT license.
//
// What deploy preparation produces: the instrumented module and the facts the
// execution half and the vm layer need to run it (initial memory image,
// callable functions, argument buffer, mutable globals that are state), plus
// the names of the globals the instrumentation exports.
//
// The contract between prepare (this half) and execution:
//   * PreparedModule::wasm is the only code ever compiled or interpreted. It
//     validates, has no active data segments for its own memory, and exports
//     the instrumentation globals named below.
//   * Before every call the host sets kGasGlobal to the gas limit, kDepthGlobal
//     to the call-depth limit and kTrapGlobal to 0, and writes every state
//     global (StateGlobal::export_name) with its persisted value. After the
//     call (success or trap) it reads kGasGlobal: spent = limit - remaining.
//     On out of gas the remaining value is left as it was before the failing
//     charge; report spent = limit. After a successful call the host reads the
//     state globals back and persists them with the memory.
//   * When the call traps, the host reads kTrapGlobal: kOutOfGas means the gas
//     ran out (Status::OutOfGas), kCallDepth means the call-depth limit was
//     exceeded (Status::Trap "call stack exhausted"); 0 means an ordinary
//     trap raised by the engine itself.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crust/types.h"

namespace crust::engine {

// The value types crust accepts in signatures and globals.
enum class ValType : uint8_t { kI32, kI64, kF32, kF64 };
const char* ValTypeName(ValType t);  // "i32", "i64", "f32", "f64"

// Export names of the globals the instrumentation adds (reserved: a module
// exporting anything whose name starts with kReservedExportPrefix is rejected).
inline constexpr std::string_view kReservedExportPrefix = "__crust_";
// i64, mutable: gas remaining (unsigned). Set by the host before a call.
inline constexpr std::string_view kGasGlobal = "__crust_gas";
// i32, mutable: calls still allowed to nest (unsigned). Set before a call.
inline constexpr std::string_view kDepthGlobal = "__crust_depth";
// i32, mutable: why the module trapped on purpose (InjectedTrap). Reset to 0.
inline constexpr std::string_view kTrapGlobal = "__crust_trap";
// Prefix of the exports of the module's own mutable globals: "__crust_g<index>".
inline constexpr std::string_view kStateGlobalPrefix = "__crust_g";

// Values the instrumentation stores in kTrapGlobal just before `unreachable`.
enum class InjectedTrap : int32_t { kNone = 0, kOutOfGas = 1, kCallDepth = 2 };

// A reasonable call-depth limit that every engine can honour (the wabt
// interpreter's own stack holds ~1600 frames).
inline constexpr uint32_t kDefaultMaxCallDepth = 1000;

inline constexpr uint64_t kWasmPageSize = 65536;
inline constexpr uint32_t kArgBufferSize = 65536;  // the ABI's buffer at `A`

// The initial contents of a module's linear memory: its initial size plus the
// bytes the active data segments wrote (everything else is zero).
struct MemoryImage {
  struct Chunk {
    uint32_t offset = 0;
    Bytes data;
  };
  uint32_t initial_pages = 0;
  std::optional<uint32_t> max_pages;  // the module's declared maximum, if any
  // Sorted by offset, non-overlapping, inside initial_pages; later data
  // segments already overwrote earlier ones where they overlapped.
  std::vector<Chunk> chunks;

  uint64_t ByteSize() const { return uint64_t{initial_pages} * kWasmPageSize; }
  // The whole initial memory as one buffer (ByteSize() bytes). Meant for tests
  // and the interpreter oracle; large memories should be written chunk-wise.
  Bytes Flatten() const;
};

// A mutable global defined by the module: part of the module's state.
struct StateGlobal {
  uint32_t index = 0;       // global index in the prepared module
  ValType type = ValType::kI32;
  uint64_t initial = 0;     // value bits (i32/f32 in the low 32 bits)
  // False only in Abi::kNone when the initialiser reads an imported global:
  // then `initial` is 0 and the value instantiation computes is the initial one.
  bool initial_known = true;
  std::string export_name;  // kStateGlobalPrefix + decimal index
};

struct PreparedModule {
  // Instrumented, validated binary without data segments for its own memory
  // (and without custom sections). Deterministic: same input and options,
  // same bytes.
  Bytes wasm;
  // The module's own memory (absent only in Abi::kNone for modules that
  // import their memory or have none).
  std::optional<MemoryImage> memory;
  // True only in Abi::kNone when the data segments could not be applied at
  // prepare (imported memory, or an offset read from an imported global):
  // they are then still in `wasm` and instantiation applies them.
  bool data_segments_in_wasm = false;
  // Abi::kContract: the value of the exported global `A`.
  uint32_t arg_buffer = 0;
  // Abi::kContract: callable exports ((i32)->i32), sorted by name, without init.
  std::vector<std::string> functions;
  bool has_init = false;  // Abi::kContract: an `init` export exists
  // Mutable globals the module defines, in index order. Persist them.
  std::vector<StateGlobal> state_globals;
  // Abi::kContract: for each imported function in import order, its name in
  // the host table (see host_abi.h; FindHostFunction gives the id).
  std::vector<std::string> host_imports;
};

}  // namespace crust::engine
