// Copyright (c) crust authors. Licensed under the MIT license.
#include "tools/crust/commands.h"

namespace crust::tool {

Result<Hash32> ParseHash(std::string_view text) { return Hash32::FromHex(text); }

Result<std::unique_ptr<Store>> OpenStore(const ParsedArgs& args, StoreAccess access) {
  StoreOptions options;
  options.create_if_missing = false;
  options.read_only = access == StoreAccess::kReadOnly;
  return Store::Open(args.store_dir, options);
}

}  // namespace crust::tool
