// Copyright (c) crust authors. Licensed under the MIT license.
//
// Binding of crust's host ABI (host_abi.h: module "env") to compiled
// modules: one C trampoline per host function, which forwards to the calling
// thread's HostContext (runtime.h) and turns a non-OK result into a trap that
// ends the call with that Status.
//
// Thread-safety: HostImports() is immutable; safe to share.
#pragma once

#include "src/engine/runtime/instance.h"

namespace crust::engine {

// Resolves "env" imports listed in host_abi.h, checking the signature.
const ImportResolver& HostImports();

}  // namespace crust::engine
