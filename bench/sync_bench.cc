// Copyright (c) crust authors. Licensed under the MIT license.
//
// Export/import of commits (crust/sync.h, docs/sync.md), one run:
//  * full import of a state of SYNC_BENCH_MIB MiB (default 1024; one module,
//    every page random) from a local export directory, against the floor of
//    copying the same bytes: `cp` of the commit's memory image + `sync` of
//    the copy (fsync). Both read from the page cache (the export and the
//    image were just written) and both end with their data on disk; the
//    order alternates round by round. SYNC_BENCH_ROUNDS (default 4) rounds;
//    SYNC_BENCH_FULL_ONLY=1 stops after the full-import rows.
//  * incremental import of a commit that changed D random pages (D = 1,
//    100, 10000) when the importer holds the parent: chunk bytes fetched
//    against the bound 2 x D x 4 KiB (the manifest is counted apart).
//  * peak memory (VmHWM, as /usr/bin/time -v's max RSS of the exec'd
//    program) of the exporter, of `crust serve` (SyncServer)
//    serving a whole import, and of the importer (from the directory and
//    over HTTP), each in a child process (this program re-executed), for
//    the 1 GiB state and for a larger sparse one (SYNC_BENCH_SPARSE_MODULES,
//    default 32, modules of 256 MiB whose first 16 pages of every 256 are
//    random: 8 GiB of memory, 512 MiB of pages in 8192 runs).
// Prints a markdown table; docs/benchmarks.md quotes it with the load average.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/session.h"
#include "crust/store.h"
#include "crust/sync.h"

namespace {

using crust::bench::Check;
using crust::bench::Clock;
using crust::bench::MsSince;
using crust::bench::Take;

constexpr uint64_t kPage = 4096;

crust::ModuleId Id() {
  crust::ModuleId id;
  id.bytes.fill(0x5a);
  return id;
}

struct ChildResult {
  double ms = 0;
  double cpu_ms = 0;  // user + system
  long max_rss_kib = 0;
  crust::ImportStats stats;
};

// Runs `self --import-child STORE SOURCE ROOT` and reads its stats line.
// This process's peak resident memory (VmHWM, KiB): measured by the child
// itself, since the max RSS wait4 reports for a forked child includes the
// parent's resident memory at fork.
long PeakRssKib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  long kib = 0;
  char line[256];
  while (f != nullptr && std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld", &kib) == 1) break;
  }
  if (f != nullptr) std::fclose(f);
  return kib;
}

// Runs `self args...` with stdout to `out` (and stdin from `in_fd` when not
// -1); returns its pid.
pid_t Spawn(const std::string& self, const std::vector<std::string>& args, const std::string& out, int in_fd = -1) {
  pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    if (in_fd >= 0) dup2(in_fd, 0);
    std::vector<char*> argv{const_cast<char*>(self.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for a child; fills wall time (from t0), CPU and max RSS.
void Reap(pid_t pid, Clock::time_point t0, const std::string& what, ChildResult* r) {
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  r->ms = MsSince(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) crust::bench::Fail(what + " child failed");
  r->max_rss_kib = ru.ru_maxrss;
  r->cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

// The last number in a child's output (its peak RSS).
long ReadLastNumber(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  long v = 0, last = -1;
  while (f != nullptr && std::fscanf(f, "%ld", &v) == 1) last = v;
  if (f != nullptr) std::fclose(f);
  if (last < 0) crust::bench::Fail(path + ": no peak RSS");
  return last;
}

ChildResult ImportInChild(const std::string& self, const std::string& store, const std::string& source,
                          const crust::Root& root, const std::string& tmp, int parallel = 4) {
  const std::string out = tmp + "/child.out";
  auto t0 = Clock::now();
  pid_t pid = Spawn(self, {"--import-child", store, source, root.ToHex(), std::to_string(parallel)}, out);
  ChildResult r;
  Reap(pid, t0, "import", &r);
  FILE* f = std::fopen(out.c_str(), "r");
  unsigned long long v[6] = {};
  if (f == nullptr ||
      std::fscanf(f, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    crust::bench::Fail("import child printed no stats");
  }
  std::fclose(f);
  r.stats.manifest_bytes = v[0];
  r.stats.bytes_fetched = v[1];
  r.stats.pages_fetched = v[2];
  r.stats.pages_local = v[3];
  r.stats.requests = v[4];
  r.max_rss_kib = static_cast<long>(v[5]);
  return r;
}

int ImportChild(const std::string& store_dir, const std::string& source, const std::string& hex, int parallel) {
  crust::StoreOptions opt;
  auto store = Take(crust::Store::Open(store_dir, opt), "open " + store_dir);
  auto root = Take(crust::Hash32::FromHex(hex), "root");
  crust::ImportOptions io;
  io.parallel_fetches = parallel;
  auto s = Take(crust::ImportCommit(store.get(), source, root, io), "import");
  std::printf("%llu %llu %llu %llu %llu %ld\n", (unsigned long long)s.manifest_bytes,
              (unsigned long long)s.bytes_fetched, (unsigned long long)s.pages_fetched,
              (unsigned long long)s.pages_local, (unsigned long long)s.requests, PeakRssKib());
  return 0;
}

int ExportChild(const std::string& store_dir, const std::string& hex, const std::string& dir) {
  crust::StoreOptions opt;
  opt.read_only = true;
  auto store = Take(crust::Store::Open(store_dir, opt), "open " + store_dir);
  auto s = Take(crust::ExportCommit(store.get(), Take(crust::Hash32::FromHex(hex), "root"), dir), "export");
  std::printf("%llu %ld\n", (unsigned long long)s.manifest_bytes, PeakRssKib());
  return 0;
}

// Serves the store until its stdin closes; prints the port first.
int ServeChild(const std::string& store_dir) {
  crust::StoreOptions opt;
  opt.read_only = true;
  auto store = Take(crust::Store::Open(store_dir, opt), "open " + store_dir);
  auto server = Take(crust::SyncServer::Start(store.get(), "127.0.0.1", 0), "serve");
  std::printf("%d\n", server->port());
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  server->Stop();
  std::printf("%ld\n", PeakRssKib());
  return 0;
}

double ChildrenCpuMs() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

double Sh(const std::string& cmd, double* cpu_ms = nullptr) {
  auto t0 = Clock::now();
  const double cpu0 = ChildrenCpuMs();
  if (std::system(cmd.c_str()) != 0) crust::bench::Fail("command failed: " + cmd);
  if (cpu_ms != nullptr) *cpu_ms = ChildrenCpuMs() - cpu0;
  return MsSince(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--import-child") {
    return ImportChild(argv[2], argv[3], argv[4], std::stoi(argv[5]));
  }
  if (argc == 5 && std::string(argv[1]) == "--export-child") return ExportChild(argv[2], argv[3], argv[4]);
  if (argc == 3 && std::string(argv[1]) == "--serve-child") return ServeChild(argv[2]);
  const uint64_t mib = std::stoull(crust::bench::EnvStr("SYNC_BENCH_MIB", "1024"));
  const uint64_t length = mib << 20;
  char tmpl[] = "/tmp/crust-sync-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) crust::bench::Fail("mkdtemp");
  const std::string tmp = tmpl;
  const std::string self = "/proc/self/exe";
  char exe[4096];
  const ssize_t n = readlink(self.c_str(), exe, sizeof(exe) - 1);
  if (n <= 0) crust::bench::Fail("readlink /proc/self/exe");
  exe[n] = 0;

  // The source state: one module of `length` bytes, every page random.
  crust::StoreOptions opt;
  auto src = Take(crust::Store::Open(tmp + "/src", opt), "open src");
  crust::Root base;
  {
    auto g = Take(src->StartGenesis(), "genesis");
    Check(g->AddModule(Id(), crust::Bytes{0, 'a', 's', 'm', 1, 0, 0, 0}, {}, length), "add");
    std::mt19937_64 rng(42);
    crust::Bytes buf(64 << 20);
    for (uint64_t at = 0; at < length; at += buf.size()) {
      for (size_t i = 0; i < buf.size(); i += 8) *reinterpret_cast<uint64_t*>(buf.data() + i) = rng() | 1;
      Check(g->WriteMemory(Id(), at, crust::ByteView(buf.data(), std::min<uint64_t>(buf.size(), length - at))), "write");
    }
    base = Take(g->Commit(), "commit");
  }
  const std::string exp = tmp + "/export";
  auto t_export = Clock::now();
  Take(crust::ExportCommit(src.get(), base, exp), "export");
  const double export_ms = MsSince(t_export);
  const std::string image = tmp + "/src/" + base.ToHex() + "/memory/" + Id().ToHex();

  // Full import vs cp + fsync, SYNC_BENCH_ROUNDS rounds (default 4); medians.
  // The order alternates (even rounds copy first, odd rounds import first),
  // and each step follows the removal of the previous step's 1 GiB file, so
  // neither side always finds the memory and the disk in the same state
  // (docs/benchmarks.md: in this VM, page cache allocated from memory freed
  // seconds earlier costs ~1 s of kernel CPU per GiB).
  const int rounds = std::stoi(crust::bench::EnvStr("SYNC_BENCH_ROUNDS", "4"));
  std::vector<double> imports, floors, import_cpu, floor_cpu;
  ChildResult full;
  for (int round = 0; round < rounds; round++) {
    const std::string copy = tmp + "/copy";
    const std::string dst = tmp + "/dst" + std::to_string(round);
    auto floor = [&] {
      double cpu = 0;
      floors.push_back(Sh("cp " + image + " " + copy + " && sync " + copy, &cpu));
      floor_cpu.push_back(cpu);
      Sh("rm -f " + copy);
    };
    auto import = [&] {
      full = ImportInChild(exe, dst, exp, base, tmp);
      imports.push_back(full.ms);
      import_cpu.push_back(full.cpu_ms);
      if (round < rounds - 1) Sh("rm -rf " + dst);  // the last one holds `base` for the incremental rows
    };
    if (round % 2 == 0) {
      floor();
      import();
    } else {
      import();
      floor();
    }
  }
  const double import_ms = crust::bench::Median(imports), floor_ms = crust::bench::Median(floors);
  const double icpu = crust::bench::Median(import_cpu), fcpu = crust::bench::Median(floor_cpu);
  std::printf("| full import, %llu MiB state, local export | wall %.0f ms | cp + fsync wall %.0f ms | %.2fx | "
              "CPU %.0f ms vs %.0f ms | max RSS %ld MiB |\n",
              (unsigned long long)mib, import_ms, floor_ms, import_ms / floor_ms, icpu, fcpu, full.max_rss_kib / 1024);
  for (int i = 0; i < rounds; i++) {
    std::printf("  round %d (%s first): import %.0f ms (CPU %.0f ms), cp + fsync %.0f ms (CPU %.0f ms)\n", i,
                i % 2 == 0 ? "cp" : "import", imports[i], import_cpu[i], floors[i], floor_cpu[i]);
  }
  for (int parallel : {1, 2}) {  // the default (4) is the row above
    const std::string dst = tmp + "/dst-parallel" + std::to_string(parallel);
    ChildResult r = ImportInChild(exe, dst, exp, base, tmp, parallel);
    std::printf("| full import, parallel_fetches = %d | wall %.0f ms | | %.2fx | CPU %.0f ms | max RSS %ld MiB |\n",
                parallel, r.ms, r.ms / floor_ms, r.cpu_ms, r.max_rss_kib / 1024);
    Sh("rm -rf " + dst);
  }
  std::printf("| export (for reference) | %.0f ms | | | |\n", export_ms);
  std::fflush(stdout);
  if (crust::bench::EnvStr("SYNC_BENCH_FULL_ONLY", "0") == "1") {  // the full-import rows only
    double load[3] = {};
    getloadavg(load, 3);
    std::printf("\nload average: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    Sh("rm -rf " + tmp);
    return 0;
  }

  // Peak memory of exporter, server and importer: the dense state, and a
  // larger sparse one (more modules, more memory, a larger manifest).
  const uint64_t sparse_modules = std::stoull(crust::bench::EnvStr("SYNC_BENCH_SPARSE_MODULES", "32"));
  crust::Root sparse;
  {
    auto g = Take(src->StartGenesis(), "genesis");
    std::mt19937_64 rng(3);
    crust::Bytes page(kPage);
    for (uint64_t k = 0; k < sparse_modules; k++) {
      crust::ModuleId id;
      id.bytes.fill(0x11);
      id.bytes[0] = static_cast<uint8_t>(k >> 8);
      id.bytes[1] = static_cast<uint8_t>(k);
      Check(g->AddModule(id, crust::Bytes{0, 'a', 's', 'm', 1, 0, 0, 0, static_cast<uint8_t>(k)}, {}, 256ull << 20),
            "add");
      for (uint64_t p = 0; p < (256ull << 20) / kPage; p += (p % 256 == 15 ? 241 : 1)) {
        for (size_t i = 0; i < kPage; i += 8) *reinterpret_cast<uint64_t*>(page.data() + i) = rng() | 1;
        Check(g->WriteMemory(id, p * kPage, page), "write");
      }
    }
    sparse = Take(g->Commit(), "commit");
  }
  std::printf("\n| state | manifest bytes | export max RSS | serve max RSS | import (HTTP) max RSS | import (dir) max RSS | "
              "import (dir) wall |\n|---|---|---|---|---|---|---|\n");
  struct Case {
    std::string name;
    crust::Root root;
  };
  for (const Case& c : {Case{std::to_string(mib) + " MiB, every page", base},
                        Case{std::to_string(sparse_modules) + " x 256 MiB, 16 of every 256 pages", sparse}}) {
    const std::string dir = tmp + "/exp-mem";
    ChildResult e;
    Reap(Spawn(exe, {"--export-child", tmp + "/src", c.root.ToHex(), dir}, tmp + "/export.out"), Clock::now(),
         "export", &e);
    e.max_rss_kib = ReadLastNumber(tmp + "/export.out");
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) crust::bench::Fail("pipe");
    const std::string serve_out = tmp + "/serve.out";
    std::remove(serve_out.c_str());
    pid_t server = Spawn(exe, {"--serve-child", tmp + "/src"}, serve_out, pipe_fds[0]);
    close(pipe_fds[0]);
    int port = 0;
    for (int i = 0; i < 600 && port == 0; i++) {
      FILE* f = std::fopen(serve_out.c_str(), "r");
      if (f != nullptr) {
        if (std::fscanf(f, "%d", &port) != 1) port = 0;
        std::fclose(f);
      }
      if (port == 0) usleep(100000);
    }
    if (port == 0) crust::bench::Fail("serve child printed no port");
    ChildResult http = ImportInChild(exe, tmp + "/dst-http", "http://127.0.0.1:" + std::to_string(port), c.root, tmp);
    close(pipe_fds[1]);
    ChildResult served;
    Reap(server, Clock::now(), "serve", &served);
    served.max_rss_kib = ReadLastNumber(serve_out);
    ChildResult local = ImportInChild(exe, tmp + "/dst-dir", dir, c.root, tmp);
    std::printf("| %s | %llu | %ld MiB | %ld MiB | %ld MiB | %ld MiB | %.0f ms |\n", c.name.c_str(),
                (unsigned long long)local.stats.manifest_bytes, e.max_rss_kib / 1024, served.max_rss_kib / 1024,
                http.max_rss_kib / 1024, local.max_rss_kib / 1024, local.ms);
    std::fflush(stdout);
    Sh("rm -rf " + dir + " " + tmp + "/dst-http " + tmp + "/dst-dir");
  }

  // Incremental: the importer (the last round's store) holds `base`.
  const std::string holder = tmp + "/dst" + std::to_string(rounds - 1);
  std::printf("\n| D pages changed | chunk bytes fetched | bound 2 x D x 4 KiB | requests | manifest bytes | import ms | max RSS MiB |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::mt19937_64 rng(7);
  for (uint32_t d : {1u, 100u, 10000u}) {
    auto s = Take(src->StartSession(base), "session");
    std::set<uint32_t> pages;
    while (pages.size() < d) pages.insert(static_cast<uint32_t>(rng() % (length / kPage)));
    for (uint32_t p : pages) Check(s->WriteMemory(Id(), uint64_t{p} * kPage, crust::Bytes(8, 0xEE)), "write");
    crust::Root next = Take(s->Commit(), "commit");
    s.reset();
    Take(crust::ExportCommit(src.get(), next, exp), "export");
    ChildResult r = ImportInChild(exe, holder, exp, next, tmp);
    const uint64_t bound = 2ull * d * kPage;
    std::printf("| %u | %llu | %llu (%s) | %llu | %llu | %.0f | %ld |\n", d, (unsigned long long)r.stats.bytes_fetched,
                (unsigned long long)bound, r.stats.bytes_fetched <= bound ? "met" : "MISSED",
                (unsigned long long)r.stats.requests, (unsigned long long)r.stats.manifest_bytes, r.ms,
                r.max_rss_kib / 1024);
    std::fflush(stdout);
  }
  double load[3] = {};
  getloadavg(load, 3);
  std::printf("\nload average: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  Sh("rm -rf " + tmp);
  return 0;
}
