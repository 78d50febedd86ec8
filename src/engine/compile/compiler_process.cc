// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/compiler_process.h"

#include <dlfcn.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace crust::engine {
namespace {

constexpr rlim_t kCompilerStackBytes = rlim_t{64} << 20;

std::string TailOf(const std::string& path, size_t max = 2000) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const off_t start = size > static_cast<off_t>(max) ? size - static_cast<off_t>(max) : 0;
  std::string out(static_cast<size_t>(size - start), '\0');
  const ssize_t n = ::pread(fd, out.data(), out.size(), start);
  ::close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// In the child, between fork and exec: async-signal-safe calls only.
// Output goes to `out_fd` when it is >= 0, else to the file `output`.
[[noreturn]] void ExecChild(const std::vector<char*>& argv, const char* output, int out_fd,
                            const ProcessLimits& limits) {
  ::setpgid(0, 0);
  struct rlimit as = {limits.address_space_bytes, limits.address_space_bytes};
  struct rlimit cpu = {limits.cpu_seconds, limits.cpu_seconds + 5};
  ::setrlimit(RLIMIT_AS, &as);
  ::setrlimit(RLIMIT_CPU, &cpu);
  // A fixed stack, not the node's `ulimit -s`: cc1 recurses deeply on large
  // functions (at 1 MiB it crashes on modules that compile at 8 MiB), and
  // whether a module compiles must not depend on the host's shell.
  struct rlimit stack = {kCompilerStackBytes, kCompilerStackBytes};
  ::setrlimit(RLIMIT_STACK, &stack);
  const int in = ::open("/dev/null", O_RDONLY);
  const int out = out_fd >= 0 ? out_fd : ::open(output, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0) ::_exit(126);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  // The runtime's handlers are for wasm code: restore defaults for the child.
  ::signal(SIGSEGV, SIG_DFL);
  ::signal(SIGBUS, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv.data());
  // Say why in the output (the parent reports its tail): strerror is not
  // async-signal-safe, so fixed texts for the usual causes.
  const int err = errno;
  const char* why = err == ENOENT   ? "exec failed: no such file (not installed, or not in PATH)\n"
                    : err == EACCES ? "exec failed: permission denied\n"
                                    : "exec failed\n";
  if (::write(out, why, std::strlen(why)) < 0) ::_exit(127);
  ::_exit(127);
}

uint64_t NowMillis() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// Waits for pid, killing its process group after the wall limit.
Result<int> WaitWithDeadline(pid_t pid, uint32_t wall_seconds, const std::atomic<bool>* cancel, bool* timed_out,
                             bool* cancelled) {
  const uint64_t deadline = NowMillis() + uint64_t{wall_seconds} * 1000;
  uint32_t sleep_us = 200;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return Status::IOError(std::string("waitpid: ") + std::strerror(errno));
    if (NowMillis() > deadline && !*timed_out) {
      *timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed) && !*cancelled) {
      *cancelled = true;
      ::kill(-pid, SIGKILL);
    }
    ::usleep(sleep_us);
    if (sleep_us < 20000) sleep_us *= 2;
  }
}

}  // namespace

Status RunProcess(const std::vector<std::string>& args, const std::string& output_path,
                  const ProcessLimits& limits) {
  if (args.empty()) return Status::InvalidArgument("RunProcess: empty argv");
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) ExecChild(argv, output_path.c_str(), -1, limits);
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins
  bool timed_out = false, cancelled = false;
  ASSIGN_OR_RETURN(const int status, WaitWithDeadline(pid, limits.wall_seconds, limits.cancel, &timed_out, &cancelled));
  ::kill(-pid, SIGKILL);  // stragglers of the group (e.g. cc1 after the driver died)
  const std::string what = args[0];
  if (cancelled) return Status::ResourceExhausted(what + " cancelled");
  if (timed_out) {
    return Status::ResourceExhausted(what + " exceeded the wall-clock limit of " +
                                     std::to_string(limits.wall_seconds) + " s");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGXCPU || sig == SIGKILL) {
      return Status::ResourceExhausted(what + " killed by signal " + std::to_string(sig) + " (CPU or memory limit)");
    }
    return Status::IOError(what + " killed by signal " + std::to_string(sig) + ": " + TailOf(output_path));
  }
  const int code = WEXITSTATUS(status);
  const std::string tail = TailOf(output_path);
  if (tail.find("out of memory") != std::string::npos || tail.find("Cannot allocate") != std::string::npos ||
      tail.find("CPU time limit") != std::string::npos) {
    return Status::ResourceExhausted(what + " hit a resource limit: " + tail);
  }
  if (code == 127) return Status::IOError("cannot execute " + what + ": " + (tail.empty() ? "exec failed" : tail));
  return Status::IOError(what + " exited with status " + std::to_string(code) + ": " + tail);
}

Result<std::string> RunProcessCapture(const std::vector<std::string>& args, const ProcessLimits& limits,
                                      size_t max_output) {
  if (args.empty()) return Status::InvalidArgument("RunProcessCapture: empty argv");
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) ExecChild(argv, nullptr, fds[1], limits);  // dup2 clears O_CLOEXEC on 1 and 2
  ::setpgid(pid, pid);
  ::close(fds[1]);
  std::string out;
  const uint64_t deadline = NowMillis() + uint64_t{limits.wall_seconds} * 1000;
  bool timed_out = false;
  for (;;) {
    const uint64_t now = NowMillis();
    if (now >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(deadline - now < 1000 ? deadline - now : 1000));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < max_output) out.append(buf, std::min(static_cast<size_t>(n), max_output - out.size()));
  }
  ::close(fds[0]);
  bool cancelled = false;
  ASSIGN_OR_RETURN(const int status, WaitWithDeadline(pid, limits.wall_seconds, limits.cancel, &timed_out, &cancelled));
  ::kill(-pid, SIGKILL);
  const std::string what = args[0];
  if (cancelled) return Status::ResourceExhausted(what + " cancelled");
  if (timed_out) {
    return Status::ResourceExhausted(what + " exceeded the wall-clock limit of " +
                                     std::to_string(limits.wall_seconds) + " s");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  if (WIFSIGNALED(status)) return Status::IOError(what + " killed by signal " + std::to_string(WTERMSIG(status)));
  if (WEXITSTATUS(status) == 127) {
    // The child wrote why exec failed where the output goes (ExecChild).
    return Status::IOError("cannot execute " + what + ": " + (out.empty() ? std::string("exec failed") : out));
  }
  return Status::IOError(what + " exited with status " + std::to_string(WEXITSTATUS(status)) + ": " + out);
}

namespace {

std::string LastDlError() {
  const char* err = ::dlerror();
  return err != nullptr ? err : "unknown error";
}

// True if `path` lies on a file system mounted noexec, where the kernel
// refuses executable mappings of its files (dlopen fails, whatever the file).
bool OnNoexecFileSystem(const std::string& path) {
  struct statvfs st = {};
  return ::statvfs(path.c_str(), &st) == 0 && (st.f_flag & ST_NOEXEC) != 0;
}

// An anonymous file (memfd) holding a copy of `path`, or -1 with `why` set.
int CopyToAnonymousFile(const std::string& path, std::string* why) {
  const int src = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) {
    *why = "open: " + std::string(std::strerror(errno));
    return -1;
  }
  struct stat st = {};
  if (::fstat(src, &st) != 0) {
    *why = "fstat: " + std::string(std::strerror(errno));
    ::close(src);
    return -1;
  }
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable even where vm.memfd_noexec makes memfds noexec by default
#endif
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "crust-code", MFD_CLOEXEC | MFD_EXEC));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(::syscall(SYS_memfd_create, "crust-code", MFD_CLOEXEC));
  if (fd < 0) {
    *why = "memfd_create: " + std::string(std::strerror(errno));
    ::close(src);
    return -1;
  }
  off_t offset = 0;
  while (offset < st.st_size) {
    const ssize_t n = ::sendfile(fd, src, &offset, static_cast<size_t>(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *why = "copy: " + std::string(n < 0 ? std::strerror(errno) : "the file shrank while it was copied");
      ::close(fd);
      ::close(src);
      return -1;
    }
  }
  ::close(src);
  return fd;
}

}  // namespace

Result<std::unique_ptr<SharedObject>> SharedObject::Open(const std::string& path) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h != nullptr) return std::unique_ptr<SharedObject>(new SharedObject(h));
  const std::string err = LastDlError();
  if (!OnNoexecFileSystem(path)) return Status::Corruption("dlopen " + path + ": " + err);
  // The file is fine; its file system forbids mapping it executable. Load an
  // anonymous copy instead (the same bytes: the caller checked them first).
  // The copy's descriptor stays open while the object is loaded: the loader
  // knows the object by the name /proc/self/fd/N and hands an object already
  // loaded under a name back instead of opening the file, so N must not be
  // reused (by the next copy) before this object is unloaded.
  std::string why;
  const int fd = CopyToAnonymousFile(path, &why);
  if (fd >= 0) {
    h = ::dlopen(("/proc/self/fd/" + std::to_string(fd)).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h != nullptr) return std::unique_ptr<SharedObject>(new SharedObject(h, fd));
    why = "dlopen of the copy: " + LastDlError();
    ::close(fd);
  }
  return Status::NotSupported(
      "compiled code cannot be loaded: " + path + " is on a file system mounted noexec (" + err +
      "), and loading a copy of it from an anonymous file failed too (" + why +
      "); put the code cache on a file system that allows execution (VmOptions::code_cache_dir, "
      "crust --code-cache DIR)");
}

SharedObject::~SharedObject() {
  ::dlclose(handle_);
  if (copy_fd_ >= 0) ::close(copy_fd_);  // after the loader let go of its name
}

Result<void*> SharedObject::Symbol(const char* name) const {
  ::dlerror();
  void* p = ::dlsym(handle_, name);
  if (p == nullptr) return Status::NotFound(std::string("symbol ") + name);
  return p;
}

}  // namespace crust::engine
