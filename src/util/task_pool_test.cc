// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/util/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace crust {
namespace {

std::vector<std::function<void()>> CountingTasks(int n, std::vector<std::atomic<int>>* hits) {
  std::vector<std::function<void()>> tasks;
  for (int i = 0; i < n; i++) tasks.push_back([hits, i] { (*hits)[i]++; });
  return tasks;
}

TEST(TaskPool, RunsEveryTaskOnce) {
  for (int workers : {0, 1, 3}) {
    TaskPool pool(workers);
    for (int n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      auto tasks = CountingTasks(n, &hits);
      pool.Run(tasks);
      for (int i = 0; i < n; i++) EXPECT_EQ(hits[i].load(), 1) << "workers " << workers << ", task " << i;
    }
  }
}

TEST(TaskPool, UsesWorkersAndRespectsMaxThreads) {
  TaskPool pool(2);
  // Two tasks that each wait for the other: only finishes if they run at once.
  std::atomic<int> arrived{0};
  std::vector<std::function<void()>> tasks(2, [&] {
    arrived++;
    while (arrived.load() < 2) std::this_thread::yield();
  });
  pool.Run(tasks);
  EXPECT_EQ(arrived.load(), 2);
  // max_threads = 1: everything on the caller's thread.
  std::vector<std::thread::id> ids(50);
  std::vector<std::function<void()>> record;
  for (int i = 0; i < 50; i++) record.push_back([&ids, i] { ids[i] = std::this_thread::get_id(); });
  pool.Run(record, 1);
  for (const auto& id : ids) EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(TaskPool, ConcurrentBatchesShareWorkers) {
  TaskPool pool(1);
  std::vector<std::thread> callers;
  std::atomic<int> total{0};
  for (int c = 0; c < 4; c++) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; round++) {
        std::vector<std::function<void()>> tasks(20, [&] { total++; });
        pool.Run(tasks);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 50 * 20);
}

}  // namespace
}  // namespace crust
