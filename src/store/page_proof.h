// Copyright (c) crust authors. Licensed under the MIT license.
//
// Making page inclusion proofs from a commit's files (include/crust/proof.h
// is the public side: the proof, its encoding and the verifier).
//
// Thread-safety: pure functions over immutable committed files.
#pragma once

#include <string>
#include <vector>

#include "crust/proof.h"
#include "src/os/env.h"
#include "src/store/image_cache.h"
#include "src/store/index.h"

namespace crust::store {

// The RFC 6962 inclusion path of leaf `index` among `leaves` (the state's
// leaves, in id order). REQUIRES: index < leaves.size().
std::vector<Hash32> StateAuditPath(const std::vector<Hash32>& leaves, size_t index);

// Proves page `page` of `module` in the commit at `commit_dir` whose index is
// `index` and whose root is `root`. The proof is checked before it is
// returned, so a damaged commit file gives Corruption naming it, never a
// proof that fails elsewhere. Errors: NotFound (no such module), OutOfRange
// as InvalidArgument (page past the memory's end), Corruption, IOError.
Result<PageProof> ProvePageInCommit(os::Env* env, const std::string& commit_dir, const Index& index,
                                    const Root& root, const ModuleId& module, uint32_t page,
                                    ImageCache* images);

}  // namespace crust::store
