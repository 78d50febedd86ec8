// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/host_abi.h"

#include <gtest/gtest.h>

#include <set>

namespace crust::engine {
namespace {

std::string Sig(std::string_view name) {
  const HostFunctionSpec* f = FindHostFunction(name);
  return f ? SignatureString(f->params, f->results) : "missing";
}

TEST(HostAbiTest, ExactSignatures) {
  EXPECT_EQ(Sig("panic"), "(i32) -> ()");
  EXPECT_EQ(Sig("limit"), "() -> (i64)");
  EXPECT_EQ(Sig("spent"), "() -> (i64)");
  EXPECT_EQ(Sig("self_id"), "() -> ()");
  EXPECT_EQ(Sig("hd"), "(i32, i32) -> (i32)");
  EXPECT_EQ(Sig("c"), "(i32, i32, i32, i32, i64) -> (i32)");
  EXPECT_EQ(Sig("hq"), "(i32, i32, i32) -> (i32)");
  EXPECT_EQ(Sig("emit"), "(i32, i32, i32) -> ()");
  EXPECT_EQ(Sig("feed"), "(i32) -> ()");
  EXPECT_EQ(Sig("caller"), "() -> (i32)");
  EXPECT_EQ(Sig("callstack"), "() -> (i32)");
  EXPECT_EQ(Sig("owner"), "(i32) -> (i32)");
  EXPECT_EQ(FindHostFunction("memory"), nullptr);
  EXPECT_EQ(FindHostFunction(""), nullptr);
}

TEST(HostAbiTest, TableIndexedByIdWithUniqueNames) {
  std::set<std::string_view> names;
  ASSERT_EQ(HostFunctions().size(), kHostFnCount);
  for (size_t i = 0; i < HostFunctions().size(); ++i) {
    const HostFunctionSpec& f = HostFunctions()[i];
    EXPECT_EQ(static_cast<size_t>(f.id), i);
    EXPECT_EQ(&GetHostFunction(f.id), &f);
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
  }
  // Every host function is implemented (none is reserved any more).
  for (const HostFunctionSpec& f : HostFunctions()) EXPECT_FALSE(f.reserved) << f.name;
  ASSERT_NE(FindHostFunction("hdebug"), nullptr);
  EXPECT_EQ(FindHostFunction("hdebug")->id, HostFn::kHdebug);
}

}  // namespace
}  // namespace crust::engine
