// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/task_pool.h"

#include <algorithm>
#include <atomic>

namespace crust {

// One Run() call. Lives on the caller's stack; Run() returns only once no
// worker holds it any more.
struct TaskPool::Batch {
  std::span<const std::function<void()>> tasks;
  std::atomic<size_t> next{0};  // the next task to start
  int helpers_wanted = 0;       // guarded by the pool's mu_
  int helpers_active = 0;       // guarded by the pool's mu_
  std::condition_variable done;  // signalled when helpers_active drops to 0
};

TaskPool::TaskPool(int workers) : workers_(std::max(0, workers)) {}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

int TaskPool::DefaultWorkers() {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(hw - 1, 1, 3);
}

void TaskPool::Drain(Batch* b) {
  for (size_t i = b->next.fetch_add(1); i < b->tasks.size(); i = b->next.fetch_add(1)) b->tasks[i]();
}

void TaskPool::Run(std::span<const std::function<void()>> tasks, int max_threads) {
  if (tasks.empty()) return;
  Batch b;
  b.tasks = tasks;
  int helpers = std::min<int>(workers_, static_cast<int>(tasks.size()) - 1);
  if (max_threads > 0) helpers = std::min(helpers, max_threads - 1);
  if (helpers > 0) {
    std::lock_guard<std::mutex> l(mu_);
    while (static_cast<int>(threads_.size()) < workers_) threads_.emplace_back([this] { WorkerLoop(); });
    b.helpers_wanted = helpers;
    queue_.push_back(&b);
  }
  if (helpers > 0) {
    if (helpers == 1) {
      cv_.notify_one();
    } else {
      cv_.notify_all();
    }
  }
  Drain(&b);
  if (helpers > 0) {
    std::unique_lock<std::mutex> l(mu_);
    // Helpers that have not picked the batch up yet must not any more.
    auto it = std::find(queue_.begin(), queue_.end(), &b);
    if (it != queue_.end()) queue_.erase(it);
    b.done.wait(l, [&] { return b.helpers_active == 0; });
  }
}

void TaskPool::WorkerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Batch* b = queue_.front();
    b->helpers_active++;
    if (--b->helpers_wanted == 0) queue_.pop_front();
    l.unlock();
    Drain(b);
    l.lock();
    if (--b->helpers_active == 0) b->done.notify_all();
  }
}

}  // namespace crust
