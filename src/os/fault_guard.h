// Copyright (c) crust authors. Licensed under the MIT license.
//
// Reading mapped files without dying of SIGBUS. A read of a mapped file the
// kernel cannot satisfy (a hole on a full tmpfs, a file truncated under the
// mapping, an I/O error) raises SIGBUS; inside GuardMappedReads it ends the
// guarded step with IOError instead of killing the process.
//
// The handler is installed once per process and chains to the handler that
// was there before (the engine's, runtime_signals.cc, chains the same way),
// so faults outside a guard keep their old meaning.
//
// REQUIRES of the guarded function: it only reads and computes. A SIGBUS
// longjmps out of it, so C++ objects it created are not destroyed (their
// memory leaks; the step fails anyway) and it must not hold locks.
//
// Thread-safety: per thread; guards nest.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "crust/status.h"

namespace crust::os {

// Runs fn(arg); false when a SIGBUS on this thread interrupted it.
bool RunCatchingBusErrors(void (*fn)(void*), void* arg);

// Runs f(); IOError naming `what` when a SIGBUS interrupted it.
template <typename F>
Status GuardMappedReads(const std::string& what, F&& f) {
  auto call = [](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); };
  if (RunCatchingBusErrors(call, &f)) return Status::OK();
  return Status::IOError(what + ": a mapped file could not be read (SIGBUS: a hole on a full file system, a "
                                "truncated file or an I/O error)");
}

}  // namespace crust::os
