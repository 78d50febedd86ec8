// Copyright (c) crust authors. Licensed under the MIT license.
//
// ExportCommit (crust/sync.h): a commit to manifest + content-addressed
// chunks in a directory.
#include <memory>
#include <string>

#include "crust/sync.h"
#include "src/store/format.h"
#include "src/sync/commit_reader.h"
#include "src/sync/manifest.h"

namespace crust {
namespace {

// Writes `data` to dir/rel through a temporary name and rename(2), unless
// dir/rel exists already. Returns whether it wrote.
Result<bool> WriteIfAbsent(os::Env* env, const std::string& dir, const std::string& rel, ByteView data) {
  const std::string path = dir + "/" + rel;
  if (env->Exists(path)) return false;
  const std::string tmp = path + ".tmp";
  env->RemoveFile(tmp).IgnoreError();
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(tmp));
  RETURN_IF_ERROR(f->Append(data));
  RETURN_IF_ERROR(f->Sync());
  RETURN_IF_ERROR(f->Close());
  RETURN_IF_ERROR(env->Rename(tmp, path));
  return true;
}

Status EnsureDir(os::Env* env, const std::string& path) {
  Status s = env->CreateDir(path);
  return (s.code() == Status::Code::kAlreadyExists) ? Status::OK() : s;
}

}  // namespace

Result<ExportStats> ExportCommit(Store* store, const Root& root, const std::string& dir) {
  ASSIGN_OR_RETURN(store::StoreImpl * impl, sync::Impl(store));
  os::Env* env = impl->env();
  ASSIGN_OR_RETURN(std::unique_ptr<sync::CommitReader> reader, sync::CommitReader::Open(impl, root));
  RETURN_IF_ERROR(EnsureDir(env, dir));
  RETURN_IF_ERROR(EnsureDir(env, dir + "/manifest"));
  RETURN_IF_ERROR(EnsureDir(env, dir + "/chunk"));
  ExportStats stats;
  const auto& entries = reader->index().entries;
  std::unique_ptr<uint8_t[]> pages(new uint8_t[sync::kRunMaxPages * store::kPageSize]);
  for (size_t i = 0; i < entries.size(); i++) {
    sync::ManifestModule m;
    std::shared_ptr<const store::CommittedMemory> memory;
    RETURN_IF_ERROR(reader->LoadModule(i, &m, &memory));
    const std::string code_rel = sync::ChunkPath(sync::BytecodeChunkName(m.bytecode_hash));
    if (env->Exists(dir + "/" + code_rel)) {
      stats.chunks_present++;
    } else {
      ASSIGN_OR_RETURN(Bytes code, reader->ReadBytecode(entries[i]));
      ASSIGN_OR_RETURN(bool wrote, WriteIfAbsent(env, dir, code_rel, code));
      if (wrote) {
        stats.chunks_written++;
        stats.bytes_written += code.size();
      }
    }
    for (const sync::Run& r : m.runs) {
      const std::string rel = sync::ChunkPath(sync::RunChunkName(m.run_leaves(r), r.count));
      if (env->Exists(dir + "/" + rel)) {
        stats.chunks_present++;
        continue;
      }
      RETURN_IF_ERROR(sync::CommitReader::ReadPages(*memory, r.first_page, r.count, pages.get()));
      const ByteView data(pages.get(), size_t{r.count} * store::kPageSize);
      ASSIGN_OR_RETURN(bool wrote, WriteIfAbsent(env, dir, rel, data));
      if (wrote) {
        stats.chunks_written++;
        stats.bytes_written += data.size();
      }
    }
  }
  RETURN_IF_ERROR(env->SyncDir(dir + "/chunk"));
  // The manifest last, streamed module by module (one module's leaves in
  // memory at a time) to a temporary file, then renamed.
  const std::string path = dir + "/" + sync::ManifestPath(root);
  const std::string tmp = path + ".tmp";
  env->RemoveFile(tmp).IgnoreError();
  ASSIGN_OR_RETURN(std::unique_ptr<os::WritableFile> f, env->NewWritableFile(tmp));
  Status s = reader->WriteManifest([&](ByteView piece) {
    stats.manifest_bytes += piece.size();
    return f->Append(piece);
  });
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    env->RemoveFile(tmp).IgnoreError();
    return s;
  }
  RETURN_IF_ERROR(env->SyncDir(dir + "/manifest"));
  return stats;
}

}  // namespace crust
