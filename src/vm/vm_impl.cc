// Copyright (c) crust authors. Licensed under the MIT license.
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crust/vm.h"
#include "src/engine/compile/code_cache.h"
#include "src/util/sha256.h"
#include "src/vm/vm_session.h"

namespace crust {
namespace {

// Calls announce the memories they may write (VmSessionImpl::CallModule), so
// checkpoints scan only those.
const SessionOptions kMarked{.writes_are_marked = true, .write_tracking = SessionOptions::WriteTracking::kNoted};

class VmImpl final : public Vm {
 public:
  VmImpl(std::unique_ptr<Store> store, std::unique_ptr<engine::CodeCache> cache, VmOptions options)
      : options_(std::move(options)), store_(std::move(store)), cache_(std::move(cache)) {}

  Store& store() override { return *store_; }
  Result<std::unique_ptr<VmSession>> StartGenesis() override {
    ASSIGN_OR_RETURN(std::unique_ptr<Session> s, store_->StartGenesis(kMarked));
    return std::unique_ptr<VmSession>(new vm::VmSessionImpl(std::move(s), cache_.get(), &options_));
  }
  Result<std::unique_ptr<VmSession>> StartSession(const Root& base) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Session> s, store_->StartSession(base, kMarked));
    return std::unique_ptr<VmSession>(new vm::VmSessionImpl(std::move(s), cache_.get(), &options_));
  }
  void WaitForOptimisedCode() override { cache_->WaitForBackground(); }
  Result<CodeCacheSweep> SweepCodeCache(bool dry_run) override;

 private:
  const VmOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<engine::CodeCache> cache_;
};

Result<CodeCacheSweep> VmImpl::SweepCodeCache(bool dry_run) {
  if (options_.store.read_only) {
    // The writer's deploys not committed yet are in no commit: their code
    // would go.
    return Status::Aborted("SweepCodeCache: the store " + store_->dir() +
                           " is open read-only; sweep from the process that writes it");
  }
  CodeCacheSweep out;
  // The SHA-256 of every distinct bytecode of every commit (the store names
  // bytecode by its own hash; the code cache by SHA-256 of the bytes).
  ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store_->ListCommits());
  std::unordered_set<Hash32, Hash32Hasher> seen, needed;
  for (const CommitInfo& listed : commits) {
    const std::string where = "commit " + listed.root.ToHex();
    auto commit = store_->ShowCommit(listed.root);
    if (!commit.ok() && commit.status().IsNotFound()) continue;  // deleted meanwhile
    if (!commit.ok()) return commit.status().WithContext(where);
    out.commits++;
    std::unique_ptr<Session> session;
    for (const ModuleInfo& m : commit->modules) {
      if (!seen.insert(m.bytecode_hash).second) continue;
      if (session == nullptr) {
        auto s = store_->StartSession(listed.root);
        if (!s.ok()) return s.status().WithContext(where);
        session = std::move(s).value();
      }
      auto code = session->Bytecode(m.id);
      if (!code.ok()) return code.status().WithContext(where + ", module " + m.id.ToHex());
      needed.insert(Sha256Of(*code));
    }
  }
  out.modules = needed.size();
  engine::SweepCounts objects, prepared;
  RETURN_IF_ERROR(cache_->Sweep(needed, dry_run, &objects, &prepared));
  out.objects_kept = objects.kept;
  out.objects_kept_bytes = objects.kept_bytes;
  out.objects_removed = objects.removed;
  out.objects_removed_bytes = objects.removed_bytes;
  out.prepared_kept = prepared.kept;
  out.prepared_kept_bytes = prepared.kept_bytes;
  out.prepared_removed = prepared.removed;
  out.prepared_removed_bytes = prepared.removed_bytes;
  out.leftovers_removed = objects.leftovers + prepared.leftovers;
  return out;
}

}  // namespace

Result<std::unique_ptr<Vm>> Vm::Open(const std::string& dir, const VmOptions& options) {
  if (options.opt_level != 0 && options.opt_level != 2) return Status::InvalidArgument("opt_level must be 0 or 2");
  // Each thread running calls maps a stack for these limits (virtual memory).
  if (options.max_call_depth > kMaxCallDepthLimit || options.max_module_depth > kMaxModuleDepthLimit) {
    return Status::InvalidArgument("max_call_depth must be at most " + std::to_string(kMaxCallDepthLimit) +
                                   " and max_module_depth at most " + std::to_string(kMaxModuleDepthLimit) +
                                   " (the native stack is sized for them)");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(dir, options.store));
  engine::CodeCacheOptions co;
  co.dir = options.code_cache_dir.empty() ? store->dir() + "/.cache/code" : options.code_cache_dir;
  co.compiler.opt_level = options.opt_level == 0 ? engine::OptLevel::kO0 : engine::OptLevel::kO2;
  VmOptions::Tiers tiers = options.tiers;
  if (tiers == VmOptions::Tiers::kAuto) {
    tiers = options.opt_level == 2 ? VmOptions::Tiers::kFastThenOptimised : VmOptions::Tiers::kOptimisedOnly;
  }
  engine::CompilerOptions fast;
  fast.cc = options.fast_compiler;
  fast.flavor = engine::CompilerFlavor::kTcc;
  if (tiers == VmOptions::Tiers::kFastOnly) {
    co.compiler = fast;  // the only compiler: Vm::Open fails if it cannot be run
  } else if (tiers == VmOptions::Tiers::kFastThenOptimised && !options.fast_compiler.empty()) {
    co.fast_compiler = fast;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<engine::CodeCache> cache, engine::CodeCache::Open(co));
  return std::unique_ptr<Vm>(new VmImpl(std::move(store), std::move(cache), options));
}

}  // namespace crust
