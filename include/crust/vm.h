// Copyright (c) crust authors. Licensed under the MIT license.
//
// The crust virtual machine: WebAssembly contracts whose linear memories are
// the copy-on-write memories of a store session (store.h, session.h).
//
// A Vm owns a Store and a cache of compiled code (<store>/.cache/code by
// default; machine-specific, never part of a commit). A VmSession wraps a
// store Session: it deploys modules (validated, instrumented for gas and call
// depth, data segments applied once to build the initial memory, compiled
// ahead of time through wasm2c and the system C compiler, cached by code
// hash) and calls their exported functions through the piecrust wasm32 ABI:
//
//  * a module exports its memory `memory` and an i32 global `A`, the address
//    of a 64 KiB argument buffer;
//  * a callable function has type (i32 arg_len) -> i32: the argument is
//    copied to A[0..arg_len], and the result is read from A[0..ret_len] where
//    ret_len is the return value;
//  * host functions are imported from module `env` (see docs/abi.md).
//
// Determinism: the same deploys and calls on the same state give the same
// results, gas and roots on every machine: gas and the depth limit are
// injected into the WebAssembly itself, float NaNs are canonicalised, and
// every mutable global is persisted with the module (covered by the root).
//
// Thread-safety: a Vm is safe for concurrent use; each VmSession is used by
// one thread at a time, and many sessions may run concurrently.
//
// Process-wide effects: opening a Vm and running calls changes the process
// (everything the Store does, store.h, plus):
//  * signal handlers for SIGSEGV and SIGBUS, installed once by the first call
//    and never removed. A fault inside compiled contract code becomes a trap
//    (or, SIGBUS, a host IOError); any other fault is passed to the handler
//    installed before (or the default action). An embedder that installs its
//    own SIGSEGV/SIGBUS handler afterwards must chain to crust's, or traps
//    crash the process. SIGFPE is not used (division is checked in code).
//  * on every thread that runs a call, an alternate signal stack
//    (sigaltstack, 64 KiB, malloc'ed) unless the thread has one; it is
//    disabled and freed when the thread exits.
//  * on every thread that runs a call, a dedicated native stack mapping
//    (MAP_NORESERVE, about 75 MiB of address space with the default limits,
//    plus a 1 MiB guard) that calls switch to; kept until the thread exits;
//    the pages a call touched stay resident.
//  * fork/exec of the C compiler (`cc`, and `tcc` for the fast tier) to
//    identify it at Open and to compile new modules at deploy, from a thread
//    of its own (a 64 MiB stack) or the code cache's background thread (one
//    per Vm, optimised builds). The child runs in its own process group with
//    RLIMIT_AS and RLIMIT_CPU set and is killed (the whole group) after its
//    wall-clock limit. The child inherits the environment (PATH finds the
//    compilers) and no descriptor (crust's are O_CLOEXEC).
//  * dlopen (RTLD_NOW | RTLD_LOCAL) of each compiled module, dlclose when
//    the Vm no longer holds it: a Vm keeps at most 1,024 objects loaded
//    (about four mappings each; more only while sessions' modules use them),
//    unloading the least recently used idle ones; where the code cache's file system
//    is mounted noexec, of an anonymous copy (memfd_create, /proc/self/fd).
//  * a registry of mapped memories the signal handler consults (32,768
//    slots; a memory past them is not recognised and its out-of-bounds
//    accesses crash the process instead of trapping; the store's 10,000
//    region cap keeps this unreachable).
// Host queries (VmOptions::host_queries) are called on the thread running
// the call that made them; sessions on different threads call the same
// HostQuery concurrently, so it must be thread-safe. It must not call back
// into the VmSession that called it.
// Host faults (I/O errors or SIGBUS reading mapped files, damaged committed
// bytecode, native stack overflow) end a call with IOError, Corruption or
// Internal, never a contract outcome, and poison the VmSession: its later
// calls, deploys and Commit fail with Aborted (docs/abi.md section 10a).
// Lifetime: destroy every VmSession before its Vm.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crust/options.h"
#include "crust/session.h"
#include "crust/status.h"
#include "crust/store.h"
#include "crust/types.h"

namespace crust {

// An event a contract recorded with `emit` during a call.
struct Event {
  ModuleId source;     // the module that emitted it
  std::string topic;
  Bytes data;
  // True when the call that emitted it, or any call enclosing it (the
  // top-level call included), failed and was rolled back: the event stays in
  // the receipt, as piecrust keeps it, but describes nothing that happened to
  // the state. Its bytes were paid for like any other event's.
  bool reverted = false;
};

// The order of CallReceipt::call_tree.
enum class CallTreeOrder : uint8_t {
  // piecrust's order (the default): the reverse of the order calls started,
  // so every callee comes before its caller and the top-level call is last
  // (for a call A that calls B, which calls C, and then D: D, C, B, A).
  kCalleeFirst = 0,
  // The order calls started (pre-order): the top-level call first.
  kStartOrder = 1,
};

// One call in a receipt's call tree (order: VmOptions::call_tree_order).
// Unlike piecrust, calls that failed stay in the tree, with their status.
struct CallNode {
  ModuleId module;
  std::string function;
  uint32_t depth = 0;      // 0 for the top-level call
  uint64_t gas_limit = 0;
  uint64_t gas_spent = 0;  // including the calls it made
  Status status;           // how this call ended
};

// A named native function contracts reach with `hq`. It receives the
// argument bytes and returns the result (at most 64 KiB), and may charge gas
// by setting *gas (charged to the calling contract; more than it has left
// ends the call with OutOfGas). A non-OK status ends the call with that error.
using HostQuery = std::function<Result<Bytes>(ByteView arg, uint64_t* gas)>;

// Upper bounds of VmOptions::max_call_depth and max_module_depth: calls run
// on a dedicated native stack sized for both (64 KiB per wasm frame).
inline constexpr uint32_t kMaxCallDepthLimit = 100'000;
inline constexpr uint32_t kMaxModuleDepthLimit = 1'000;

struct VmOptions {
  StoreOptions store;
  // Where compiled code is cached. Empty: "<store>/.cache/code".
  std::string code_cache_dir;
  // C compiler optimisation level for compiled modules: 0 (fast to compile,
  // for tests) or 2. Default: 2.
  int opt_level = 2;
  // Code tiers (docs/architecture.md, "Code tiers"). kFastThenOptimised: a
  // module without optimised code in the cache first runs code from
  // `fast_compiler` (built in about a second for a large contract) while the
  // optimised build runs in a background thread; sessions switch to it
  // between top-level calls. Results and gas are the same in every tier.
  // kFastOnly: `fast_compiler` is the only compiler (tests). kAuto: kFastThenOptimised at
  // opt_level 2, kOptimisedOnly at 0 (tests compile each module once).
  // When the fast compiler cannot be run, only optimised code is used.
  enum class Tiers : uint8_t { kAuto, kOptimisedOnly, kFastThenOptimised, kFastOnly };
  Tiers tiers = Tiers::kAuto;
  // The fast tier's compiler: the Tiny C Compiler (Debian package tcc).
  std::string fast_compiler = "tcc";
  // Largest call depth (nested wasm function calls) a call may reach.
  // Part of consensus: every node must use the same value. Default: 1000.
  // At most kMaxCallDepthLimit (Open fails otherwise).
  uint32_t max_call_depth = 1000;
  // Largest depth of nested inter-module calls (`c`). Default: 48.
  // At most kMaxModuleDepthLimit.
  uint32_t max_module_depth = 48;
  // Largest linear memory a module may have, in 64 KiB pages (<= 65536).
  // Deploy refuses a larger initial memory (ResourceExhausted); memory.grow
  // past it fails (returns -1), as past the module's own maximum.
  // Part of consensus. Default: 65536 (4 GiB).
  uint32_t max_memory_pages = 65536;
  // Largest number of events one top-level call may emit. Default: 4096.
  uint32_t max_events = 4096;
  // The order of CallReceipt::call_tree. Not part of consensus (a
  // presentation of the same calls). Default: piecrust's (callee first).
  CallTreeOrder call_tree_order = CallTreeOrder::kCalleeFirst;
  // Named host queries contracts can call with `hq`.
  std::map<std::string, HostQuery, std::less<>> host_queries;
};

struct DeployOptions {
  // The module id. When absent it is derived from the bytecode, owner and
  // nonce: SHA-256("crust-module-id-v1" || SHA-256(bytecode) ||
  // u32le(len(owner)) || owner || u64le(nonce)).
  std::optional<ModuleId> id;
  Bytes owner;       // who owns the module (opaque bytes, at most 1 KiB)
  uint64_t nonce = 0;
  Bytes init_arg;    // argument of the module's `init`, run once if exported
  uint64_t gas_limit = 1'000'000'000;  // for `init`
};

struct CallReceipt {
  // OK, or why the call failed: NotFound (module or function), Panic (with
  // the contract's message), OutOfGas, Trap (message starts with the kind:
  // "unreachable", "out of bounds", "integer divide by zero", "integer
  // overflow", "invalid conversion", "indirect call mismatch", "stack
  // exhausted", "call depth limit"), InvalidArgument (argument too large,
  // "init" called), ResourceExhausted (return too large).
  Status status;
  Bytes data;              // returned bytes (empty unless ok)
  uint64_t gas_limit = 0;
  uint64_t gas_spent = 0;  // charged whether or not the call succeeded
  // Events in emission order, including those of calls that failed (caught
  // by a calling contract or ending the whole call): these are kept and
  // flagged Event::reverted, as piecrust keeps them.
  std::vector<Event> events;
  // Every call made (failed ones included), with per-call gas and status, in
  // VmOptions::call_tree_order (by default piecrust's: callee first, the
  // top-level call last).
  std::vector<CallNode> call_tree;
  // Messages contracts recorded with `hdebug`, in the order they were
  // recorded (UTF-8 as given), including those of calls that failed.
  std::vector<std::string> debug;
  bool ok() const { return status.ok(); }
};

class VmSession {
 public:
  virtual ~VmSession() = default;
  VmSession(const VmSession&) = delete;
  VmSession& operator=(const VmSession&) = delete;

  // Validates, instruments, compiles (or finds in the cache) and adds a
  // module, then runs its `init` if it exports one. Returns its id.
  // Errors: InvalidModule (bad bytes, ABI violation, imports not in the host
  // table or with the wrong signature), NotSupported (a rejected feature,
  // named), AlreadyExists (id taken), InvalidArgument (owner over 1 KiB),
  // ResourceExhausted (a deploy budget, or an initial memory over
  // VmOptions::max_memory_pages), any error of `init` (the module is then
  // not deployed), IOError (compilation failed), Aborted (the session is
  // poisoned: see the top of this file and Session::Checkpoint).
  virtual Result<ModuleId> Deploy(ByteView wasm, const DeployOptions& options = {}) = 0;

  // Calls `function` of `module` with `arg` (at most 64 KiB) and at most
  // `gas_limit` gas. Never fails as a whole: the receipt's status says how the
  // call ended. A call is atomic: when it fails, every memory write and
  // memory growth it made is rolled back and the session is exactly as before
  // the call (its root equals that of a session that never made it); gas is
  // still charged.
  virtual CallReceipt Call(const ModuleId& module, std::string_view function, ByteView arg,
                           uint64_t gas_limit) = 0;

  // As Call, writing the receipt into *receipt (not null), whose every field
  // is replaced as if by `*receipt = Call(...)`, but reusing its storage: the
  // capacity of its vectors and strings. A loop of calls into one receipt
  // therefore allocates nothing for the receipt once it has held a receipt
  // as large (Call allocates at least the call tree and the result).
  // `arg` may be receipt->data (it is copied first); REQUIRES: `function`
  // does not point into *receipt.
  virtual void CallInto(const ModuleId& module, std::string_view function, ByteView arg, uint64_t gas_limit,
                        CallReceipt* receipt) = 0;

  // As Call, streaming every `feed(arg_len)` of the called contract (and of
  // contracts it calls) to `feeder` in order. Feeding outside a feeder call
  // fails the call.
  virtual CallReceipt FeederCall(const ModuleId& module, std::string_view function, ByteView arg,
                                 uint64_t gas_limit, const std::function<void(ByteView)>& feeder) = 0;

  // What a migration's host code does between deploying the new code and
  // the swap: any calls on this session (on the old module, still under its
  // id, and on the new one under `new_id`), deploys, SetMeta. A non-OK
  // status aborts the migration.
  using MigrationFn = std::function<Status(const ModuleId& new_id, VmSession& session)>;

  // Replaces a module's bytecode keeping its id, driven by the host (as
  // piecrust's `Session::migrate(contract, bytecode, data, gas, closure)`):
  //  1. the new code is deployed as by Deploy(new_wasm, options), with its
  //     own fresh memory, under options.id or else a temporary id
  //     SHA-256(module || "crust-migration"); its owner is options.owner, or
  //     the old module's owner when options.owner is empty; its `init` runs
  //     with options.init_arg and options.gas_limit;
  //  2. `migrate(new_id, *this)` runs: the host may call the old module and
  //     the new one as often as it likes (each call is an ordinary top-level
  //     call with its own receipt), typically reading the old state and
  //     writing it into the new module;
  //  3. the new module takes the old id (its memory, globals and owner are
  //     kept; the old module's are gone) and `new_id` no longer exists.
  // Returns `module`. Atomic: if the deploy, the closure or the swap fails,
  // the session is as before the migration (memories, metadata, modules the
  // closure deployed, the new module) and the error is returned.
  // Errors: NotFound (no such module), AlreadyExists (options.id taken),
  // InvalidArgument (options.id is `module` itself), Busy (a migration or a
  // call is already running on this session), Aborted (poisoned session),
  // any deploy error, any error the closure returns.
  // REQUIRES: the closure neither commits nor keeps the session.
  virtual Result<ModuleId> MigrateWith(const ModuleId& module, ByteView new_wasm, const DeployOptions& options,
                                       const MigrationFn& migrate) = 0;

  // MigrateWith whose closure makes one call: `function` of the new code with
  // `arg` and `gas_limit` (which is also init's limit); that call may read
  // the old module through `c`. Returns that call's receipt (its status is
  // the migration's: a failed call leaves the module unchanged). The owner is
  // kept unless `new_owner` is given.
  virtual CallReceipt Migrate(const ModuleId& module, ByteView new_wasm, std::string_view function,
                              ByteView arg, uint64_t gas_limit, std::optional<Bytes> new_owner = std::nullopt) = 0;

  // Session metadata, read by contracts through `hd(name)`. Not part of the
  // state (not committed).
  virtual void SetMeta(std::string name, Bytes value) = 0;

  // The owner given at deploy. Errors: NotFound (no such module),
  // Corruption (its metadata cannot be decoded).
  virtual Result<Bytes> Owner(const ModuleId& module) = 0;

  // As Session::CurrentRoot.
  virtual Result<Root> CurrentRoot() = 0;
  // Commits the state (see Session::Commit) and returns the root.
  // Errors: as Session::Commit; Aborted also when a host fault poisoned
  // this VmSession.
  virtual Result<Root> Commit() = 0;

  // The underlying store session (memories, bytecode, metadata).
  virtual Session& state() = 0;

 protected:
  VmSession() = default;
};

// What Vm::SweepCodeCache kept and removed (with dry_run: would remove).
// Bytes are file sizes.
struct CodeCacheSweep {
  uint64_t commits = 0;  // commits whose modules were looked at
  uint64_t modules = 0;  // distinct module bytecodes among them
  uint64_t objects_kept = 0, objects_kept_bytes = 0;        // compiled objects
  uint64_t objects_removed = 0, objects_removed_bytes = 0;
  uint64_t prepared_kept = 0, prepared_kept_bytes = 0;      // prepared modules (deploy's cache)
  uint64_t prepared_removed = 0, prepared_removed_bytes = 0;
  uint64_t leftovers_removed = 0;  // temporaries of interrupted builds (processes that are gone)
};

class Vm {
 public:
  // Opens the store at `dir` (see Store::Open) and the code cache.
  // Errors: InvalidArgument (opt_level not 0 or 2, a depth limit over its
  // bound), those of Store::Open, and IOError (the code cache directory or
  // the C compiler cannot be used).
  static Result<std::unique_ptr<Vm>> Open(const std::string& dir, const VmOptions& options = {});
  virtual ~Vm() = default;
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  virtual Store& store() = 0;
  virtual Result<std::unique_ptr<VmSession>> StartGenesis() = 0;
  virtual Result<std::unique_ptr<VmSession>> StartSession(const Root& base) = 0;

  // Blocks until the optimised builds queued in the background so far (code
  // tiers, VmOptions::tiers) have finished: for a node that wants warm code
  // before it serves, benchmarks and tests. Sessions use the new code from
  // their next top-level call. Thread-safe.
  virtual void WaitForOptimisedCode() {}

  // Removes from the code cache (VmOptions::code_cache_dir) what no commit
  // of this store needs: compiled objects and prepared modules of contracts
  // that are in no commit any more, objects built by another crust, C
  // compiler or compiler options (their fingerprint differs: after an
  // upgrade every contract is compiled again and the old objects would stay
  // forever), and temporaries of builds a crash interrupted. Kept: the
  // objects of every module in every commit for this Vm's compilers
  // (opt_level, tiers and fast_compiler of its VmOptions: open the Vm with
  // the options the node runs with), and whatever this process has loaded
  // or is building. Nothing a store holds depends on the cache: what is
  // removed is compiled again if it is ever asked for. A code cache shared
  // by several stores loses what only the others need.
  // dry_run: count, remove nothing. Reads every commit's index and each
  // distinct bytecode once; nothing is removed if that fails.
  // Errors: Aborted on a read-only store (sweep from the process that
  // writes it: its deploys not yet committed are in no commit); those of
  // Store::ListCommits, ShowCommit, StartSession and Session::Bytecode
  // (naming the commit); IOError when an entry cannot be listed or removed.
  // Thread-safe (calls may run meanwhile).
  virtual Result<CodeCacheSweep> SweepCodeCache(bool dry_run = false) = 0;

 protected:
  Vm() = default;
};

}  // namespace crust
