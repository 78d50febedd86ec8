// Copyright (c) crust authors. Licensed under the MIT license.
//
// The engine's only doors to processes and the dynamic loader: running the C
// compiler in a child with limits, and dlopen/dlsym/dlclose of compiled
// objects. (Files go through os::Env; signals live in runtime_signals.cc.)
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "crust/status.h"

namespace crust::engine {

struct ProcessLimits {
  uint64_t address_space_bytes = 4ull << 30;  // RLIMIT_AS of the child (and its children)
  uint32_t cpu_seconds = 300;                 // RLIMIT_CPU per process
  uint32_t wall_seconds = 600;                // the whole process group is killed after this
  // When set and true, the process group is killed (ResourceExhausted
  // "cancelled"): a code cache closing while a background build runs.
  // Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

// Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null and
// stdout+stderr appended to `output_path`, in its own process group.
// OK when it exits with status 0. ResourceExhausted when killed by a limit
// (wall clock, CPU, or a signal typical of memory exhaustion); IOError for
// other failures, with the tail of the output in the message.
Status RunProcess(const std::vector<std::string>& argv, const std::string& output_path,
                  const ProcessLimits& limits);

// Like RunProcess, but stdout and stderr come back through a pipe (the first
// `max_output` bytes) instead of a file: nothing is written anywhere.
Result<std::string> RunProcessCapture(const std::vector<std::string>& argv, const ProcessLimits& limits,
                                      size_t max_output = 64 * 1024);

// A dlopen'ed shared object (RTLD_NOW | RTLD_LOCAL). Closed on destruction.
class SharedObject {
 public:
  // Corruption when the loader rejects the file. A file on a file system
  // mounted noexec (which refuses every executable mapping) is loaded from an
  // anonymous copy (memfd; its descriptor stays open while the object is
  // loaded) instead; NotSupported, saying what to change, when that is
  // refused too.
  static Result<std::unique_ptr<SharedObject>> Open(const std::string& path);
  ~SharedObject();
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;

  // Address of `name`, or NotFound.
  Result<void*> Symbol(const char* name) const;

 private:
  SharedObject(void* handle, int copy_fd = -1) : handle_(handle), copy_fd_(copy_fd) {}
  void* const handle_;
  const int copy_fd_;  // the anonymous copy loaded, or -1
};

}  // namespace crust::engine
