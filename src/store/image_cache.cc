// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/image_cache.h"

#include <vector>

namespace crust::store {

Result<std::shared_ptr<MemoryImage>> ImageCache::Open(os::Env* env, const std::string& path) {
  auto info = env->Stat(path);
  if (!info.ok()) return MemoryImage::Open(env, path);  // reports what is wrong
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->inode == info->inode && it->size == info->size) {
        entries_.splice(entries_.begin(), entries_, it);
        return it->image;
      }
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<MemoryImage> image, MemoryImage::Open(env, path));
  std::shared_ptr<MemoryImage> dropped;  // unmapped outside the lock
  std::lock_guard<std::mutex> l(mu_);
  for (const Entry& e : entries_) {
    if (e.inode == info->inode && e.size == info->size) return e.image;  // opened meanwhile
  }
  entries_.push_front({info->inode, info->size, path, image});
  if (entries_.size() > capacity_) {
    dropped = std::move(entries_.back().image);
    entries_.pop_back();
  }
  return image;
}

void ImageCache::DropDeleted(os::Env* env) {
  std::vector<std::string> paths;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const Entry& e : entries_) paths.push_back(e.path);
  }
  std::vector<std::string> gone;
  for (const std::string& p : paths) {
    if (!env->Exists(p)) gone.push_back(p);
  }
  std::vector<std::shared_ptr<MemoryImage>> dropped;  // unmapped outside the lock
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool drop = false;
    for (const std::string& g : gone) drop = drop || it->path == g;
    if (drop) {
      dropped.push_back(std::move(it->image));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t ImageCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

}  // namespace crust::store
