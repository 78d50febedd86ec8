// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/session_impl.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "src/store/format.h"
#include "src/store/memory_image.h"
#include "src/store/root.h"
#include "src/store/session_region.h"
#include "src/store/store_impl.h"
#include "src/util/sha256.h"

namespace crust::store {
namespace {


Status CheckLength(const ModuleId& id, uint64_t length) {
  if (length % kWasmPageSize != 0 || length > kMaxMemory) {
    return Status::InvalidArgument("module " + id.ToHex() + ": memory length " + std::to_string(length) +
                                   " is not a multiple of 64 KiB up to 4 GiB");
  }
  return Status::OK();
}

// Collections of at least this many pages copy them into their shadows with
// streaming stores: 1 MiB is beyond what the copies could reuse from the
// cache (the shadows are read again only by a rollback or a later journal
// entry), and skipping the destination's read for ownership saved ~30% of a
// 16 MiB collection (docs/benchmarks.md, "Per-call session overhead").
// Smaller ones, such as the single page of a trivial call's result, use
// memcpy, which leaves the page in the cache for the next call.
constexpr size_t kStreamingCopyPages = 256;

// Copies one page into a PageCopy (64-byte aligned) without reading the
// destination into the cache. REQUIRES: callers fence (FinishStreamingCopies)
// before anything else reads `dst`.
void StreamPage(uint8_t* dst, const uint8_t* src) {
#if defined(__x86_64__) && defined(__SSE2__)
  auto* d = reinterpret_cast<__m128i*>(dst);
  const auto* s = reinterpret_cast<const __m128i*>(src);
  for (size_t i = 0; i < kPageSize / sizeof(__m128i); i += 4) {
    const __m128i a = _mm_loadu_si128(s + i), b = _mm_loadu_si128(s + i + 1);
    const __m128i c = _mm_loadu_si128(s + i + 2), e = _mm_loadu_si128(s + i + 3);
    _mm_stream_si128(d + i, a);
    _mm_stream_si128(d + i + 1, b);
    _mm_stream_si128(d + i + 2, c);
    _mm_stream_si128(d + i + 3, e);
  }
#else
  std::memcpy(dst, src, kPageSize);
#endif
}

// Copies one page that is likely in the cache (a small collection). With a
// constant size gcc inlines a memcpy as `rep movsq`, and glibc's memcpy of a
// page uses `rep movsb`: on the benchmark machine (AMD EPYC) a hot 4 KiB page
// took ~180-270 ns inlined, ~75 ns through glibc and ~40-50 ns with a plain
// 32-byte vector loop, the copy every trivial call makes (its result page).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) void CopyPageAvx2(uint8_t* dst, const uint8_t* src) {
  auto* d = reinterpret_cast<__m256i*>(dst);
  const auto* s = reinterpret_cast<const __m256i*>(src);
  for (size_t i = 0; i < kPageSize / sizeof(__m256i); i += 4) {
    const __m256i a = _mm256_loadu_si256(s + i), b = _mm256_loadu_si256(s + i + 1);
    const __m256i c = _mm256_loadu_si256(s + i + 2), e = _mm256_loadu_si256(s + i + 3);
    _mm256_storeu_si256(d + i, a);
    _mm256_storeu_si256(d + i + 1, b);
    _mm256_storeu_si256(d + i + 2, c);
    _mm256_storeu_si256(d + i + 3, e);
  }
}
bool HasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif

void CopyPage(uint8_t* dst, const uint8_t* src) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (HasAvx2()) return CopyPageAvx2(dst, src);
#endif
  size_t n = kPageSize;
  asm("" : "+r"(n));  // a call to memcpy, not an inline `rep movsq` (see above)
  std::memcpy(dst, src, n);
}

void FinishStreamingCopies() {
#if defined(__x86_64__) && defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace

PageCopy NewPageCopy() {
  constexpr size_t kAlign = PageCopyDelete::kPageCopyAlign;
  static_assert(kAlign % 16 == 0 && kAlign <= 255, "StreamPage stores 16-byte vectors; the offset fits a byte");
  auto* raw = static_cast<uint8_t*>(::operator new(kPageSize + kAlign));
  const size_t offset = kAlign - (reinterpret_cast<uintptr_t>(raw) & (kAlign - 1));  // 1..kAlign
  uint8_t* page = raw + offset;
  page[-1] = static_cast<uint8_t>(offset);
  return PageCopy(page);
}

SessionImpl::SessionImpl(StoreImpl* store, std::optional<Root> base, Index base_index, SessionOptions options)
    : store_(store), options_(options), base_(base) {
  if (base) pins_.push_back(*base);
  for (IndexEntry& e : base_index.entries) {
    Slot& s = slots_[e.id];
    s.live.length = e.memory_length;
    s.live.metadata = e.metadata;
    s.files.commit_dir = store_->CommitDir(*base);
    s.files.entry = std::move(e);
  }
}

SessionImpl::~SessionImpl() {
  SlotErased();
  slots_.clear();  // unmap every region before the commits they map are unpinned
  for (const Root& r : pins_) store_->Unpin(r);
}

Status SessionImpl::RenameModule(const ModuleId& from, const ModuleId& to) {
  auto it = slots_.find(from);
  if (it == slots_.end()) return Status::NotFound("no module " + from.ToHex() + " in this session");
  if (!it->second.files.is_new) {
    return Status::InvalidArgument("module " + from.ToHex() + " is committed: cannot rename it");
  }
  if (depth_ != 0) return Status::InvalidArgument("cannot rename modules with checkpoints open");
  Slot moved = std::move(it->second);
  SlotErased();
  slots_.erase(it);
  moved.files.entry.id = to;
  const bool marked = moved.live.maybe_written;
  slots_[to] = std::move(moved);
  if (marked) marked_.push_back(to);
  return Status::OK();
}

std::vector<ModuleId> SessionImpl::Modules() const {
  std::vector<ModuleId> ids;
  for (const auto& [id, slot] : slots_) ids.push_back(id);
  return ids;
}

Result<SessionImpl::Slot*> SessionImpl::Find(const ModuleId& id) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return Status::NotFound("no module " + id.ToHex() + " in this session");
  SyncLength(it->first, &it->second);
  return &it->second;
}

Status SessionImpl::RemoveModule(const ModuleId& id) {
  auto it = slots_.find(id);
  if (it == slots_.end()) return Status::NotFound("no module " + id.ToHex() + " in this session");
  SlotErased();
  slots_.erase(it);
  return Status::OK();
}

Status SessionImpl::AddModule(const ModuleId& id, ByteView bytecode, ByteView memory_init, uint64_t memory_length,
                              ByteView metadata) {
  if (slots_.count(id)) return Status::AlreadyExists("module " + id.ToHex() + " already exists");
  RETURN_IF_ERROR(CheckLength(id, memory_length));
  if (memory_init.size() > memory_length) {
    return Status::InvalidArgument("module " + id.ToHex() + ": initial memory (" + std::to_string(memory_init.size()) +
                                   " bytes) is longer than the memory length " + std::to_string(memory_length));
  }
  if (bytecode.size() > kMaxBytecode) return Status::InvalidArgument("module " + id.ToHex() + ": bytecode too large");
  if (metadata.size() > kMaxMetadata) return Status::InvalidArgument("module " + id.ToHex() + ": metadata too large");
  ASSIGN_OR_RETURN(std::unique_ptr<os::MemoryRegion> region,
                   store_->env()->MapMemory(nullptr, 0, memory_length, kMaxMemory));
  if (!memory_init.empty()) std::memcpy(region->data(), memory_init.data(), memory_init.size());
  RETURN_IF_ERROR(noted() ? region->UseNotedWrites() : region->Arm());  // later writes are tracked (checkpoints)
  Slot& s = slots_[id];
  s.files.init_image.assign(memory_init.begin(), memory_init.end());
  s.files.is_new = true;
  s.files.entry.id = id;
  s.files.entry.bytecode_hash = Sha256Of(bytecode);
  s.files.bytecode.assign(bytecode.begin(), bytecode.end());
  s.live.region = std::move(region);
  s.live.length = memory_length;
  s.live.metadata.assign(metadata.begin(), metadata.end());
  return Status::OK();
}

Result<Bytes> SessionImpl::Bytecode(const ModuleId& id) {
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  if (s->files.is_new) return s->files.bytecode;
  return ReadBytecode(id, s);
}

Result<Bytes> SessionImpl::ReadBytecode(const ModuleId& id, Slot* s) {
  const std::string path = s->files.commit_dir + "/" + BytecodeName(id);
  ASSIGN_OR_RETURN(Bytes b, store_->env()->ReadFile(path, kMaxBytecode));
  if (Sha256Of(b) != s->files.entry.bytecode_hash) {
    return Status::Corruption(path + ": bytecode of module " + id.ToHex() + " does not match its hash in the index");
  }
  s->files.bytecode_checked = true;
  auto st = store_->env()->Stat(path);
  if (st.ok()) store_->NoteBytecodeChecked(st->inode, s->files.entry.bytecode_hash);
  return b;
}

Status SessionImpl::CheckBytecodeBeforeLink(const ModuleId& id, Slot* s) {
  if (s->files.bytecode_checked) return Status::OK();
  auto st = store_->env()->Stat(s->files.commit_dir + "/" + BytecodeName(id));
  if (st.ok() && store_->BytecodeChecked(st->inode, s->files.entry.bytecode_hash)) {
    s->files.bytecode_checked = true;
    return Status::OK();
  }
  return ReadBytecode(id, s).status();
}

Result<Bytes> SessionImpl::Metadata(const ModuleId& id) const {
  auto it = slots_.find(id);
  if (it == slots_.end()) return Status::NotFound("no module " + id.ToHex() + " in this session");
  return it->second.live.metadata;
}

Status SessionImpl::SetMetadata(const ModuleId& id, ByteView metadata) {
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  if (metadata.size() > kMaxMetadata) return Status::InvalidArgument("module " + id.ToHex() + ": metadata too large");
  s->live.metadata.assign(metadata.begin(), metadata.end());
  return Status::OK();
}

Status SessionImpl::EnsureMapped(Slot* s) {
  if (s->live.region) return Status::OK();
  if (!s->files.committed) {
    ASSIGN_OR_RETURN(s->files.committed, CommittedMemory::Open(store_->env(), s->files.commit_dir, s->files.entry,
                                                               &store_->images(), &store_->layers()));
  }
  ASSIGN_OR_RETURN(s->live.region, s->files.committed->Map(store_->env(), s->files.entry.memory_length, noted(),
                                                             store_->options().lazy_layers));
  return Status::OK();
}

Status SessionImpl::CheckRange(const ModuleId& id, const Slot& s, uint64_t offset, uint64_t len) const {
  if (offset > s.live.length || len > s.live.length - offset) {
    return Status::InvalidArgument("module " + id.ToHex() + ": range [" + std::to_string(offset) + ", " +
                                   std::to_string(offset + len) + ") is outside its memory of " +
                                   std::to_string(s.live.length) + " bytes");
  }
  return Status::OK();
}

Result<uint64_t> SessionImpl::MemoryLength(const ModuleId& id) {
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  return s->live.length;
}

Status SessionImpl::ReadMemory(const ModuleId& id, uint64_t offset, std::span<uint8_t> out) {
  RETURN_IF_ERROR(Usable());
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  RETURN_IF_ERROR(CheckRange(id, *s, offset, out.size()));
  RETURN_IF_ERROR(EnsureMapped(s));
  RETURN_IF_ERROR(s->live.region->Prefill(offset, out.size()));  // lazy pages filled here, not by the fault thread
  if (!out.empty()) std::memcpy(out.data(), s->live.region->data() + offset, out.size());
  return s->live.region->FaultStatus();  // a page that failed its check reads as zero
}

Status SessionImpl::WriteMemory(const ModuleId& id, uint64_t offset, ByteView data) {
  RETURN_IF_ERROR(Usable());
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  RETURN_IF_ERROR(CheckRange(id, *s, offset, data.size()));
  RETURN_IF_ERROR(EnsureMapped(s));
  RETURN_IF_ERROR(s->live.region->Prefill(offset, data.size()));
  if (!data.empty()) {
    s->live.region->NoteWrite(offset, data.size());
    std::memcpy(s->live.region->data() + offset, data.data(), data.size());
  }
  Mark(id, s);
  return s->live.region->FaultStatus();
}

Status SessionImpl::GrowMemory(const ModuleId& id, uint64_t new_length) {
  RETURN_IF_ERROR(Usable());
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  RETURN_IF_ERROR(CheckLength(id, new_length));
  if (new_length < s->live.length) {
    return Status::InvalidArgument("module " + id.ToHex() + ": memories cannot shrink (" +
                                   std::to_string(s->live.length) + " -> " + std::to_string(new_length) + " bytes)");
  }
  RETURN_IF_ERROR(EnsureMapped(s));
  if (new_length == s->live.length) return Status::OK();
  RETURN_IF_ERROR(s->live.region->Grow(new_length));
  JournalLength(id, *s);
  s->live.length = new_length;
  Mark(id, s);
  return Status::OK();
}

Result<os::MemoryRegion*> SessionMemoryRegion(Session& session, const ModuleId& id) {
  return static_cast<SessionImpl&>(session).MemoryRegion(id);
}

uint64_t SessionModuleRemovals(const Session& session) {
  return static_cast<const SessionImpl&>(session).removals();
}

Result<os::MemoryRegion*> SessionImpl::MemoryRegion(const ModuleId& id) {
  RETURN_IF_ERROR(Usable());
  ASSIGN_OR_RETURN(Slot * s, Find(id));
  RETURN_IF_ERROR(EnsureMapped(s));
  if (!noted() && !s->live.raw_exposed) {
    // Writes through the pointer are not noted: take the noted ones now, and
    // have the kernel track every page from here on (Arm re-protects the
    // pages written since it last looked).
    RETURN_IF_ERROR(CollectDirty(s));
    RETURN_IF_ERROR(s->live.region->Arm());
    s->live.raw_exposed = true;
  }
  return s->live.region.get();
}

Status SessionImpl::ReferencePage(const Slot& s, uint32_t page, uint8_t* out) const {
  if (s.files.committed) return s.files.committed->ReadPage(page, out);
  // A new module: its initial image, zero past it.
  const uint64_t off = uint64_t{page} * kPageSize;
  const Bytes& init = s.files.init_image;
  const uint64_t have = off < init.size() ? std::min<uint64_t>(kPageSize, init.size() - off) : 0;
  if (have) std::memcpy(out, init.data() + off, have);
  std::memset(out + have, 0, kPageSize - have);
  return Status::OK();
}

// Adds the pages written since the last collection to s->live.dirty. Without
// exact tracking the candidates include pages written before; keep only
// those whose contents differ from what they were at the last collection.
Status SessionImpl::CollectDirty(Slot* s) {
  if (!s->live.region) return Status::OK();
  s->live.maybe_written = false;
  std::vector<uint32_t>& pages = collected_;  // keeps its capacity: no allocation per call
  pages.clear();
  // Until the raw pointer is handed out every write is noted: the notes are
  // exact and cost no system call (a kernel scan costs the populated page
  // tables of the whole memory).
  const bool by_notes = !noted() && !s->live.raw_exposed;
  if (by_notes) {
    RETURN_IF_ERROR(s->live.region->CollectNoted(/*rearm=*/true, &pages));
  } else {
    RETURN_IF_ERROR(s->live.region->CollectWritten(/*rearm=*/true, &pages));
  }
  if (pages.empty()) return Status::OK();
  if (!by_notes && !s->live.region->exact()) {
    std::vector<uint32_t> changed;
    uint8_t reference[kPageSize];
    for (uint32_t p : pages) {
      const uint8_t* current = s->live.region->data() + uint64_t{p} * kPageSize;
      auto it = s->shadow.pages.find(p);
      if (it != s->shadow.pages.end()) {
        if (std::memcmp(it->second.get(), current, kPageSize) != 0) changed.push_back(p);
        continue;
      }
      RETURN_IF_ERROR(ReferencePage(*s, p, reference));
      if (std::memcmp(reference, current, kPageSize) != 0) changed.push_back(p);
    }
    pages = std::move(changed);
  }
  Absorb(s->files.entry.id, s, pages);
  return Status::OK();
}

void SessionImpl::Absorb(const ModuleId& id, Slot* s, const std::vector<uint32_t>& pages) {
  if (pages.empty()) return;
  if (checkpoints_used_) {
    // Journal each page's previous contents into the innermost checkpoint,
    // and remember the current contents for the next collection (reusing the
    // copy when no checkpoint needs the old one).
    const bool streaming = pages.size() >= kStreamingCopyPages;
    for (uint32_t p : pages) {
      PageCopy& slot_copy = s->shadow.pages[p];
      if (depth_ != 0) {
        // The frame's first entry for the page holds its contents at the
        // checkpoint; later ones would only be replaced by it on rollback.
        // (A page already journaled keeps its shadow copy, refreshed below.)
        Frame& f = Innermost();
        if (f.AddPageKey(id, p)) f.journal.push_back({id, p, std::move(slot_copy)});
      }
      if (!slot_copy) slot_copy = TakePageCopy();
      const uint8_t* current = s->live.region->data() + uint64_t{p} * kPageSize;
      if (streaming) {
        StreamPage(slot_copy.get(), current);
      } else {
        CopyPage(slot_copy.get(), current);
      }
    }
    if (streaming) FinishStreamingCopies();
  }
  if (s->files.is_new) return;  // written in full at commit
  // O(pages collected): new pages are appended, sorted only when needed.
  for (uint32_t p : pages) {
    if (p >= s->live.dirty_bits.size()) {
      s->live.dirty_bits.resize(std::max<size_t>(p + 1, s->live.length / kPageSize), 0);
    }
    if (s->live.dirty_bits[p]) continue;
    s->live.dirty_bits[p] = 1;
    if (!s->live.dirty.empty() && p < s->live.dirty.back()) s->live.dirty_sorted = false;
    s->live.dirty.push_back(p);
  }
}

void SessionImpl::SortDirty(Slot* s) {
  LiveMemory& m = s->live;
  if (m.dirty_sorted) return;
  // Also drops pages rolled back to their committed contents (bit cleared)
  // and the duplicates they leave when written again.
  std::sort(m.dirty.begin(), m.dirty.end());
  m.dirty.erase(std::unique(m.dirty.begin(), m.dirty.end()), m.dirty.end());
  m.dirty.erase(std::remove_if(m.dirty.begin(), m.dirty.end(), [&m](uint32_t p) { return !m.dirty_bits[p]; }),
                m.dirty.end());
  m.dirty_sorted = true;
}

void SessionImpl::ClearDirty(Slot* s) {
  LiveMemory& m = s->live;
  for (uint32_t p : m.dirty) m.dirty_bits[p] = 0;
  m.dirty.clear();
  m.dirty_sorted = true;
}

}  // namespace crust::store
