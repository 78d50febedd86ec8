// Copyright (c) crust authors. Licensed under the MIT license.
//
// Verification of a commit directory: every byte on disk is checked against
// a hash or checksum, and every hash against the index and the root.
#pragma once

#include <string>

#include "crust/status.h"
#include "crust/types.h"
#include "src/os/env.h"

namespace crust::store {

// Checks, in order: the index (magic, version, checksum, order); that the
// root computed from it equals `root`; that the directory holds exactly the
// files the index implies; then per module: the bytecode's SHA-256; the base
// image's footer and tree checksum, and every stored tree node against the
// image's pages; every delta layer's checksum and contents; and that the
// page tree of the memory as composed (base + layers) hashes to the index's
// memory hash, node for node against the stored nodes.
// Returns Corruption naming the first file that does not match.
Status VerifyCommitDir(os::Env* env, const std::string& dir, const Root& root);

}  // namespace crust::store
