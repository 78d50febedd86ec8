// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/sync/source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <httplib.h>

namespace crust::sync {
namespace {

constexpr size_t kFileBuffer = 256 << 10;

class DirSource final : public Source {
 public:
  explicit DirSource(std::string dir) : dir_(std::move(dir)) {}
  const std::string& name() const override { return dir_; }

  Status Fetch(const std::string& path, const std::string& /*hint*/, uint64_t offset, uint64_t length,
               const std::function<Status(ByteView)>& sink) override {
    const std::string full = dir_ + "/" + path;
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(full + ": no such file in the export");
      return Status::IOError(full + ": " + std::strerror(errno));
    }
    std::vector<uint8_t> buf(std::min<uint64_t>(kFileBuffer, length == 0 ? 1 : length));
    Status s;
    uint64_t done = 0;
    while (done < length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - done));
      ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        s = Status::IOError(full + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      s = sink(ByteView(buf.data(), static_cast<size_t>(n)));
      if (!s.ok()) break;
      done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return s;
  }

 private:
  std::string dir_;
};

class HttpSource final : public Source {
 public:
  HttpSource(std::string url, const std::string& host, int port, std::string prefix)
      : url_(std::move(url)), client_(host, port), prefix_(std::move(prefix)) {
    client_.set_keep_alive(true);
    client_.set_connection_timeout(10, 0);
    client_.set_read_timeout(30, 0);
  }
  const std::string& name() const override { return url_; }

  Status Fetch(const std::string& path, const std::string& hint, uint64_t offset, uint64_t length,
               const std::function<Status(ByteView)>& sink) override {
    const std::string target = prefix_ + "/" + path + (hint.empty() ? "" : "?" + hint);
    httplib::Headers headers;
    if (offset != 0 || length != kToEnd) {
      std::string range = "bytes=" + std::to_string(offset) + "-";
      if (length != kToEnd) range += std::to_string(offset + length - 1);
      headers.emplace("Range", range);
    }
    int status = 0;
    uint64_t skip = 0;  // a server that ignores Range sends the whole file
    uint64_t delivered = 0;
    Status sink_status;
    auto res = client_.Get(
        target, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          if (r.status == 200) skip = offset;
          return r.status == 200 || r.status == 206;
        },
        [&](const char* data, size_t n) {
          const uint8_t* p = reinterpret_cast<const uint8_t*>(data);
          if (skip > 0) {
            size_t k = static_cast<size_t>(std::min<uint64_t>(skip, n));
            skip -= k;
            p += k;
            n -= k;
          }
          if (length != kToEnd) n = static_cast<size_t>(std::min<uint64_t>(n, length - delivered));
          if (n == 0) return true;
          delivered += n;
          sink_status = sink(ByteView(p, n));
          return sink_status.ok();
        });
    if (!sink_status.ok()) return sink_status;
    const std::string what = url_ + "/" + path;
    if (status == 404) return Status::NotFound(what + ": not found (HTTP 404)");
    if (status == 416) return Status::OK();  // range past the end: no bytes (the caller counts them)
    if (status != 0 && status != 200 && status != 206) {
      return Status::IOError(what + ": HTTP status " + std::to_string(status));
    }
    if (!res) {
      // Cut off mid-body (or no connection): what arrived was delivered and
      // checked; the caller sees a short count and a retry resumes.
      return Status::IOError(what + ": " + httplib::to_string(res.error()));
    }
    return Status::OK();
  }

 private:
  std::string url_;
  httplib::Client client_;
  std::string prefix_;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenSource(const std::string& spec) {
  if (spec.rfind("https://", 0) == 0) {
    return Status::InvalidArgument(spec + ": https is not supported (crust verifies every byte against the root; "
                                          "use http://)");
  }
  if (spec.rfind("http://", 0) != 0) {
    if (spec.find("://") != std::string::npos) {
      return Status::InvalidArgument(spec + ": only directories and http:// URLs are sources");
    }
    return std::unique_ptr<Source>(new DirSource(spec));
  }
  std::string rest = spec.substr(7);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string host = hostport;
  int port = 80;
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos ? true : colon > hostport.find(']')) {
    if (colon != std::string::npos) {
      host = hostport.substr(0, colon);
      const std::string p = hostport.substr(colon + 1);
      if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535) {
        return Status::InvalidArgument(spec + ": bad port '" + p + "'");
      }
      port = std::stoi(p);
    }
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return Status::InvalidArgument(spec + ": no host");
  std::string url = spec;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return std::unique_ptr<Source>(new HttpSource(url, host, port, prefix));
}

}  // namespace crust::sync
