// Copyright (c) crust authors. Licensed under the MIT license.
//
// Instance: one compiled module (Code) instantiated over a linear memory that
// the caller owns (an os::MemoryRegion: the session's copy-on-write mapping
// of the module's memory file). The memory is used in place: instantiation
// copies nothing and costs the same for any memory size, writes by the module
// land in the region (never in the file), and memory.grow grows the region.
//
// Instantiation runs what the compiled module does at instantiation: global
// initialisers, table and element setup, data segments (prepared contract
// modules have none) and the start function. Mutable globals therefore start
// from their initial values: restore persisted ones with SetGlobal /
// RestoreGlobals before calling.
//
// Thread-safety: an Instance is used by one thread at a time. Different
// instances may run concurrently on different threads.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crust/status.h"
#include "src/engine/runtime/runtime.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/engine/runtime/runtime_code.h"

namespace crust::os {
class MemoryRegion;
}

namespace crust::engine {

// Binds a module's imports. HostImports() (runtime_host.h) binds crust's host
// ABI; the spec-test harness binds its own.
class ImportResolver {
 public:
  virtual ~ImportResolver() = default;
  // Fills *slot for `import` of the instance `self` being created (host
  // functions receive `self` as their env). InvalidModule when the import is
  // unknown or its type does not match.
  virtual Status Resolve(const crust_import_desc& import, Instance* self, crust_import_slot* slot) const = 0;
};

struct InstanceOptions {
  // The linear memory. Required when the module defines a memory (grown to
  // the module's initial size if shorter); must outlive the instance and not
  // be used by anything else while the instance runs. Ignored otherwise.
  os::MemoryRegion* memory = nullptr;
  // The host's limit on the memory, in 64 KiB pages: memory.grow past it
  // fails (returns -1) as past the module's own maximum. Default: 65536 (4 GiB).
  uint32_t max_memory_pages = 65536;
  // Import binding; null means HostImports().
  const ImportResolver* imports = nullptr;
  // Host context for a start function's import calls (may be null).
  HostContext* host = nullptr;
  // Run the start function inside Create. False: the caller sets globals
  // (gas, depth limit) and calls RunStart() itself.
  bool run_start = true;
};

// An exported function looked up once, for repeated calls.
struct FunctionRef {
  const crust_export_desc* desc = nullptr;
};

class Instance {
 public:
  // Errors: InvalidArgument (no memory given for a module that defines one),
  // InvalidModule (import binding failed), a trap Status when instantiation
  // trapped (data segment out of bounds, start function trap).
  // With `failed` set, an instance whose instantiation trapped is moved
  // there instead of being destroyed: tables of other instances may already
  // hold its functions (the spec keeps element segments written before a
  // trap). Only the spec-test harness needs this.
  static Result<std::unique_ptr<Instance>> Create(std::shared_ptr<const Code> code, const InstanceOptions& options,
                                                  std::unique_ptr<Instance>* failed = nullptr);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Runs the module's start function (once; OK if there is none or it ran).
  Status RunStart(HostContext* host);

  // ---- calls ----
  // NotFound if no such export; InvalidArgument if it is not a function of
  // type (i32) -> i32 (for FindI32Function).
  Result<FunctionRef> FindFunction(std::string_view name) const;
  Result<FunctionRef> FindI32Function(std::string_view name) const;

  // Calls an exported (i32) -> i32 function: the contract ABI's entry. On a
  // trap returns TrapStatus(kind) (or the host's Status for kHostAbort);
  // last_trap() tells the kind. With the instrumentation globals present, an
  // injected trap is reported as kOutOfGas / kDepthLimit.
  Result<uint32_t> CallI32(FunctionRef fn, uint32_t arg, HostContext* host);
  Result<uint32_t> CallI32(std::string_view name, uint32_t arg, HostContext* host);

  // Calls any exported function with arguments and results as 64-bit cells
  // (see crust_invoke_fn in wasm_rt_abi.h). InvalidArgument on an argument
  // count mismatch.
  Status Invoke(FunctionRef fn, std::span<const uint64_t> args, std::vector<uint64_t>* results, HostContext* host);

  // Kind of the last call's trap (kNone after a successful call).
  TrapKind last_trap() const { return last_trap_; }

  // ---- globals ----
  // Exported globals by export name (the instrumentation's and the state
  // globals "__crust_g<i>" are exported). Values are bit patterns: i32/f32 in
  // the low 32 bits. NotFound if absent.
  Result<uint64_t> GetGlobal(std::string_view export_name) const;
  Status SetGlobal(std::string_view export_name, uint64_t bits);
  // A global looked up once, for repeated fast access (hot call paths).
  struct GlobalRef {
    void* addr = nullptr;
    char type = 0;
  };
  Result<GlobalRef> FindGlobal(std::string_view export_name) const;
  // Inline: the VM sets and reads several globals per call. A GlobalRef
  // comes from FindGlobal, whose globals are 4 or 8 bytes wide.
  static uint64_t Get(GlobalRef g) {
    uint64_t v = 0;
    if (g.type == 'j' || g.type == 'd') {
      std::memcpy(&v, g.addr, 8);
    } else {
      std::memcpy(&v, g.addr, 4);
    }
    return v;
  }
  static void Set(GlobalRef g, uint64_t bits) {
    if (g.type == 'j' || g.type == 'd') {
      std::memcpy(g.addr, &bits, 8);
    } else {
      std::memcpy(g.addr, &bits, 4);
    }
  }
  // Every global the module defines, in index order (state snapshot).
  std::vector<uint64_t> SaveGlobals() const;
  // The same, appended to *out (no allocation once *out has the capacity).
  void SaveGlobals(std::vector<uint64_t>* out) const;
  // InvalidArgument if the count differs from SaveGlobals()'.
  Status RestoreGlobals(std::span<const uint64_t> values);

  // ---- memory ----
  // The module's memory (defined or imported); null if it has none. Writing
  // through memory_data() must be announced (see WritableMemory).
  uint8_t* memory_data() const;
  uint64_t memory_size() const;
  // [ptr, ptr+len) of the memory for the host to write into, noted as
  // written (os::MemoryRegion::NoteWrite) and, in a lazily filled memory,
  // filled on this thread (os::MemoryRegion::Prefill); null when out of
  // bounds or there is no memory.
  uint8_t* WritableMemory(uint64_t ptr, uint64_t len);
  // Charges `gas_per_page` from the instrumentation's gas counter for every
  // 4 KiB page of the memory a call is about to write that was not noted
  // since the region's last collection, except the pages overlapping
  // [exempt_offset, exempt_offset + exempt_len) (docs/abi.md §9.2; the
  // charge is made in the write barrier's slow path, before the write, and
  // ends the call with OutOfGas when too little is left). 0 turns it off
  // (the default). InvalidArgument if the module has no memory or is not
  // instrumented.
  Status SetPageCharge(uint64_t gas_per_page, uint64_t exempt_offset, uint64_t exempt_len);
  // Makes the module see its memory region's current length again, after the
  // region was shrunk or grown from outside (a rolled-back call).
  void SyncMemorySize();
  // The address range host functions may read of this memory
  // (host_abi.h kHostWindow32 / kHostWindow64): the 64-bit one once import
  // resolution bound a 64-bit-pointer host import form.
  uint64_t host_window() const { return host_window_; }
  void set_host_window(uint64_t window) { host_window_ = window; }

  // ---- linking (spec-test harness) ----
  // Address of an exported memory (wasm_rt_memory_t), table, or global value.
  Result<void*> ExportAddress(std::string_view name, uint32_t kind) const;
  // The generated code's instance pointer (env of exported functions).
  void* raw() const { return raw_; }
  const Code& code() const { return *code_; }

 private:
  Instance(std::shared_ptr<const Code> code, void* raw);
  Status Instantiate(const InstanceOptions& options);
  Status RunCall(void (*fn)(void*), void* arg, HostContext* host);
  TrapKind ClassifyTrap(int code) const;
  void* GlobalAddress(std::string_view export_name, char* type) const;
  wasm_rt_memory_t* memory() const;

  const std::shared_ptr<const Code> code_;
  void* const raw_;  // the generated Z_m_instance_t (code_->desc().instance_size bytes)
  std::vector<crust_import_slot> imports_;
  bool instantiated_ = false;
  bool started_ = false;
  TrapKind last_trap_ = TrapKind::kNone;
  uint32_t* trap_global_ = nullptr;  // the instrumentation's kTrapGlobal, if exported
  uint64_t host_window_ = uint64_t{1} << 32;  // kHostWindow32
  rt::PageCharge page_charge_;       // gas_per_page 0: off
};

}  // namespace crust::engine
