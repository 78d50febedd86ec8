// Copyright (c) crust authors. Licensed under the MIT license.
//
// Test hooks of the commit path (session_commit.cc).
#pragma once

#include <cstdint>

namespace crust::store {

// Commits with at least this many pages to hash stage their directory and
// encode their delta layers beside the hashing, on the store's threads.
// Tests lower it (e.g. to 1) to exercise that path with small commits; 0
// restores the default. Process-wide; not for concurrent use with commits.
void SetParallelCommitPagesForTesting(uint64_t pages);

}  // namespace crust::store
