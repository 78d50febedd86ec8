// Copyright (c) crust authors. Licensed under the MIT license.
//
// JSON views of store objects, shared by the commands' --json output and the
// web view's API (commands_ui.cc): one code path per object, so both always
// agree. Each function writes one JSON value (an object) into `w`.
#pragma once

#include <string>

#include "crust/inspect.h"
#include "crust/store.h"
#include "tools/crust/json.h"

namespace crust::tool {

// {"root", "created_unix_ns", "modules": [{"id", "bytecode_hash",
// "bytecode_size", "memory_hash", "memory_length", "delta_layers",
// "metadata"}]}
void WriteCommitJson(const CommitInfo& c, JsonWriter* w);

// {"from", "to", "changed_page_bytes", "page_size", "modules": [{"id",
// "change": "added"|"removed"|"changed", "bytecode_changed",
// "memory_changed", "metadata_changed", "old_memory_length",
// "new_memory_length", "old_bytecode_size", "new_bytecode_size",
// "changed_pages": [N]}]}
void WriteDiffJson(const CommitDiff& d, JsonWriter* w);

// {"commits": [{"root", "created_unix_ns", "files", "bytes", "new_bytes",
// "shared_bytes", "parent" (absent when none), "memories": [{"id",
// "delta_layers"}]}], "apparent_bytes", "unique_bytes"}
void WriteUsageJson(const StoreUsage& u, JsonWriter* w);

// {"root", "ok"[, "error": {"code", "message"}]}
void WriteVerdictJson(const Root& root, const Status& status, JsonWriter* w);

const char* ChangeName(ModuleChange::Kind kind);

}  // namespace crust::tool
