/* Copyright (c) crust authors. Licensed under the MIT license.
 *
 * crust's replacement for wasm2c's "wasm-rt.h" (wabt 1.0.32), plus the binary
 * interface between a compiled module and crust's runtime.
 *
 * This one file is read twice:
 *  - the compiler writes its text, verbatim, as "wasm-rt.h" next to the C
 *    that wasm2c generates, so generated code compiles against it;
 *  - the C++ runtime includes it to read the module descriptor and to fill the
 *    service table.
 * Its text is part of the code-cache fingerprint: any edit rebuilds every
 * cached object. Bump CRUST_RT_ABI_VERSION on incompatible changes anyway.
 *
 * Differences from upstream wasm-rt.h (declarations wasm2c 1.0.32 output uses
 * are kept name for name):
 *  - bounds checks are off (WASM_RT_MEMCHECK_SIGNAL_HANDLER=1): every memory
 *    lives in an 8 GiB + 64 KiB reservation whose inaccessible tail faults;
 *  - no global call-depth counter (WASM_RT_USE_STACK_DEPTH_COUNT=0): the
 *    deploy-time instrumentation limits depth deterministically and the
 *    native stack is guarded by the runtime (guard page + sigaltstack);
 *  - wasm_rt_memory_t carries a pointer to crust's memory object and to its
 *    noted-page map: every write to memory (stores, memory.fill/copy/init,
 *    data segments) is announced first (CRUST_NOTE_STORE / CRUST_NOTE_RANGE
 *    below, inserted into wasm2c's output by compiler_translate.cc), which is
 *    how sessions find the pages a call wrote without asking the kernel
 *    (src/os/memory_region.h, "noted");
 *  - a compiled module defines the wasm_rt_* functions itself, forwarding to
 *    a crust_rt_api table the loader installs, so the shared object has no
 *    undefined symbols besides libc/libm and can be dlopen'ed RTLD_LOCAL.
 */
#ifndef WASM_RT_H_
#define WASM_RT_H_

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRUST_RT_ABI_VERSION 4

#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define wasm_rt_memcpy __builtin_memcpy
#define wasm_rt_unreachable __builtin_unreachable

#define WASM_RT_SKIP_SIGNAL_RECOVERY 0
#define WASM_RT_SIGNAL_RECOVERY_SUPPORTED 1
#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 1
#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#define WASM_RT_NO_RETURN __attribute__((noreturn))
#define WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS 0

typedef enum {
  WASM_RT_TRAP_NONE,
  WASM_RT_TRAP_OOB,
  WASM_RT_TRAP_INT_OVERFLOW,
  WASM_RT_TRAP_DIV_BY_ZERO,
  WASM_RT_TRAP_INVALID_CONVERSION,
  WASM_RT_TRAP_UNREACHABLE,
  WASM_RT_TRAP_CALL_INDIRECT,
  WASM_RT_TRAP_UNCAUGHT_EXCEPTION,
  WASM_RT_TRAP_EXHAUSTION,
} wasm_rt_trap_t;

typedef enum {
  WASM_RT_I32,
  WASM_RT_I64,
  WASM_RT_F32,
  WASM_RT_F64,
  WASM_RT_FUNCREF,
  WASM_RT_EXTERNREF,
} wasm_rt_type_t;

typedef void (*wasm_rt_function_ptr_t)(void);

typedef struct {
  uint32_t func_type;
  wasm_rt_function_ptr_t func;
  void* module_instance;
} wasm_rt_funcref_t;

static const wasm_rt_funcref_t wasm_rt_funcref_null_value = {0, NULL, NULL};

typedef void* wasm_rt_externref_t;
static const wasm_rt_externref_t wasm_rt_externref_null_value = NULL;

/* Generated code reads data, pages, max_pages and size only. */
typedef struct {
  uint8_t* data;
  uint32_t pages, max_pages;
  uint32_t size;
  void* crust_memory; /* the runtime's object backing this memory */
  const uint8_t* crust_noted; /* byte per 4 KiB page: non-zero once noted (kNotedMapEntries) */
} wasm_rt_memory_t;

typedef struct {
  wasm_rt_funcref_t* data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_funcref_table_t;

typedef struct {
  wasm_rt_externref_t* data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_externref_table_t;

bool wasm_rt_is_initialized(void);
WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t);
uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...);
void wasm_rt_allocate_memory(wasm_rt_memory_t*, uint32_t initial_pages, uint32_t max_pages);
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t*, uint32_t pages);
void wasm_rt_free_memory(wasm_rt_memory_t*);
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t*, uint32_t elements,
                                    uint32_t max_elements);
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t*);
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t*, uint32_t elements,
                                      uint32_t max_elements);
void wasm_rt_free_externref_table(wasm_rt_externref_table_t*);
uint32_t wasm_rt_grow_funcref_table(wasm_rt_funcref_table_t*, uint32_t delta,
                                    wasm_rt_funcref_t init);
uint32_t wasm_rt_grow_externref_table(wasm_rt_externref_table_t*, uint32_t delta,
                                      wasm_rt_externref_t init);

/* ---- crust ABI ---------------------------------------------------------- */

/* Services of the runtime, installed into each loaded module before its
 * init function runs. */
typedef struct crust_rt_api {
  uint32_t abi_version;
  WASM_RT_NO_RETURN void (*trap)(wasm_rt_trap_t);
  uint32_t (*register_func_type)(uint32_t params, uint32_t results, const wasm_rt_type_t* types);
  void (*allocate_memory)(wasm_rt_memory_t*, uint32_t initial_pages, uint32_t max_pages);
  uint32_t (*grow_memory)(wasm_rt_memory_t*, uint32_t delta);
  void (*free_memory)(wasm_rt_memory_t*);
  void (*allocate_funcref_table)(wasm_rt_funcref_table_t*, uint32_t, uint32_t);
  void (*free_funcref_table)(wasm_rt_funcref_table_t*);
  uint32_t (*grow_funcref_table)(wasm_rt_funcref_table_t*, uint32_t, wasm_rt_funcref_t);
  void (*allocate_externref_table)(wasm_rt_externref_table_t*, uint32_t, uint32_t);
  void (*free_externref_table)(wasm_rt_externref_table_t*);
  uint32_t (*grow_externref_table)(wasm_rt_externref_table_t*, uint32_t, wasm_rt_externref_t);
  /* Records that [addr, addr + n) is about to be written (n > 0). */
  void (*note_write)(wasm_rt_memory_t*, uint64_t addr, uint64_t n);
} crust_rt_api;

#ifndef __cplusplus
/* The write barrier of generated code (defined in the glue). A store of n
 * bytes at addr (addr < 2^33, so both indices fall inside the map) calls the
 * runtime only the first time it touches a page since the last collection;
 * the runtime ignores out-of-bounds ranges (the store then traps). Ranges of
 * bulk operations may span pages whose ends are noted but not their middle,
 * so they take the slow path unless they lie within one noted page. */
static void crust_note_write(wasm_rt_memory_t* mem, uint64_t addr, uint64_t n);
#define CRUST_NOTE_STORE(mem, addr, n)                                              \
  do {                                                                              \
    const uint8_t* crust_m_ = (mem)->crust_noted;                                   \
    const uint64_t crust_a_ = (addr);                                               \
    if (UNLIKELY(!(crust_m_[crust_a_ >> 12] & crust_m_[(crust_a_ + (n)-1) >> 12]))) \
      crust_note_write((mem), crust_a_, (n));                                       \
  } while (0)
#define CRUST_NOTE_RANGE(mem, addr, n)                                                          \
  do {                                                                                          \
    const uint64_t crust_a_ = (addr), crust_n_ = (n);                                           \
    if (crust_n_ != 0 && ((crust_a_ >> 12) != ((crust_a_ + crust_n_ - 1) >> 12) ||              \
                          !(mem)->crust_noted[crust_a_ >> 12]))                                 \
      crust_note_write((mem), crust_a_, crust_n_);                                              \
  } while (0)
#endif

/* Imports are passed to instantiate as an array of num_imports + 1 slots:
 * slot 0's `fn` holds the array's own address (see crust_slots in the glue),
 * slot k + 1 is import k. */
/* One resolved import. Functions: `fn` is called as fn(env, params...).
 * Memories, tables and globals: `env` points at the imported object
 * (wasm_rt_memory_t, wasm_rt_*_table_t, or the global's value). */
typedef struct {
  wasm_rt_function_ptr_t fn;
  void* env;
} crust_import_slot;

enum { CRUST_EXTERN_FUNC = 0, CRUST_EXTERN_TABLE = 1, CRUST_EXTERN_MEMORY = 2, CRUST_EXTERN_GLOBAL = 3 };

/* Types are strings of one letter per value type: i=i32 j=i64 f=f32 d=f64
 * r=funcref e=externref. A function type is "<params>:<results>"; a global's
 * type is one letter; a table's is "r" or "e"; a memory's is "". */
typedef struct {
  const char* module;
  uint32_t module_len;
  const char* field;
  uint32_t field_len;
  uint32_t kind;
  uint32_t is_mutable; /* globals */
  const char* type;
  uint32_t limits_initial, limits_max; /* tables and memories; max 0xffffffff = none */
} crust_import_desc;

/* Arguments and results of `invoke` are 64-bit cells: integers zero-extended,
 * floats as their bit patterns, externref as the pointer, funcref as 0 for
 * null and 1 otherwise. */
typedef void (*crust_invoke_fn)(void* instance, const uint64_t* args, uint64_t* results);

typedef struct {
  const char* name;
  uint32_t name_len;
  uint32_t kind;
  uint32_t is_mutable; /* globals */
  const char* type;
  wasm_rt_function_ptr_t func;  /* functions: called as func(instance, params...) */
  crust_invoke_fn invoke;       /* functions: generic entry */
  void* (*get)(void* instance); /* others: address of the object */
} crust_export_desc;

/* Every global the module defines (not imports), by wasm global index. */
typedef struct {
  uint32_t index;
  uint32_t is_mutable;
  const char* type;
  void* (*get)(void* instance);
} crust_global_desc;

typedef struct crust_module_desc {
  uint32_t abi_version;
  uint32_t instance_size;
  uint32_t instance_align;
  const crust_rt_api** rt; /* the loader stores the service table here */
  void (*init_module)(void);
  void (*instantiate)(void* instance, crust_import_slot* imports);
  void (*free_instance)(void* instance);
  uint32_t num_imports;
  const crust_import_desc* imports;
  uint32_t num_exports;
  const crust_export_desc* exports;
  uint32_t num_globals;
  const crust_global_desc* globals;
  /* A memory the module defines (not imports): its address in the instance. */
  wasm_rt_memory_t* (*defined_memory)(void* instance);
  /* The start function, taken out of instantiate so the runtime can set
   * globals (gas, depth limit) before it runs; NULL if none. */
  void (*start)(void* instance);
} crust_module_desc;

#define CRUST_MODULE_ENTRY "crust_module_v1"
typedef const crust_module_desc* (*crust_module_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WASM_RT_H_ */
