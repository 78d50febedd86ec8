// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/page_proof.h"

#include <algorithm>
#include <cstring>

#include "src/store/committed_memory.h"
#include "src/store/format.h"
#include "src/store/page_tree.h"
#include "src/store/root.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"

namespace crust {
namespace {

constexpr char kProofMagic[8] = {'c', 'r', 'u', 's', 't', 'p', 'r', 'f'};
constexpr uint32_t kProofVersion = 1;
constexpr uint32_t kMaxAuditPath = 64;
// magic, version, root, module, bytecode hash, metadata hash, length, page,
// data, siblings, leaf index, leaf count, path length.
constexpr size_t kFixedSize = 8 + 4 + 4 * 32 + 8 + 4 + kProofPageSize + kProofTreeDepth * 32 + 4 + 4 + 4;

Hash32 ReadHash(const uint8_t* p) {
  Hash32 h;
  std::memcpy(h.bytes.data(), p, 32);
  return h;
}

// The length of RFC 6962's inclusion path of leaf `index` among `count`.
uint32_t AuditPathLength(uint64_t index, uint64_t count) {
  uint32_t n = 0;
  while (count > 1) {
    uint64_t k = 1;
    while (k * 2 < count) k *= 2;
    if (index < k) {
      count = k;
    } else {
      index -= k;
      count -= k;
    }
    ++n;
  }
  return n;
}

// RFC 9162 §2.1.3.2: the root implied by `leaf` at `index` of `count` leaves
// and `path`. REQUIRES: path.size() == AuditPathLength(index, count).
Hash32 RootFromAuditPath(Hash32 leaf, uint64_t index, uint64_t count, const std::vector<Hash32>& path) {
  uint64_t fn = index, sn = count - 1;
  Hash32 r = leaf;
  for (const Hash32& p : path) {
    if ((fn & 1) == 1 || fn == sn) {
      r = HashNode(store::kTagNode, p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = HashNode(store::kTagNode, r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return r;
}

}  // namespace

Bytes EncodePageProof(const PageProof& p) {
  Bytes out;
  out.reserve(kFixedSize + p.audit_path.size() * 32);
  out.insert(out.end(), kProofMagic, kProofMagic + 8);
  PutFixed32(&out, kProofVersion);
  PutHash(&out, p.root);
  PutHash(&out, p.module);
  PutHash(&out, p.bytecode_hash);
  PutHash(&out, p.metadata_hash);
  PutFixed64(&out, p.memory_length);
  PutFixed32(&out, p.page);
  PutBytes(&out, p.data);
  for (const Hash32& h : p.siblings) PutHash(&out, h);
  PutFixed32(&out, p.leaf_index);
  PutFixed32(&out, p.leaf_count);
  PutFixed32(&out, static_cast<uint32_t>(p.audit_path.size()));
  for (const Hash32& h : p.audit_path) PutHash(&out, h);
  return out;
}

Result<PageProof> DecodePageProof(ByteView b) {
  auto bad = [](const std::string& what) { return Status::Corruption("page proof: " + what); };
  if (b.size() < kFixedSize) return bad("too short (" + std::to_string(b.size()) + " bytes)");
  if (std::memcmp(b.data(), kProofMagic, 8) != 0) return bad("bad magic (not a crust page proof)");
  const uint8_t* p = b.data() + 8;
  uint32_t version = DecodeFixed32(p);
  if (version != kProofVersion) return bad("unknown version " + std::to_string(version));
  p += 4;
  PageProof proof;
  proof.root = ReadHash(p), p += 32;
  proof.module = ReadHash(p), p += 32;
  proof.bytecode_hash = ReadHash(p), p += 32;
  proof.metadata_hash = ReadHash(p), p += 32;
  proof.memory_length = DecodeFixed64(p), p += 8;
  proof.page = DecodeFixed32(p), p += 4;
  std::memcpy(proof.data.data(), p, kProofPageSize), p += kProofPageSize;
  for (Hash32& h : proof.siblings) h = ReadHash(p), p += 32;
  proof.leaf_index = DecodeFixed32(p), p += 4;
  proof.leaf_count = DecodeFixed32(p), p += 4;
  uint32_t path_len = DecodeFixed32(p);
  if (proof.memory_length % store::kWasmPageSize != 0 || proof.memory_length > store::kMaxPages * kProofPageSize) {
    return bad("memory length " + std::to_string(proof.memory_length) + " is not a multiple of 64 KiB up to 4 GiB");
  }
  if (uint64_t{proof.page} * kProofPageSize >= proof.memory_length) {
    return bad("page " + std::to_string(proof.page) + " is past the memory's end");
  }
  if (proof.leaf_index >= proof.leaf_count) return bad("leaf index past the leaf count");
  if (path_len > kMaxAuditPath || path_len != AuditPathLength(proof.leaf_index, proof.leaf_count)) {
    return bad("audit path of " + std::to_string(path_len) + " hashes for leaf " +
               std::to_string(proof.leaf_index) + " of " + std::to_string(proof.leaf_count));
  }
  if (b.size() != kFixedSize + size_t{path_len} * 32) return bad("length does not match its audit path");
  p = b.data() + kFixedSize;
  for (uint32_t i = 0; i < path_len; ++i) proof.audit_path.push_back(ReadHash(p + 32 * i));
  return proof;
}

Status VerifyPageProof(const Root& root, const PageProof& proof) {
  if (proof.root != root) {
    return Status::Corruption("page proof is for root " + proof.root.ToHex() + ", not " + root.ToHex());
  }
  if (proof.memory_length % store::kWasmPageSize != 0 || proof.memory_length > store::kMaxPages * kProofPageSize ||
      uint64_t{proof.page} * kProofPageSize >= proof.memory_length) {
    return Status::Corruption("page proof: page " + std::to_string(proof.page) + " is outside a memory of " +
                              std::to_string(proof.memory_length) + " bytes");
  }
  if (proof.leaf_index >= proof.leaf_count ||
      proof.audit_path.size() != AuditPathLength(proof.leaf_index, proof.leaf_count)) {
    return Status::Corruption("page proof: audit path does not fit leaf " + std::to_string(proof.leaf_index) +
                              " of " + std::to_string(proof.leaf_count));
  }
  Hash32 node = store::PageLeafHash(proof.data.data());
  for (int level = 0; level < kProofTreeDepth; ++level) {
    bool right = (proof.page >> level) & 1;
    node = right ? store::TreeNodeHash(proof.siblings[level], node) : store::TreeNodeHash(node, proof.siblings[level]);
  }
  Hash32 memory_hash = store::MemoryHash(proof.memory_length, node);
  Hash32 leaf = store::StateLeafOfHashes(proof.module, proof.bytecode_hash, memory_hash, proof.metadata_hash);
  if (RootFromAuditPath(leaf, proof.leaf_index, proof.leaf_count, proof.audit_path) != root) {
    return Status::Corruption("page proof: page " + std::to_string(proof.page) + " of module " +
                              proof.module.ToHex() + " does not lead to root " + root.ToHex());
  }
  return Status::OK();
}

namespace store {

std::vector<Hash32> StateAuditPath(const std::vector<Hash32>& leaves, size_t index) {
  // RFC 6962 §2.1.1: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k,
  // PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise; siblings nearest the leaf first.
  std::vector<Hash32> path;
  size_t begin = 0, end = leaves.size();
  std::vector<std::pair<size_t, size_t>> siblings;  // ranges, top-down
  while (end - begin > 1) {
    size_t k = 1;
    while (k * 2 < end - begin) k *= 2;
    if (index < begin + k) {
      siblings.push_back({begin + k, end});
      end = begin + k;
    } else {
      siblings.push_back({begin, begin + k});
      begin += k;
    }
  }
  for (auto it = siblings.rbegin(); it != siblings.rend(); ++it) {
    path.push_back(StateSubtreeHash(leaves, it->first, it->second));
  }
  return path;
}

Result<PageProof> ProvePageInCommit(os::Env* env, const std::string& commit_dir, const Index& index,
                                    const Root& root, const ModuleId& module, uint32_t page,
                                    ImageCache* images) {
  auto it = std::lower_bound(index.entries.begin(), index.entries.end(), module,
                             [](const IndexEntry& e, const ModuleId& id) { return e.id < id; });
  if (it == index.entries.end() || it->id != module) {
    return Status::NotFound("module " + module.ToHex() + " is not in commit " + root.ToHex());
  }
  const IndexEntry& entry = *it;
  if (uint64_t{page} * kProofPageSize >= entry.memory_length) {
    return Status::InvalidArgument("page " + std::to_string(page) + " is past the end of module " +
                                   module.ToHex() + "'s memory (" + std::to_string(entry.memory_length / kProofPageSize) +
                                   " pages)");
  }
  ASSIGN_OR_RETURN(auto memory, CommittedMemory::Open(env, commit_dir, entry, images));
  PageProof proof;
  proof.root = root;
  proof.module = module;
  proof.bytecode_hash = entry.bytecode_hash;
  proof.metadata_hash = Sha256Of(entry.metadata);
  proof.memory_length = entry.memory_length;
  proof.page = page;
  RETURN_IF_ERROR(memory->ReadPage(page, proof.data.data()));
  for (int level = 0; level < kProofTreeDepth; ++level) {
    proof.siblings[level] = memory->Node(MakeNodeKey(level, (page >> level) ^ 1));
  }
  std::vector<Hash32> leaves;
  leaves.reserve(index.entries.size());
  for (const IndexEntry& e : index.entries) leaves.push_back(StateLeaf(e));
  proof.leaf_index = static_cast<uint32_t>(it - index.entries.begin());
  proof.leaf_count = static_cast<uint32_t>(leaves.size());
  proof.audit_path = StateAuditPath(leaves, proof.leaf_index);
  Status s = VerifyPageProof(root, proof);
  if (!s.ok()) {
    return Status::Corruption("commit " + root.ToHex() + ": the files of module " + module.ToHex() +
                              " do not prove page " + std::to_string(page) + " (" + std::string(s.message()) +
                              "); run crust verify");
  }
  return proof;
}

}  // namespace store
}  // namespace crust
