// Copyright (c) crust authors. Licensed under the MIT license.
//
// Turns an errno into a Status whose message names the operation, the
// path(s) and strerror, e.g. "link /a/b -> /c/d: No space left on device".
// ENOENT becomes NotFound, EEXIST AlreadyExists, anything else IOError.
// Private to src/os. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "crust/status.h"

namespace crust::os {

Status PosixError(std::string_view op, std::string_view path, int err);
Status PosixError2(std::string_view op, std::string_view from, std::string_view to, int err);

}  // namespace crust::os
