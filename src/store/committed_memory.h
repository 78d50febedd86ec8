// Copyright (c) crust authors. Licensed under the MIT license.
//
// CommittedMemory: one module memory as one commit stores it — a base image
// plus zero or more delta layers (oldest first). It answers the two questions
// a session asks of committed state: "what are the page-tree nodes?" (to
// update the memory hash from dirty pages) and "what was page p?" (to encode
// a delta), and it builds a session's copy-on-write view of the memory.
//
// Files opened at session start per memory: the base image (footer read,
// tree trailer mapped lazily) and every layer file (mapped; its footer,
// checksum table and header read, the rest checked block by block as used,
// delta.h): at most 1 + layer_count, where
// geometric merging with sealed layers keeps layer_count <= 16 + log2(S) + 1
// (S: the seal size, layer_build.h; docs/format.md gives the bounds).
//
// Thread-safety: immutable after creation; safe to share between sessions.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/store/delta.h"
#include "src/store/image_cache.h"
#include "src/store/index.h"
#include "src/store/memory_image.h"

namespace crust::store {

class CommittedMemory : public std::enable_shared_from_this<CommittedMemory> {
 public:
  // Opens memory/<id> and its layers in `commit_dir` as `entry` describes;
  // the base image through `images` when given. Corruption if a file is
  // missing or malformed, or lengths disagree.
  static Result<std::shared_ptr<const CommittedMemory>> Open(os::Env* env, const std::string& commit_dir,
                                                             const IndexEntry& entry, ImageCache* images = nullptr,
                                                             LayerCache* layers = nullptr);
  // `image_path`: the base image's file in the commit this describes (a
  // shared image may have been opened through another commit's link).
  CommittedMemory(std::shared_ptr<MemoryImage> base, std::vector<std::shared_ptr<DeltaLayer>> layers,
                  std::string image_path)
      : base_(std::move(base)), layers_(std::move(layers)), image_path_(std::move(image_path)) {}

  const MemoryImage& base() const { return *base_; }
  const std::shared_ptr<MemoryImage>& base_ptr() const { return base_; }
  const std::vector<std::shared_ptr<DeltaLayer>>& layers() const { return layers_; }
  const std::string& image_path() const { return image_path_; }
  uint64_t delta_pages() const;

  // The node's current value: newest layer holding it, else the base image.
  // Corruption if a layer's block it reads is damaged (delta.h).
  Result<Hash32> LookupNode(NodeKey key) const;
  // The same for callers that cannot stop at each node (tree updates): a
  // failed lookup returns an all-zero hash and is remembered; such callers
  // must check LookupStatus() before using what they computed.
  Hash32 Node(NodeKey key) const;
  Hash32 TreeRoot() const { return Node(kRootKey); }
  // The first error a Node() lookup met (OK if none). Thread-safe.
  Status LookupStatus() const;
  // The committed content of a page (4 KiB into out).
  Status ReadPage(uint32_t page, uint8_t* out) const;
  // The base image's page XOR-ed with `current` into out: a delta page.
  Status XorWithBase(uint32_t page, const uint8_t* current, uint8_t* out) const;
  // Starts loading the base image's page into the CPU cache (maps it now),
  // for an XorWithBase soon after.
  void PrefetchBase(uint32_t page) const;

  // The leaf hash of every page of a memory of `pages` pages, with `newer`
  // (changed nodes, e.g. a session's) taking precedence. Cost: O(pages).
  std::vector<Hash32> Leaves(uint64_t pages, const std::vector<TreeNode>& newer) const;

  // Maps a copy-on-write view of `length` bytes (>= the base image's length)
  // with every layer applied, and arms write tracking (noted tracking with
  // `noted`, see os::MemoryRegion::UseNotedWrites).
  //
  // With `lazy` (StoreOptions::lazy_layers for sessions; where
  // os::Env::MapLazyMemory is supported) nothing is
  // read or copied up front: each page is filled when first touched, from
  // the base image and the newest layer holding it (FillPage), and checked
  // against its leaf in the page tree; a page that does not match poisons
  // the region with Corruption naming the file (os::MemoryRegion::
  // FaultStatus), so it can never reach a commit. Cost: O(layers) to map,
  // O(1) lookups per layer for each page touched. Otherwise (eager) every
  // layered page is applied now: O(pages held in layers).
  // REQUIRES: this object is owned by a shared_ptr (Open does that).
  Result<std::unique_ptr<os::MemoryRegion>> Map(os::Env* env, uint64_t length, bool noted, bool lazy = true) const;

  // The committed content of `page` (< the committed memory's pages), checked
  // against its leaf hash: Corruption naming the file that holds it otherwise.
  // Thread-safe.
  Status FillPage(uint32_t page, uint8_t* out) const;

 private:
  std::shared_ptr<MemoryImage> base_;
  std::vector<std::shared_ptr<DeltaLayer>> layers_;  // oldest first
  const std::string image_path_;  // opened again by an eager Map (MemoryImage keeps no descriptor)
  mutable std::mutex error_mu_;
  mutable Status lookup_error_;  // guarded by error_mu_
};

}  // namespace crust::store
