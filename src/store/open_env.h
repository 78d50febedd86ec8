// Copyright (c) crust authors. Licensed under the MIT license.
//
// Store::Open on a given OS interface (os::Env), for tests that inject faults
// or observe file operations. Internal: the public StoreOptions names no
// internal type. `env` null means os::Env::Default() (or, for non-default
// StoreOptions::dirty_tracking / write_audit, a POSIX Env with them); it must
// outlive the store. A given `env` carries its own tracking options
// (os::NewPosixEnv): InvalidArgument if the StoreOptions ask for others.
// Errors: otherwise as Store::Open.
#pragma once

#include <memory>
#include <string>

#include "crust/store.h"
#include "src/os/env.h"

namespace crust::store {

Result<std::unique_ptr<Store>> OpenWithEnv(const std::string& dir, const StoreOptions& options, os::Env* env);

// Returns when the background work earlier calls started is done: the spare
// staging directory a commit asked for (spare_staging.h). For tests that
// count or fail the file operations of a commit. `store` from Store::Open or
// OpenWithEnv.
void WaitForBackgroundWork(Store* store);

}  // namespace crust::store
