// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/views.h"

namespace crust::tool {

void WriteCommitJson(const CommitInfo& c, JsonWriter* w) {
  w->BeginObject();
  w->Field("root", c.root.ToHex());
  w->Field("created_unix_ns", c.created_unix_ns);
  w->Key("modules");
  w->BeginArray();
  for (const ModuleInfo& m : c.modules) {
    w->BeginObject();
    w->Field("id", m.id.ToHex());
    w->Field("bytecode_hash", m.bytecode_hash.ToHex());
    w->Field("bytecode_size", m.bytecode_size);
    w->Field("memory_hash", m.memory_hash.ToHex());
    w->Field("memory_length", m.memory_length);
    w->Field("delta_layers", uint64_t{m.delta_layers});
    w->Field("metadata", ToHex(m.metadata));
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

const char* ChangeName(ModuleChange::Kind kind) {
  switch (kind) {
    case ModuleChange::Kind::kAdded:
      return "added";
    case ModuleChange::Kind::kRemoved:
      return "removed";
    case ModuleChange::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

void WriteDiffJson(const CommitDiff& d, JsonWriter* w) {
  w->BeginObject();
  w->Field("from", d.from.ToHex());
  w->Field("to", d.to.ToHex());
  w->Field("changed_page_bytes", d.changed_page_bytes);
  w->Field("page_size", kInspectPageSize);
  w->Key("modules");
  w->BeginArray();
  for (const ModuleChange& m : d.modules) {
    w->BeginObject();
    w->Field("id", m.id.ToHex());
    w->Field("change", ChangeName(m.kind));
    w->Field("bytecode_changed", m.bytecode_changed);
    w->Field("memory_changed", m.memory_changed);
    w->Field("metadata_changed", m.metadata_changed);
    w->Field("old_memory_length", m.old_memory_length);
    w->Field("new_memory_length", m.new_memory_length);
    w->Field("old_bytecode_size", m.old_bytecode_size);
    w->Field("new_bytecode_size", m.new_bytecode_size);
    w->Key("changed_pages");
    w->BeginArray();
    for (uint32_t p : m.changed_pages) w->Number(p);
    w->EndArray();
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

void WriteUsageJson(const StoreUsage& u, JsonWriter* w) {
  w->BeginObject();
  w->Key("commits");
  w->BeginArray();
  for (const CommitUsage& c : u.commits) {
    w->BeginObject();
    w->Field("root", c.root.ToHex());
    w->Field("created_unix_ns", c.created_unix_ns);
    w->Field("files", c.files);
    w->Field("bytes", c.bytes);
    w->Field("new_bytes", c.new_bytes);
    w->Field("shared_bytes", c.shared_bytes);
    if (c.parent) w->Field("parent", c.parent->ToHex());
    w->Key("memories");
    w->BeginArray();
    for (const MemoryLayers& m : c.memories) {
      w->BeginObject();
      w->Field("id", m.id.ToHex());
      w->Field("delta_layers", uint64_t{m.delta_layers});
      w->EndObject();
    }
    w->EndArray();
    w->EndObject();
  }
  w->EndArray();
  w->Field("apparent_bytes", u.apparent_bytes);
  w->Field("unique_bytes", u.unique_bytes);
  w->EndObject();
}

void WriteVerdictJson(const Root& root, const Status& status, JsonWriter* w) {
  w->BeginObject();
  w->Field("root", root.ToHex());
  w->Field("ok", status.ok());
  if (!status.ok()) {
    w->Key("error");
    w->BeginObject();
    w->Field("code", Status::CodeName(status.code()));
    w->Field("message", status.message());
    w->EndObject();
  }
  w->EndObject();
}

}  // namespace crust::tool
