// Copyright (c) crust authors. Licensed under the MIT license.
//
// ImageCache: recently used memory images stay open and mapped across
// sessions. Successive commits hard-link the same base image until a rebase,
// so the next session on a later commit finds the image's tree nodes and
// pages that earlier sessions read already mapped (each first touch of a
// mapped page costs a page fault, ~1-2 us; a commit of 100 scattered pages in
// a 1 GiB memory touches ~1000 pages of the tree trailer).
//
// Images are keyed by inode and size (all files of a store are on one file
// system; an open image keeps its inode from being reused). At most
// `capacity` images are kept, the least recently used dropped first.
// Committed files are never modified, so a cached image stays valid; only
// verification (which must read the files afresh) bypasses the cache.
// DropDeleted() drops images whose path no longer exists, so that deleted
// commits do not keep their disk space through the cache.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "crust/status.h"
#include "src/os/env.h"
#include "src/store/delta.h"
#include "src/store/memory_image.h"

namespace crust::store {

// The same for delta layers (opened layers keep their compressed frame and
// tree nodes: successive commits link the same layers, so the next session
// reads none of them again). Also used by ImageCache.
template <typename T>
class FileCache {
 public:
  explicit FileCache(size_t capacity) : capacity_(capacity) {}
  // The object for `path`, from the cache or made by open(env, path).
  Result<std::shared_ptr<T>> Open(os::Env* env, const std::string& path,
                                  const std::function<Result<std::shared_ptr<T>>()>& open);
  void DropDeleted(os::Env* env);
  size_t size() const;

 private:
  struct Entry {
    uint64_t inode;
    uint64_t size;
    std::string path;  // where it was opened
    std::shared_ptr<T> object;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first; guarded by mu_
};

class ImageCache {
 public:
  explicit ImageCache(size_t capacity) : images_(capacity) {}

  // The image at `path`, from the cache or opened (MemoryImage::Open).
  Result<std::shared_ptr<MemoryImage>> Open(os::Env* env, const std::string& path);
  // Drops every image whose path is gone.
  void DropDeleted(os::Env* env) { images_.DropDeleted(env); }
  size_t size() const { return images_.size(); }

 private:
  FileCache<MemoryImage> images_;
};

class LayerCache {
 public:
  explicit LayerCache(size_t capacity) : layers_(capacity) {}
  // The layer at `path`, from the cache or opened (DeltaLayer::Open).
  Result<std::shared_ptr<DeltaLayer>> Open(os::Env* env, const std::string& path, uint64_t max_pages);
  void DropDeleted(os::Env* env) { layers_.DropDeleted(env); }
  size_t size() const { return layers_.size(); }

 private:
  FileCache<DeltaLayer> layers_;
};

}  // namespace crust::store
