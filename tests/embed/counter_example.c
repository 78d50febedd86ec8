/* Copyright (c) crust authors. Licensed under the MIT license.
 *
 * Out-of-tree C example, built by install_examples.sh against an installed
 * crust with `pkg-config --cflags --libs crust`:
 *   counter_example STORE_DIR COUNTER_WASM
 * deploys counter with init 41, increments it, commits, frees everything,
 * then reopens the store and reads 42 back from the commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crust/crust.h>

static int Fail(const char* what, crust_error* err) {
  fprintf(stderr, "%s: %s: %s\n", what, crust_code_name(crust_error_code(err)), crust_error_message(err));
  crust_error_free(err);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  FILE* f = fopen(argv[2], "rb");
  if (f == NULL) return 2;
  static unsigned char wasm[1 << 20];
  size_t wasm_len = fread(wasm, 1, sizeof wasm, f);
  fclose(f);

  crust_error* err = NULL;
  crust_vm_options* o = crust_vm_options_new();
  crust_vm_options_set_opt_level(o, 0);
  crust_vm* vm = NULL;
  if (crust_vm_open(argv[1], o, &vm, &err) != CRUST_OK) return Fail("open", err);
  crust_session* s = NULL;
  if (crust_vm_genesis_session(vm, &s, &err) != CRUST_OK) return Fail("session", err);
  crust_deploy_options d;
  crust_deploy_options_init(&d);
  const uint8_t init[8] = {41};
  d.init_arg = init;
  d.init_arg_len = sizeof init;
  uint8_t id[32], root[32];
  if (crust_session_deploy(s, wasm, wasm_len, &d, id, &err) != CRUST_OK) return Fail("deploy", err);
  crust_receipt* r = NULL;
  if (crust_session_call(s, id, "increment", NULL, 0, 1000000, &r, &err) != CRUST_OK) return Fail("call", err);
  crust_receipt_free(r);
  if (crust_session_commit(s, root, &err) != CRUST_OK) return Fail("commit", err);
  crust_session_free(s);
  crust_vm_free(vm);

  if (crust_vm_open(argv[1], o, &vm, &err) != CRUST_OK) return Fail("reopen", err);
  crust_vm_options_free(o);
  if (crust_vm_session(vm, root, &s, &err) != CRUST_OK) return Fail("session on root", err);
  if (crust_session_call(s, id, "read", NULL, 0, 1000000, &r, &err) != CRUST_OK) return Fail("read", err);
  size_t len = 0;
  const uint8_t* data = crust_receipt_data(r, &len);
  unsigned long long value = 0;
  for (size_t i = len; i-- > 0;) value = (value << 8) | data[i];
  crust_receipt_free(r);
  crust_session_free(s);
  crust_vm_free(vm);
  printf("c: crust %s counter = %llu\n", crust_version(), value);
  return len == 8 && value == 42 ? 0 : 1;
}
