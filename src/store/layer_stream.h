// Copyright (c) crust authors. Licensed under the MIT license.
//
// StreamedLayer: writes a large new delta layer while it is being computed,
// so that the disk works during the hashing instead of after it.
//
// A layer's file (docs/format.md: header | page list | tree nodes sorted by
// key | data | crc) is dominated, for thousands of scattered pages, by its
// tree nodes (36 bytes each, ~6 per page). Their keys, hence their places in
// the file, follow from the dirty page list alone. The pages are cut into
// chunks (ChunkedPathUpdate::ChooseCuts); each chunk task reads its pages
// once to hash the leaves and encode the XOR with the base (LayerEncoder),
// then computes its pages' path nodes below the level where chunks meet and
// puts them at their final place in an in-memory image of the node section.
// Every kWriteEvery chunks completed from the start, the node bytes that can
// no longer change are written to the file, so that copying them into the
// page cache overlaps the hashing of later chunks and the commit's final
// fdatasync finds the file written. Finish() writes the rest (the few top
// nodes, the data, the header, the checksum). The file is what
// DeltaLayer::Encode would write for the same layer (tested: same header,
// page list and nodes byte for byte; the data section is the same pages,
// encoded by chunks), and Finish() checks that every node placed early is
// where the final node list puts it before the file is complete.
//
// (Starting the writeback of finished ranges early with sync_file_range was
// tried and did not help on ext4: each call allocates blocks in the calling
// thread, on the commit's critical path; docs/benchmarks.md.)
//
// Used for layers that merge no older layer (their pages are exactly the
// dirty pages), i.e. a commit's new layer in the common case: the streamed
// way of LayerWriter (layer_writer.h), through which commits use it.
//
// Thread-safety: RunChunk may run concurrently for distinct chunks; the
// other members are called by one thread, before (Start) or after (the
// rest) every RunChunk.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/store/committed_memory.h"
#include "src/store/delta.h"
#include "src/store/layer_build.h"
#include "src/store/page_tree.h"

namespace crust::store {

class StreamedLayer {
 public:
  // Pages per chunk (about; cuts move to where paths meet): small enough for
  // both threads to stay busy and for writes to start early, large enough
  // for few system calls. The same as the plain encoder's chunks.
  static constexpr size_t kChunkPages = LayerEncoder::kChunkPages;

  // `plan` must merge nothing (plan.keep == committed.layers().size(), so
  // plan.pages == dirty). Every argument must outlive the object; `file` is
  // the new layer's file, created empty. `what` names the layer in errors.
  StreamedLayer(const CommittedMemory& committed, const LayerPlan& plan, const std::vector<uint32_t>& dirty,
                const uint8_t* memory, int level, os::WritableFile* file, std::string what);

  // Plans the chunks and the node section, writes the page list.
  Status Start();
  size_t chunks() const;
  // Encodes, hashes and places chunk c; writes what became final.
  Status RunChunk(size_t c);
  // After every chunk: the leaf hash of every dirty page, in dirty order.
  std::vector<Hash32>* leaves() { return &leaves_; }
  // After every chunk: every changed tree node, sorted by key (the nodes
  // the chunks computed and the top of the tree).
  std::vector<TreeNode> FinishNodes();
  // Writes the rest of the file; `changed` must be FinishNodes()' result.
  // Returns the layer (for the session's next view of the memory). The file
  // still needs its Sync(). Aborted if a node placed early is not the one
  // `changed` has at that place (a bug, never a user error).
  Result<std::shared_ptr<DeltaLayer>> Finish(std::vector<TreeNode> changed);

 private:
  // Marks chunk c done; unless another thread is writing, writes the node
  // bytes that became final, in batches of kWriteEvery chunks.
  Status WriteFinished(size_t c);

  const CommittedMemory& committed_;
  const LayerPlan& plan_;
  const std::vector<uint32_t>& dirty_;
  os::WritableFile* const file_;
  const std::string what_;
  LayerEncoder encoder_;
  std::unique_ptr<ChunkedPathUpdate> paths_;
  std::vector<Hash32> leaves_;

  Bytes page_list_;                    // the page list section's bytes
  uint64_t node_base_ = 0;            // file offset of the node section
  std::vector<uint64_t> level_start_;  // per level: index of its first node in the section
  std::vector<uint64_t> node_count_;   // per level
  uint64_t total_nodes_ = 0;
  int early_levels_ = 0;               // levels written chunk by chunk: [0, min_top)
  std::vector<std::vector<uint32_t>> offset_;  // [chunk][level < early_levels_]: first node index in the level
  std::unique_ptr<uint8_t[]> nodes_;   // the node section's bytes, filled by chunks and Finish

  std::mutex mu_;
  std::vector<bool> done_;             // per chunk; guarded by mu_
  size_t prefix_ = 0;                  // chunks [0, prefix_) done; guarded by mu_
  bool writing_ = false;               // a thread is writing node bytes; guarded by mu_
  std::vector<uint64_t> written_;      // per early level: bytes of the level written; guarded by mu_
  size_t written_chunks_ = 0;          // chunks whose nodes are written; guarded by mu_
  static constexpr size_t kWriteEvery = 16;  // chunks per batch of writes
};

}  // namespace crust::store
