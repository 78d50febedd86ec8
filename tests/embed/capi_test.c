/* Copyright (c) crust authors. Licensed under the MIT license.
 *
 * The C API (include/crust/crust.h) from C99: every operation once, and bad
 * input through every entry point (NULL handles, unknown roots, invalid wasm,
 * failing callbacks) giving an error, never a crash. ctest runs it twice:
 * as is, and built with AddressSanitizer with leak checking (capi_test_asan),
 * so every handle and error the API hands out must be freed by its *_free.
 *
 * Usage: crust_capi_test CONTRACTS_DIR   (holding counter.wasm, ...) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crust/crust.h"

static int failures = 0;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                      \
    }                                                                  \
  } while (0)

/* Checks that `expr` (a crust_code) equals `want`, printing the error. */
#define EXPECT_CODE(want, expr)                                                   \
  do {                                                                            \
    crust_error* e_ = NULL;                                                       \
    crust_error** errp_ = &e_;                                                    \
    (void)errp_;                                                                  \
    crust_code got_ = (expr);                                                     \
    if (got_ != (want)) {                                                         \
      fprintf(stderr, "%s:%d: %s: got %s (%s), want %s\n", __FILE__, __LINE__, #expr, \
              crust_code_name(got_), crust_error_message(e_), crust_code_name(want)); \
      failures++;                                                                 \
    }                                                                             \
    if ((want) != CRUST_OK && e_ == NULL) {                                       \
      fprintf(stderr, "%s:%d: %s: no error object\n", __FILE__, __LINE__, #expr); \
      failures++;                                                                 \
    }                                                                             \
    if (e_ != NULL && crust_error_code(e_) != got_) failures++;                   \
    crust_error_free(e_);                                                         \
  } while (0)
/* Inside EXPECT_CODE, `ERR` is the error out-parameter. */
#define ERR errp_

static unsigned char* ReadFile(const char* dir, const char* name, size_t* len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* buf = malloc((size_t)n);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static uint64_t U64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Calls `fn` and returns the u64 it returns (0 and a failure otherwise). */
static uint64_t CallU64(crust_session* s, const uint8_t id[32], const char* fn) {
  crust_receipt* r = NULL;
  crust_error* e = NULL;
  uint64_t v = 0;
  if (crust_session_call(s, id, fn, NULL, 0, 10000000, &r, &e) != CRUST_OK) {
    fprintf(stderr, "call %s: %s\n", fn, crust_error_message(e));
    failures++;
  } else {
    size_t len = 0;
    const uint8_t* d = crust_receipt_data(r, &len);
    CHECK(len == 8);
    if (len == 8) v = U64(d);
  }
  crust_error_free(e);
  crust_receipt_free(r);
  return v;
}

/* Host query "double": returns its argument twice and charges 7 gas;
 * "fail": fails with a message. user_data counts calls. */
static int QueryDouble(void* user, const uint8_t* arg, size_t len, crust_query_result* out, uint64_t* gas) {
  (*(int*)user)++;
  uint8_t buf[64];
  if (len > 32) {
    crust_query_result_fail(out, "argument too long");
    return 1;
  }
  if (len > 0) {
    memcpy(buf, arg, len);
    memcpy(buf + len, arg, len);
  }
  crust_query_result_set(out, buf, 2 * len);
  *gas = 7;
  return 0;
}

static int QueryFail(void* user, const uint8_t* arg, size_t len, crust_query_result* out, uint64_t* gas) {
  (void)user, (void)arg, (void)len, (void)gas;
  crust_query_result_fail(out, "the oracle is down");
  return 3;
}

static int freed_user_data = 0;
static void FreeUser(void* p) {
  (void)p;
  freed_user_data++;
}

struct Feed {
  uint32_t seen[16];
  int n;
  int fail_after;  /* fail on this feed (-1: never) */
};

static int Feeder(void* user, const uint8_t* data, size_t len) {
  struct Feed* f = user;
  if (f->n == f->fail_after) return 9;
  if (len == 4 && f->n < 16) f->seen[f->n] = (uint32_t)data[0] | ((uint32_t)data[1] << 8);
  f->n++;
  return 0;
}

/* Builds callcenter's "query" argument: u32 name_len | name | arg. */
static size_t QueryArg(uint8_t* buf, const char* name, const char* arg) {
  size_t n = strlen(name), a = strlen(arg);
  PutU32(buf, (uint32_t)n);
  memcpy(buf + 4, name, n);
  memcpy(buf + 4 + n, arg, a);
  return 4 + n + a;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONTRACTS_DIR\n", argv[0]);
    return 2;
  }
  const char* contracts = argv[1];
  size_t counter_len, callcenter_len, migrated_len, hostinfo_len;
  unsigned char* counter = ReadFile(contracts, "counter.wasm", &counter_len);
  unsigned char* callcenter = ReadFile(contracts, "callcenter.wasm", &callcenter_len);
  unsigned char* migrated = ReadFile(contracts, "migrated.wasm", &migrated_len);
  unsigned char* hostinfo = ReadFile(contracts, "hostinfo.wasm", &hostinfo_len);

  char dir[] = "/tmp/crust-capi-test-XXXXXX";
  if (mkdtemp(dir) == NULL) return 2;
  char store_dir[4200];
  snprintf(store_dir, sizeof store_dir, "%s/store", dir);

  CHECK(strcmp(crust_version(), CRUST_VERSION_STRING) == 0);
  CHECK(strcmp(crust_code_name(CRUST_NOT_FOUND), "NotFound") == 0);
  CHECK(strcmp(crust_code_name(99), "Unknown") == 0);
  CHECK(strcmp(crust_code_name(CRUST_INTERNAL), "Internal") == 0);

  /* --- NULL handles and pointers: errors, not crashes. --- */
  uint8_t zero[32] = {0}, root[32], id[32];
  crust_vm* vm = NULL;
  crust_session* s = NULL;
  crust_receipt* r = NULL;
  crust_commit_list* list = NULL;
  crust_bytes* bytes = NULL;
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_open(NULL, NULL, &vm, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_open(store_dir, NULL, NULL, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_genesis_session(NULL, &s, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_session(NULL, zero, &s, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_deploy(NULL, counter, counter_len, NULL, id, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_call(NULL, zero, "read", NULL, 0, 1, &r, ERR));
  CHECK(r == NULL);
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_feeder_call(NULL, zero, "f", NULL, 0, 1, Feeder, NULL, &r, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_migrate(NULL, zero, counter, counter_len, "m", NULL, 0, 1, NULL, 0, &r, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_commit(NULL, root, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_root(NULL, root, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_set_meta(NULL, "x", NULL, 0, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_owner(NULL, zero, &bytes, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_store_list_commits(NULL, &list, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_store_show_commit(NULL, zero, &list, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_store_verify_commit(NULL, zero, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_store_delete_commit(NULL, zero, 0, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_sweep_code_cache(NULL, 1, NULL, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_options_add_host_query(NULL, "q", QueryFail, NULL, NULL, ERR));
  CHECK(crust_session_base(NULL, root) == 0);
  CHECK(crust_vm_store(NULL) == NULL);
  CHECK(crust_receipt_status(NULL) == CRUST_INVALID_ARGUMENT);
  CHECK(crust_receipt_event(NULL, 0) == NULL);
  CHECK(crust_commit_list_get(NULL, 0) == NULL);
  CHECK(strcmp(crust_error_message(NULL), "") == 0);
  crust_vm_free(NULL);
  crust_session_free(NULL);
  crust_receipt_free(NULL);
  crust_commit_list_free(NULL);
  crust_bytes_free(NULL);
  crust_error_free(NULL);
  crust_store_free(NULL);
  crust_vm_options_free(NULL);
  /* A missing store without create_if_missing. */
  crust_vm_options* o = crust_vm_options_new();
  crust_vm_options_set_create_if_missing(o, 0);
  EXPECT_CODE(CRUST_NOT_FOUND, crust_vm_open(store_dir, o, &vm, ERR));
  CHECK(vm == NULL);
  crust_vm_options_set_opt_level(o, 7);
  crust_vm_options_set_create_if_missing(o, 1);
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_open(store_dir, o, &vm, ERR));

  /* --- A VM with host queries. --- */
  int double_calls = 0;
  crust_vm_options_set_opt_level(o, 0);
  crust_vm_options_set_sync(o, 0);
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_options_add_host_query(o, "", QueryFail, NULL, NULL, ERR));
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_vm_options_add_host_query(o, "q", NULL, NULL, NULL, ERR));
  EXPECT_CODE(CRUST_OK, crust_vm_options_add_host_query(o, "double", QueryDouble, &double_calls, FreeUser, ERR));
  EXPECT_CODE(CRUST_OK, crust_vm_options_add_host_query(o, "fail", QueryFail, NULL, NULL, ERR));
  EXPECT_CODE(CRUST_OK, crust_vm_open(store_dir, o, &vm, ERR));
  crust_vm_options_free(o);  /* the VM keeps its own copy */
  CHECK(freed_user_data == 0);
  if (vm == NULL) return 1;

  EXPECT_CODE(CRUST_OK, crust_vm_genesis_session(vm, &s, ERR));
  CHECK(crust_session_base(s, root) == 0);

  /* Invalid wasm. */
  const uint8_t junk[] = {0, 'a', 's', 'm', 9, 9};
  EXPECT_CODE(CRUST_INVALID_MODULE, crust_session_deploy(s, junk, sizeof junk, NULL, id, ERR));
  EXPECT_CODE(CRUST_INVALID_MODULE, crust_session_deploy(s, NULL, 0, NULL, id, ERR));

  /* Deploy counter with init(5) and an owner. */
  crust_deploy_options d;
  crust_deploy_options_init(&d);
  CHECK(d.gas_limit == 1000000000u);
  uint8_t five[8] = {5};
  const uint8_t owner[] = {'m', 'e'};
  d.init_arg = five;
  d.init_arg_len = 8;
  d.owner = owner;
  d.owner_len = 2;
  uint8_t counter_id[32];
  EXPECT_CODE(CRUST_OK, crust_session_deploy(s, counter, counter_len, &d, counter_id, ERR));
  EXPECT_CODE(CRUST_ALREADY_EXISTS, crust_session_deploy(s, counter, counter_len, &d, id, ERR));
  EXPECT_CODE(CRUST_OK, crust_session_owner(s, counter_id, &bytes, ERR));
  CHECK(crust_bytes_len(bytes) == 2 && memcmp(crust_bytes_data(bytes), "me", 2) == 0);
  crust_bytes_free(bytes);
  CHECK(CallU64(s, counter_id, "increment") == 6);
  CHECK(CallU64(s, counter_id, "read") == 6);

  /* A failed call: a receipt with the status, gas charged, state unchanged. */
  EXPECT_CODE(CRUST_NOT_FOUND, crust_session_call(s, counter_id, "no_such_fn", NULL, 0, 100000, &r, ERR));
  CHECK(r != NULL && crust_receipt_status(r) == CRUST_NOT_FOUND);
  crust_receipt_free(r);
  r = NULL;
  EXPECT_CODE(CRUST_PANIC, crust_session_call(s, counter_id, "add", five, 3, 100000, &r, ERR));
  CHECK(r != NULL && strstr(crust_receipt_message(r), "counter.add") != NULL);
  CHECK(crust_receipt_gas_spent(r) > 0 && crust_receipt_gas_limit(r) == 100000);
  crust_receipt_free(r);
  r = NULL;
  EXPECT_CODE(CRUST_NOT_FOUND, crust_session_call(s, zero, "read", NULL, 0, 100000, &r, ERR));
  crust_receipt_free(r);
  r = NULL;
  CHECK(CallU64(s, counter_id, "read") == 6);

  /* callcenter: events, host queries (succeeding and failing), feeds. */
  uint8_t cc[32];
  EXPECT_CODE(CRUST_OK, crust_session_deploy(s, callcenter, callcenter_len, NULL, cc, ERR));
  uint8_t arg[256];
  size_t n = QueryArg(arg, "topic", "data");
  EXPECT_CODE(CRUST_OK, crust_session_call(s, cc, "emit", arg, n, 10000000, &r, ERR));
  CHECK(crust_receipt_event_count(r) == 1);
  const crust_event* ev = crust_receipt_event(r, 0);
  CHECK(ev != NULL && strcmp(ev->topic, "topic") == 0 && ev->topic_len == 5);
  CHECK(ev != NULL && ev->data_len == 4 && memcmp(ev->data, "data", 4) == 0);
  CHECK(ev != NULL && memcmp(ev->source, cc, 32) == 0 && ev->reverted == 0);
  CHECK(crust_receipt_event(r, 1) == NULL);
  CHECK(crust_receipt_call_count(r) == 1);
  const crust_call_node* node = crust_receipt_call(r, 0);
  CHECK(node != NULL && strcmp(node->function, "emit") == 0 && node->depth == 0 && node->status == CRUST_OK);
  CHECK(node != NULL && memcmp(node->module, cc, 32) == 0 && node->gas_spent == crust_receipt_gas_spent(r));
  CHECK(crust_receipt_debug_count(r) == 0 && crust_receipt_debug(r, 0) == NULL);
  crust_receipt_free(r);

  n = QueryArg(arg, "double", "ab");
  EXPECT_CODE(CRUST_OK, crust_session_call(s, cc, "query", arg, n, 10000000, &r, ERR));
  size_t len = 0;
  const uint8_t* data = crust_receipt_data(r, &len);
  CHECK(len == 4 && memcmp(data, "abab", 4) == 0);
  CHECK(double_calls == 1);
  crust_receipt_free(r);
  n = QueryArg(arg, "fail", "x");
  crust_error* e = NULL;
  crust_code c = crust_session_call(s, cc, "query", arg, n, 10000000, &r, &e);
  CHECK(c != CRUST_OK && e != NULL && strstr(crust_error_message(e), "the oracle is down") != NULL);
  CHECK(r != NULL && crust_receipt_status(r) == c);
  crust_error_free(e);
  crust_receipt_free(r);
  n = QueryArg(arg, "nobody", "x");
  c = crust_session_call(s, cc, "query", arg, n, 10000000, &r, NULL);  /* err may be NULL */
  CHECK(c != CRUST_OK);
  crust_receipt_free(r);

  struct Feed feed = {{0}, 0, -1};
  uint8_t three[4];
  PutU32(three, 3);
  EXPECT_CODE(CRUST_OK, crust_session_feeder_call(s, cc, "feed_n", three, 4, 10000000, Feeder, &feed, &r, ERR));
  CHECK(feed.n == 3 && feed.seen[0] == 0 && feed.seen[1] == 1 && feed.seen[2] == 2);
  crust_receipt_free(r);
  struct Feed failing = {{0}, 0, 1};
  EXPECT_CODE(CRUST_ABORTED, crust_session_feeder_call(s, cc, "feed_n", three, 4, 10000000, Feeder, &failing, &r, ERR));
  CHECK(failing.n == 1 && r != NULL);
  crust_receipt_free(r);
  r = NULL;
  EXPECT_CODE(CRUST_INVALID_ARGUMENT, crust_session_feeder_call(s, cc, "feed_n", three, 4, 1000, NULL, NULL, &r, ERR));

  /* Session metadata through hostinfo.meta. */
  uint8_t hi[32];
  EXPECT_CODE(CRUST_OK, crust_session_deploy(s, hostinfo, hostinfo_len, NULL, hi, ERR));
  const uint8_t height[] = {42, 0, 0, 0};
  EXPECT_CODE(CRUST_OK, crust_session_set_meta(s, "height", height, 4, ERR));
  EXPECT_CODE(CRUST_OK, crust_session_call(s, hi, "meta", (const uint8_t*)"height", 6, 10000000, &r, ERR));
  data = crust_receipt_data(r, &len);
  CHECK(len == 4 && memcmp(data, height, 4) == 0);
  crust_receipt_free(r);

  /* Modules, root, commit. */
  EXPECT_CODE(CRUST_OK, crust_session_modules(s, &bytes, ERR));
  CHECK(crust_bytes_len(bytes) == 3 * 32);
  crust_bytes_free(bytes);
  uint8_t current[32], committed[32];
  EXPECT_CODE(CRUST_OK, crust_session_root(s, current, ERR));
  EXPECT_CODE(CRUST_OK, crust_session_commit(s, committed, ERR));
  CHECK(memcmp(current, committed, 32) == 0);
  CHECK(crust_session_base(s, root) == 1 && memcmp(root, committed, 32) == 0);

  /* Migration: counter -> migrated, value * 10. */
  uint8_t margs[32];
  memcpy(margs, counter_id, 32);
  EXPECT_CODE(CRUST_OK, crust_session_migrate(s, counter_id, migrated, migrated_len, "migrate", margs, 32,
                                              100000000, NULL, 0, &r, ERR));
  crust_receipt_free(r);
  r = NULL;
  CHECK(CallU64(s, counter_id, "read") == 60);
  EXPECT_CODE(CRUST_INVALID_MODULE, crust_session_migrate(s, counter_id, junk, sizeof junk, "migrate", margs, 32,
                                                          100000000, NULL, 0, &r, ERR));
  crust_receipt_free(r);
  r = NULL;
  CHECK(CallU64(s, counter_id, "read") == 60);
  uint8_t migrated_root[32];
  EXPECT_CODE(CRUST_OK, crust_session_commit(s, migrated_root, ERR));
  crust_session_free(s);
  s = NULL;

  /* Store: list, show, verify, unknown roots, delete. */
  crust_store* store = crust_vm_store(vm);
  EXPECT_CODE(CRUST_OK, crust_store_list_commits(store, &list, ERR));
  CHECK(crust_commit_list_len(list) == 2);
  crust_commit_list_free(list);
  EXPECT_CODE(CRUST_OK, crust_store_show_commit(store, committed, &list, ERR));
  CHECK(crust_commit_list_len(list) == 1);
  const crust_commit* cm = crust_commit_list_get(list, 0);
  CHECK(cm != NULL && memcmp(cm->root, committed, 32) == 0 && cm->module_count == 3 && cm->created_unix_ns > 0);
  CHECK(cm != NULL && cm->modules != NULL && cm->modules[0].memory_length > 0);
  crust_commit_list_free(list);
  EXPECT_CODE(CRUST_OK, crust_store_verify_commit(store, committed, ERR));
  EXPECT_CODE(CRUST_NOT_FOUND, crust_store_verify_commit(store, zero, ERR));
  EXPECT_CODE(CRUST_NOT_FOUND, crust_store_show_commit(store, zero, &list, ERR));
  CHECK(list == NULL);
  EXPECT_CODE(CRUST_NOT_FOUND, crust_vm_session(vm, zero, &s, ERR));
  CHECK(s == NULL);
  EXPECT_CODE(CRUST_NOT_FOUND, crust_store_delete_commit(store, zero, 1, ERR));

  /* A session on the first commit pins it: deleting without waiting is Busy. */
  EXPECT_CODE(CRUST_OK, crust_vm_session(vm, committed, &s, ERR));
  CHECK(CallU64(s, counter_id, "read") == 6);
  EXPECT_CODE(CRUST_BUSY, crust_store_delete_commit(store, committed, 0, ERR));
  crust_session_free(s);
  s = NULL;
  EXPECT_CODE(CRUST_OK, crust_store_delete_commit(store, committed, 0, ERR));
  EXPECT_CODE(CRUST_NOT_FOUND, crust_vm_session(vm, committed, &s, ERR));
  /* The code cache sweep: one commit left; what this process has loaded stays. */
  crust_code_cache_sweep sweep, again;
  EXPECT_CODE(CRUST_OK, crust_vm_sweep_code_cache(vm, 1, &sweep, ERR));
  CHECK(sweep.commits == 1 && sweep.modules >= 1 && sweep.objects_kept >= 1 && sweep.objects_kept_bytes > 0);
  EXPECT_CODE(CRUST_OK, crust_vm_sweep_code_cache(vm, 0, NULL, ERR));
  EXPECT_CODE(CRUST_OK, crust_vm_sweep_code_cache(vm, 1, &again, ERR));
  CHECK(again.objects_removed == 0 && again.prepared_removed == 0 && again.leftovers_removed == 0);
  CHECK(again.objects_kept == sweep.objects_kept && again.modules == sweep.modules);
  crust_store_free(store);  /* borrowed: does nothing */
  crust_vm_free(vm);
  CHECK(freed_user_data == 1);  /* the last user of the host query is gone */

  /* Reopen read-only: the state is there; committing is refused. */
  o = crust_vm_options_new();
  crust_vm_options_set_read_only(o, 1);
  crust_vm_options_set_opt_level(o, 0);
  EXPECT_CODE(CRUST_OK, crust_vm_open(store_dir, o, &vm, ERR));
  crust_vm_options_free(o);
  EXPECT_CODE(CRUST_OK, crust_vm_session(vm, migrated_root, &s, ERR));
  CHECK(CallU64(s, counter_id, "read") == 60);
  CHECK(CallU64(s, counter_id, "increment") == 61);
  EXPECT_CODE(CRUST_ABORTED, crust_session_commit(s, root, ERR));
  EXPECT_CODE(CRUST_ABORTED, crust_store_delete_commit(crust_vm_store(vm), migrated_root, 1, ERR));
  crust_session_free(s);
  crust_vm_free(vm);

  /* A standalone store handle. */
  crust_store* st = NULL;
  EXPECT_CODE(CRUST_OK, crust_store_open(store_dir, 1, &st, ERR));
  EXPECT_CODE(CRUST_OK, crust_store_list_commits(st, &list, ERR));
  CHECK(crust_commit_list_len(list) == 1);
  crust_commit_list_free(list);
  crust_store_free(st);

  free(counter);
  free(callcenter);
  free(migrated);
  free(hostinfo);
  char cmd[4300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) failures++;
  if (failures != 0) {
    fprintf(stderr, "capi_test: %d failure(s)\n", failures);
    return 1;
  }
  printf("capi_test: OK\n");
  return 0;
}
