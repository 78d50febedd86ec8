// Copyright (c) crust authors. Licensed under the MIT license.
//
// LayerWriter: the one interface through which a commit writes a memory's
// new delta layer (memory/<id>.diff.k, docs/format.md), whichever of the
// three ways it is written. The way is a policy (ChooseLayerWrite), decided
// from the layer's plan and the size of the commit:
//
//   kBuffered  small commits: after the hashing, the pages are encoded
//              (LayerEncoder), the layer assembled with the changed tree
//              nodes and written whole.
//   kMerged    large commits whose layer merges older layers: the pages are
//              encoded in chunks beside the hashing (the chunks also hash the
//              dirty pages' leaves, one read of each page); after it the
//              layer is assembled, merging the older layers' nodes with the
//              changed ones, and written whole.
//   kStreamed  large commits whose layer merges nothing (the usual case):
//              StreamedLayer (layer_stream.h) also computes the chunks' path
//              nodes and writes the file while later chunks are hashed.
//
// Every way produces the same layer (pages, nodes, data; only the grouping
// of the data's zstd blocks may differ) and the same file layout.
//
// Use (the session's commit, session_commit.cc):
//   w = NewLayerWriter(mode, args);  RETURN_IF_ERROR(w->Start());
//   for c in [0, w->chunks()): w->RunChunk(c)     // any threads
//   (hashing: leaves() / FinishNodes() when the writer computes them)
//   written = w->Finish(changed_nodes);           // then sync written.file
//
// Errors: IOError from the file system; Corruption naming a committed layer
// whose blocks are damaged; Aborted for internal inconsistencies (a bug).
// Thread-safety: RunChunk may run concurrently for distinct chunks; the
// other members are called by one thread, before (Start) or after (the
// rest) every RunChunk.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/store/committed_memory.h"
#include "src/store/delta.h"
#include "src/store/layer_build.h"
#include "src/store/page_tree.h"

namespace crust::store {

enum class LayerWriteMode { kBuffered, kMerged, kStreamed };

// The policy: `beside_hashing` when the commit is large enough to encode
// while it hashes (StoreOptions::parallel_commit_pages).
LayerWriteMode ChooseLayerWrite(const CommittedMemory& committed, const LayerPlan& plan, bool beside_hashing);

// What a writer needs; every reference must outlive the writer.
struct LayerWriteArgs {
  os::Env* env;
  const CommittedMemory& committed;  // the memory's files in the commit the session stands on
  const LayerPlan& plan;             // the new layer's pages and the layers it keeps
  const std::vector<uint32_t>& dirty;  // the session's dirty pages, ascending
  const uint8_t* memory;             // the session's view of the memory
  int compression_level;
  std::string path;  // the new layer's file, in the staging directory
  std::string what;  // names the layer in errors
  // If not empty: an empty file made ahead (SpareStaging) that becomes `path`
  // (Env::NewWritableFileFrom) instead of a new one.
  std::string made_file = {};
};

// The written layer: for the session's next view of the memory, and its
// file, complete but not yet synced (the commit syncs it with its others).
struct WrittenLayer {
  std::shared_ptr<DeltaLayer> layer;
  std::unique_ptr<os::WritableFile> file;
};

class LayerWriter {
 public:
  virtual ~LayerWriter() = default;
  // Reads what the chunks need (the merged layers' pages); a streamed
  // layer also creates its file and writes its page list.
  virtual Status Start() = 0;
  virtual size_t chunks() const = 0;
  // Encodes chunk c (and, as the mode says, hashes its leaves, computes and
  // writes its nodes). Each chunk runs once.
  virtual Status RunChunk(size_t c) = 0;
  // The dirty pages' leaf hashes (dirty order) when the chunks compute them,
  // valid after every chunk ran; null when the caller must hash them.
  virtual std::vector<Hash32>* leaves() = 0;
  // True when FinishNodes() gives the changed tree nodes (the chunks
  // computed the lower levels); otherwise the caller updates the paths.
  virtual bool computes_nodes() const { return false; }
  // After every chunk, when computes_nodes(): every changed node, sorted.
  virtual std::vector<TreeNode> FinishNodes() { return {}; }
  // Writes the rest of the layer's file. `changed`: every tree node the
  // dirty pages changed, sorted by key (FinishNodes' result when it
  // computes them).
  virtual Result<WrittenLayer> Finish(std::vector<TreeNode> changed) = 0;
};

std::unique_ptr<LayerWriter> NewLayerWriter(LayerWriteMode mode, LayerWriteArgs args);

}  // namespace crust::store
