// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/spare_staging.h"

namespace crust::store {

SpareStaging::~SpareStaging() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  RemoveAll();
}

std::optional<SpareStaging::Dir> SpareStaging::Take() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return !ready_.empty() || (!wanted_ && !making_) || stop_; });
  if (ready_.empty()) return std::nullopt;
  Dir d = std::move(ready_.back());
  ready_.pop_back();
  return d;
}

void SpareStaging::Request() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_ || ready_.size() >= kMax || wanted_ || making_) return;
    wanted_ = true;
    if (!worker_.joinable()) worker_ = std::thread([this] { WorkerLoop(); });
  }
  cv_.notify_all();
}

void SpareStaging::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return (!wanted_ && !making_) || stop_; });
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

void SpareStaging::WorkerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    making_ = true;
    l.unlock();
    Result<Dir> d = Make();
    l.lock();
    making_ = false;
    if (d.ok()) ready_.push_back(std::move(d).value());
    cv_.notify_all();
  }
}

Result<SpareStaging::Dir> SpareStaging::Make() {
  Dir d;
  d.path = new_path_();
  RETURN_IF_ERROR(env_->CreateDir(d.path));
  Status s = env_->CreateDir(d.path + "/bytecode");
  if (s.ok()) s = env_->CreateDir(d.path + "/memory");
  if (s.ok()) {
    d.layer_file = d.path + "/layer.spare";
    auto f = env_->NewWritableFile(d.layer_file);
    s = f.ok() ? (*f)->Close() : f.status();
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
    env_->RemoveDirRecursive(d.path).IgnoreError();
    return s;
  }
  return d;
}

}  // namespace crust::store
