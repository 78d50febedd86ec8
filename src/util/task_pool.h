// Copyright (c) crust authors. Licensed under the MIT license.
//
// TaskPool: a few worker threads that help the calling thread run a batch of
// independent tasks. Run() returns when every task of the batch has finished;
// the calling thread runs tasks itself meanwhile, so a batch never waits for
// a busy pool (with every worker occupied by other batches, the caller runs
// the whole batch alone).
//
// Tasks are started in the order given: put long tasks first, then many short
// ones (e.g. chunks of a loop), so that threads that finish early take the
// short ones and the batch ends evenly.
//
// Workers are started on first use and joined by the destructor. Tasks must
// not throw and must not call Run() on the same pool (a nested batch could
// only deadlock if every thread waited; the caller-runs rule avoids it, but
// nesting is not needed and not supported).
//
// Thread-safety: Run() may be called from several threads at once; their
// batches share the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace crust {

class TaskPool {
 public:
  // `workers` threads besides the callers; 0 runs every batch on its caller.
  explicit TaskPool(int workers);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Runs tasks[0..n) using at most `max_threads` threads including the
  // caller (0: the caller and every worker), and returns when all are done.
  void Run(std::span<const std::function<void()>> tasks, int max_threads = 0);

  int workers() const { return workers_; }

  // Workers for CPU-bound batches on this machine: one less than the number
  // of hardware threads (the caller is the other), at least 1, at most 3.
  static int DefaultWorkers();

 private:
  struct Batch;
  void WorkerLoop();
  static void Drain(Batch* b);

  const int workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch*> queue_;  // batches that still want helpers; guarded by mu_
  bool stop_ = false;         // guarded by mu_
  std::vector<std::thread> threads_;  // started on first Run()
};

}  // namespace crust
