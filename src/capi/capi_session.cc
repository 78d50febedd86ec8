// Copyright (c) crust authors. Licensed under the MIT license.
//
// C API: sessions (deploy, call, feeder call, migrate, metadata, commit) and
// receipts.
#include <optional>

#include "src/capi/capi_internal.h"

struct crust_receipt {
  crust::CallReceipt receipt;
  std::vector<crust_event> events;     // views of receipt.events
  std::vector<crust_call_node> calls;  // views of receipt.call_tree
};

using namespace crust::capi;  // NOLINT: this file implements the C API

namespace {

// Wraps `receipt`; reports its status as the return value and in *err.
crust_code FinishCall(crust::CallReceipt receipt, crust_receipt** out, crust_error** err) {
  auto r = std::make_unique<crust_receipt>();
  r->receipt = std::move(receipt);
  for (const crust::Event& e : r->receipt.events) {
    crust_event c{};
    FromHash(e.source, c.source);
    c.topic = e.topic.c_str();
    c.topic_len = e.topic.size();
    c.data = e.data.data();
    c.data_len = e.data.size();
    c.reverted = e.reverted ? 1 : 0;
    r->events.push_back(c);
  }
  for (const crust::CallNode& n : r->receipt.call_tree) {
    crust_call_node c{};
    FromHash(n.module, c.module);
    c.function = n.function.c_str();
    c.depth = n.depth;
    c.gas_limit = n.gas_limit;
    c.gas_spent = n.gas_spent;
    c.status = CodeOf(n.status);
    // Status::message() views the status' own string, which the receipt keeps.
    c.message = n.status.ok() ? "" : n.status.message().data();
    r->calls.push_back(c);
  }
  const crust_code code = Check(err, r->receipt.status);
  if (out != nullptr) *out = r.release();
  return code;
}

}  // namespace

extern "C" {

void crust_session_free(crust_session* session) { GuardVoid([&] { delete session; }); }

void crust_deploy_options_init(crust_deploy_options* o) {
  if (o == nullptr) return;
  *o = crust_deploy_options{};
  o->gas_limit = crust::DeployOptions().gas_limit;
}

crust_code crust_session_deploy(crust_session* session, const uint8_t* wasm, size_t wasm_len,
                                const crust_deploy_options* options, uint8_t id_out[32], crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_deploy: session is NULL");
    CRUST_CAPI_REQUIRE(wasm != nullptr || wasm_len == 0, err, "crust_session_deploy: wasm is NULL");
    crust::DeployOptions d;
    if (options != nullptr) {
      CRUST_CAPI_REQUIRE(options->owner != nullptr || options->owner_len == 0, err,
                         "crust_session_deploy: owner is NULL");
      CRUST_CAPI_REQUIRE(options->init_arg != nullptr || options->init_arg_len == 0, err,
                         "crust_session_deploy: init_arg is NULL");
      if (options->has_id) d.id = ToHash(options->id);
      const crust::ByteView owner = View(options->owner, options->owner_len);
      const crust::ByteView init = View(options->init_arg, options->init_arg_len);
      d.owner.assign(owner.begin(), owner.end());
      d.init_arg.assign(init.begin(), init.end());
      d.nonce = options->nonce;
      d.gas_limit = options->gas_limit;
    }
    auto id = session->session->Deploy(View(wasm, wasm_len), d);
    if (!id.ok()) return Fail(err, id.status());
    if (id_out != nullptr) FromHash(*id, id_out);
    return CRUST_OK;
  });
}

crust_code crust_session_call(crust_session* session, const uint8_t module[32], const char* function,
                              const uint8_t* arg, size_t arg_len, uint64_t gas_limit, crust_receipt** out,
                              crust_error** err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_call: session is NULL");
    CRUST_CAPI_REQUIRE(module != nullptr, err, "crust_session_call: module is NULL");
    CRUST_CAPI_REQUIRE(function != nullptr, err, "crust_session_call: function is NULL");
    CRUST_CAPI_REQUIRE(arg != nullptr || arg_len == 0, err, "crust_session_call: arg is NULL");
    return FinishCall(session->session->Call(ToHash(module), function, View(arg, arg_len), gas_limit), out, err);
  });
}

crust_code crust_session_feeder_call(crust_session* session, const uint8_t module[32], const char* function,
                                     const uint8_t* arg, size_t arg_len, uint64_t gas_limit,
                                     crust_feeder_fn feeder, void* user_data, crust_receipt** out,
                                     crust_error** err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_feeder_call: session is NULL");
    CRUST_CAPI_REQUIRE(module != nullptr, err, "crust_session_feeder_call: module is NULL");
    CRUST_CAPI_REQUIRE(function != nullptr, err, "crust_session_feeder_call: function is NULL");
    CRUST_CAPI_REQUIRE(feeder != nullptr, err, "crust_session_feeder_call: feeder is NULL");
    CRUST_CAPI_REQUIRE(arg != nullptr || arg_len == 0, err, "crust_session_feeder_call: arg is NULL");
    int failed = 0;
    auto feed = [&](crust::ByteView data) {
      if (failed != 0) return;
      try {
        failed = feeder(user_data, data.data(), data.size());
      } catch (...) {
        failed = -1;
      }
    };
    crust::CallReceipt receipt =
        session->session->FeederCall(ToHash(module), function, View(arg, arg_len), gas_limit, feed);
    if (failed != 0 && receipt.status.ok()) {
      FinishCall(std::move(receipt), out, nullptr);
      return Fail(err, CRUST_ABORTED,
                  "feeder callback failed (returned " + std::to_string(failed) + "); later feeds were dropped");
    }
    return FinishCall(std::move(receipt), out, err);
  });
}

crust_code crust_session_migrate(crust_session* session, const uint8_t module[32], const uint8_t* new_wasm,
                                 size_t new_wasm_len, const char* function, const uint8_t* arg, size_t arg_len,
                                 uint64_t gas_limit, const uint8_t* new_owner, size_t new_owner_len,
                                 crust_receipt** out, crust_error** err) {
  if (out != nullptr) *out = nullptr;
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_migrate: session is NULL");
    CRUST_CAPI_REQUIRE(module != nullptr, err, "crust_session_migrate: module is NULL");
    CRUST_CAPI_REQUIRE(function != nullptr, err, "crust_session_migrate: function is NULL");
    CRUST_CAPI_REQUIRE(new_wasm != nullptr || new_wasm_len == 0, err, "crust_session_migrate: wasm is NULL");
    CRUST_CAPI_REQUIRE(arg != nullptr || arg_len == 0, err, "crust_session_migrate: arg is NULL");
    std::optional<crust::Bytes> owner;
    if (new_owner != nullptr) owner = crust::Bytes(new_owner, new_owner + new_owner_len);
    return FinishCall(session->session->Migrate(ToHash(module), View(new_wasm, new_wasm_len), function,
                                                View(arg, arg_len), gas_limit, std::move(owner)),
                      out, err);
  });
}

crust_code crust_session_set_meta(crust_session* session, const char* name, const uint8_t* value,
                                  size_t value_len, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_set_meta: session is NULL");
    CRUST_CAPI_REQUIRE(name != nullptr, err, "crust_session_set_meta: name is NULL");
    CRUST_CAPI_REQUIRE(value != nullptr || value_len == 0, err, "crust_session_set_meta: value is NULL");
    const crust::ByteView v = View(value, value_len);
    session->session->SetMeta(name, crust::Bytes(v.begin(), v.end()));
    return CRUST_OK;
  });
}

crust_code crust_session_owner(crust_session* session, const uint8_t module[32], crust_bytes** out,
                               crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_session_owner: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_owner: session is NULL");
    CRUST_CAPI_REQUIRE(module != nullptr, err, "crust_session_owner: module is NULL");
    auto owner = session->session->Owner(ToHash(module));
    if (!owner.ok()) return Fail(err, owner.status());
    *out = new crust_bytes{std::move(owner).value()};
    return CRUST_OK;
  });
}

crust_code crust_session_modules(crust_session* session, crust_bytes** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_session_modules: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_modules: session is NULL");
    auto bytes = std::make_unique<crust_bytes>();
    for (const crust::ModuleId& id : session->session->state().Modules()) {
      bytes->data.insert(bytes->data.end(), id.bytes.begin(), id.bytes.end());
    }
    *out = bytes.release();
    return CRUST_OK;
  });
}

crust_code crust_session_root(crust_session* session, uint8_t root_out[32], crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_root: session is NULL");
    CRUST_CAPI_REQUIRE(root_out != nullptr, err, "crust_session_root: root_out is NULL");
    auto root = session->session->CurrentRoot();
    if (!root.ok()) return Fail(err, root.status());
    FromHash(*root, root_out);
    return CRUST_OK;
  });
}

int crust_session_base(const crust_session* session, uint8_t root_out[32]) {
  int has = 0;
  GuardVoid([&] {
    if (session == nullptr) return;
    std::optional<crust::Root> base = session->session->state().base();
    if (!base) return;
    if (root_out != nullptr) FromHash(*base, root_out);
    has = 1;
  });
  return has;
}

crust_code crust_session_commit(crust_session* session, uint8_t root_out[32], crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(session != nullptr, err, "crust_session_commit: session is NULL");
    auto root = session->session->Commit();
    if (!root.ok()) return Fail(err, root.status());
    if (root_out != nullptr) FromHash(*root, root_out);
    return CRUST_OK;
  });
}

crust_code crust_receipt_status(const crust_receipt* r) { return r ? CodeOf(r->receipt.status) : CRUST_INVALID_ARGUMENT; }
const char* crust_receipt_message(const crust_receipt* r) {
  return r && !r->receipt.status.ok() ? r->receipt.status.message().data() : "";
}
const uint8_t* crust_receipt_data(const crust_receipt* r, size_t* len) {
  if (len != nullptr) *len = r ? r->receipt.data.size() : 0;
  return r ? r->receipt.data.data() : nullptr;
}
uint64_t crust_receipt_gas_limit(const crust_receipt* r) { return r ? r->receipt.gas_limit : 0; }
uint64_t crust_receipt_gas_spent(const crust_receipt* r) { return r ? r->receipt.gas_spent : 0; }
size_t crust_receipt_event_count(const crust_receipt* r) { return r ? r->events.size() : 0; }
const crust_event* crust_receipt_event(const crust_receipt* r, size_t i) {
  return r && i < r->events.size() ? &r->events[i] : nullptr;
}
size_t crust_receipt_debug_count(const crust_receipt* r) { return r ? r->receipt.debug.size() : 0; }
const char* crust_receipt_debug(const crust_receipt* r, size_t i) {
  return r && i < r->receipt.debug.size() ? r->receipt.debug[i].c_str() : nullptr;
}
size_t crust_receipt_call_count(const crust_receipt* r) { return r ? r->calls.size() : 0; }
const crust_call_node* crust_receipt_call(const crust_receipt* r, size_t i) {
  return r && i < r->calls.size() ? &r->calls[i] : nullptr;
}
void crust_receipt_free(crust_receipt* r) { delete r; }

}  // extern "C"
