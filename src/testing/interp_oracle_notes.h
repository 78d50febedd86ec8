// Copyright (c) crust authors. Licensed under the MIT license.
//
// Internal to the interpreter oracle: lets it see every write of the module
// to its memory, so that it can model the VM's page-write charge
// (host_gas.h kPageWriteGas, docs/abi.md §9.2) exactly. wabt's interpreter
// has no store hook, so the oracle runs a copy of the prepared module in
// which every store, memory.fill, memory.copy, memory.init and data.drop is
// preceded by a call to one extra import, kNoteModule.kNoteField, of type
// (kind: i32, dst: i64, len: i64, src: i64, segment: i32) -> (). The
// instruction itself, its operands and the module's gas counting are
// unchanged (the instrumentation's charges are ordinary instructions already
// in the module); the import only observes.
//
// Thread-safety: a free function without shared state.
#pragma once

#include <cstdint>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::engine {

inline constexpr char kNoteModule[] = "crust_oracle";
inline constexpr char kNoteField[] = "note_write";

enum class NoteKind : uint32_t {
  kStore = 0,  // a store or memory.fill of len bytes at dst
  kCopy = 1,   // memory.copy of len bytes from src to dst
  kInit = 2,   // memory.init of len bytes from offset src of passive data segment `segment`
  kDrop = 3,   // data.drop of `segment`
};

struct NotedModule {
  Bytes wasm;
  // Static length of each data segment (memory.init bounds until dropped).
  std::vector<uint64_t> segment_lengths;
};

// The prepared (instrumented, 32-bit memory) module `wasm` with the note
// calls inserted. InvalidModule if wabt cannot read or write it.
Result<NotedModule> AddWriteNotes(ByteView wasm);

}  // namespace crust::engine
