// Copyright (c) crust authors. Licensed under the MIT license.
//
// SyncServer (crust/sync.h): the export layout served from commit files.
// A chunk name is found through a table filled when a commit's manifest is
// built (a manifest request, or a scan of every commit when a chunk is asked
// for that no built manifest names).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>

#include "crust/sync.h"
#include "src/store/format.h"
#include "src/sync/commit_reader.h"
#include "src/sync/manifest.h"

namespace crust {
namespace {

struct ChunkPlace {
  Root root;
  ModuleId module;
  bool bytecode = false;
  uint32_t first_page = 0;
  uint32_t count = 0;
};

class Server final : public SyncServer {
 public:
  explicit Server(store::StoreImpl* store) : store_(store) {}
  ~Server() override { Stop(); }

  Status Listen(const std::string& bind, int port) {
    http_.Get(R"(/manifest/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      auto root = Hash32::FromHex(req.matches[1].str());
      Bytes body;
      Status s = root.ok() ? Manifest(*root, &body) : root.status();
      Reply(s, std::move(body), res);
    });
    http_.Get(R"(/chunk/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      Bytes body;
      Status s = Chunk(req.matches[1].str(), &body);
      Reply(s, std::move(body), res);
    });
    port_ = port == 0 ? http_.bind_to_any_port(bind) : (http_.bind_to_port(bind, port) ? port : -1);
    if (port_ < 0) {
      return Status::IOError("cannot listen on " + bind + ":" + std::to_string(port) +
                             " (in use, or not an address of this machine)");
    }
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    return Status::OK();
  }

  int port() const override { return port_; }
  void Wait() override {
    std::lock_guard<std::mutex> l(join_mu_);
    if (thread_.joinable()) thread_.join();
  }
  void Stop() override {
    http_.stop();
    Wait();
  }

 private:
  static void Reply(const Status& s, Bytes body, httplib::Response& res) {
    if (!s.ok()) {
      res.status = s.IsNotFound() ? 404 : 500;
      res.set_content(s.ToString() + "\n", "text/plain");
      return;
    }
    // cpp-httplib answers Range requests from the body (206).
    res.set_content(std::string(body.begin(), body.end()), "application/octet-stream");
  }

  Status Manifest(const Root& root, Bytes* out) {
    ASSIGN_OR_RETURN(std::unique_ptr<sync::CommitReader> reader, sync::CommitReader::Open(store_, root));
    RETURN_IF_ERROR(reader->EncodeManifest(out));
    RETURN_IF_ERROR(Note(*reader));
    return Status::OK();
  }

  // Records every chunk of the commit `reader` reads.
  Status Note(sync::CommitReader& reader) {
    std::map<std::string, ChunkPlace> found;
    const Root root = Hash32::FromHex(reader.dir().substr(reader.dir().size() - 64)).value();
    for (size_t i = 0; i < reader.index().entries.size(); i++) {
      sync::ManifestModule m;
      std::shared_ptr<const store::CommittedMemory> memory;
      RETURN_IF_ERROR(reader.LoadModule(i, &m, &memory));
      found.emplace(sync::BytecodeChunkName(m.bytecode_hash), ChunkPlace{root, m.id, true, 0, 0});
      for (const sync::Run& r : m.runs) {
        found.emplace(sync::RunChunkName(m.run_leaves(r), r.count), ChunkPlace{root, m.id, false, r.first_page, r.count});
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    noted_[root] = true;
    chunks_.insert(found.begin(), found.end());
    return Status::OK();
  }

  Result<ChunkPlace> Find(const std::string& name) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = chunks_.find(name); it != chunks_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store_->ListCommits());
    for (const CommitInfo& c : commits) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (noted_.count(c.root)) continue;
      }
      auto reader = sync::CommitReader::Open(store_, c.root);
      if (!reader.ok()) continue;
      Note(**reader).IgnoreError();
    }
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = chunks_.find(name); it != chunks_.end()) return it->second;
    return Status::NotFound("no chunk " + name + " in store " + store_->dir());
  }

  Status Chunk(const std::string& name, Bytes* out) {
    ASSIGN_OR_RETURN(ChunkPlace place, Find(name));
    auto reader = sync::CommitReader::Open(store_, place.root);
    if (!reader.ok()) {
      // The commit was deleted: forget its chunks and look again.
      std::lock_guard<std::mutex> l(mu_);
      chunks_.erase(name);
      noted_.erase(place.root);
      return reader.status();
    }
    const auto& entries = (*reader)->index().entries;
    for (size_t i = 0; i < entries.size(); i++) {
      if (entries[i].id != place.module) continue;
      if (place.bytecode) {
        ASSIGN_OR_RETURN(*out, (*reader)->ReadBytecode(entries[i]));
        return Status::OK();
      }
      ASSIGN_OR_RETURN(auto memory, store::CommittedMemory::Open(store_->env(), (*reader)->dir(), entries[i],
                                                                 &store_->images(), &store_->layers()));
      out->resize(size_t{place.count} * store::kPageSize);
      return sync::CommitReader::ReadPages(*memory, place.first_page, place.count, out->data());
    }
    return Status::NotFound("chunk " + name + ": module gone from commit " + place.root.ToHex());
  }

  store::StoreImpl* store_;
  httplib::Server http_;
  int port_ = -1;
  std::thread thread_;
  std::mutex join_mu_;
  std::mutex mu_;
  std::map<std::string, ChunkPlace> chunks_;  // guarded by mu_
  std::map<Root, bool> noted_;                // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<SyncServer>> SyncServer::Start(Store* store, const std::string& bind, int port) {
  ASSIGN_OR_RETURN(store::StoreImpl * impl, sync::Impl(store));
  auto server = std::make_unique<Server>(impl);
  RETURN_IF_ERROR(server->Listen(bind, port));
  return std::unique_ptr<SyncServer>(std::move(server));
}

}  // namespace crust
