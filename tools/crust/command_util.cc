// Copyright (c) crust authors. Licensed under the MIT license.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/crust/commands.h"

namespace crust::tool {

Result<Hash32> ParseHash(std::string_view text) { return Hash32::FromHex(text); }

Result<std::unique_ptr<Store>> OpenStore(const ParsedArgs& args, StoreAccess access) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = access == StoreAccess::kReadOnly;
  return Store::Open(args.store_dir, options);
}

Result<Bytes> ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(path + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status::NotFound("cannot read " + path + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  const std::string text = ss.str();
  return Bytes(text.begin(), text.end());
}

}  // namespace crust::tool
