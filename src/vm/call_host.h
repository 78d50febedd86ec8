// Copyright (c) crust authors. Licensed under the MIT license.
//
// CallHost: what a running contract's `env` imports reach during one
// top-level call (engine::HostContext). It knows the calling module, its
// argument buffer, the call's gas limit and the session metadata.
//
// Imports of the next stage (c, hq, emit, feed, caller, callstack, owner) are
// accepted at deploy but end the call with NotSupported when reached.
//
// Thread-safety: used by the calling thread only, for the duration of a call.
#pragma once

#include <map>
#include <string>

#include "crust/types.h"
#include "src/engine/runtime.h"

namespace crust::vm {

class CallHost final : public engine::HostContext {
 public:
  CallHost(const ModuleId& self_id, uint32_t arg_buffer, uint64_t gas_limit,
           const std::map<std::string, Bytes, std::less<>>* meta)
      : self_id_(self_id), arg_buffer_(arg_buffer), gas_limit_(gas_limit), meta_(meta) {}

  Status Panic(engine::Instance& self, uint32_t msg_len) override;
  Result<int64_t> Limit(engine::Instance& self) override;
  Result<int64_t> Spent(engine::Instance& self) override;
  Status SelfId(engine::Instance& self) override;
  Result<int32_t> Hd(engine::Instance& self, uint32_t name_ptr, uint32_t name_len) override;

 private:
  // A[offset..offset+len) of `self`'s memory, or null when out of bounds.
  uint8_t* Arg(engine::Instance& self, uint64_t len) const;
  uint8_t* Mem(engine::Instance& self, uint64_t ptr, uint64_t len) const;

  const ModuleId self_id_;
  const uint32_t arg_buffer_;
  const uint64_t gas_limit_;
  const std::map<std::string, Bytes, std::less<>>* const meta_;
};

}  // namespace crust::vm
