// Copyright (c) crust authors. Licensed under the MIT license.
//
// Chooses between exact and fallback write tracking (see dirty_tracking.h).
#include "src/os/dirty_tracking.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "src/os/write_tracker.h"

namespace crust::os {
namespace {

constexpr int kNoOverride = -1;
std::atomic<int> testing_mode{kNoOverride};

// CRUST_DIRTY_TRACKING, read once. Not-ok for an unknown value.
const Result<TrackingMode>& EnvironmentMode() {
  static const Result<TrackingMode>* const mode = [] {
    const char* v = std::getenv("CRUST_DIRTY_TRACKING");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "auto") == 0) {
      return new Result<TrackingMode>(TrackingMode::kAuto);
    }
    if (std::strcmp(v, "uffd") == 0) return new Result<TrackingMode>(TrackingMode::kExact);
    if (std::strcmp(v, "pagemap") == 0) return new Result<TrackingMode>(TrackingMode::kPagemap);
    return new Result<TrackingMode>(Status::InvalidArgument(
        std::string("CRUST_DIRTY_TRACKING=") + v + ": expected uffd, pagemap or auto"));
  }();
  return *mode;
}

constexpr int kAuditFromEnvironment = -1;
std::atomic<int> testing_audit{kAuditFromEnvironment};

}  // namespace

void SetWriteAuditForTesting(bool on) { testing_audit.store(on ? 1 : 0, std::memory_order_relaxed); }

bool WriteAuditEnabled() {
  static const bool from_env = [] {
    const char* v = std::getenv("CRUST_WRITE_AUDIT");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  const int t = testing_audit.load(std::memory_order_relaxed);
  return t == kAuditFromEnvironment ? from_env : t == 1;
}

void SetTrackingModeForTesting(TrackingMode mode) {
  testing_mode.store(static_cast<int>(mode), std::memory_order_relaxed);
}

bool ExactTrackingAvailable() { return ExactTrackingStatus().ok(); }

Result<TrackingMode> ChooseTrackingMode() {
  TrackingMode wanted;
  const int override_mode = testing_mode.load(std::memory_order_relaxed);
  if (override_mode != kNoOverride) {
    wanted = static_cast<TrackingMode>(override_mode);
  } else {
    const Result<TrackingMode>& env = EnvironmentMode();
    if (!env.ok()) return env.status();
    wanted = *env;
  }
  switch (wanted) {
    case TrackingMode::kPagemap:
      return TrackingMode::kPagemap;
    case TrackingMode::kExact: {
      const Status s = ExactTrackingStatus();
      if (!s.ok()) {
        return Status::NotSupported("exact dirty-page tracking was requested but is unavailable: " +
                                    std::string(s.message()));
      }
      return TrackingMode::kExact;
    }
    case TrackingMode::kAuto:
      break;
  }
  return ExactTrackingAvailable() ? TrackingMode::kExact : TrackingMode::kPagemap;
}

}  // namespace crust::os
