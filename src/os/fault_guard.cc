// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/os/fault_guard.h"

#include <pthread.h>
#include <signal.h>

#include <csetjmp>
#include <cstdlib>
#include <mutex>

namespace crust::os {
namespace {

struct sigaction g_old_bus;
thread_local sigjmp_buf* tls_guard = nullptr;

void Handler(int sig, siginfo_t* info, void* uctx) {
  if (tls_guard != nullptr) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    siglongjmp(*tls_guard, 1);
  }
  const struct sigaction& old = g_old_bus;
  if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != nullptr) {
    old.sa_sigaction(sig, info, uctx);
    return;
  }
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != nullptr) {
    old.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // the access repeats and the process dies as without us
}

void Install() {
  struct sigaction sa = {};
  sa.sa_sigaction = &Handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &g_old_bus) != 0) std::abort();
}

}  // namespace

bool RunCatchingBusErrors(void (*fn)(void*), void* arg) {
  static std::once_flag once;
  std::call_once(once, Install);
  sigjmp_buf buf;
  sigjmp_buf* const outer = tls_guard;
  // Invariant: nothing assigned between sigsetjmp and a longjmp is read after it.
  if (sigsetjmp(buf, 0) != 0) {
    tls_guard = outer;
    return false;
  }
  tls_guard = &buf;
  fn(arg);
  tls_guard = outer;
  return true;
}

}  // namespace crust::os
