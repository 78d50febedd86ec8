/* Copyright (c) crust authors. Licensed under the MIT license.
 *
 * Linked into libcrust.so only. Debian's libwabt.a is compiled as
 * position-independent *executable* code: it reaches stdin/stdout/stderr with
 * PC-relative relocations that assume copy relocations, which a shared
 * library cannot have. These hidden definitions satisfy those references
 * inside libcrust.so; a constructor points them at the process's streams
 * (the C library's own variables, found by name) before any code of the
 * library runs. crust itself never reads stdin; wabt prints only in
 * diagnostics paths crust does not use, so this is belt and braces. */
#include <dlfcn.h>

struct _IO_FILE;

__attribute__((visibility("hidden"))) struct _IO_FILE* stdin;
__attribute__((visibility("hidden"))) struct _IO_FILE* stdout;
__attribute__((visibility("hidden"))) struct _IO_FILE* stderr;

static struct _IO_FILE* ProcessStream(const char* name) {
  struct _IO_FILE** p = (struct _IO_FILE**)dlsym(RTLD_DEFAULT, name);
  return p != 0 ? *p : 0;
}

__attribute__((constructor(101))) static void InitStdioShim(void) {
  stdin = ProcessStream("stdin");
  stdout = ProcessStream("stdout");
  stderr = ProcessStream("stderr");
}
