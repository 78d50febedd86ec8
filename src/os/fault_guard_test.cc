// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/fault_guard.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/test_util.h"

namespace crust::os {
namespace {

// A file mapped, then truncated under the mapping: reading it raises SIGBUS.
TEST(FaultGuardTest, SigbusInAGuardIsAnIOError) {
  crust::testing::TempDir dir;
  const std::string path = dir.Sub("f");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 2 * 4096), 0);
  ASSERT_EQ(::pwrite(fd, "x", 1, 4096), 1);
  void* p = ::mmap(nullptr, 2 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  const auto* bytes = static_cast<const volatile char*>(p);
  char seen = 0;
  ASSERT_TRUE(GuardMappedReads("f", [&] { seen = bytes[4096]; }).ok());
  EXPECT_EQ(seen, 'x');
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  for (int i = 0; i < 3; ++i) {  // the thread stays usable; guards repeat
    Status s = GuardMappedReads("f", [&] { seen = bytes[4096]; });
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    EXPECT_NE(s.ToString().find("SIGBUS"), std::string::npos);
  }
  // Nested guards: the inner one catches, the outer one completes.
  bool inner_failed = false;
  EXPECT_TRUE(GuardMappedReads("outer", [&] {
                inner_failed = !GuardMappedReads("inner", [&] { seen = bytes[0]; }).ok();
              }).ok());
  EXPECT_TRUE(inner_failed);
  std::thread t([&] { EXPECT_FALSE(GuardMappedReads("f", [&] { seen = bytes[0]; }).ok()); });
  t.join();
  ::munmap(p, 2 * 4096);
  ::close(fd);
}

}  // namespace
}  // namespace crust::os
