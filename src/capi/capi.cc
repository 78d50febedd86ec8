// Copyright (c) crust authors. Licensed under the MIT license.
//
// C API: version, errors, byte strings, VM options (with host queries) and
// the VM itself. See include/crust/crust.h for the contracts.
#include <cstring>
#include <new>

#include "crust/version.h"
#include "src/capi/capi_internal.h"

namespace crust::capi {

crust_code CodeOf(const Status& status) { return static_cast<crust_code>(static_cast<int>(status.code())); }

crust_code Fail(crust_error** err, crust_code code, std::string message) {
  if (err != nullptr) *err = new crust_error{code, std::move(message)};
  return code;
}

crust_code Fail(crust_error** err, const Status& status) {
  return Fail(err, CodeOf(status), std::string(status.message()));
}

crust_code Check(crust_error** err, const Status& status) {
  return status.ok() ? CRUST_OK : Fail(err, status);
}

Hash32 ToHash(const uint8_t* p) {
  Hash32 h;
  std::memcpy(h.bytes.data(), p, h.bytes.size());
  return h;
}

void FromHash(const Hash32& h, uint8_t* out) { std::memcpy(out, h.bytes.data(), h.bytes.size()); }

namespace {

// Owns a host query's C callback and user data; the std::function copies in
// every VmOptions (and Vm) share it, so free_user_data runs once, last.
struct HostQueryHolder {
  std::string name;
  crust_host_query_fn fn = nullptr;
  void* user_data = nullptr;
  void (*free_user_data)(void*) = nullptr;
  HostQueryHolder() = default;
  HostQueryHolder(const HostQueryHolder&) = delete;
  HostQueryHolder& operator=(const HostQueryHolder&) = delete;
  ~HostQueryHolder() {
    if (free_user_data != nullptr) free_user_data(user_data);
  }
};

Result<Bytes> RunHostQuery(const HostQueryHolder& h, ByteView arg, uint64_t* gas) {
  crust_query_result result;
  int rc;
  try {
    rc = h.fn(h.user_data, arg.data(), arg.size(), &result, gas);
  } catch (...) {
    return Status::Aborted("host query '" + h.name + "' threw an exception");
  }
  if (rc != 0) {
    return Status::Aborted("host query '" + h.name + "' failed" +
                           (result.has_message ? ": " + result.message : " (returned " + std::to_string(rc) + ")"));
  }
  return std::move(result.data);
}

}  // namespace
}  // namespace crust::capi

using namespace crust::capi;  // NOLINT: this file implements the C API

extern "C" {

const char* crust_version(void) { return CRUST_VERSION_STRING; }

const char* crust_code_name(int code) {
  if (code < 0 || code > CRUST_INTERNAL) return "Unknown";
  return crust::Status::CodeName(static_cast<crust::Status::Code>(code));
}

crust_code crust_error_code(const crust_error* err) { return err ? err->code : CRUST_OK; }
const char* crust_error_message(const crust_error* err) { return err ? err->message.c_str() : ""; }
void crust_error_free(crust_error* err) { delete err; }

const uint8_t* crust_bytes_data(const crust_bytes* b) { return b ? b->data.data() : nullptr; }
size_t crust_bytes_len(const crust_bytes* b) { return b ? b->data.size() : 0; }
void crust_bytes_free(crust_bytes* b) { delete b; }

void crust_query_result_set(crust_query_result* result, const uint8_t* data, size_t len) {
  GuardVoid([&] {
    if (result == nullptr) return;
    if (data == nullptr) len = 0;
    result->data.assign(data, data + len);
  });
}

void crust_query_result_fail(crust_query_result* result, const char* message) {
  GuardVoid([&] {
    if (result == nullptr) return;
    result->has_message = true;
    result->message = message ? message : "";
  });
}

crust_vm_options* crust_vm_options_new(void) { return new (std::nothrow) crust_vm_options(); }
void crust_vm_options_free(crust_vm_options* options) { delete options; }
void crust_vm_options_set_read_only(crust_vm_options* o, int v) { if (o) o->options.store.read_only = v != 0; }
void crust_vm_options_set_create_if_missing(crust_vm_options* o, int v) {
  if (o) o->options.store.create_if_missing = v != 0;
}
void crust_vm_options_set_sync(crust_vm_options* o, int v) { if (o) o->options.store.sync = v != 0; }
void crust_vm_options_set_opt_level(crust_vm_options* o, int level) { if (o) o->options.opt_level = level; }
void crust_vm_options_set_max_call_depth(crust_vm_options* o, uint32_t d) { if (o) o->options.max_call_depth = d; }
void crust_vm_options_set_max_memory_pages(crust_vm_options* o, uint32_t p) {
  if (o) o->options.max_memory_pages = p;
}

crust_code crust_vm_options_set_code_cache_dir(crust_vm_options* o, const char* dir, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(o != nullptr, err, "crust_vm_options_set_code_cache_dir: options is NULL");
    o->options.code_cache_dir = dir ? dir : "";
    return CRUST_OK;
  });
}

crust_code crust_vm_options_add_host_query(crust_vm_options* o, const char* name, crust_host_query_fn fn,
                                           void* user_data, void (*free_user_data)(void*), crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(o != nullptr, err, "crust_vm_options_add_host_query: options is NULL");
    CRUST_CAPI_REQUIRE(name != nullptr && *name != '\0', err, "crust_vm_options_add_host_query: empty name");
    CRUST_CAPI_REQUIRE(fn != nullptr, err, "crust_vm_options_add_host_query: callback is NULL");
    auto holder = std::make_shared<HostQueryHolder>();  // built in place: its destructor frees user_data
    holder->name = name;
    holder->fn = fn;
    holder->user_data = user_data;
    holder->free_user_data = free_user_data;
    o->options.host_queries[name] = [holder](crust::ByteView arg, uint64_t* gas) {
      return RunHostQuery(*holder, arg, gas);
    };
    return CRUST_OK;
  });
}

crust_code crust_vm_open(const char* dir, const crust_vm_options* options, crust_vm** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_vm_open: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(dir != nullptr && *dir != '\0', err, "crust_vm_open: no directory given");
    const crust::VmOptions defaults;
    const crust::VmOptions& o = options ? options->options : defaults;
    if (o.opt_level != 0 && o.opt_level != 2) {
      return Fail(err, CRUST_INVALID_ARGUMENT,
                  "crust_vm_open: opt level " + std::to_string(o.opt_level) + " (expected 0 or 2)");
    }
    auto vm = crust::Vm::Open(dir, o);
    if (!vm.ok()) return Fail(err, vm.status());
    auto handle = std::make_unique<crust_vm>();
    handle->vm = std::move(vm).value();
    handle->store_view.store = &handle->vm->store();
    *out = handle.release();
    return CRUST_OK;
  });
}

void crust_vm_free(crust_vm* vm) { GuardVoid([&] { delete vm; }); }

crust_store* crust_vm_store(crust_vm* vm) { return vm ? &vm->store_view : nullptr; }

static crust_code WrapSession(crust::Result<std::unique_ptr<crust::VmSession>> s, crust_session** out,
                              crust_error** err) {
  if (!s.ok()) return Fail(err, s.status());
  auto handle = std::make_unique<crust_session>();
  handle->session = std::move(s).value();
  *out = handle.release();
  return CRUST_OK;
}

crust_code crust_vm_genesis_session(crust_vm* vm, crust_session** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_vm_genesis_session: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(vm != nullptr, err, "crust_vm_genesis_session: vm is NULL");
    return WrapSession(vm->vm->StartGenesis(), out, err);
  });
}

crust_code crust_vm_sweep_code_cache(crust_vm* vm, int dry_run, crust_code_cache_sweep* out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(vm != nullptr, err, "crust_vm_sweep_code_cache: vm is NULL");
    auto r = vm->vm->SweepCodeCache(dry_run != 0);
    if (!r.ok()) return Fail(err, r.status());
    if (out != nullptr) {
      *out = crust_code_cache_sweep{.commits = r->commits,
                                    .modules = r->modules,
                                    .objects_kept = r->objects_kept,
                                    .objects_kept_bytes = r->objects_kept_bytes,
                                    .objects_removed = r->objects_removed,
                                    .objects_removed_bytes = r->objects_removed_bytes,
                                    .prepared_kept = r->prepared_kept,
                                    .prepared_kept_bytes = r->prepared_kept_bytes,
                                    .prepared_removed = r->prepared_removed,
                                    .prepared_removed_bytes = r->prepared_removed_bytes,
                                    .leftovers_removed = r->leftovers_removed};
    }
    return CRUST_OK;
  });
}

crust_code crust_vm_session(crust_vm* vm, const uint8_t root[32], crust_session** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_vm_session: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(vm != nullptr, err, "crust_vm_session: vm is NULL");
    CRUST_CAPI_REQUIRE(root != nullptr, err, "crust_vm_session: root is NULL");
    return WrapSession(vm->vm->StartSession(ToHash(root)), out, err);
  });
}

}  // extern "C"
