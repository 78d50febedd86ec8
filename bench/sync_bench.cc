// Copyright (c) crust authors. Licensed under the MIT license.
//
// Export/import of commits (crust/sync.h, docs/sync.md), one run:
//  * full import of a state of SYNC_BENCH_MIB MiB (default 1024; one module,
//    every page random) from a local export directory, against the floor of
//    copying the same bytes: `cp` of the commit's memory image + `sync` of
//    the copy (fsync). Both read from the page cache (the export and the
//    image were just written) and both end with their data on disk.
//  * incremental import of a commit that changed D random pages (D = 1,
//    100, 10000) when the importer holds the parent: chunk bytes fetched
//    against the bound 2 x D x 4 KiB (the manifest is counted apart).
//  * peak memory (max RSS) of each import, run in a child process (this
//    program re-executed), against the state's size.
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
ChildResult ImportInChild(const std::string& self, const std::string& store, const std::string& source,
                          const crust::Root& root, const std::string& tmp) {
  const std::string out = tmp + "/child.out";
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    const std::string hex = root.ToHex();
    execl(self.c_str(), self.c_str(), "--import-child", store.c_str(), source.c_str(), hex.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  ChildResult r;
  r.ms = MsSince(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) crust::bench::Fail("import child failed");
  r.max_rss_kib = ru.ru_maxrss;
  r.cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  FILE* f = std::fopen(out.c_str(), "r");
  unsigned long long v[5] = {};
  if (f == nullptr || std::fscanf(f, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) {
    crust::bench::Fail("import child printed no stats");
  }
  std::fclose(f);
  r.stats.manifest_bytes = v[0];
  r.stats.bytes_fetched = v[1];
  r.stats.pages_fetched = v[2];
  r.stats.pages_local = v[3];
  r.stats.requests = v[4];
  return r;
}

int ImportChild(const std::string& store_dir, const std::string& source, const std::string& hex) {
  crust::StoreOptions opt;
  auto store = Take(crust::Store::Open(store_dir, opt), "open " + store_dir);
  auto root = Take(crust::Hash32::FromHex(hex), "root");
  auto s = Take(crust::ImportCommit(store.get(), source, root), "import");
  std::printf("%llu %llu %llu %llu %llu\n", (unsigned long long)s.manifest_bytes, (unsigned long long)s.bytes_fetched,
              (unsigned long long)s.pages_fetched, (unsigned long long)s.pages_local,
              (unsigned long long)s.requests);
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
  if (argc == 5 && std::string(argv[1]) == "--import-child") return ImportChild(argv[2], argv[3], argv[4]);
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

  // Full import vs cp + fsync, alternated, three rounds; medians.
  std::vector<double> imports, floors, import_cpu, floor_cpu;
  ChildResult full;
  for (int round = 0; round < 3; round++) {
    const std::string copy = tmp + "/copy";
    double cpu = 0;
    floors.push_back(Sh("cp " + image + " " + copy + " && sync " + copy, &cpu));
    floor_cpu.push_back(cpu);
    Sh("rm -f " + copy);
    const std::string dst = tmp + "/dst" + std::to_string(round);
    full = ImportInChild(exe, dst, exp, base, tmp);
    imports.push_back(full.ms);
    import_cpu.push_back(full.cpu_ms);
    if (round < 2) Sh("rm -rf " + dst);
  }
  const double import_ms = crust::bench::Median(imports), floor_ms = crust::bench::Median(floors);
  const double icpu = crust::bench::Median(import_cpu), fcpu = crust::bench::Median(floor_cpu);
  std::printf("| full import, %llu MiB state, local export | wall %.0f ms | cp + fsync wall %.0f ms | %.2fx | "
              "CPU %.0f ms vs %.0f ms | max RSS %ld MiB |\n",
              (unsigned long long)mib, import_ms, floor_ms, import_ms / floor_ms, icpu, fcpu, full.max_rss_kib / 1024);
  for (int i = 0; i < 3; i++) std::printf("  round %d: import %.0f ms, cp + fsync %.0f ms\n", i, imports[i], floors[i]);
  std::printf("| export (for reference) | %.0f ms | | | |\n", export_ms);
  std::fflush(stdout);

  // Incremental: the importer (dst2) holds `base`.
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
    ChildResult r = ImportInChild(exe, tmp + "/dst2", exp, next, tmp);
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
