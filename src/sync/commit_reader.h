// Copyright (c) crust authors. Licensed under the MIT license.
//
// Reading a local commit as the sync protocol sees it: each module's
// manifest entry (leaves from the stored page tree) and the bytes of its
// chunks, every page checked against its leaf as it is read. Shared by the
// exporter and `crust serve`.
//
// Thread-safety: a CommitReader is used by one thread; it pins its commit
// for its lifetime.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crust/status.h"
#include "src/store/committed_memory.h"
#include "src/store/index.h"
#include "src/store/store_impl.h"
#include "src/sync/manifest.h"

namespace crust::sync {

// The StoreImpl behind `store`; InvalidArgument for another implementation.
Result<store::StoreImpl*> Impl(Store* store);

class CommitReader {
 public:
  // Pins `root`. NotFound if no such commit, Corruption if its index is bad.
  static Result<std::unique_ptr<CommitReader>> Open(store::StoreImpl* store, const Root& root);
  ~CommitReader();

  const store::Index& index() const { return index_; }
  const std::string& dir() const { return dir_; }
  // Module i's manifest entry and committed memory.
  Status LoadModule(size_t i, ManifestModule* m, std::shared_ptr<const store::CommittedMemory>* memory);
  // The module's bytecode, checked against its hash (Corruption otherwise).
  Result<Bytes> ReadBytecode(const store::IndexEntry& e);
  // The pages [first, first + count) of `memory` into out (count * 4 KiB),
  // each checked against its stored leaf (Corruption naming the page).
  static Status ReadPages(const store::CommittedMemory& memory, uint32_t first, uint32_t count, uint8_t* out);
  // Page p of `memory` into out, checked against `leaf` (its stored leaf in
  // `memory`'s tree): false if it does
  // not match or cannot be read. A page held only by the base image is read
  // with pread, not through its mapping, so that an exporter's, server's or
  // importer's resident memory does not grow with the memories it reads.
  static bool ReadPage(const store::CommittedMemory& memory, uint32_t p, const Hash32& leaf, uint8_t* out);

  // The manifest, header then module by module, to `sink` (one module's
  // encoding in memory at a time). A sink error stops it and is returned.
  Status WriteManifest(const std::function<Status(ByteView)>& sink);
  // Where each module's encoding starts in the manifest; the last element
  // (one past the modules) is the manifest's size.
  Result<std::vector<uint64_t>> ManifestOffsets();
  // Module i's manifest encoding (EncodeManifestModule), into `out`.
  Status EncodeModule(size_t i, Bytes* out);

  // The chunk `name` if it is the run of module `id` that starts at
  // `first_page` (pages checked), or the bytecode of module `id`
  // (first_page ignored when `bytecode`); NotFound when it is not. The
  // memory is opened through `images` and `layers` (the caller's caches).
  Status ReadChunkAt(const ModuleId& id, bool bytecode, uint32_t first_page, const std::string& name,
                     store::ImageCache* images, store::LayerCache* layers, Bytes* out);

 private:
  CommitReader() = default;
  store::StoreImpl* store_ = nullptr;
  Root root_;
  std::string dir_;
  store::Index index_;
};

}  // namespace crust::sync
