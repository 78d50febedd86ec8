// Copyright (c) crust authors. Licensed under the MIT license.
//
// Where an import reads an export from: a local directory or an HTTP server
// (cpp-httplib client, Range requests, one kept-alive connection). Nothing a
// source returns is trusted: the importer checks every byte.
//
// Thread-safety: a Source is used by one thread (a parallel import opens one
// per fetching thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "crust/status.h"
#include "crust/types.h"

namespace crust::sync {

inline constexpr uint64_t kToEnd = UINT64_MAX;

class Source {
 public:
  virtual ~Source() = default;
  // Streams bytes [offset, offset + length) of `path` (relative to the
  // export's top, e.g. "chunk/<hex>") to `sink` in pieces; fewer bytes when
  // the file is shorter (the caller checks the count). length kToEnd: to
  // the end. A sink error stops the transfer and is returned. `hint`
  // ("root=..&module=..&page=.."), when not empty, is sent as the URL's
  // query: `crust serve` finds a chunk by it, static servers ignore it; a
  // directory ignores it.
  // Errors: NotFound (no such file), IOError (cannot read, connection lost).
  virtual Status Fetch(const std::string& path, const std::string& hint, uint64_t offset, uint64_t length,
                       const std::function<Status(ByteView)>& sink) = 0;
  // "http://host:port/path" or the directory, for messages.
  virtual const std::string& name() const = 0;
};

// "http://..." opens an HTTP source; anything else is a directory.
// InvalidArgument for a malformed URL or another scheme.
Result<std::unique_ptr<Source>> OpenSource(const std::string& spec);

}  // namespace crust::sync
