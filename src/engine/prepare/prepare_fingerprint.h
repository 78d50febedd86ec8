// Copyright (c) crust authors. Licensed under the MIT license.
//
// What PrepareModule's result depends on besides the module's bytes: the
// fingerprint prepared-module caches key their entries on (prepared_cache.h).
// It covers
//   * kPrepareVersion (prepare.h) and kInstrumentationVersion (instrument.h);
//   * the wabt version (decoder, validator and encoder of every module);
//   * the host function table (names, signatures, reserved flags);
//   * the PrepareOptions fields: abi, max_initial_pages, max_module_bytes;
//   * the prepared form of a built-in canary contract (loops, calls, indirect
//     calls, host imports, float and integer arithmetic, bulk memory, growth,
//     state globals, active and passive data): a change to preparation that
//     alters the canary's result changes the fingerprint even if nobody
//     bumped a version. A safety net, not a substitute: changes that touch
//     only constructs the canary lacks, or only what is rejected, are caught
//     by the version constants alone.
//
// Thread-safety: free functions; the canary is prepared once per process
// (thread-safe static initialisation).
#pragma once

#include <cstdint>
#include <string>

#include "crust/types.h"
#include "src/engine/prepare/instrument.h"
#include "src/engine/prepare/prepare.h"

namespace crust::engine {

// The version constants the fingerprint covers. Only tests use other values
// (to check that a bump invalidates cached entries).
struct PreparationVersions {
  uint32_t prepare = kPrepareVersion;
  uint32_t instrumentation = kInstrumentationVersion;
};

// Human-readable summary of the fingerprint's inputs, e.g. "prepare 1;
// instrumentation 1; wabt 1.0.32; abi contract; max_initial_pages 16384;
// max_module_bytes 8388608; canary 0123abcd..." (or "canary rejected: ..."
// if the canary no longer prepares, which a test catches).
std::string PreparationDescription(const PrepareOptions& options, const PreparationVersions& versions = {});

// SHA-256 over the description, the host table and the canary's full digest.
Hash32 PreparationFingerprint(const PrepareOptions& options, const PreparationVersions& versions = {});

}  // namespace crust::engine
