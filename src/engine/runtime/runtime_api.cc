// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/runtime/runtime_api.h"

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "src/engine/prepare/module_info.h"
#include "src/engine/runtime/runtime_call.h"
#include "src/os/memory_region.h"

namespace crust::engine::rt {
namespace {

thread_local os::MemoryRegion* tls_pending_region = nullptr;
thread_local uint32_t tls_pending_max_pages = 65536;

// The attribute (not [[noreturn]]) so its type matches crust_rt_api::trap for clang.
WASM_RT_NO_RETURN void Trap(wasm_rt_trap_t code) { RaiseTrap(code); }

// Function types are interned process-wide, so that equal signatures get
// equal indices in every module (call_indirect compares indices, also across
// modules sharing a table).
uint32_t RegisterFuncType(uint32_t params, uint32_t results, const wasm_rt_type_t* types) {
  static std::mutex mu;
  static std::vector<std::string>* const registry = new std::vector<std::string>();
  std::string key(1, static_cast<char>(params));
  for (uint32_t i = 0; i < params + results; ++i) key += static_cast<char>('a' + types[i]);
  std::lock_guard<std::mutex> lock(mu);
  for (size_t i = 0; i < registry->size(); ++i) {
    if ((*registry)[i] == key) return static_cast<uint32_t>(i + 1);
  }
  registry->push_back(key);
  return static_cast<uint32_t>(registry->size());
}

void AllocateMemory(wasm_rt_memory_t* mem, uint32_t initial_pages, uint32_t max_pages) {
  os::MemoryRegion* region = tls_pending_region;
  tls_pending_region = nullptr;
  if (tls_pending_max_pages < max_pages) max_pages = tls_pending_max_pages;  // the host's limit
  const uint64_t initial_bytes = uint64_t{initial_pages} * os::kWasmPageSize;
  if (region != nullptr && region->length() < initial_bytes && !region->Grow(initial_bytes).ok()) region = nullptr;
  if (region == nullptr) {
    *mem = wasm_rt_memory_t{};
    RaiseTrap(WASM_RT_TRAP_EXHAUSTION);  // no region, or it cannot hold the initial size
  }
  const uint64_t region_max = region->max_length() / os::kWasmPageSize;
  mem->data = region->data();
  mem->size = static_cast<uint32_t>(region->length());  // < 4 GiB: wasm32 max is 65536 pages
  mem->pages = static_cast<uint32_t>(region->length() / os::kWasmPageSize);
  mem->max_pages = static_cast<uint32_t>(region_max < max_pages ? region_max : max_pages);
  mem->crust_memory = region;
  mem->crust_noted = region->noted_map();
  RegisterMemory(region->data(), os::kReservation);
}

// The barrier's slow path: charges the pages first written (PageCharge)
// before noting them. The charge depends only on the noted map, which the
// session clears at every checkpoint operation (each call's start and end),
// so it is the same on every node; an out-of-bounds range is not charged (the
// store traps without writing).
void NoteWrite(wasm_rt_memory_t* mem, uint64_t addr, uint64_t n) {
  auto* region = static_cast<os::MemoryRegion*>(mem->crust_memory);
  if (region == nullptr) return;
  const CallState* cs = CurrentCall();
  const PageCharge* pc = cs != nullptr ? cs->page_charge : nullptr;
  const uint64_t size = uint64_t{mem->pages} * os::kWasmPageSize;
  if (pc != nullptr && pc->memory == mem && n != 0 && addr <= size && n <= size - addr) {
    const uint8_t* noted = region->noted_map();
    uint64_t fresh = 0;
    for (uint64_t p = addr / os::kPageSize, last = (addr + n - 1) / os::kPageSize; p <= last; ++p) {
      const bool exempt = p * os::kPageSize < pc->exempt_end && (p + 1) * os::kPageSize > pc->exempt_begin;
      if (noted[p] == 0 && !exempt) ++fresh;
    }
    if (fresh != 0) {
      const uint64_t cost = fresh * pc->gas_per_page;  // <= 2^20 pages * gas_per_page: no overflow
      if (*pc->gas < cost) {
        *pc->trap = static_cast<uint32_t>(InjectedTrap::kOutOfGas);
        RaiseTrap(WASM_RT_TRAP_UNREACHABLE);
      }
      *pc->gas -= cost;
    }
  }
  region->NoteWrite(addr, n);
}

uint32_t GrowMemory(wasm_rt_memory_t* mem, uint32_t delta) {
  const uint32_t old_pages = mem->pages;
  const uint64_t new_pages = uint64_t{old_pages} + delta;
  if (new_pages > mem->max_pages || new_pages > 65536) return UINT32_MAX;
  if (delta == 0) return old_pages;
  auto* region = static_cast<os::MemoryRegion*>(mem->crust_memory);
  if (region == nullptr || !region->Grow(new_pages * os::kWasmPageSize).ok()) return UINT32_MAX;
  mem->pages = static_cast<uint32_t>(new_pages);
  // 65536 pages is 4 GiB, which the 32-bit size cannot hold; generated code
  // then never faults on size checks it does not make (signal-handler mode).
  mem->size = new_pages == 65536 ? UINT32_MAX : static_cast<uint32_t>(new_pages * os::kWasmPageSize);
  return old_pages;
}

void FreeMemory(wasm_rt_memory_t* mem) {
  if (mem->crust_memory != nullptr) UnregisterMemory(mem->data);
  mem->crust_memory = nullptr;
}

template <typename Table, typename Elem>
void AllocateTable(Table* t, uint32_t elements, uint32_t max) {
  t->size = elements;
  t->max_size = max;
  t->data = static_cast<Elem*>(std::calloc(elements ? elements : 1, sizeof(Elem)));
  if (t->data == nullptr) RaiseTrap(WASM_RT_TRAP_EXHAUSTION);
}

template <typename Table>
void FreeTable(Table* t) {
  std::free(t->data);
  t->data = nullptr;
  t->size = 0;
}

template <typename Table, typename Elem>
uint32_t GrowTable(Table* t, uint32_t delta, Elem init) {
  const uint32_t old = t->size;
  const uint64_t n = uint64_t{old} + delta;
  if (n > t->max_size || n > kMaxTableElements) return UINT32_MAX;
  if (delta == 0) return old;
  void* p = std::realloc(t->data, n * sizeof(Elem));
  if (p == nullptr) return UINT32_MAX;
  t->data = static_cast<Elem*>(p);
  for (uint64_t i = old; i < n; ++i) t->data[i] = init;
  t->size = static_cast<uint32_t>(n);
  return old;
}

const crust_rt_api kApi = {
    CRUST_RT_ABI_VERSION,
    &Trap,
    &RegisterFuncType,
    &AllocateMemory,
    &GrowMemory,
    &FreeMemory,
    &AllocateTable<wasm_rt_funcref_table_t, wasm_rt_funcref_t>,
    &FreeTable<wasm_rt_funcref_table_t>,
    &GrowTable<wasm_rt_funcref_table_t, wasm_rt_funcref_t>,
    &AllocateTable<wasm_rt_externref_table_t, wasm_rt_externref_t>,
    &FreeTable<wasm_rt_externref_table_t>,
    &GrowTable<wasm_rt_externref_table_t, wasm_rt_externref_t>,
    &NoteWrite,
};

}  // namespace

const crust_rt_api* RuntimeApi() { return &kApi; }

void SetPendingMemory(os::MemoryRegion* region, uint32_t max_pages) {
  tls_pending_region = region;
  tls_pending_max_pages = max_pages;
}

}  // namespace crust::engine::rt
