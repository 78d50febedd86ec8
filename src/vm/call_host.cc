// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/vm/call_host.h"

#include <cstring>

#include "src/engine/instance.h"
#include "src/engine/module_info.h"

namespace crust::vm {

uint8_t* CallHost::Mem(engine::Instance& self, uint64_t ptr, uint64_t len) const {
  if (self.memory_data() == nullptr || ptr > self.memory_size() || len > self.memory_size() - ptr) return nullptr;
  return self.memory_data() + ptr;
}

uint8_t* CallHost::Arg(engine::Instance& self, uint64_t len) const {
  if (len > engine::kArgBufferSize) return nullptr;
  return Mem(self, arg_buffer_, len);
}

Status CallHost::Panic(engine::Instance& self, uint32_t msg_len) {
  const uint8_t* msg = Arg(self, msg_len);
  if (msg == nullptr) return Status::Panic("(panic message out of bounds: " + std::to_string(msg_len) + " bytes)");
  return Status::Panic(std::string(reinterpret_cast<const char*>(msg), msg_len));
}

Result<int64_t> CallHost::Limit(engine::Instance&) { return static_cast<int64_t>(gas_limit_); }

Result<int64_t> CallHost::Spent(engine::Instance& self) {
  ASSIGN_OR_RETURN(uint64_t remaining, self.GetGlobal(engine::kGasGlobal));
  return static_cast<int64_t>(gas_limit_ - remaining);
}

Status CallHost::SelfId(engine::Instance& self) {
  uint8_t* a = Arg(self, 32);
  if (a == nullptr) return Status::Trap("out of bounds: argument buffer outside memory");
  std::memcpy(a, self_id_.bytes.data(), 32);
  return Status::OK();
}

Result<int32_t> CallHost::Hd(engine::Instance& self, uint32_t name_ptr, uint32_t name_len) {
  const uint8_t* name = Mem(self, name_ptr, name_len);
  if (name == nullptr) return Status::Trap("out of bounds: hd name outside memory");
  auto it = meta_->find(std::string_view(reinterpret_cast<const char*>(name), name_len));
  if (it == meta_->end()) return 0;
  if (it->second.size() > engine::kArgBufferSize) {
    return Status::ResourceExhausted("session metadata \"" + it->first + "\" is larger than the 64 KiB buffer");
  }
  uint8_t* a = Arg(self, it->second.size());
  if (a == nullptr) return Status::Trap("out of bounds: argument buffer outside memory");
  if (!it->second.empty()) std::memcpy(a, it->second.data(), it->second.size());
  return static_cast<int32_t>(it->second.size());
}

}  // namespace crust::vm
