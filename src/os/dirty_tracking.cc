// Copyright (c) crust authors. Licensed under the MIT license.
//
// Chooses between exact and fallback write tracking (see dirty_tracking.h).
#include "src/os/dirty_tracking.h"

#include <string>

#include "src/os/write_tracker.h"

namespace crust::os {

bool ExactTrackingAvailable() { return ExactTrackingStatus().ok(); }

Result<TrackingMode> ChooseTrackingMode(TrackingMode wanted) {
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
