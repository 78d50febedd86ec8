// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/image_cache.h"

#include <vector>

namespace crust::store {

template <typename T>
Result<std::shared_ptr<T>> FileCache<T>::Open(os::Env* env, const std::string& path,
                                              const std::function<Result<std::shared_ptr<T>>()>& open) {
  auto info = env->Stat(path);
  if (!info.ok()) return open();  // reports what is wrong
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->inode == info->inode && it->size == info->size) {
        entries_.splice(entries_.begin(), entries_, it);
        return it->object;
      }
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<T> image, open());
  std::shared_ptr<T> dropped;  // unmapped outside the lock
  std::lock_guard<std::mutex> l(mu_);
  for (const Entry& e : entries_) {
    if (e.inode == info->inode && e.size == info->size) return e.object;  // opened meanwhile
  }
  entries_.push_front({info->inode, info->size, path, image});
  if (entries_.size() > capacity_) {
    dropped = std::move(entries_.back().object);
    entries_.pop_back();
  }
  return image;
}

template <typename T>
void FileCache<T>::DropDeleted(os::Env* env) {
  std::vector<std::string> paths;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const Entry& e : entries_) paths.push_back(e.path);
  }
  std::vector<std::string> gone;
  for (const std::string& p : paths) {
    if (!env->Exists(p)) gone.push_back(p);
  }
  std::vector<std::shared_ptr<T>> dropped;  // unmapped outside the lock
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool drop = false;
    for (const std::string& g : gone) drop = drop || it->path == g;
    if (drop) {
      dropped.push_back(std::move(it->object));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

template <typename T>
size_t FileCache<T>::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

template class FileCache<MemoryImage>;
template class FileCache<DeltaLayer>;

Result<std::shared_ptr<MemoryImage>> ImageCache::Open(os::Env* env, const std::string& path) {
  return images_.Open(env, path, [&] { return MemoryImage::Open(env, path); });
}

Result<std::shared_ptr<DeltaLayer>> LayerCache::Open(os::Env* env, const std::string& path, uint64_t max_pages) {
  return layers_.Open(env, path, [&] { return DeltaLayer::Open(env, path, max_pages); });
}

}  // namespace crust::store
