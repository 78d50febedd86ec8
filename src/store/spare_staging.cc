// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/spare_staging.h"

namespace crust::store {

std::optional<SpareStaging::Dir> SpareStaging::Take() {
  std::lock_guard<std::mutex> l(mu_);
  if (ready_.empty()) return std::nullopt;
  Dir d = std::move(ready_.back());
  ready_.pop_back();
  return d;
}

void SpareStaging::Refill() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (ready_.size() + making_ >= kMax) return;
    making_++;
  }
  Dir d;
  d.path = new_path_();
  Status s = env_->CreateDir(d.path);
  const bool created = s.ok();
  if (s.ok()) s = env_->CreateDir(d.path + "/bytecode");
  if (s.ok()) s = env_->CreateDir(d.path + "/memory");
  if (s.ok()) {
    d.layer_file = d.path + "/layer.spare";
    auto f = env_->NewWritableFile(d.layer_file);
    if (f.ok()) {
      s = (*f)->Close();
    } else {
      s = f.status();
    }
  }
  if (s.ok()) {
    auto f = env_->NewWritableFile(d.path + "/index");
    if (f.ok()) {
      d.index = std::move(f).value();
    } else {
      s = f.status();
    }
  }
  if (!s.ok()) {
    d.index.reset();
    if (created) env_->RemoveDirRecursive(d.path).IgnoreError();
  }
  std::lock_guard<std::mutex> l(mu_);
  making_--;
  if (s.ok()) ready_.push_back(std::move(d));
}

void SpareStaging::RemoveAll() {
  std::vector<Dir> doomed;
  {
    std::lock_guard<std::mutex> l(mu_);
    doomed.swap(ready_);
  }
  for (Dir& d : doomed) {
    d.index.reset();
    env_->RemoveDirRecursive(d.path).IgnoreError();
  }
}

}  // namespace crust::store
