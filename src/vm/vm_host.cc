// Copyright (c) crust authors. Licensed under the MIT license.
//
// The `env` imports contracts call (docs/abi.md), for the innermost call
// (frames_.back()). Accesses outside memory or the 64 KiB buffer at `A` are
// traps; a non-OK status ends the calling contract's call with that error.
#include <climits>
#include <cstring>

#include "src/engine/prepare/host_abi.h"
#include "src/engine/runtime/host_gas.h"
#include "src/engine/prepare/module_info.h"
#include "src/util/coding.h"
#include "src/util/utf8.h"
#include "src/vm/vm_session.h"

namespace crust::vm {
using engine::CalleeLimit;
using engine::kCallGas;
using engine::kDebugByteGas;
using engine::kEventByteGas;

namespace {

Status OutOfBounds(const char* what) { return Status::Trap(std::string("out of bounds: ") + what); }

// A host read of [ptr, ptr + len) of `self`'s memory: inside its address
// range, zeros past its current size (host_abi.h CheckHostRead; piecrust's
// check_ptr against the whole mapping).
engine::HostRead Read(engine::Instance& self, uint64_t ptr, uint64_t len) {
  return engine::CheckHostRead(self.memory_data() != nullptr ? self.memory_size() : 0, self.host_window(), ptr, len);
}

// The bytes of a name or topic `r` reads: NotUtf8 when they are not UTF-8
// (piecrust rejects such names), ResourceExhausted for a zero-filled read
// longer than engine::kMaxZeroFilledName.
Result<std::string_view> ReadText(engine::Instance& self, uint64_t ptr, uint64_t len, const engine::HostRead& r,
                                  const char* what, std::string* scratch) {
  if (!engine::HostReadIsUtf8(self.memory_data(), ptr, r)) {
    return Status::InvalidArgument(std::string(what) + " is not valid UTF-8");
  }
  if (r.in_memory < len && len > engine::kMaxZeroFilledName) {
    return Status::ResourceExhausted(std::string(what) + " of " + std::to_string(len) +
                                     " bytes reaches past the memory's end (more than 8 MiB)");
  }
  return engine::HostReadBytes(self.memory_data(), ptr, len, r, scratch);
}

// The codes `c` returns to the calling contract for a failed callee
// (piecrust-uplink's ContractError::to_parts).
constexpr int32_t kCallPanicked = -1;
constexpr int32_t kCallOutOfGas = -2;
constexpr int32_t kCallNoSuchContract = -3;  // only for a module that does not exist
constexpr int32_t kCallOther = INT32_MIN;

}  // namespace

// Takes `amount` from the innermost call's gas; when less is left, the call
// ends with OutOfGas (its remaining gas set to 0, as piecrust does).
Status VmSessionImpl::Charge(uint64_t amount, std::string_view what) {
  const engine::Instance::GlobalRef gas = frames_.back().loaded->gas;
  const uint64_t left = engine::Instance::Get(gas);
  if (amount > left) {
    engine::Instance::Set(gas, 0);
    return Status::OutOfGas("out of gas: " + std::string(what) + " costs " + std::to_string(amount) +
                            " gas, " + std::to_string(left) + " left");
  }
  engine::Instance::Set(gas, left - amount);
  return Status::OK();
}

const uint8_t* VmSessionImpl::Mem(engine::Instance& self, uint64_t ptr, uint64_t len) const {
  if (self.memory_data() == nullptr || ptr > self.memory_size() || len > self.memory_size() - ptr) return nullptr;
  return self.memory_data() + ptr;
}

const uint8_t* VmSessionImpl::Arg(engine::Instance& self, uint64_t len) const {
  if (len > engine::kArgBufferSize || frames_.empty()) return nullptr;
  return Mem(self, frames_.back().loaded->meta.arg_buffer, len);
}

// Every host write into a contract's memory goes through here: the range is
// noted as written (commit deltas and rollbacks see only noted pages).
uint8_t* VmSessionImpl::WritableArg(engine::Instance& self, uint64_t len) const {
  if (len > engine::kArgBufferSize || frames_.empty()) return nullptr;
  return self.WritableMemory(frames_.back().loaded->meta.arg_buffer, len);
}

Result<uint64_t> VmSessionImpl::GasLeft(engine::Instance&) const {
  return engine::Instance::Get(frames_.back().loaded->gas);
}

Status VmSessionImpl::Panic(engine::Instance& self, uint32_t msg_len) {
  const uint8_t* msg = Arg(self, msg_len);
  // Not a message the contract wrote: an out-of-bounds read, like every other
  // host access outside memory or A (and as the interpreter oracle does).
  if (msg == nullptr) return OutOfBounds("panic message exceeds the 64 KiB argument buffer");
  // piecrust: a message that is not UTF-8 is an error, not a panic (a
  // caller through `c` sees piecrust's "other" code, not -1).
  if (!IsUtf8(msg, msg_len)) return Status::InvalidArgument("panic: the message is not valid UTF-8");
  return Status::Panic(std::string(reinterpret_cast<const char*>(msg), msg_len));
}

Result<int64_t> VmSessionImpl::Limit(engine::Instance&) { return static_cast<int64_t>(frames_.back().gas_limit); }

Result<int64_t> VmSessionImpl::Spent(engine::Instance& self) {
  ASSIGN_OR_RETURN(uint64_t remaining, GasLeft(self));
  return static_cast<int64_t>(frames_.back().gas_limit - remaining);
}

Status VmSessionImpl::SelfId(engine::Instance& self) {
  uint8_t* a = WritableArg(self, 32);
  if (a == nullptr) return OutOfBounds("argument buffer outside memory");
  std::memcpy(a, frames_.back().module.bytes.data(), 32);
  return Status::OK();
}

Result<int32_t> VmSessionImpl::Hd(engine::Instance& self, uint64_t name_ptr, uint32_t name_len) {
  const engine::HostRead r = Read(self, name_ptr, name_len);
  if (!r.in_window) return OutOfBounds("hd name outside the memory's address range");
  std::string scratch;
  ASSIGN_OR_RETURN(std::string_view name, ReadText(self, name_ptr, name_len, r, "hd: the name", &scratch));
  auto it = meta_.find(name);
  if (it == meta_.end()) return 0;
  if (it->second.size() > engine::kArgBufferSize) {
    return Status::ResourceExhausted("session metadata \"" + it->first + "\" is larger than the 64 KiB buffer");
  }
  uint8_t* a = WritableArg(self, it->second.size());
  if (a == nullptr) return OutOfBounds("argument buffer outside memory");
  if (!it->second.empty()) std::memcpy(a, it->second.data(), it->second.size());
  return static_cast<int32_t>(it->second.size());
}

Result<int32_t> VmSessionImpl::C(engine::Instance& self, uint64_t mod_ptr, uint64_t fn_ptr, uint32_t fn_len,
                                 uint32_t arg_len, int64_t gas) {
  const engine::HostRead mod_r = Read(self, mod_ptr, 32);
  const engine::HostRead fn_r = Read(self, fn_ptr, fn_len);
  const uint8_t* arg = Arg(self, arg_len);
  if (!mod_r.in_window || !fn_r.in_window || arg == nullptr) return OutOfBounds("c: module id, name or argument");
  std::string mod_scratch, fn_scratch;
  const std::string_view mod = engine::HostReadBytes(self.memory_data(), mod_ptr, 32, mod_r, &mod_scratch);
  ASSIGN_OR_RETURN(std::string_view fn, ReadText(self, fn_ptr, fn_len, fn_r, "c: the function name", &fn_scratch));
  // crust's resource charge: paid first, whatever happens next.
  RETURN_IF_ERROR(Charge(kCallGas, "an inter-contract call"));
  if (frames_.size() >= options_->max_module_depth) return kCallOther;
  ModuleId callee;
  std::memcpy(callee.bytes.data(), mod.data(), 32);
  // piecrust: a missing contract costs nothing more and is the only -3.
  if (!state_->HasModule(callee)) return kCallNoSuchContract;
  const std::string function(fn);
  ASSIGN_OR_RETURN(uint64_t left, GasLeft(self));
  const uint64_t limit = CalleeLimit(static_cast<uint64_t>(gas), left);
  const uint64_t depth_left = engine::Instance::Get(frames_.back().loaded->depth);
  // The callee shares the wasm call-depth budget: the whole call tree stays
  // within max_call_depth frames, deterministically.
  // A copy: the callee may be this very module (a self-call), whose A it overwrites.
  const Bytes arg_copy(arg, arg + arg_len);
  Outcome out = CallModule(callee, function, arg_copy, limit, static_cast<uint32_t>(depth_left),
                           /*allow_init=*/false, &callee_result_);
  // piecrust: the caller pays what a successful callee spent, and the whole
  // callee limit for a failed one.
  engine::Instance::Set(frames_.back().loaded->gas, left - (out.status.ok() ? std::min(left, out.gas_spent) : limit));
  // The caller's A (a memory's base never moves, but it may have shrunk back).
  if (Arg(self, engine::kArgBufferSize) == nullptr) return OutOfBounds("argument buffer outside memory");
  if (IsHostFault(out.status)) return out.status;  // ends the whole call tree; never a result
  if (out.status.ok()) {
    const Bytes& result = callee_result_;
    if (!result.empty()) std::memcpy(WritableArg(self, result.size()), result.data(), result.size());
    return static_cast<int32_t>(result.size());
  }
  switch (out.status.code()) {
    case Status::Code::kPanic: {
      std::string_view msg = out.status.message();
      if (msg.size() > engine::kArgBufferSize - 4) msg = msg.substr(0, engine::kArgBufferSize - 4);
      uint8_t* a = WritableArg(self, 4 + msg.size());
      EncodeFixed32(a, static_cast<uint32_t>(msg.size()));
      std::memcpy(a + 4, msg.data(), msg.size());
      return kCallPanicked;
    }
    case Status::Code::kOutOfGas:
      return kCallOutOfGas;
    default:  // a trap, a missing function, `init`, ...: piecrust's Unknown
      return kCallOther;
  }
}

Result<int32_t> VmSessionImpl::Hq(engine::Instance& self, uint64_t name_ptr, uint32_t name_len, uint32_t arg_len) {
  const engine::HostRead r = Read(self, name_ptr, name_len);
  const uint8_t* a = Arg(self, arg_len);
  if (!r.in_window || a == nullptr) return OutOfBounds("hq name or argument");
  std::string scratch;
  ASSIGN_OR_RETURN(const std::string_view query, ReadText(self, name_ptr, name_len, r, "hq: the name", &scratch));
  auto it = options_->host_queries.find(query);
  if (it == options_->host_queries.end()) return Status::NotFound("no host query \"" + std::string(query) + "\"");
  uint64_t charge = 0;
  Result<Bytes> result = it->second(ByteView(a, arg_len), &charge);
  ASSIGN_OR_RETURN(uint64_t left, GasLeft(self));
  if (charge > left) {
    return Status::OutOfGas("host query \"" + std::string(query) + "\" charged " + std::to_string(charge) +
                            " gas, more than the " + std::to_string(left) + " left");
  }
  engine::Instance::Set(frames_.back().loaded->gas, left - charge);
  if (!result.ok()) return result.status().WithContext("host query \"" + std::string(query) + "\"");
  if (result->size() > engine::kArgBufferSize) {
    return Status::ResourceExhausted("host query \"" + std::string(query) + "\" returned more than 64 KiB");
  }
  uint8_t* out = WritableArg(self, result->size());
  if (out == nullptr) return OutOfBounds("argument buffer outside memory");
  if (!result->empty()) std::memcpy(out, result->data(), result->size());
  return static_cast<int32_t>(result->size());
}

Status VmSessionImpl::Emit(engine::Instance& self, uint64_t topic_ptr, uint32_t topic_len, uint32_t arg_len) {
  const engine::HostRead r = Read(self, topic_ptr, topic_len);
  const uint8_t* data = Arg(self, arg_len);
  if (!r.in_window || data == nullptr) return OutOfBounds("emit topic or data");
  if (topic_len > engine::kArgBufferSize) return Status::ResourceExhausted("event topic longer than 64 KiB");
  std::string scratch;
  ASSIGN_OR_RETURN(const std::string_view topic, ReadText(self, topic_ptr, topic_len, r, "emit: the topic", &scratch));
  // piecrust: 4 gas per byte of topic and data, charged before anything is kept.
  RETURN_IF_ERROR(Charge(kEventByteGas * (uint64_t{topic_len} + arg_len), "an event's bytes"));
  if (receipt_->events.size() >= options_->max_events) {
    return Status::ResourceExhausted("more than " + std::to_string(options_->max_events) + " events in one call");
  }
  receipt_->events.push_back({frames_.back().module, std::string(topic),
                              Bytes(data, data + arg_len)});
  return Status::OK();
}

Status VmSessionImpl::Hdebug(engine::Instance& self, uint32_t msg_len) {
  const uint8_t* msg = Arg(self, msg_len);
  if (msg == nullptr) return OutOfBounds("hdebug message exceeds the 64 KiB argument buffer");
  RETURN_IF_ERROR(Charge(kDebugByteGas * msg_len, "a debug message's bytes"));
  if (!IsUtf8(msg, msg_len)) return Status::InvalidArgument("hdebug: the message is not valid UTF-8");
  receipt_->debug.emplace_back(reinterpret_cast<const char*>(msg), msg_len);
  return Status::OK();
}

Status VmSessionImpl::Feed(engine::Instance& self, uint32_t arg_len) {
  const uint8_t* data = Arg(self, arg_len);
  if (data == nullptr) return OutOfBounds("feed data");
  if (feeder_ == nullptr) return Status::InvalidArgument("feed outside a feeder call");
  (*feeder_)(ByteView(data, arg_len));
  return Status::OK();
}

Result<int32_t> VmSessionImpl::Caller(engine::Instance& self) {
  if (frames_.size() < 2) return 0;
  uint8_t* a = WritableArg(self, 32);
  if (a == nullptr) return OutOfBounds("argument buffer outside memory");
  std::memcpy(a, frames_[frames_.size() - 2].module.bytes.data(), 32);
  return 1;
}

Result<int32_t> VmSessionImpl::Callstack(engine::Instance& self) {
  const size_t n = frames_.size() - 1;  // callers, immediate first
  uint8_t* a = WritableArg(self, n * 32);
  if (a == nullptr) return OutOfBounds("argument buffer outside memory");
  for (size_t i = 0; i < n; i++) std::memcpy(a + 32 * i, frames_[n - 1 - i].module.bytes.data(), 32);
  return static_cast<int32_t>(n);
}

// piecrust: a null pointer (0) asks for the calling module's own owner
// (uplink's `self_owner()`); otherwise `mod_ptr` points to a module id.
Result<int32_t> VmSessionImpl::Owner(engine::Instance& self, uint64_t mod_ptr) {
  const engine::HostRead r = Read(self, mod_ptr, 32);
  if (!r.in_window) return OutOfBounds("owner: module id outside the memory's address range");
  std::string scratch;
  ModuleId id = frames_.back().module;
  if (mod_ptr != 0) std::memcpy(id.bytes.data(), engine::HostReadBytes(self.memory_data(), mod_ptr, 32, r, &scratch).data(), 32);
  if (!state_->HasModule(id)) return 0;
  ASSIGN_OR_RETURN(Bytes owner, Owner(id));
  uint8_t* a = WritableArg(self, owner.size());
  if (a == nullptr) return OutOfBounds("argument buffer outside memory");
  if (!owner.empty()) std::memcpy(a, owner.data(), owner.size());
  return static_cast<int32_t>(owner.size());
}

}  // namespace crust::vm
