// Copyright (c) crust authors. Licensed under the MIT license.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/crust/commands.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "crust/session.h"
#include "tools/crust/output.h"

namespace crust::tool {
namespace {

std::string_view StripHexPrefix(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  return text;
}

bool IsHex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Lower(std::string_view text) {
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The one candidate starting with `prefix`; usage errors otherwise.
Result<Hash32> Unique(std::string_view text, std::string_view what, const std::vector<Hash32>& candidates,
                      std::string_view where) {
  const std::string_view hex = StripHexPrefix(text);
  if (hex.size() == 64) return Hash32::FromHex(hex);
  if (!IsHex(hex) || hex.size() > 64) {
    return Status::InvalidArgument(std::string(what) + " '" + Printable(text) +
                                   "' is not hex: give 64 hex characters or a unique prefix of at least " +
                                   std::to_string(kMinPrefix));
  }
  if (hex.size() < kMinPrefix) {
    return Status::InvalidArgument(std::string(what) + " prefix '" + std::string(text) + "' is too short: give at least " +
                                   std::to_string(kMinPrefix) + " hex characters");
  }
  const std::string prefix = Lower(hex);
  std::vector<Hash32> found;
  for (const Hash32& h : candidates) {
    if (h.ToHex().compare(0, prefix.size(), prefix) == 0) found.push_back(h);
  }
  if (found.empty()) {
    return Status::NotFound("no " + std::string(what) + " starting with " + prefix + " " + std::string(where));
  }
  if (found.size() > 1) {
    return Status::InvalidArgument(std::string(what) + " prefix " + prefix + " is ambiguous: it matches " +
                                   found[0].ToHex() + " and " + found[1].ToHex() +
                                   (found.size() > 2 ? " and " + std::to_string(found.size() - 2) + " more" : "") +
                                   "; give more characters");
  }
  return found[0];
}

}  // namespace

Result<Hash32> ParseHash(std::string_view text) { return Hash32::FromHex(StripHexPrefix(text)); }

Result<Bytes> ParseHexBytes(std::string_view text, std::string_view what) {
  auto bytes = FromHex(StripHexPrefix(text));
  if (!bytes.ok()) {
    return Status::InvalidArgument(std::string(what) + ": '" + Printable(text.substr(0, 80)) +
                                   (text.size() > 80 ? "...'" : "'") +
                                   " is not hex bytes (an even number of hex digits, optionally after 0x)");
  }
  return bytes;
}

bool IsFullHash(std::string_view text) {
  const std::string_view hex = StripHexPrefix(text);
  return hex.size() == 64 && IsHex(hex);
}

Result<Root> ResolveRoot(Store* store, std::string_view text, std::string_view what) {
  if (IsFullHash(text)) return ParseHash(text);
  std::vector<Hash32> roots;
  if (IsHex(StripHexPrefix(text)) && StripHexPrefix(text).size() >= kMinPrefix) {
    ASSIGN_OR_RETURN(std::vector<CommitInfo> commits, store->ListCommits());
    for (const CommitInfo& c : commits) roots.push_back(c.root);
  }
  return Unique(text, what, roots, "among the commits of store " + store->dir());
}

Result<ModuleId> ResolveModule(Session* session, std::string_view text, std::string_view what) {
  if (IsFullHash(text)) return ParseHash(text);
  return Unique(text, what, session->Modules(), "among the modules of the base state");
}

Status CheckIdSyntax(std::string_view text, std::string_view what) {
  const std::string_view hex = StripHexPrefix(text);
  if (!IsHex(hex) || hex.size() > 64 || hex.empty()) {
    return Status::InvalidArgument(std::string(what) + " '" + Printable(text) +
                                   "' is not hex: give 64 hex characters or a unique prefix of at least " +
                                   std::to_string(kMinPrefix));
  }
  if (hex.size() < kMinPrefix) {
    return Status::InvalidArgument(std::string(what) + " prefix '" + std::string(text) +
                                   "' is too short: give at least " + std::to_string(kMinPrefix) +
                                   " hex characters");
  }
  return Status::OK();
}

Status CheckIsStore(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Status::NotFound("no crust store at " + dir + ": create one with 'crust init " + dir +
                              "' (or pass --create), or name an existing store with --store DIR");
    }
    return Status::IOError("cannot open store " + dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory, so not a crust store");
  if (::stat((dir + "/FORMAT").c_str(), &st) != 0) {
    return Status::InvalidArgument(dir + " is not a crust store (it has no FORMAT file); name a store with --store DIR, "
                                         "or create one in a new or empty directory with 'crust init DIR'");
  }
  return Status::OK();
}

Status CheckCanCreateStore(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return Status::OK();
  if (CheckIsStore(dir).ok()) return Status::OK();
  if (!std::filesystem::is_directory(dir, ec)) return Status::InvalidArgument(dir + " exists and is not a directory");
  if (!std::filesystem::is_empty(dir, ec)) {
    return Status::InvalidArgument(dir + " exists, is not empty and is not a crust store; a store is created only in "
                                         "a new or empty directory");
  }
  return Status::OK();
}

Result<std::unique_ptr<Store>> OpenStore(const ParsedArgs& args, StoreAccess access) {
  RETURN_IF_ERROR(CheckIsStore(args.store_dir));
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = access == StoreAccess::kReadOnly;
  return Store::Open(args.store_dir, options);
}

Result<Bytes> ReadInput(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return Status::IOError("cannot read standard input");
    return Bytes(text.begin(), text.end());
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(Printable(path) + " is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status::NotFound("cannot read " + Printable(path) + ": " + std::strerror(err));
  }
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("cannot read " + Printable(path));
  return Bytes(text.begin(), text.end());
}

}  // namespace crust::tool
