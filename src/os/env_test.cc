// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/fault_env.h"
#include "tests/test_util.h"

namespace crust::os {
namespace {

using ::crust::testing::FaultEnv;
using ::crust::testing::FaultOp;
using ::crust::testing::TempDir;

ByteView View(const std::string& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }
bool Contains(const Status& s, const std::string& text) {
  return s.ToString().find(text) != std::string::npos;
}

Status WriteFile(Env* env, const std::string& path, const std::string& data) {
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(path));
  RETURN_IF_ERROR(f->Append(View(data)));
  RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

class EnvTest : public ::testing::Test {
 protected:
  Env* const env_ = Env::Default();
  TempDir dir_;
};

TEST_F(EnvTest, WriteAppendTruncateRead) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, env_->NewWritableFile(path));
  EXPECT_EQ(f->path(), path);
  ASSERT_OK(f->Append(View("hello")));
  ASSERT_OK(f->WriteAt(10, View("world")));
  EXPECT_EQ(f->Size(), 15u);
  ASSERT_OK(f->Append(View("!")));
  EXPECT_EQ(f->Size(), 16u);
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Close());
  ASSERT_OK(f->Close());  // idempotent
  EXPECT_EQ(f->Append(View("x")).code(), Status::Code::kIOError);
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path));
  EXPECT_EQ(Str(data), std::string("hello\0\0\0\0\0world!", 16));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> g, env_->NewWritableFile(dir_.Sub("g")));
  ASSERT_OK(g->Append(View("abcdef")));
  ASSERT_OK(g->Truncate(3));
  EXPECT_EQ(g->Size(), 3u);
  ASSERT_OK(g->Append(View("XY")));
  ASSERT_OK(g->Close());
  ASSERT_OK_AND_ASSIGN(Bytes g_data, env_->ReadFile(dir_.Sub("g")));
  EXPECT_EQ(Str(g_data), "abcXY");
}

TEST_F(EnvTest, HolesTakeNoSpace) {
  const std::string path = dir_.Sub("sparse");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, env_->NewWritableFile(path));
  ASSERT_OK(f->WriteAt(8 << 20, View("end")));
  ASSERT_OK(f->Truncate(16 << 20));
  ASSERT_OK(f->Close());
  ASSERT_OK_AND_ASSIGN(FileInfo info, env_->Stat(path));
  EXPECT_EQ(info.size, 16u << 20);
  EXPECT_LT(info.allocated, 1u << 20);
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_LE(info.mtime_unix_ns, now_ns);
  EXPECT_GT(info.mtime_unix_ns, now_ns - int64_t{60} * 1'000'000'000);
}

TEST_F(EnvTest, CreateIsExclusive) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK(WriteFile(env_, path, "one"));
  auto r = env_->NewWritableFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAlreadyExists);
  EXPECT_TRUE(Contains(r.status(), "create " + path + ": File exists")) << r.status().ToString();
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path));
  EXPECT_EQ(Str(data), "one");
}

// NewWritableFileFrom: the empty file becomes the new one (same inode).
TEST_F(EnvTest, NewWritableFileFromAnEmptyFile) {
  const std::string empty = dir_.Sub("empty"), path = dir_.Sub("new");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> e, env_->NewWritableFile(empty));
    ASSERT_OK(e->Close());
  }
  struct stat before;
  ASSERT_EQ(::stat(empty.c_str(), &before), 0);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> f, env_->NewWritableFileFrom(empty, path));
  EXPECT_EQ(f->path(), path);
  EXPECT_EQ(f->Size(), 0u);
  ASSERT_OK(f->Append(View("data")));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Close());
  EXPECT_FALSE(env_->Exists(empty));
  struct stat after;
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path));
  EXPECT_EQ(Str(data), "data");

  // Never over an existing file; never from a file with contents or a
  // missing one; nothing moves then.
  ASSERT_OK(WriteFile(env_, dir_.Sub("e2"), ""));
  auto exists = env_->NewWritableFileFrom(dir_.Sub("e2"), path);
  EXPECT_EQ(exists.status().code(), Status::Code::kAlreadyExists) << exists.status().ToString();
  EXPECT_TRUE(env_->Exists(dir_.Sub("e2")));
  ASSERT_OK(WriteFile(env_, dir_.Sub("full"), "x"));
  auto full = env_->NewWritableFileFrom(dir_.Sub("full"), dir_.Sub("other"));
  EXPECT_EQ(full.status().code(), Status::Code::kInvalidArgument) << full.status().ToString();
  EXPECT_TRUE(Contains(full.status(), dir_.Sub("full"))) << full.status().ToString();
  EXPECT_TRUE(env_->Exists(dir_.Sub("full")));
  EXPECT_FALSE(env_->Exists(dir_.Sub("other")));
  EXPECT_TRUE(env_->NewWritableFileFrom(dir_.Sub("missing"), dir_.Sub("other")).status().IsNotFound());
}

TEST_F(EnvTest, MissingFiles) {
  const std::string path = dir_.Sub("missing");
  auto r = env_->OpenReadable(path);
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_TRUE(Contains(r.status(), path)) << r.status().ToString();
  EXPECT_TRUE(env_->ReadFile(path).status().IsNotFound());
  EXPECT_TRUE(env_->Stat(path).status().IsNotFound());
  EXPECT_FALSE(env_->Exists(path));
  EXPECT_TRUE(env_->RemoveFile(path).IsNotFound());
  EXPECT_TRUE(env_->ListDir(path).status().IsNotFound());
  EXPECT_TRUE(env_->SyncDir(path).IsNotFound());
  EXPECT_TRUE(env_->CreateDir(dir_.Sub("no/such")).IsNotFound());
  EXPECT_TRUE(env_->NewWritableFile(dir_.Sub("no/such")).status().IsNotFound());
  Status s = env_->LinkFile(path, dir_.Sub("l"));
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.ToString(), "NotFound: link " + path + " -> " + dir_.Sub("l") +
                              ": No such file or directory");
  EXPECT_TRUE(env_->Rename(path, dir_.Sub("r")).IsNotFound());
}

TEST_F(EnvTest, ShortReadIsCorruption) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK(WriteFile(env_, path, "0123456789"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RandomAccessFile> f, env_->OpenReadable(path));
  EXPECT_EQ(f->Size(), 10u);
  EXPECT_GE(f->fd(), 0);
  std::vector<uint8_t> buf(4);
  ASSERT_OK(f->ReadAt(6, buf));
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "6789");
  Status s = f->ReadAt(8, buf);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_TRUE(Contains(s, path) && Contains(s, "expected 4") && Contains(s, "got 2"))
      << s.ToString();
  EXPECT_TRUE(f->ReadAt(100, buf).IsCorruption());
  std::vector<uint8_t> none;
  ASSERT_OK(f->ReadAt(10, none));
}

TEST_F(EnvTest, ReadFileLimit) {
  const std::string path = dir_.Sub("f");
  ASSERT_OK(WriteFile(env_, path, "0123456789"));
  EXPECT_EQ(env_->ReadFile(path, 9).status().code(), Status::Code::kResourceExhausted);
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path, 10));
  EXPECT_EQ(data.size(), 10u);
  ASSERT_OK(WriteFile(env_, dir_.Sub("empty"), ""));
  ASSERT_OK_AND_ASSIGN(Bytes empty, env_->ReadFile(dir_.Sub("empty")));
  EXPECT_TRUE(empty.empty());
}

TEST_F(EnvTest, Directories) {
  const std::string d = dir_.Sub("d");
  ASSERT_OK(env_->CreateDir(d));
  Status again = env_->CreateDir(d);
  EXPECT_EQ(again.code(), Status::Code::kAlreadyExists);
  EXPECT_TRUE(Contains(again, "mkdir " + d));
  ASSERT_OK_AND_ASSIGN(FileInfo info, env_->Stat(d));
  EXPECT_TRUE(info.is_dir);
  for (const char* name : {"b", "a", "c10", "c2"}) ASSERT_OK(WriteFile(env_, d + "/" + name, name));
  ASSERT_OK(env_->CreateDir(d + "/sub"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, env_->ListDir(d));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c10", "c2", "sub"}));
  ASSERT_OK(env_->SyncDir(d));
  ASSERT_OK(env_->RemoveFile(d + "/a"));
  EXPECT_FALSE(env_->Exists(d + "/a"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> empty, env_->ListDir(d + "/sub"));
  EXPECT_TRUE(empty.empty());
}

TEST_F(EnvTest, RemoveDirRecursiveWithReadOnlyFiles) {
  const std::string d = dir_.Sub("tree");
  ASSERT_OK(env_->CreateDir(d));
  ASSERT_OK(env_->CreateDir(d + "/x"));
  ASSERT_OK(env_->CreateDir(d + "/x/y"));
  ASSERT_OK(WriteFile(env_, d + "/x/y/f", "data"));
  ASSERT_OK(WriteFile(env_, d + "/g", "data"));
  ASSERT_OK(env_->SetReadOnly(d + "/x/y/f"));
  ASSERT_OK(env_->SetReadOnly(d + "/g"));
  ASSERT_EQ(::symlink("/", (d + "/root-link").c_str()), 0);  // must not be followed
  ASSERT_OK(env_->RemoveDirRecursive(d));
  EXPECT_FALSE(env_->Exists(d));
  ASSERT_OK(env_->RemoveDirRecursive(d));  // absent: OK
  EXPECT_TRUE(env_->Exists("/"));
}

TEST_F(EnvTest, RenameAndNoReplace) {
  const std::string a = dir_.Sub("a"), b = dir_.Sub("b"), c = dir_.Sub("c");
  ASSERT_OK(WriteFile(env_, a, "A"));
  ASSERT_OK(WriteFile(env_, b, "B"));
  Status s = env_->RenameNoReplace(a, b);
  EXPECT_EQ(s.code(), Status::Code::kAlreadyExists);
  EXPECT_TRUE(Contains(s, a + " -> " + b)) << s.ToString();
  ASSERT_OK_AND_ASSIGN(Bytes still_b, env_->ReadFile(b));
  EXPECT_EQ(Str(still_b), "B");
  ASSERT_OK(env_->RenameNoReplace(a, c));
  EXPECT_FALSE(env_->Exists(a));
  ASSERT_OK(env_->Rename(c, b));  // replaces
  ASSERT_OK_AND_ASSIGN(Bytes now_a, env_->ReadFile(b));
  EXPECT_EQ(Str(now_a), "A");
  // Directories too.
  ASSERT_OK(env_->CreateDir(dir_.Sub("d1")));
  ASSERT_OK(env_->CreateDir(dir_.Sub("d2")));
  EXPECT_EQ(env_->RenameNoReplace(dir_.Sub("d1"), dir_.Sub("d2")).code(),
            Status::Code::kAlreadyExists);
  ASSERT_OK(env_->RenameNoReplace(dir_.Sub("d1"), dir_.Sub("d3")));
}

TEST_F(EnvTest, HardLinksShareAnInode) {
  const std::string a = dir_.Sub("a"), l = dir_.Sub("l");
  ASSERT_OK(WriteFile(env_, a, "shared"));
  ASSERT_OK(env_->SetReadOnly(a));
  ASSERT_OK(env_->LinkFile(a, l));
  ASSERT_OK_AND_ASSIGN(FileInfo ia, env_->Stat(a));
  ASSERT_OK_AND_ASSIGN(FileInfo il, env_->Stat(l));
  EXPECT_EQ(ia.inode, il.inode);
  EXPECT_EQ(il.nlink, 2u);
  EXPECT_FALSE(il.writable);
  Status s = env_->LinkFile(a, l);
  EXPECT_EQ(s.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(s.ToString(), "AlreadyExists: link " + a + " -> " + l + ": File exists");
  ASSERT_OK(env_->RemoveFile(a));
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(l));
  EXPECT_EQ(Str(data), "shared");
}

TEST_F(EnvTest, SetReadOnly) {
  const std::string a = dir_.Sub("a");
  ASSERT_OK(WriteFile(env_, a, "x"));
  ASSERT_OK_AND_ASSIGN(FileInfo before, env_->Stat(a));
  EXPECT_TRUE(before.writable);
  EXPECT_FALSE(before.is_dir);
  EXPECT_EQ(before.size, 1u);
  ASSERT_OK(env_->SetReadOnly(a));
  ASSERT_OK_AND_ASSIGN(FileInfo after, env_->Stat(a));
  EXPECT_FALSE(after.writable);
  EXPECT_TRUE(env_->SetReadOnly(dir_.Sub("missing")).IsNotFound());
}

std::string PidText(pid_t pid) { return "locked by process " + std::to_string(pid); }

TEST_F(EnvTest, LockConflictsWithinProcess) {
  const std::string path = dir_.Sub("LOCK");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, env_->LockFile(path));
    ASSERT_OK_AND_ASSIGN(Bytes content, env_->ReadFile(path));
    EXPECT_EQ(Str(content), std::to_string(::getpid()) + "\n");
    auto second = env_->LockFile(path);
    ASSERT_FALSE(second.ok());
    EXPECT_TRUE(second.status().IsBusy());
    EXPECT_EQ(second.status().message(), "store " + path + " is " + PidText(::getpid()));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> again, env_->LockFile(path));  // released
}

// The lock file ends up holding exactly the pid, whatever it held before
// (longer, shorter, the same), without being truncated when already right.
TEST_F(EnvTest, LockFileHoldsExactlyThePid) {
  const std::string path = dir_.Sub("LOCK");
  const std::string pid = std::to_string(::getpid()) + "\n";
  for (const std::string& before : {std::string("123456789012345\n"), std::string("7\n"), pid, std::string()}) {
    (void)env_->RemoveFile(path);
    ASSERT_OK_AND_ASSIGN(auto f, env_->NewWritableFile(path));
    ASSERT_OK(f->Append(ByteView(reinterpret_cast<const uint8_t*>(before.data()), before.size())));
    ASSERT_OK(f->Close());
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, env_->LockFile(path));
    ASSERT_OK_AND_ASSIGN(Bytes content, env_->ReadFile(path));
    EXPECT_EQ(Str(content), pid) << "before: " << before;
  }
}

TEST_F(EnvTest, LockConflictsAcrossProcesses) {
  const std::string path = dir_.Sub("LOCK");
  // Child locks; the parent sees Busy naming the child.
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = env_->LockFile(path);
    const char c = lock.ok() ? 'y' : 'n';
    (void)!::write(to_parent[1], &c, 1);
    char done;
    (void)!::read(to_child[0], &done, 1);
    ::_exit(lock.ok() ? 0 : 1);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto busy = env_->LockFile(path);
  EXPECT_TRUE(busy.status().IsBusy());
  EXPECT_TRUE(Contains(busy.status(), PidText(child))) << busy.status().ToString();
  ASSERT_EQ(::write(to_child[1], "x", 1), 1);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);

  // Parent locks; a child sees Busy naming the parent.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, env_->LockFile(path));
  const pid_t parent = ::getpid();
  const pid_t child2 = ::fork();
  ASSERT_GE(child2, 0);
  if (child2 == 0) {
    auto r = env_->LockFile(path);
    const bool ok = !r.ok() && r.status().IsBusy() &&
                    r.status().ToString().find(PidText(parent)) != std::string::npos;
    ::_exit(ok ? 0 : 1);
  }
  ASSERT_EQ(::waitpid(child2, &wstatus, 0), child2);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

TEST_F(EnvTest, WriteFileAtomicallyPublishesAndReplaces) {
  const std::string path = dir_.Sub("published");
  ASSERT_OK(WriteFileAtomically(env_, path, View("first")));
  ASSERT_OK(WriteFile(env_, path + ".tmp", "leftover of a crash"));
  const std::string first = "sec", second = "ond";
  const ByteView parts[] = {View(first), View(second)};
  ASSERT_OK(WriteFileAtomically(env_, path, parts));
  ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path));
  EXPECT_EQ(Str(data), "second");
  EXPECT_FALSE(env_->Exists(path + ".tmp"));
  ASSERT_OK(env_->CreateDir(dir_.Sub("tmp")));
  ASSERT_OK(WriteFileAtomically(env_, path, View("third"), {.temp_path = dir_.Sub("tmp/x")}));
  ASSERT_OK_AND_ASSIGN(Bytes third, env_->ReadFile(path));
  EXPECT_EQ(Str(third), "third");
  EXPECT_FALSE(env_->Exists(dir_.Sub("tmp/x")));
}

TEST_F(EnvTest, WriteFileAtomicallySyncsFileThenDirectory) {
  FaultEnv env;
  const std::string path = dir_.Sub("f");
  ASSERT_OK(WriteFileAtomically(&env, path, View("data")));
  EXPECT_EQ(env.Count(FaultOp::kSync), 1);
  EXPECT_EQ(env.Count(FaultOp::kRename), 1);
  EXPECT_EQ(env.Count(FaultOp::kSyncDir), 1);
  env.ResetCounts();
  ASSERT_OK(WriteFileAtomically(&env, path, View("data"), {.temp_path = "", .sync = false}));
  EXPECT_EQ(env.Count(FaultOp::kSync), 0);
  EXPECT_EQ(env.Count(FaultOp::kSyncDir), 0);
}

// Every step that fails before the rename leaves the old file intact and no
// temporary behind, and the error names the path published.
TEST_F(EnvTest, WriteFileAtomicallyFaultsLeaveTheOldFile) {
  for (FaultOp op : {FaultOp::kCreateFile, FaultOp::kWrite, FaultOp::kSync, FaultOp::kClose, FaultOp::kRename}) {
    SCOPED_TRACE(FaultOpName(op));
    const std::string path = dir_.Sub(std::string("old-") + FaultOpName(op));
    ASSERT_OK(WriteFile(env_, path, "old"));
    FaultEnv env;
    env.FailNth(op, 1);
    const Status s = WriteFileAtomically(&env, path, View("new"));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(env.Failures(op), 1);
    EXPECT_TRUE(Contains(s, "publish " + path)) << s.ToString();
    ASSERT_OK_AND_ASSIGN(Bytes data, env_->ReadFile(path));
    EXPECT_EQ(Str(data), "old");
    EXPECT_FALSE(env_->Exists(path + ".tmp"));
  }
  // A failed directory fsync is reported: the new file is in place but not
  // known to be durable.
  const std::string path = dir_.Sub("syncdir");
  FaultEnv env;
  env.FailNth(FaultOp::kSyncDir, 1);
  const Status s = WriteFileAtomically(&env, path, View("new"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, "publish " + path)) << s.ToString();
  EXPECT_FALSE(env_->Exists(path + ".tmp"));
}

TEST(FaultEnvTest, FailsNthCallAndCounts) {
  TempDir dir;
  FaultEnv env;
  ASSERT_OK(WriteFile(&env, dir.Sub("a"), "A"));
  env.FailNth(FaultOp::kLink, 2);
  ASSERT_OK(env.LinkFile(dir.Sub("a"), dir.Sub("l1")));
  Status s = env.LinkFile(dir.Sub("a"), dir.Sub("l2"));
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.ToString(),
            "IOError: injected fault: link " + dir.Sub("a") + " -> " + dir.Sub("l2"));
  EXPECT_FALSE(env.Exists(dir.Sub("l2")));  // nothing happened
  ASSERT_OK(env.LinkFile(dir.Sub("a"), dir.Sub("l3")));  // only once
  EXPECT_EQ(env.Count(FaultOp::kLink), 3);
  EXPECT_EQ(env.Failures(FaultOp::kLink), 1);
  EXPECT_EQ(env.Count(FaultOp::kCreateFile), 1);
  EXPECT_EQ(env.Count(FaultOp::kWrite), 1);
  EXPECT_EQ(env.Count(FaultOp::kSync), 1);

  env.FailAlways(FaultOp::kSync);
  EXPECT_FALSE(WriteFile(&env, dir.Sub("b"), "B").ok());
  EXPECT_OK(env.SyncDir(dir.path()));  // kSyncDir is a separate operation
  env.FailNth(FaultOp::kRead, 1);
  EXPECT_EQ(env.ReadFile(dir.Sub("a")).status().code(), Status::Code::kIOError);
  ASSERT_OK_AND_ASSIGN(Bytes data, env.ReadFile(dir.Sub("a")));
  EXPECT_EQ(Str(data), "A");
  env.FailNth(FaultOp::kCreateDir, 1);
  EXPECT_FALSE(env.CreateDir(dir.Sub("d")).ok());
  ASSERT_OK(env.CreateDir(dir.Sub("d")));
  env.FailNth(FaultOp::kRename, 1);
  EXPECT_FALSE(env.RenameNoReplace(dir.Sub("d"), dir.Sub("e")).ok());
  ASSERT_OK(env.Rename(dir.Sub("d"), dir.Sub("e")));
  env.ClearFaults();
  ASSERT_OK(WriteFile(&env, dir.Sub("c"), "C"));
  env.ResetCounts();
  EXPECT_EQ(env.Count(FaultOp::kLink), 0);
}

}  // namespace
}  // namespace crust::os
