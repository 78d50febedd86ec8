// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/verify.h"

#include <set>

#include "src/os/fault_guard.h"
#include "src/store/committed_memory.h"
#include "src/store/format.h"
#include "src/store/index.h"
#include "src/store/root.h"
#include "src/util/sha256.h"

namespace crust::store {
namespace {

Status CheckFileSet(os::Env* env, const std::string& dir, const Index& index) {
  std::set<std::string> expected_bytecode, expected_memory;
  for (const IndexEntry& e : index.entries) {
    expected_bytecode.insert(e.id.ToHex());
    expected_memory.insert(MemoryName(e.id).substr(7));
    for (uint32_t k = 1; k <= e.layer_count; k++) expected_memory.insert(LayerName(e.id, k).substr(7));
  }
  ASSIGN_OR_RETURN(auto top, env->ListDir(dir));
  for (const std::string& name : top) {
    if (name != "bytecode" && name != "memory" && name != "index") {
      return Status::Corruption(dir + "/" + name + ": unexpected file in commit");
    }
  }
  for (auto [sub, expected] : {std::pair{"bytecode", &expected_bytecode}, std::pair{"memory", &expected_memory}}) {
    auto names = env->ListDir(dir + "/" + sub);
    if (!names.ok()) return Status::Corruption(dir + "/" + sub + ": " + std::string(names.status().message()));
    std::set<std::string> have(names->begin(), names->end());
    for (const std::string& n : *expected) {
      if (!have.count(n)) return Status::Corruption(dir + "/" + sub + "/" + n + ": missing (listed in the index)");
    }
    for (const std::string& n : have) {
      if (!expected->count(n)) return Status::Corruption(dir + "/" + sub + "/" + n + ": unexpected file in commit");
    }
  }
  return Status::OK();
}

// The file holding the newest version of page p.
std::string PageFile(const CommittedMemory& m, uint32_t page) {
  for (auto it = m.layers().rbegin(); it != m.layers().rend(); ++it) {
    auto i = (*it)->FindPage(page);
    if (!i.ok() || *i) return (*it)->path();
  }
  return m.base().path();
}

// Checks every stored node of the base image against its own pages.
Status VerifyBaseImageMapped(const MemoryImage& img) {
  RETURN_IF_ERROR(img.VerifyChecksum());
  std::vector<Hash32> leaves(img.pages());
  std::vector<uint8_t> page(kPageSize);
  for (uint64_t p = 0; p < img.pages(); p++) {
    RETURN_IF_ERROR(img.ReadPage(static_cast<uint32_t>(p), page.data()));
    leaves[p] = PageLeafHash(page.data());
  }
  auto levels = BuildTree(std::move(leaves));
  for (int k = 0; k <= kTreeDepth; k++) {
    for (uint64_t i = 0; i < levels[k].size(); i++) {
      if (img.Node(MakeNodeKey(k, static_cast<uint32_t>(i))) != levels[k][i]) {
        return Status::Corruption(img.path() + ": " + (k == 0 ? "page " + std::to_string(i) + " does not match its hash"
                                                              : "tree node at level " + std::to_string(k) + " index " +
                                                                    std::to_string(i) + " is wrong"));
      }
    }
  }
  return Status::OK();
}

// Reads through mappings: a file that cannot be read (SIGBUS) is an IOError
// naming it, never a crash (os/fault_guard.h; what the interrupted step had
// allocated leaks).
Status VerifyBaseImage(const MemoryImage& img) {
  Status s;
  RETURN_IF_ERROR(os::GuardMappedReads(img.path(), [&] { s = VerifyBaseImageMapped(img); }));
  return s;
}

Status VerifyMemoryMapped(os::Env* env, const std::string& dir, const IndexEntry& e);

Status VerifyMemory(os::Env* env, const std::string& dir, const IndexEntry& e) {
  Status s;
  RETURN_IF_ERROR(os::GuardMappedReads(dir + "/" + MemoryName(e.id), [&] { s = VerifyMemoryMapped(env, dir, e); }));
  return s;
}

Status VerifyMemoryMapped(os::Env* env, const std::string& dir, const IndexEntry& e) {
  ASSIGN_OR_RETURN(auto mem, CommittedMemory::Open(env, dir, e));
  RETURN_IF_ERROR(VerifyBaseImage(mem->base()));
  // Every byte of every layer (opening checked only footers and headers).
  for (const auto& layer : mem->layers()) RETURN_IF_ERROR(layer->VerifyAll(e.memory_length / kPageSize));
  ASSIGN_OR_RETURN(auto region, mem->Map(env, e.memory_length, /*noted=*/false, /*lazy=*/false));
  const uint64_t pages = e.memory_length / kPageSize;
  std::vector<Hash32> leaves(pages);
  PageLeafHashes(region->data(), nullptr, 0, pages, leaves.data());
  auto levels = BuildTree(std::move(leaves));
  // Every node a later commit may read must equal the recomputed one.
  for (int k = 0; k <= kTreeDepth; k++) {
    for (uint64_t i = 0; i < levels[k].size(); i++) {
      NodeKey key = MakeNodeKey(k, static_cast<uint32_t>(i));
      if (mem->Node(key) != levels[k][i]) {
        std::string where = k == 0 ? PageFile(*mem, static_cast<uint32_t>(i)) : mem->base().path();
        if (k > 0) {
          for (auto it = mem->layers().rbegin(); it != mem->layers().rend(); ++it) {
            auto h = (*it)->FindNode(key);
            if (!h.ok() || *h) { where = (*it)->path(); break; }
          }
        }
        return Status::Corruption(where + ": " + (k == 0 ? "page " + std::to_string(i) + " does not match its hash"
                                                         : "tree node at level " + std::to_string(k) + " index " +
                                                               std::to_string(i) + " is wrong"));
      }
    }
  }
  Hash32 tree_root = pages ? levels[kTreeDepth][0] : ZeroHash(kTreeDepth);
  if (MemoryHash(e.memory_length, tree_root) != e.memory_hash) {
    return Status::Corruption(dir + "/" + MemoryName(e.id) + ": memory hash does not match the index");
  }
  return Status::OK();
}

}  // namespace

Status VerifyCommitDir(os::Env* env, const std::string& dir, const Root& root) {
  const std::string index_path = dir + "/index";
  auto read = env->ReadFile(index_path, 1ull << 32);
  if (!read.ok()) {
    // A commit directory without its index is damaged, not absent (NotFound
    // stays for a directory that vanished, e.g. deleted meanwhile).
    if (read.status().IsNotFound() && env->Exists(dir)) return Status::Corruption(index_path + ": missing");
    return read.status();
  }
  Bytes bytes = std::move(read).value();
  ASSIGN_OR_RETURN(Index index, DecodeIndex(bytes, index_path));
  if (ComputeRoot(index.entries) != root) {
    return Status::Corruption(index_path + ": the root computed from the index is " +
                              ComputeRoot(index.entries).ToHex() + ", not the directory's name " + root.ToHex());
  }
  RETURN_IF_ERROR(CheckFileSet(env, dir, index));
  for (const IndexEntry& e : index.entries) {
    const std::string bc_path = dir + "/" + BytecodeName(e.id);
    ASSIGN_OR_RETURN(Bytes bc, env->ReadFile(bc_path, kMaxBytecode));
    if (Sha256Of(bc) != e.bytecode_hash) return Status::Corruption(bc_path + ": bytecode hash does not match the index");
    RETURN_IF_ERROR(VerifyMemory(env, dir, e));
  }
  return Status::OK();
}

}  // namespace crust::store
