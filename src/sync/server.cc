// Copyright (c) crust authors. Licensed under the MIT license.
//
// SyncServer (crust/sync.h): the export layout served from commit files,
// in memory bounded whatever the store's size.
//
// A manifest is streamed: its length is computed module by module first,
// then each requested byte range is encoded from the module it falls in (one
// module's leaves in memory per request). A chunk is found from the hint an
// importer appends to its path (`?root=R&module=M&page=P`, or `&bytecode=1`;
// static servers ignore it): the run of module M of commit R that starts at
// page P, whose leaves must give the chunk's name. A request without a hint
// (another client) is answered by scanning the commits module by module; the
// places seen in a scan are remembered in a table of at most kMaxPlaces
// entries (cleared when full). Memories are opened through caches of a few
// images, so resident memory does not grow with the modules served.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "crust/sync.h"
#include "src/store/format.h"
#include "src/store/image_cache.h"
#include "src/sync/commit_reader.h"
#include "src/sync/manifest.h"

namespace crust {
namespace {

constexpr size_t kMaxPlaces = 16384;  // ~3 MiB of remembered chunk places

struct ChunkPlace {
  Root root;
  ModuleId module;
  bool bytecode = false;
  uint32_t first_page = 0;
};

// The state of one manifest response: its reader (pinning the commit), the
// modules' offsets and the module last encoded.
struct ManifestStream {
  std::unique_ptr<sync::CommitReader> reader;
  std::vector<uint64_t> offsets;
  Bytes header;
  size_t module = SIZE_MAX;
  Bytes encoded;

  // Writes bytes [offset, offset + length) to `sink`.
  bool Write(uint64_t offset, uint64_t length, httplib::DataSink& sink) {
    while (length > 0) {
      const uint8_t* data;
      uint64_t avail;
      if (offset < sync::kManifestHeaderBytes) {
        data = header.data() + offset;
        avail = sync::kManifestHeaderBytes - offset;
      } else {
        const size_t k = static_cast<size_t>(std::upper_bound(offsets.begin(), offsets.end(), offset) -
                                             offsets.begin()) - 1;
        if (k + 1 >= offsets.size()) return false;  // past the end
        if (k != module) {
          if (!reader->EncodeModule(k, &encoded).ok() || encoded.size() != offsets[k + 1] - offsets[k]) return false;
          module = k;
        }
        data = encoded.data() + (offset - offsets[k]);
        avail = offsets[k + 1] - offset;
      }
      const size_t n = static_cast<size_t>(std::min(avail, length));
      if (!sink.write(reinterpret_cast<const char*>(data), n)) return false;
      offset += n;
      length -= n;
    }
    return true;
  }
};

class Server final : public SyncServer {
 public:
  explicit Server(store::StoreImpl* store) : store_(store) {}
  ~Server() override { Stop(); }

  Status Listen(const std::string& bind, int port) {
    http_.Get(R"(/manifest/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      auto root = Hash32::FromHex(req.matches[1].str());
      if (!root.ok()) return Reply(root.status(), {}, res);
      auto stream = std::make_shared<ManifestStream>();
      Status s = Manifest(*root, stream.get());
      if (!s.ok()) return Reply(s, {}, res);
      const uint64_t size = stream->offsets.back();
      // cpp-httplib answers a Range request by asking the provider for it.
      res.set_content_provider(static_cast<size_t>(size), "application/octet-stream",
                               [stream](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return stream->Write(offset, length, sink);
                               });
    });
    http_.Get(R"(/chunk/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      Bytes body;
      Status s = Chunk(req, req.matches[1].str(), &body);
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
    // cpp-httplib answers Range requests from the body (206); a chunk is at
    // most 256 KiB (or a bytecode, at most 64 MiB).
    res.set_content(std::string(body.begin(), body.end()), "application/octet-stream");
  }

  Status Manifest(const Root& root, ManifestStream* stream) {
    ASSIGN_OR_RETURN(stream->reader, sync::CommitReader::Open(store_, root));
    ASSIGN_OR_RETURN(stream->offsets, stream->reader->ManifestOffsets());
    sync::EncodeManifestHeader(&stream->header, root,
                               static_cast<uint32_t>(stream->reader->index().entries.size()));
    return Status::OK();
  }

  static Result<ChunkPlace> ParseHint(const httplib::Request& req) {
    if (!req.has_param("root") || !req.has_param("module")) return Status::NotFound("no hint");
    ChunkPlace place;
    ASSIGN_OR_RETURN(place.root, Hash32::FromHex(req.get_param_value("root")));
    ASSIGN_OR_RETURN(place.module, Hash32::FromHex(req.get_param_value("module")));
    place.bytecode = req.has_param("bytecode");
    if (!place.bytecode) {
      const std::string page = req.get_param_value("page");
      if (page.empty() || page.size() > 10 || page.find_first_not_of("0123456789") != std::string::npos ||
          std::stoull(page) > UINT32_MAX) {
        return Status::InvalidArgument("bad page in hint");
      }
      place.first_page = static_cast<uint32_t>(std::stoull(page));
    }
    return place;
  }

  Status ReadAt(const ChunkPlace& place, const std::string& name, Bytes* out) {
    ASSIGN_OR_RETURN(std::unique_ptr<sync::CommitReader> reader, sync::CommitReader::Open(store_, place.root));
    return reader->ReadChunkAt(place.module, place.bytecode, place.first_page, name, &images_, &layers_, out);
  }

  Status Chunk(const httplib::Request& req, const std::string& name, Bytes* out) {
    if (auto hint = ParseHint(req); hint.ok()) {
      Status s = ReadAt(*hint, name, out);
      if (!s.IsNotFound()) return s;  // found, or a damaged commit
    }
    std::optional<ChunkPlace> place;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = places_.find(name); it != places_.end()) place = it->second;
    }
    if (place) {
      Status s = ReadAt(*place, name, out);
      if (!s.IsNotFound()) return s;
      std::lock_guard<std::mutex> l(mu_);
      places_.erase(name);  // its commit was deleted
    }
    ASSIGN_OR_RETURN(ChunkPlace found, Scan(name));
    return ReadAt(found, name, out);
  }

  // Every commit, module by module, until a run or bytecode named `name`.
  Result<ChunkPlace> Scan(const std::string& name) {
    ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store_->ListCommits());
    for (const CommitInfo& c : commits) {
      auto reader = sync::CommitReader::Open(store_, c.root);
      if (!reader.ok()) continue;
      for (size_t i = 0; i < (*reader)->index().entries.size(); i++) {
        sync::ManifestModule m;
        std::shared_ptr<const store::CommittedMemory> memory;
        if (!(*reader)->LoadModule(i, &m, &memory).ok()) break;
        std::optional<ChunkPlace> hit;
        std::lock_guard<std::mutex> l(mu_);
        auto note = [&](const std::string& n, const ChunkPlace& p) {
          if (n == name) hit = p;
          if (places_.size() >= kMaxPlaces) places_.clear();
          places_.emplace(n, p);
        };
        note(sync::BytecodeChunkName(m.bytecode_hash), ChunkPlace{c.root, m.id, true, 0});
        for (const sync::Run& r : m.runs) {
          note(sync::RunChunkName(m.run_leaves(r), r.count), ChunkPlace{c.root, m.id, false, r.first_page});
        }
        if (hit) return *hit;
      }
    }
    return Status::NotFound("no chunk " + name + " in store " + store_->dir());
  }

  store::StoreImpl* store_;
  httplib::Server http_;
  int port_ = -1;
  std::thread thread_;
  std::mutex join_mu_;
  std::mutex mu_;
  std::map<std::string, ChunkPlace> places_;  // guarded by mu_; at most kMaxPlaces
  // The server's own small caches (thread-safe): an importer asks for the
  // chunks of one module after another, and an image evicted here is
  // unmapped, so the tree pages chunk lookups touch do not stay resident
  // for every module served (the store's caches hold 64 images).
  store::ImageCache images_{4};
  store::LayerCache layers_{16};
};

}  // namespace

Result<std::unique_ptr<SyncServer>> SyncServer::Start(Store* store, const std::string& bind, int port) {
  ASSIGN_OR_RETURN(store::StoreImpl * impl, sync::Impl(store));
  auto server = std::make_unique<Server>(impl);
  RETURN_IF_ERROR(server->Listen(bind, port));
  return std::unique_ptr<SyncServer>(std::move(server));
}

}  // namespace crust
