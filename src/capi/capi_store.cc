// Copyright (c) crust authors. Licensed under the MIT license.
//
// C API: stores and commit lists (list, show, verify, delete).
#include "src/capi/capi_internal.h"

struct crust_commit_list {
  std::vector<crust::CommitInfo> infos;
  std::vector<std::vector<crust_module_info>> modules;  // per commit
  std::vector<crust_commit> commits;                   // views of the above
};

using namespace crust::capi;  // NOLINT: this file implements the C API

namespace {

crust_commit_list* MakeList(std::vector<crust::CommitInfo> infos) {
  auto list = std::make_unique<crust_commit_list>();
  list->infos = std::move(infos);
  list->modules.resize(list->infos.size());
  list->commits.resize(list->infos.size());
  for (size_t i = 0; i < list->infos.size(); i++) {
    const crust::CommitInfo& info = list->infos[i];
    std::vector<crust_module_info>& mods = list->modules[i];
    for (const crust::ModuleInfo& m : info.modules) {
      crust_module_info c{};
      FromHash(m.id, c.id);
      FromHash(m.bytecode_hash, c.bytecode_hash);
      FromHash(m.memory_hash, c.memory_hash);
      c.memory_length = m.memory_length;
      c.bytecode_size = m.bytecode_size;
      c.delta_layers = m.delta_layers;
      c.metadata = m.metadata.data();
      c.metadata_len = m.metadata.size();
      mods.push_back(c);
    }
    crust_commit& c = list->commits[i];
    FromHash(info.root, c.root);
    c.created_unix_ns = info.created_unix_ns;
    c.module_count = mods.size();
    c.modules = mods.empty() ? nullptr : mods.data();
  }
  return list.release();
}

}  // namespace

extern "C" {

crust_code crust_store_open(const char* dir, int read_only, crust_store** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_store_open: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(dir != nullptr && *dir != '\0', err, "crust_store_open: no directory given");
    crust::StoreOptions options;
    options.read_only = read_only != 0;
    auto store = crust::Store::Open(dir, options);
    if (!store.ok()) return Fail(err, store.status());
    auto handle = std::make_unique<crust_store>();
    handle->owned = std::move(store).value();
    handle->store = handle->owned.get();
    *out = handle.release();
    return CRUST_OK;
  });
}

void crust_store_free(crust_store* store) {
  GuardVoid([&] {
    if (store != nullptr && store->owned != nullptr) delete store;  // a VM's view is not ours to free
  });
}

crust_code crust_store_list_commits(crust_store* store, crust_commit_list** out, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_store_list_commits: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(store != nullptr, err, "crust_store_list_commits: store is NULL");
    auto commits = store->store->ListCommits();
    if (!commits.ok()) return Fail(err, commits.status());
    *out = MakeList(std::move(commits).value());
    return CRUST_OK;
  });
}

crust_code crust_store_show_commit(crust_store* store, const uint8_t root[32], crust_commit_list** out,
                                   crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(out != nullptr, err, "crust_store_show_commit: out is NULL");
    *out = nullptr;
    CRUST_CAPI_REQUIRE(store != nullptr, err, "crust_store_show_commit: store is NULL");
    CRUST_CAPI_REQUIRE(root != nullptr, err, "crust_store_show_commit: root is NULL");
    auto info = store->store->ShowCommit(ToHash(root));
    if (!info.ok()) return Fail(err, info.status());
    std::vector<crust::CommitInfo> one;
    one.push_back(std::move(info).value());
    *out = MakeList(std::move(one));
    return CRUST_OK;
  });
}

crust_code crust_store_verify_commit(crust_store* store, const uint8_t root[32], crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(store != nullptr, err, "crust_store_verify_commit: store is NULL");
    CRUST_CAPI_REQUIRE(root != nullptr, err, "crust_store_verify_commit: root is NULL");
    return Check(err, store->store->VerifyCommit(ToHash(root)));
  });
}

crust_code crust_store_delete_commit(crust_store* store, const uint8_t root[32], int wait, crust_error** err) {
  return Guard(err, [&] {
    CRUST_CAPI_REQUIRE(store != nullptr, err, "crust_store_delete_commit: store is NULL");
    CRUST_CAPI_REQUIRE(root != nullptr, err, "crust_store_delete_commit: root is NULL");
    const crust::Root r = ToHash(root);
    return Check(err, wait ? store->store->DeleteCommit(r) : store->store->TryDeleteCommit(r));
  });
}

size_t crust_commit_list_len(const crust_commit_list* list) { return list ? list->commits.size() : 0; }

const crust_commit* crust_commit_list_get(const crust_commit_list* list, size_t i) {
  return list && i < list->commits.size() ? &list->commits[i] : nullptr;
}

void crust_commit_list_free(crust_commit_list* list) { delete list; }

}  // extern "C"
