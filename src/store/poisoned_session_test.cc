// Copyright (c) crust authors. Licensed under the MIT license.
//
// Poisoned sessions (issue 16): a checkpoint operation that fails after it
// began changing memories or journals leaves the session's memories
// indeterminate — a rollback stopped halfway, or writes no rollback can undo
// — so the session refuses memory access, checkpoints, CurrentRoot and
// Commit with Aborted naming the first failure, and the store never receives
// a commit of that state. Faults are injected in the OS layer: a FaultEnv
// whose memory regions fail Shrink (the last step of rolling back a growth)
// or the collection of written pages on demand.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "crust/session.h"
#include "crust/store.h"
#include "src/os/env.h"
#include "src/os/memory_region.h"
#include "src/store/open_env.h"
#include "tests/fault_env.h"
#include "tests/store_test_helpers.h"
#include "tests/test_util.h"

namespace crust {
namespace {

using testing::kWasmPage;
using testing::Pattern;
using testing::TempDir;
using testing::TestModuleId;

const ModuleId kA = TestModuleId(1);

struct RegionFaults {
  std::atomic<bool> shrink{false};
  std::atomic<bool> collect{false};
};

Status Injected(const char* what) { return Status::IOError(std::string("injected fault: region ") + what); }

// Forwards to the real region; fails Shrink or the collections when told.
class FaultyRegion final : public os::MemoryRegion {
 public:
  FaultyRegion(std::unique_ptr<os::MemoryRegion> r, RegionFaults* f) : r_(std::move(r)), f_(f) {}
  uint8_t* data() const override { return r_->data(); }
  uint64_t length() const override { return r_->length(); }
  uint64_t max_length() const override { return r_->max_length(); }
  Status Grow(uint64_t n) override { return r_->Grow(n); }
  Status Shrink(uint64_t n) override { return f_->shrink ? Injected("shrink") : r_->Shrink(n); }
  Status Arm() override { return r_->Arm(); }
  Status CollectWritten(bool rearm, std::vector<uint32_t>* pages) override {
    return f_->collect ? Injected("collect") : r_->CollectWritten(rearm, pages);
  }
  bool exact() const override { return r_->exact(); }
  Status CollectNoted(bool rearm, std::vector<uint32_t>* pages) override {
    return f_->collect ? Injected("collect") : r_->CollectNoted(rearm, pages);
  }
  void NoteWrite(uint64_t offset, uint64_t len) override { r_->NoteWrite(offset, len); }
  const uint8_t* noted_map() const override { return r_->noted_map(); }
  Status UseNotedWrites() override { return r_->UseNotedWrites(); }
  bool noted() const override { return r_->noted(); }
  Status DiscardPages(uint64_t offset, uint64_t len) override { return r_->DiscardPages(offset, len); }
  Status Prefill(uint64_t offset, uint64_t len) override { return r_->Prefill(offset, len); }
  Status FaultStatus() const override { return r_->FaultStatus(); }

 private:
  std::unique_ptr<os::MemoryRegion> r_;
  RegionFaults* f_;
};

class RegionFaultEnv final : public testing::FaultEnv {
 public:
  RegionFaults faults;
  Result<std::unique_ptr<os::MemoryRegion>> MapMemory(const os::RandomAccessFile* f, uint64_t fl, uint64_t l,
                                                      uint64_t m) override {
    return Wrap(FaultEnv::MapMemory(f, fl, l, m));
  }
  Result<std::unique_ptr<os::MemoryRegion>> MapLazyMemory(std::shared_ptr<const os::PageSource> source,
                                                          uint64_t source_length, uint64_t length,
                                                          uint64_t max_length) override {
    return Wrap(FaultEnv::MapLazyMemory(std::move(source), source_length, length, max_length));
  }

 private:
  Result<std::unique_ptr<os::MemoryRegion>> Wrap(Result<std::unique_ptr<os::MemoryRegion>> r) {
    if (!r.ok()) return r.status();
    return std::unique_ptr<os::MemoryRegion>(new FaultyRegion(std::move(r).value(), &faults));
  }
};

class PoisonedSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::OpenWithEnv(tmp_.Sub("store"), StoreOptions{}, &env_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    auto s = store_->StartGenesis();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    session_ = std::move(s).value();
    ASSERT_OK(session_->AddModule(kA, Pattern(1, 100), Pattern(2, 5000), kWasmPage));
    ASSERT_OK_AND_ASSIGN(base_, session_->Commit());
  }

  // Every operation that reads, changes or commits the memories says Aborted.
  void ExpectRefused() {
    std::vector<Status> got;
    uint8_t byte[1];
    got.push_back(session_->ReadMemory(kA, 0, byte));
    got.push_back(session_->WriteMemory(kA, 0, Pattern(3, 10)));
    got.push_back(session_->GrowMemory(kA, 3 * kWasmPage));
    got.push_back(session_->Checkpoint());
    got.push_back(session_->Rollback());
    got.push_back(session_->Release());
    got.push_back(session_->CurrentRoot().status());
    got.push_back(session_->ProvePage(kA, 0).status());
    got.push_back(session_->Commit().status());
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].code(), Status::Code::kAborted) << "operation " << i << ": " << got[i].ToString();
      EXPECT_NE(got[i].ToString().find("injected fault: region"), std::string::npos) << got[i].ToString();
    }
    auto commits = store_->ListCommits();
    ASSERT_TRUE(commits.ok());
    EXPECT_EQ(commits->size(), 1u) << "only the base commit";
  }

  TempDir tmp_;
  RegionFaultEnv env_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Session> session_;
  Root base_;
};

// The rollback restores the written pages, then cannot shrink the memory
// back: neither the state at the mark nor the state before the rollback.
TEST_F(PoisonedSessionTest, RollbackFailingHalfwayPoisonsTheSession) {
  ASSERT_OK(session_->Checkpoint());
  ASSERT_OK(session_->WriteMemory(kA, 100, Pattern(4, 5000)));
  ASSERT_OK(session_->GrowMemory(kA, 2 * kWasmPage));
  ASSERT_OK(session_->WriteMemory(kA, kWasmPage + 10, Pattern(5, 100)));
  env_.faults.shrink = true;
  Status rb = session_->Rollback();
  env_.faults.shrink = false;
  EXPECT_EQ(rb.code(), Status::Code::kIOError) << rb.ToString();
  ExpectRefused();
}

// A checkpoint whose collection of written pages fails cannot journal them:
// a later rollback could not undo those writes.
TEST_F(PoisonedSessionTest, CheckpointFailingToCollectPoisonsTheSession) {
  ASSERT_OK(session_->Checkpoint());
  ASSERT_OK(session_->WriteMemory(kA, 100, Pattern(4, 5000)));
  env_.faults.collect = true;
  Status cp = session_->Checkpoint();
  env_.faults.collect = false;
  EXPECT_EQ(cp.code(), Status::Code::kIOError) << cp.ToString();
  ExpectRefused();
}

// Refused preconditions change nothing and poison nothing.
TEST_F(PoisonedSessionTest, RefusedPreconditionsLeaveTheSessionUsable) {
  EXPECT_EQ(session_->Rollback().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(session_->Release().code(), Status::Code::kInvalidArgument);
  ASSERT_OK(session_->Checkpoint());
  EXPECT_EQ(session_->Commit().status().code(), Status::Code::kInvalidArgument);
  ASSERT_OK(session_->WriteMemory(kA, 100, Pattern(4, 10)));
  ASSERT_OK(session_->Rollback());
  ASSERT_OK(session_->WriteMemory(kA, 100, Pattern(6, 10)));
  ASSERT_OK_AND_ASSIGN(Root r, session_->Commit());
  EXPECT_NE(r, base_);
}

}  // namespace
}  // namespace crust
