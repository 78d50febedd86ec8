/* Copyright (c) crust authors. Licensed under the MIT license.
 *
 * crust's C API (C99): a thin layer over the C++ library (vm.h, store.h) for
 * embedding crust from C and from other languages (bindings/rust,
 * bindings/python). docs/embedding.md describes it with examples.
 *
 * Conventions
 *  - Handles are opaque pointers. Every handle a function returns through an
 *    out-parameter is owned by the caller and released with its *_free
 *    function (passing NULL to a *_free function does nothing), except where
 *    a function says the handle is borrowed.
 *  - Ids and roots are 32 bytes (uint8_t[32]).
 *  - Byte strings are (pointer, length) pairs; a NULL pointer with length 0 is
 *    the empty string. Strings (function names, topics) are NUL-terminated
 *    UTF-8 unless a length is given.
 *  - Errors: every function that can fail returns a crust_code; CRUST_OK (0)
 *    is success. When it fails and `err` is not NULL, *err receives a new
 *    crust_error (code and message) the caller owns and frees with
 *    crust_error_free; on success *err is left untouched. Bad input (NULL
 *    handles or pointers, unknown roots, invalid wasm) is reported as an
 *    error, never a crash. No C++ exception and no signal raised by crust
 *    crosses this boundary: anything unexpected becomes CRUST_ABORTED.
 *  - Thread-safety is stated per group below. Callbacks run on the thread
 *    that made the call that triggers them.
 *  - Lifetime: free every session before its VM; data borrowed from a handle
 *    (pointers returned by accessors) is valid until that handle is freed.
 */
#ifndef CRUST_CRUST_H_
#define CRUST_CRUST_H_

#include <stddef.h>
#include <stdint.h>

#include "crust/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CRUST_API __attribute__((visibility("default")))
#else
#define CRUST_API
#endif

/* Error codes: the values of crust::Status::Code (status.h), stable. */
typedef enum crust_code {
  CRUST_OK = 0,
  CRUST_NOT_FOUND = 1,
  CRUST_CORRUPTION = 2,
  CRUST_IO_ERROR = 3,
  CRUST_INVALID_ARGUMENT = 4,
  CRUST_BUSY = 5,
  CRUST_ALREADY_EXISTS = 6,
  CRUST_NOT_SUPPORTED = 7,
  CRUST_TRAP = 8,
  CRUST_OUT_OF_GAS = 9,
  CRUST_PANIC = 10,
  CRUST_INVALID_MODULE = 11,
  CRUST_RESOURCE_EXHAUSTED = 12,
  CRUST_ABORTED = 13,
  CRUST_INTERNAL = 14  /* a failure of the host, not an outcome (e.g. native stack exhausted) */
} crust_code;

typedef struct crust_error crust_error;
typedef struct crust_vm_options crust_vm_options;
typedef struct crust_vm crust_vm;
typedef struct crust_store crust_store;
typedef struct crust_session crust_session;
typedef struct crust_receipt crust_receipt;
typedef struct crust_commit_list crust_commit_list;
typedef struct crust_bytes crust_bytes;
typedef struct crust_query_result crust_query_result;

/* --- Version and errors (thread-safe; an error is a value) ---------------- */

/* The library's version, e.g. "0.1.0" (CRUST_VERSION_STRING of the build). */
CRUST_API const char* crust_version(void);
/* "NotFound", "Corruption", ... ("Unknown" for other values). Static. */
CRUST_API const char* crust_code_name(int code);

CRUST_API crust_code crust_error_code(const crust_error* err);
/* The message (NUL-terminated; "" for NULL). Valid until crust_error_free. */
CRUST_API const char* crust_error_message(const crust_error* err);
CRUST_API void crust_error_free(crust_error* err);

/* --- Byte strings returned by the library (immutable; thread-safe) -------- */

CRUST_API const uint8_t* crust_bytes_data(const crust_bytes* b);
CRUST_API size_t crust_bytes_len(const crust_bytes* b);
CRUST_API void crust_bytes_free(crust_bytes* b);

/* --- Host queries (callbacks) --------------------------------------------- */

/* A host query: contracts call it by name with `hq`. It reads `arg`, and on
 * success sets its result with crust_query_result_set and returns 0; it may
 * charge gas by setting *gas. A nonzero return fails the contract's call
 * (with the message given to crust_query_result_fail, if any). It may be
 * called from any thread that runs a call, concurrently when sessions run
 * concurrently: `user_data` must tolerate that. It must not call back into
 * the session that is running it. */
typedef int (*crust_host_query_fn)(void* user_data, const uint8_t* arg, size_t arg_len,
                                   crust_query_result* result, uint64_t* gas);
/* Copies `len` bytes (at most 64 KiB) as the query's result. */
CRUST_API void crust_query_result_set(crust_query_result* result, const uint8_t* data, size_t len);
/* Records why the query failed (copied). */
CRUST_API void crust_query_result_fail(crust_query_result* result, const char* message);

/* A feeder: receives every `feed` of a feeder call, in order. Returning
 * nonzero stops delivery: later feeds of that call are dropped and the call
 * returns CRUST_ABORTED (the call's effects on the state stand, as they do
 * for a feeder that ignores data; the caller decides what to do with the
 * session). */
typedef int (*crust_feeder_fn)(void* user_data, const uint8_t* data, size_t len);

/* --- VM options (one thread at a time per options object) ---------------- */

/* Defaults: read-write, create the store if missing, sync on, opt level 2,
 * VmOptions' defaults for every limit. */
CRUST_API crust_vm_options* crust_vm_options_new(void);
CRUST_API void crust_vm_options_free(crust_vm_options* options);
CRUST_API void crust_vm_options_set_read_only(crust_vm_options* options, int read_only);
CRUST_API void crust_vm_options_set_create_if_missing(crust_vm_options* options, int create);
/* Turning sync off voids crash safety (tests and benchmarks only). */
CRUST_API void crust_vm_options_set_sync(crust_vm_options* options, int sync);
/* 0 (fast to compile) or 2. Other values: CRUST_INVALID_ARGUMENT at open. */
CRUST_API void crust_vm_options_set_opt_level(crust_vm_options* options, int level);
/* NULL or "": "<store>/.cache/code". */
CRUST_API crust_code crust_vm_options_set_code_cache_dir(crust_vm_options* options, const char* dir,
                                                         crust_error** err);
/* Consensus limits (see VmOptions in vm.h). */
CRUST_API void crust_vm_options_set_max_call_depth(crust_vm_options* options, uint32_t depth);
CRUST_API void crust_vm_options_set_max_memory_pages(crust_vm_options* options, uint32_t pages);
/* Registers host query `name`. `free_user_data` (may be NULL) is called once
 * with `user_data` when neither the options nor any VM opened with them use
 * the query any more. Replaces a query of the same name. */
CRUST_API crust_code crust_vm_options_add_host_query(crust_vm_options* options, const char* name,
                                                     crust_host_query_fn fn, void* user_data,
                                                     void (*free_user_data)(void*), crust_error** err);

/* --- VM (thread-safe: any function, any thread, concurrently) ------------ */

/* Opens (or creates) the store at `dir` with its code cache. `options` may
 * be NULL (defaults) and may be freed right after. Errors: as Vm::Open
 * (NOT_FOUND, BUSY when another process writes the store, CORRUPTION,
 * IO_ERROR). */
CRUST_API crust_code crust_vm_open(const char* dir, const crust_vm_options* options, crust_vm** out,
                                   crust_error** err);
/* Frees the VM. Every session of it must have been freed. */
CRUST_API void crust_vm_free(crust_vm* vm);
/* The VM's store, borrowed: valid until crust_vm_free; crust_store_free on it
 * does nothing. */
CRUST_API crust_store* crust_vm_store(crust_vm* vm);
/* Starts a session on the empty state, or on commit `root`, pinning it.
 * Errors: NOT_FOUND (no such commit), CORRUPTION. */
CRUST_API crust_code crust_vm_genesis_session(crust_vm* vm, crust_session** out, crust_error** err);
CRUST_API crust_code crust_vm_session(crust_vm* vm, const uint8_t root[32], crust_session** out,
                                      crust_error** err);

/* What crust_vm_sweep_code_cache kept and removed (dry run: would remove);
 * bytes are file sizes. See Vm::SweepCodeCache (crust/vm.h). */
typedef struct crust_code_cache_sweep {
  uint64_t commits;  /* commits whose modules were looked at */
  uint64_t modules;  /* distinct module bytecodes among them */
  uint64_t objects_kept, objects_kept_bytes, objects_removed, objects_removed_bytes;
  uint64_t prepared_kept, prepared_kept_bytes, prepared_removed, prepared_removed_bytes;
  uint64_t leftovers_removed; /* temporaries of interrupted builds */
} crust_code_cache_sweep;
/* Removes from the VM's code cache what no commit of its store needs
 * (contracts in no commit, objects of other builds, temporaries of builds
 * whose process is gone); keeps what this process has loaded or is
 * building. dry_run != 0: count only. Fills *out (may be NULL). Errors: as
 * Vm::SweepCodeCache (ABORTED on a read-only store; reading a commit fails:
 * nothing removed; IO_ERROR). */
CRUST_API crust_code crust_vm_sweep_code_cache(crust_vm* vm, int dry_run, crust_code_cache_sweep* out,
                                               crust_error** err);

/* --- Store (thread-safe: any function, any thread, concurrently) --------- */

/* Opens a store without a VM (listing, showing, verifying, deleting).
 * `read_only` opens without the write lock. */
CRUST_API crust_code crust_store_open(const char* dir, int read_only, crust_store** out, crust_error** err);
CRUST_API void crust_store_free(crust_store* store);
/* All commits, oldest first (modules not filled in). */
CRUST_API crust_code crust_store_list_commits(crust_store* store, crust_commit_list** out, crust_error** err);
/* One commit with its modules, as a list of one. Errors: NOT_FOUND. */
CRUST_API crust_code crust_store_show_commit(crust_store* store, const uint8_t root[32], crust_commit_list** out,
                                             crust_error** err);
/* Recomputes every hash of the commit. Errors: CORRUPTION naming the first
 * mismatch, NOT_FOUND. */
CRUST_API crust_code crust_store_verify_commit(crust_store* store, const uint8_t root[32], crust_error** err);
/* Deletes a commit. `wait` nonzero: waits until no session pins it;
 * zero: fails with BUSY instead. Errors: NOT_FOUND, ABORTED (read-only). */
CRUST_API crust_code crust_store_delete_commit(crust_store* store, const uint8_t root[32], int wait,
                                               crust_error** err);

/* Commit lists (immutable; thread-safe). */
typedef struct crust_module_info {
  uint8_t id[32];
  uint8_t bytecode_hash[32];
  uint8_t memory_hash[32];
  uint64_t memory_length;
  uint64_t bytecode_size;
  uint32_t delta_layers;
  const uint8_t* metadata;
  size_t metadata_len;
} crust_module_info;
typedef struct crust_commit {
  uint8_t root[32];
  uint64_t created_unix_ns;
  size_t module_count;
  const crust_module_info* modules; /* ascending by id; only from show */
} crust_commit;
CRUST_API size_t crust_commit_list_len(const crust_commit_list* list);
/* NULL when `i` is out of range. */
CRUST_API const crust_commit* crust_commit_list_get(const crust_commit_list* list, size_t i);
CRUST_API void crust_commit_list_free(crust_commit_list* list);

/* --- Sessions (one thread at a time per session; different sessions may
 *     run concurrently) ---------------------------------------------------- */

CRUST_API void crust_session_free(crust_session* session);

typedef struct crust_deploy_options {
  int has_id;             /* nonzero: use `id` instead of deriving it */
  uint8_t id[32];
  const uint8_t* owner;   /* at most 1 KiB */
  size_t owner_len;
  uint64_t nonce;
  const uint8_t* init_arg;
  size_t init_arg_len;
  uint64_t gas_limit;     /* for `init` */
} crust_deploy_options;
/* Sets the defaults of DeployOptions (vm.h): derived id, no owner, nonce 0,
 * no init argument, gas limit 1e9. */
CRUST_API void crust_deploy_options_init(crust_deploy_options* options);

/* Deploys a module (`options` may be NULL: defaults) and writes its id.
 * Errors: INVALID_MODULE, NOT_SUPPORTED, ALREADY_EXISTS, the error of its
 * `init`, IO_ERROR. */
CRUST_API crust_code crust_session_deploy(crust_session* session, const uint8_t* wasm, size_t wasm_len,
                                          const crust_deploy_options* options, uint8_t id_out[32],
                                          crust_error** err);
/* Calls `function` of `module`. Whenever the call ran, *out receives its
 * receipt (also when the call failed: gas is charged and events are kept);
 * the return value is the receipt's status code and *err its message.
 * With invalid input (NULL handles) nothing runs and *out is set to NULL. */
CRUST_API crust_code crust_session_call(crust_session* session, const uint8_t module[32], const char* function,
                                        const uint8_t* arg, size_t arg_len, uint64_t gas_limit,
                                        crust_receipt** out, crust_error** err);
/* As crust_session_call, streaming every `feed` to `feeder`. */
CRUST_API crust_code crust_session_feeder_call(crust_session* session, const uint8_t module[32],
                                               const char* function, const uint8_t* arg, size_t arg_len,
                                               uint64_t gas_limit, crust_feeder_fn feeder, void* user_data,
                                               crust_receipt** out, crust_error** err);
/* Replaces the bytecode of `module` (VmSession::Migrate): `function` of the
 * new code runs with `arg` and may read the old module's state; `new_owner`
 * NULL keeps the owner. Receipt and return value as crust_session_call. */
CRUST_API crust_code crust_session_migrate(crust_session* session, const uint8_t module[32],
                                           const uint8_t* new_wasm, size_t new_wasm_len, const char* function,
                                           const uint8_t* arg, size_t arg_len, uint64_t gas_limit,
                                           const uint8_t* new_owner, size_t new_owner_len, crust_receipt** out,
                                           crust_error** err);
/* Session metadata contracts read with `hd(name)` (not committed). */
CRUST_API crust_code crust_session_set_meta(crust_session* session, const char* name, const uint8_t* value,
                                            size_t value_len, crust_error** err);
/* The owner given at deploy. Errors: NOT_FOUND. */
CRUST_API crust_code crust_session_owner(crust_session* session, const uint8_t module[32], crust_bytes** out,
                                         crust_error** err);
/* Module ids of the state, ascending, as count * 32 bytes. */
CRUST_API crust_code crust_session_modules(crust_session* session, crust_bytes** out, crust_error** err);
/* The root a commit now would produce. */
CRUST_API crust_code crust_session_root(crust_session* session, uint8_t root_out[32], crust_error** err);
/* The commit the session started from or last made: writes it and returns
 * 1, or returns 0 for a session on genesis that has not committed. */
CRUST_API int crust_session_base(const crust_session* session, uint8_t root_out[32]);
/* Commits the state and writes the new root. Errors: ABORTED (read-only
 * store), IO_ERROR. */
CRUST_API crust_code crust_session_commit(crust_session* session, uint8_t root_out[32], crust_error** err);

/* --- Receipts (immutable; thread-safe) ------------------------------------ */

typedef struct crust_event {
  uint8_t source[32];
  const char* topic;      /* NUL-terminated; topic_len bytes */
  size_t topic_len;
  const uint8_t* data;
  size_t data_len;
  int reverted;           /* nonzero: emitted by a call that was rolled back */
} crust_event;
typedef struct crust_call_node {
  uint8_t module[32];
  const char* function;
  uint32_t depth;         /* 0 for the top-level call */
  uint64_t gas_limit;
  uint64_t gas_spent;     /* including the calls it made */
  crust_code status;
  const char* message;    /* "" when status is CRUST_OK */
} crust_call_node;

CRUST_API crust_code crust_receipt_status(const crust_receipt* r);
CRUST_API const char* crust_receipt_message(const crust_receipt* r);
CRUST_API const uint8_t* crust_receipt_data(const crust_receipt* r, size_t* len);
CRUST_API uint64_t crust_receipt_gas_limit(const crust_receipt* r);
CRUST_API uint64_t crust_receipt_gas_spent(const crust_receipt* r);
CRUST_API size_t crust_receipt_event_count(const crust_receipt* r);
/* NULL when `i` is out of range. */
CRUST_API const crust_event* crust_receipt_event(const crust_receipt* r, size_t i);
CRUST_API size_t crust_receipt_debug_count(const crust_receipt* r);
CRUST_API const char* crust_receipt_debug(const crust_receipt* r, size_t i);
CRUST_API size_t crust_receipt_call_count(const crust_receipt* r);
CRUST_API const crust_call_node* crust_receipt_call(const crust_receipt* r, size_t i);
CRUST_API void crust_receipt_free(crust_receipt* r);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* CRUST_CRUST_H_ */
