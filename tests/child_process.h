// Copyright (c) crust authors. Licensed under the MIT license.
//
// Tests that need a process of their own — restricted by a seccomp filter,
// in namespaces of its own, with nothing inherited from the test's earlier
// work (threads, process-wide probes) — run their own test again in a child:
// fork, optional restrictions between fork and exec, exec of this binary
// with `--gtest_filter` naming the test and environment variables telling it
// that it is the child.
#pragma once

#include <string>
#include <vector>

namespace crust::testing {

// Makes system call `nr` fail with EPERM in this process and the processes it
// starts (a seccomp filter, after PR_SET_NO_NEW_PRIVS), except calls whose
// first argument (its low 32 bits) has one of `allowed_arg0_bits` set. Makes
// system calls only: safe between fork and exec. False where seccomp filters
// are not available (another architecture, an old kernel).
bool RefuseSyscall(long nr, unsigned allowed_arg0_bits = 0);

// Runs the test `test_name` of this binary in a child process with `env`
// ("NAME=value" entries) added to the environment, and returns its exit
// status, or 128 + the signal that killed it. `before_exec`, when given, runs
// in the child between fork and exec with `arg` — system calls only: the
// test process may have other threads — and returns 0 to go on, or an exit
// status the child ends with at once (a test's "cannot restrict here").
int RunTestInChild(const std::string& test_name, const std::vector<std::string>& env,
                   int (*before_exec)(void* arg) = nullptr, void* arg = nullptr);

}  // namespace crust::testing
