// Copyright (c) crust authors. Licensed under the MIT license.
//
// Nested checkpoints: rollback restores contents and lengths exactly, release
// keeps changes, and the resulting roots equal those of sessions that never
// made the rolled-back changes.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/dirty_tracking.h"
#include "src/os/memory_region.h"
#include "src/store/format.h"
#include "src/store/session_region.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using crust::testing::TempDir;
using store::kWasmPageSize;

ModuleId Id(uint8_t n) {
  ModuleId id;
  id.bytes[31] = n;
  return id;
}

Bytes Read(Session& s, const ModuleId& id) {
  auto len = s.MemoryLength(id);
  Bytes out(len.ok() ? *len : 0);
  EXPECT_OK(s.ReadMemory(id, 0, out));
  return out;
}

// Kernel tracking (exact or the pagemap fallback), or noted tracking with
// marked writes (as the VM runs sessions).
struct Mode {
  const char* name;
  os::TrackingMode kernel;
  bool noted;
};

class CheckpointTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam().kernel == os::TrackingMode::kExact && !os::ExactTrackingAvailable()) GTEST_SKIP();
    if (GetParam().noted) {
      session_options_.writes_are_marked = true;
      session_options_.write_tracking = SessionOptions::WriteTracking::kNoted;
    }
    StoreOptions o;
    o.sync = false;
    o.dirty_tracking = crust::testing::ToDirtyTracking(GetParam().kernel);
    ASSERT_OK_AND_ASSIGN(store_, Store::Open(dir_.Sub("s"), o));
    ASSERT_OK_AND_ASSIGN(auto g, store_->StartGenesis());
    ASSERT_OK(g->AddModule(Id(1), {}, Bytes(5000, 1), 4 * kWasmPageSize));
    ASSERT_OK(g->AddModule(Id(2), {}, Bytes(100, 2), kWasmPageSize));
    ASSERT_OK_AND_ASSIGN(base_, g->Commit());
  }

  Result<std::unique_ptr<Session>> Start() { return store_->StartSession(base_, session_options_); }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  Root base_;
  SessionOptions session_options_;
};

TEST_P(CheckpointTest, RollbackRestoresContentsAndLengthAndRoot) {
  ASSERT_OK_AND_ASSIGN(auto s, Start());
  ASSERT_OK(s->WriteMemory(Id(1), 10, Bytes(3, 7)));  // before: must survive
  Bytes m1 = Read(*s, Id(1)), m2 = Read(*s, Id(2));
  ASSERT_OK_AND_ASSIGN(Root before, s->CurrentRoot());
  ASSERT_OK(s->Checkpoint());
  ASSERT_OK(s->WriteMemory(Id(1), 10, Bytes(3, 9)));
  ASSERT_OK(s->WriteMemory(Id(1), 70000, Bytes(9000, 9)));
  ASSERT_OK(s->WriteMemory(Id(2), 0, Bytes(50, 9)));
  ASSERT_OK(s->GrowMemory(Id(2), 3 * kWasmPageSize));
  ASSERT_OK(s->WriteMemory(Id(2), 2 * kWasmPageSize + 5, Bytes(4, 9)));
  EXPECT_FALSE(s->Commit().ok());  // not with a checkpoint open
  ASSERT_OK(s->Rollback());
  EXPECT_EQ(s->checkpoint_depth(), 0u);
  EXPECT_EQ(Read(*s, Id(1)), m1);
  EXPECT_EQ(Read(*s, Id(2)), m2);
  ASSERT_OK_AND_ASSIGN(Root after, s->CurrentRoot());
  EXPECT_EQ(after, before);
  // Growing again gives zeros, not the rolled-back bytes.
  ASSERT_OK(s->GrowMemory(Id(2), 3 * kWasmPageSize));
  Bytes grown(4);
  ASSERT_OK(s->ReadMemory(Id(2), 2 * kWasmPageSize + 5, grown));
  EXPECT_EQ(grown, Bytes(4, 0));
  // The committed root equals a twin session's that never made the changes.
  ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
  ASSERT_OK_AND_ASSIGN(auto twin, Start());
  ASSERT_OK(twin->WriteMemory(Id(1), 10, Bytes(3, 7)));
  ASSERT_OK(twin->GrowMemory(Id(2), 3 * kWasmPageSize));
  ASSERT_OK_AND_ASSIGN(Root tr, twin->CurrentRoot());
  EXPECT_EQ(r, tr);
  ASSERT_OK(store_->VerifyCommit(r));
}

TEST_P(CheckpointTest, NestedRollbackKeepsOuterChanges) {
  ASSERT_OK_AND_ASSIGN(auto s, Start());
  ASSERT_OK(s->Checkpoint());                           // A
  ASSERT_OK(s->WriteMemory(Id(1), 0, Bytes(4, 0xA)));   // A writes
  Bytes after_a = Read(*s, Id(1));
  ASSERT_OK(s->Checkpoint());                           // B
  ASSERT_OK(s->WriteMemory(Id(1), 0, Bytes(4, 0xB)));   // B overwrites A's page
  ASSERT_OK(s->WriteMemory(Id(2), 8, Bytes(4, 0xB)));
  ASSERT_OK(s->Checkpoint());                           // C (released into B)
  ASSERT_OK(s->WriteMemory(Id(1), 100000, Bytes(4, 0xC)));
  ASSERT_OK(s->Release());
  ASSERT_OK(s->Rollback());                             // B and C undone
  EXPECT_EQ(Read(*s, Id(1)), after_a);
  Bytes m2(12);
  ASSERT_OK(s->ReadMemory(Id(2), 0, m2));
  EXPECT_EQ(m2, Bytes(12, 2));
  ASSERT_OK(s->WriteMemory(Id(1), 4, Bytes(1, 0xD)));  // A continues
  ASSERT_OK(s->Release());
  Bytes head(5);
  ASSERT_OK(s->ReadMemory(Id(1), 0, head));
  EXPECT_EQ(head, (Bytes{0xA, 0xA, 0xA, 0xA, 0xD}));
  EXPECT_TRUE(s->Rollback().code() == Status::Code::kInvalidArgument);
}

// Frames are kept and reused between checkpoints (session_impl.h, Frame): a
// checkpoint opened where an earlier one closed must start with an empty
// journal. A call that writes pages and succeeds, then one at the same depth
// that writes the same pages and fails: the failure must restore the first
// call's contents (a stale journal key would skip the journal entry). Below
// and above the journal size from which keys are indexed.
TEST_P(CheckpointTest, ReusedFramesStartEmpty) {
  for (uint32_t pages : {1u, 3u, 40u}) {
    SCOPED_TRACE(pages);
    ASSERT_OK_AND_ASSIGN(auto s, Start());
    auto write_all = [&](uint8_t v) {
      for (uint32_t p = 0; p < pages; p++) ASSERT_OK(s->WriteMemory(Id(1), uint64_t{p} * 4096 + 8, Bytes(8, v)));
      s->MarkWritten(Id(1));
    };
    ASSERT_OK(s->Checkpoint());  // an enclosing call
    ASSERT_OK(s->Checkpoint());
    write_all(0xA);
    ASSERT_OK(s->Release());
    const Bytes after_first = Read(*s, Id(1));
    ASSERT_OK(s->Checkpoint());  // the same depth again
    write_all(0xB);
    ASSERT_OK(s->Rollback());
    EXPECT_EQ(Read(*s, Id(1)), after_first);
    ASSERT_OK(s->Release());
    // And at the outermost level (a top-level call after a successful one).
    ASSERT_OK(s->Checkpoint());
    write_all(0xC);
    ASSERT_OK(s->Release());
    ASSERT_OK(s->Checkpoint());
    write_all(0xD);
    ASSERT_OK(s->Rollback());
    ASSERT_OK_AND_ASSIGN(Root root, s->CurrentRoot());
    ASSERT_OK_AND_ASSIGN(auto twin, Start());
    for (uint32_t p = 0; p < pages; p++) ASSERT_OK(twin->WriteMemory(Id(1), uint64_t{p} * 4096 + 8, Bytes(8, 0xC)));
    ASSERT_OK_AND_ASSIGN(Root twin_root, twin->CurrentRoot());
    EXPECT_EQ(root, twin_root);
    EXPECT_EQ(Read(*s, Id(1)), Read(*twin, Id(1)));
  }
}

TEST_P(CheckpointTest, RandomisedAgainstAModel) {
  std::mt19937 rng(GetParam().noted ? 3 : GetParam().kernel == os::TrackingMode::kExact ? 1 : 2);
  ASSERT_OK_AND_ASSIGN(auto s, Start());
  // Model: a stack of full copies of both memories.
  std::vector<std::pair<Bytes, Bytes>> marks;
  for (int step = 0; step < 400; step++) {
    int op = rng() % 12;
    if (op >= 10) {
      // As the engine does: straight through the region (noting the write,
      // growing the region itself), announced with MarkWritten.
      ModuleId id = Id(1 + rng() % 2);
      ASSERT_OK_AND_ASSIGN(os::MemoryRegion * region, store::SessionMemoryRegion(*s, id));
      s->MarkWritten(id);
      if (op == 10) {
        const uint64_t off = rng() % (region->length() - 16), n = 1 + rng() % 16;
        region->NoteWrite(off, n);
        std::memset(region->data() + off, static_cast<int>(rng() & 0xff), n);
      } else if (region->length() < 8 * kWasmPageSize) {
        ASSERT_OK(region->Grow(region->length() + kWasmPageSize));
      }
    } else if (op < 6) {
      ModuleId id = Id(1 + rng() % 2);
      ASSERT_OK_AND_ASSIGN(uint64_t len, s->MemoryLength(id));
      uint64_t off = rng() % (len - 16);
      ASSERT_OK(s->WriteMemory(id, off, Bytes(1 + rng() % 16, static_cast<uint8_t>(rng()))));
    } else if (op == 6) {
      ModuleId id = Id(1 + rng() % 2);
      ASSERT_OK_AND_ASSIGN(uint64_t len, s->MemoryLength(id));
      if (len < 8 * kWasmPageSize) {
        ASSERT_OK(s->GrowMemory(id, len + kWasmPageSize));
      }
    } else if (op == 7 && marks.size() < 6) {
      marks.push_back({Read(*s, Id(1)), Read(*s, Id(2))});
      ASSERT_OK(s->Checkpoint());
    } else if (op == 8 && !marks.empty()) {
      ASSERT_OK(s->Rollback());
      EXPECT_EQ(Read(*s, Id(1)), marks.back().first) << "step " << step;
      EXPECT_EQ(Read(*s, Id(2)), marks.back().second) << "step " << step;
      marks.pop_back();
    } else if (op == 9 && !marks.empty()) {
      ASSERT_OK(s->Release());
      marks.pop_back();
    } else if (marks.empty() && rng() % 4 == 0) {
      ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
      ASSERT_OK(store_->VerifyCommit(r));
    }
  }
  while (!marks.empty()) {
    ASSERT_OK(s->Rollback());
    EXPECT_EQ(Read(*s, Id(1)), marks.back().first);
    marks.pop_back();
  }
  Bytes m1 = Read(*s, Id(1));
  ASSERT_OK_AND_ASSIGN(Root r, s->Commit());
  ASSERT_OK_AND_ASSIGN(auto fresh, store_->StartSession(r));
  EXPECT_EQ(Read(*fresh, Id(1)), m1);
}

// Collections of many pages copy them into their shadows with streaming
// stores (session_impl.cc, kStreamingCopyPages): the journal and the shadows
// they fill must hold each page's exact contents, at the top level (no
// checkpoint open) and inside a checkpoint.
TEST_P(CheckpointTest, LargeCollectionsKeepExactPageContents) {
  ASSERT_OK_AND_ASSIGN(auto s, Start());
  constexpr uint64_t kLength = 20 * kWasmPageSize;  // 320 pages of 4 KiB
  ASSERT_OK(s->GrowMemory(Id(1), kLength));
  auto pattern = [&](uint8_t seed) {
    Bytes b(kLength);
    for (uint64_t i = 0; i < kLength; i++) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 12));
    return b;
  };
  ASSERT_OK(s->Checkpoint());  // checkpoints in use from here
  ASSERT_OK(s->Release());
  ASSERT_OK(s->WriteMemory(Id(1), 0, pattern(1)));
  ASSERT_OK(s->Checkpoint());  // A: collects 320 pages with no checkpoint open
  ASSERT_OK(s->WriteMemory(Id(1), 0, pattern(2)));
  ASSERT_OK(s->Checkpoint());  // B: journals 320 pages into A, refreshes their shadows
  ASSERT_OK(s->WriteMemory(Id(1), 0, pattern(3)));
  ASSERT_OK(s->Checkpoint());  // C, released into B
  ASSERT_OK(s->WriteMemory(Id(1), 4096, Bytes(5, 4)));
  ASSERT_OK(s->Release());
  ASSERT_OK(s->Rollback());  // B
  EXPECT_EQ(Read(*s, Id(1)), pattern(2));
  ASSERT_OK(s->Rollback());  // A
  EXPECT_EQ(Read(*s, Id(1)), pattern(1));
  ASSERT_OK_AND_ASSIGN(Root after, s->CurrentRoot());
  ASSERT_OK_AND_ASSIGN(auto plain, Start());  // the same writes, no checkpoints
  ASSERT_OK(plain->GrowMemory(Id(1), kLength));
  ASSERT_OK(plain->WriteMemory(Id(1), 0, pattern(1)));
  ASSERT_OK_AND_ASSIGN(Root expected, plain->CurrentRoot());
  EXPECT_EQ(after, expected);
}

INSTANTIATE_TEST_SUITE_P(Tracking, CheckpointTest,
                         ::testing::Values(Mode{"Exact", os::TrackingMode::kExact, false},
                                           Mode{"Pagemap", os::TrackingMode::kPagemap, false},
                                           Mode{"Noted", os::TrackingMode::kAuto, true}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace crust
