// Copyright (c) crust authors. Licensed under the MIT license.
//
// The sync manifest (docs/format.md, "Sync manifest"): what a commit holds,
// enough to recompute its root, and the names of the chunks that carry its
// bytes. Written whole by the exporter; read module by module from a file by
// the importer, so that reading never holds more than one module's leaves.
//
// Thread-safety: pure functions; a ManifestReader is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "crust/types.h"
#include "src/os/env.h"

namespace crust::sync {

inline constexpr char kManifestMagic[8] = {'c', 'r', 'u', 's', 't', 's', 'y', 'n'};
inline constexpr uint32_t kRunMaxPages = 64;     // a run never crosses a 64-page boundary
inline constexpr uint8_t kChunkTag = 0x02;       // chunk name = SHA-256(0x02 || leaves)
inline constexpr uint64_t kMaxManifestBytes = 1ull << 36;

struct Run {
  uint32_t first_page = 0;
  uint32_t count = 0;
  size_t leaf_offset = 0;  // index of its first leaf in ManifestModule::leaves
};

struct ManifestModule {
  ModuleId id;
  Hash32 bytecode_hash;
  uint64_t bytecode_size = 0;
  uint64_t memory_length = 0;
  Bytes metadata;
  std::vector<Run> runs;       // ascending, disjoint
  std::vector<Hash32> leaves;  // every run's leaves, in order

  const Hash32* run_leaves(const Run& r) const { return leaves.data() + r.leaf_offset; }
};

// Chunk names (64 hex characters).
std::string RunChunkName(const Hash32* leaves, uint32_t count);
inline std::string BytecodeChunkName(const Hash32& bytecode_hash) { return bytecode_hash.ToHex(); }
inline std::string ManifestPath(const Root& root) { return "manifest/" + root.ToHex(); }
inline std::string ChunkPath(const std::string& name) { return "chunk/" + name; }

// Encoding, module by module.
inline constexpr uint64_t kManifestHeaderBytes = 48;
void EncodeManifestHeader(Bytes* out, const Root& root, uint32_t module_count);
void EncodeManifestModule(Bytes* out, const ManifestModule& m);
// The bytes EncodeManifestModule appends for `m`.
uint64_t EncodedModuleSize(const ManifestModule& m);

// Cuts the non-zero pages of a memory (leaves[p] for every page p; a page
// whose leaf is the zero page's is zero) into runs.
void MakeRuns(const std::vector<Hash32>& all_leaves, ManifestModule* m);

// The memory hash a module's manifest entry implies, and its state leaf.
Hash32 ModuleMemoryHash(const ManifestModule& m);
Hash32 ModuleStateLeaf(const ManifestModule& m);

// Reads a manifest file module by module, checking every bound and order;
// Corruption naming `what` (the manifest's source) otherwise.
class ManifestReader {
 public:
  static Result<std::unique_ptr<ManifestReader>> Open(os::Env* env, const std::string& path, const std::string& what);
  const Root& root() const { return root_; }
  uint32_t module_count() const { return module_count_; }
  // The next module, or nullopt-like false at the end (then `out` is untouched).
  Result<bool> Next(ManifestModule* out);
  // After the last module: Corruption if bytes remain.
  Status CheckEnd();

 private:
  ManifestReader() = default;
  Status Read(void* out, size_t n);
  std::unique_ptr<os::RandomAccessFile> file_;
  std::string what_;
  uint64_t offset_ = 0;
  Bytes buf_;
  size_t buf_pos_ = 0;
  Root root_;
  uint32_t module_count_ = 0;
  uint32_t read_ = 0;
  ModuleId last_id_;
};

// Reads the manifest at `path` and returns the root it yields (recomputed
// from its modules); Corruption if malformed. Holds one module at a time.
Result<Root> ManifestRoot(os::Env* env, const std::string& path, const std::string& what);

}  // namespace crust::sync
