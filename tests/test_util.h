// Copyright (c) crust authors. Licensed under the MIT license.
//
// Helpers shared by every test binary: status matchers, temporary
// directories, and child processes (servers started by a test and polled
// until they listen or print their address).
#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>

#include <string>
#include <vector>

#include "crust/options.h"
#include "crust/status.h"
#include "src/os/dirty_tracking.h"

#define ASSERT_OK(expr)                                        \
  do {                                                         \
    const ::crust::Status _s = ::crust::testing::ToStatus(expr); \
    ASSERT_TRUE(_s.ok()) << #expr << " -> " << _s.ToString();  \
  } while (0)
#define EXPECT_OK(expr)                                        \
  do {                                                         \
    const ::crust::Status _s = ::crust::testing::ToStatus(expr); \
    EXPECT_TRUE(_s.ok()) << #expr << " -> " << _s.ToString();  \
  } while (0)
// Unwraps a Result in a test, failing the test (and returning) on error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                       \
  auto CRUST_CONCAT(_r_, __LINE__) = (expr);                                  \
  ASSERT_TRUE(CRUST_CONCAT(_r_, __LINE__).ok())                               \
      << #expr << " -> " << CRUST_CONCAT(_r_, __LINE__).status().ToString(); \
  lhs = std::move(CRUST_CONCAT(_r_, __LINE__)).value()

namespace crust::testing {

inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) { return r.ok() ? Status::OK() : r.status(); }

// A fresh empty directory under $TMPDIR (or /tmp), removed on destruction
// unless the test failed (kept for inspection, path printed).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process (posix_spawn of argv[0], a path), its stdout and stderr
// in files; stopped (SIGTERM, then reaped) when destroyed.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& out, const std::string& err);
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Waits for exit; returns the exit status (-1 when killed by a signal).
  int Wait();
  // SIGTERM, then Wait(); nothing if not running.
  void Stop();

 private:
  pid_t pid_ = -1;
};

// A free loopback port (bound, read, released).
int FreePort();
// Waits (up to a minute: only a broken setup takes that long; this is not a
// timing check) until something accepts connections on loopback `port`.
bool WaitListening(int port);
// Waits (up to two minutes) until the file at `path` holds a complete
// http:// URL (followed by a space, line end or '"') and returns the first;
// empty (and a test failure naming the file's text) if it never does.
std::string WaitForUrl(const std::string& path);

// The StoreOptions value of an os-layer tracking mode (tests parameterized
// over os::TrackingMode open their stores with it).
inline DirtyTracking ToDirtyTracking(os::TrackingMode mode) {
  switch (mode) {
    case os::TrackingMode::kExact: return DirtyTracking::kExact;
    case os::TrackingMode::kPagemap: return DirtyTracking::kPagemap;
    case os::TrackingMode::kAuto: break;
  }
  return DirtyTracking::kAuto;
}

}  // namespace crust::testing
