// Copyright (c) crust authors. Licensed under the MIT license.
//
// store_bench: commit and session-start times of the store, each next to a
// floor measured in the same run with plain POSIX calls (docs/benchmarks.md).
//
// Cases (one Google Benchmark entry each; --benchmark_filter selects):
//  * Commit/mem:<size>/modules:<M>/pages:<N>: commit (sync = true) of N dirty
//    4 KiB pages in one module of <size>, among M modules (the others small
//    and unchanged, hence hard links). Each repetition starts a new session
//    from the same genesis commit, writes 32 bytes into each of N pages spread
//    over the memory, and times Commit() alone. Interleaved with it: two
//    floors doing what a commit cannot avoid (see Floor below): one writing
//    the bytes crust wrote (the new delta layer or image, as allocated on
//    disk), one writing the raw dirty bytes (N x 4 KiB).
//  * History/mem:<size>: one module; commits of one dirty page from genesis
//    ("fresh"), then one session making H commits that each dirty a different
//    page, then a window of W more such commits, each timed with its floor.
//    Also session start on the last commit versus on genesis.
//  * SessionStart/modules:<M>: StartSession + first read of one module, and
//    StartSession + a read of every module, next to a floor that reads the
//    index and maps (MAP_PRIVATE) and reads the same files.
//
// Each figure is the median over the repetitions. Stores live under
// $CRUST_BENCH_DIR (default: bench-stores/ beside this executable), one
// directory per run, removed at exit unless CRUST_BENCH_KEEP=1.
//
// Environment: CRUST_BENCH_QUICK=1 (small sizes, 3 repetitions: a smoke test
// that finishes in seconds), CRUST_BENCH_REPS=n, CRUST_BENCH_DIR=dir,
// CRUST_BENCH_KEEP=1, CRUST_BENCH_LAZY=0 (StoreOptions::lazy_layers off:
// memories mapped eagerly, to compare). Flag --crust_markdown=FILE writes the result tables.
//
// No thresholds here: the targets are judged in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/session.h"
#include "crust/store.h"
#include "src/os/memory_region.h"
#include "src/store/session_region.h"

namespace {

using crust::ModuleId;
using crust::Root;
using crust::bench::Check;
using crust::bench::Clock;
using crust::bench::EnvStr;
using crust::bench::Fail;
using crust::bench::Median;
using crust::bench::MsSince;
using crust::bench::Take;
constexpr uint64_t kPage = 4096;
constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

// ---------------------------------------------------------------- helpers

void PosixCheck(bool ok, const std::string& what) {
  if (!ok) Fail(what + ": " + std::strerror(errno));
}

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double Max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

std::string SizeName(uint64_t b) {
  char buf[32];
  if (b >= GiB && b % GiB == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 "GiB", b / GiB);
  else if (b >= MiB && b % MiB == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 "MiB", b / MiB);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 "KiB", b / KiB);
  return buf;
}
std::string Bytes(uint64_t b) {
  char buf[32];
  if (b >= 10 * MiB) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / MiB);
  else if (b >= 10 * KiB) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / KiB);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
  return buf;
}
std::string F(double v, int prec = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// Module i's id: big-endian i + 1 in the first bytes, so ids sort as numbers.
ModuleId Id(uint32_t i) {
  ModuleId id;
  uint32_t v = i + 1;
  for (int b = 0; b < 4; b++) id.bytes[b] = static_cast<uint8_t>(v >> (24 - 8 * b));
  id.bytes[31] = 0xb0;
  return id;
}

crust::Bytes Bytecode(uint32_t i) {
  crust::Bytes b(2048);
  uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
  for (auto& c : b) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<uint8_t>(x);
  }
  return b;
}

// Gives `pages` pages of `data` a 16-byte non-zero header each: every page is
// stored (no holes), and a later 32-byte write leaves a sparse XOR delta.
void FillPages(uint8_t* data, uint64_t pages, uint64_t salt) {
  for (uint64_t p = 0; p < pages; p++) {
    uint64_t h[2] = {p + 1, salt ^ 0x5eed5eed5eed5eedull};
    std::memcpy(data + p * kPage, h, sizeof h);
  }
}

uint64_t write_counter = 0;  // makes every written state (hence root) unique
// Writes 32 bytes into page `page` of module `id`.
void DirtyPage(crust::Session* s, const ModuleId& id, uint64_t page, uint64_t j) {
  uint64_t v[4] = {++write_counter, page, j, 0xd1d1d1d1d1d1d1d1ull};
  uint64_t off = page * kPage + (j % 64) * 64;
  Check(s->WriteMemory(id, off, crust::ByteView(reinterpret_cast<const uint8_t*>(v), sizeof v)), "WriteMemory");
}

void SyncAll() { ::sync(); }

// ---------------------------------------------------------------- config

struct Config {
  bool quick = false;
  int reps = 15;
  std::string root;  // run directory
  bool keep = false;
  std::vector<uint64_t> mem_sizes;
  std::vector<int> module_counts;
  std::vector<int> dirty_counts;
  uint64_t other_min = 64 * KiB, other_max = 1 * MiB;  // the unchanged modules
  uint64_t history_mem = 64 * MiB;
  int history = 1000, window = 200;
  int start_modules = 1000;
  uint64_t start_module_size = 1 * MiB;
};

Config& Cfg() {
  static Config c;
  return c;
}

std::string DefaultBenchDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/tmp/crust-bench-stores";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.find_last_of('/')) + "/bench-stores";
}

void InitConfig() {
  Config& c = Cfg();
  c.quick = EnvStr("CRUST_BENCH_QUICK") == "1";
  c.keep = EnvStr("CRUST_BENCH_KEEP") == "1";
  if (c.quick) {
    c.reps = 3;
    c.mem_sizes = {4 * MiB, 16 * MiB};
    c.module_counts = {1, 50};
    c.dirty_counts = {1, 10, 100};
    c.history_mem = 4 * MiB;
    c.history = 100;
    c.window = 20;
    c.start_modules = 50;
  } else {
    c.mem_sizes = {64 * MiB, 1 * GiB};
    c.module_counts = {1, 1000};
    c.dirty_counts = {1, 100, 10000};
  }
  if (!EnvStr("CRUST_BENCH_REPS").empty()) c.reps = std::max(1, std::atoi(EnvStr("CRUST_BENCH_REPS").c_str()));
  std::string base = EnvStr("CRUST_BENCH_DIR", DefaultBenchDir());
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) Fail("create " + base + ": " + ec.message());
  // Leftovers of killed runs are reported, not deleted: deleting many files
  // right before measuring slows file creation on ext4 (design notes §3).
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    if (e.path().filename().string().rfind("run-", 0) == 0) {
      std::fprintf(stderr, "store_bench: note: leftover %s from an earlier run (remove it when convenient)\n",
                   e.path().c_str());
    }
  }
  c.root = base + "/run-" + std::to_string(::getpid());
  std::filesystem::create_directories(c.root, ec);
  if (ec) Fail("create " + c.root + ": " + ec.message());
}

// ---------------------------------------------------------------- floor

// What a commit physically cannot avoid, with plain POSIX calls:
//   mkdir staging; write `data_bytes` to a new file, fdatasync, close;
//   `links` hard links into staging; write `index_bytes` to a new index,
//   fdatasync, close; fsync staging; rename staging to its final name;
//   fsync the parent.
// (crust makes three directories, bytecode/ and memory/ inside staging, and
// fsyncs each; the floor uses one.)
struct FloorSpec {
  uint64_t data_bytes = 0;
  uint32_t links = 0;
  uint64_t index_bytes = 0;
  // Floor C ("same layout"): crust's directory layout instead of one
  // directory: bytecode/ and memory/ inside staging, the data file in memory/,
  // `links_bytecode` of the links in bytecode/ and the rest in memory/, new
  // files made read-only, and the three directories fsynced.
  bool layout = false;
  uint32_t links_bytecode = 0;
};

class Floor {
 public:
  explicit Floor(std::string dir) : dir_(std::move(dir)), src_(dir_ + "/src") {
    PosixCheck(::mkdir(dir_.c_str(), 0755) == 0, "mkdir " + dir_);
    PosixCheck(::mkdir(src_.c_str(), 0755) == 0, "mkdir " + src_);
  }

  double Run(const FloorSpec& spec) {
    Prepare(spec);
    const std::string staging = dir_ + "/.staging-" + std::to_string(seq_);
    const std::string final_dir = dir_ + "/" + Name(1u << 30 | seq_);
    seq_++;
    const std::string bdir = spec.layout ? staging + "/bytecode" : staging;
    const std::string mdir = spec.layout ? staging + "/memory" : staging;
    auto t0 = Clock::now();
    PosixCheck(::mkdir(staging.c_str(), 0755) == 0, "floor mkdir");
    if (spec.layout) {
      PosixCheck(::mkdir(bdir.c_str(), 0755) == 0, "floor mkdir");
      PosixCheck(::mkdir(mdir.c_str(), 0755) == 0, "floor mkdir");
    }
    for (uint32_t i = 0; i < spec.links; i++) {
      const std::string& d = spec.layout && i < spec.links_bytecode ? bdir : mdir;
      PosixCheck(::link((src_ + "/" + names_[i]).c_str(), (d + "/" + names_[i]).c_str()) == 0, "floor link");
    }
    if (spec.data_bytes) WriteFile(mdir + "/data", spec.data_bytes, spec.layout);
    WriteFile(staging + "/index", spec.index_bytes, spec.layout);
    if (spec.layout) {
      SyncDir(bdir);
      SyncDir(mdir);
    }
    SyncDir(staging);
    PosixCheck(::rename(staging.c_str(), final_dir.c_str()) == 0, "floor rename");
    SyncDir(dir_);
    return MsSince(t0);
  }

 private:
  static std::string Name(uint32_t i) {
    char buf[72];
    std::snprintf(buf, sizeof buf, "%064x", i);
    return buf;
  }
  // Untimed: link sources and a data buffer large enough.
  void Prepare(const FloorSpec& spec) {
    bool created = false;
    while (names_.size() < spec.links) {
      std::string name = Name(static_cast<uint32_t>(names_.size()));
      int fd = ::open((src_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
      PosixCheck(fd >= 0, "floor create source");
      PosixCheck(::write(fd, name.data(), name.size()) == static_cast<ssize_t>(name.size()), "floor write source");
      ::close(fd);
      names_.push_back(name);
      created = true;
    }
    if (created) SyncAll();
    uint64_t need = std::max(spec.data_bytes, spec.index_bytes);
    if (buf_.size() < need) {
      size_t old = buf_.size();
      buf_.resize(need);
      for (size_t i = old; i < need; i++) buf_[i] = static_cast<uint8_t>(i * 131 + 7);
    }
  }
  void WriteFile(const std::string& path, uint64_t bytes, bool read_only) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    PosixCheck(fd >= 0, "floor open " + path);
    uint64_t done = 0;
    while (done < bytes) {
      ssize_t n = ::write(fd, buf_.data() + done, bytes - done);
      PosixCheck(n > 0, "floor write");
      done += static_cast<uint64_t>(n);
    }
    PosixCheck(::fdatasync(fd) == 0, "floor fdatasync");
    ::close(fd);
    if (read_only) PosixCheck(::chmod(path.c_str(), 0444) == 0, "floor chmod");
  }
  static void SyncDir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    PosixCheck(fd >= 0, "floor open dir");
    PosixCheck(::fsync(fd) == 0, "floor fsync dir");
    ::close(fd);
  }

  const std::string dir_;
  const std::string src_;
  std::vector<std::string> names_;
  crust::Bytes buf_;
  uint32_t seq_ = 0;
};

// What a commit directory holds: files written for it (link count 1) and
// files hard-linked from earlier commits.
struct CommitStats {
  uint64_t new_bytes = 0;  // allocated bytes of new files (smaller of size and blocks)
  uint32_t new_files = 0;
  uint32_t links = 0;
  uint32_t links_bytecode = 0;
  uint64_t index_bytes = 0;
  bool image = false;      // a new base image (rebase) rather than a delta layer
};

CommitStats InspectCommit(const std::string& dir) {
  CommitStats st;
  for (const char* sub : {"bytecode", "memory"}) {
    std::string d = dir + "/" + sub;
    DIR* dp = ::opendir(d.c_str());
    PosixCheck(dp != nullptr, "opendir " + d);
    while (dirent* e = ::readdir(dp)) {
      if (e->d_name[0] == '.') continue;
      struct stat sb;
      std::string p = d + "/" + e->d_name;
      PosixCheck(::lstat(p.c_str(), &sb) == 0, "lstat " + p);
      if (sb.st_nlink == 1) {
        st.new_files++;
        st.new_bytes += std::min<uint64_t>(static_cast<uint64_t>(sb.st_size), static_cast<uint64_t>(sb.st_blocks) * 512);
        if (std::strstr(e->d_name, ".diff") == nullptr && std::strcmp(sub, "memory") == 0) st.image = true;
      } else {
        st.links++;
        if (std::strcmp(sub, "bytecode") == 0) st.links_bytecode++;
      }
    }
    ::closedir(dp);
  }
  struct stat sb;
  PosixCheck(::stat((dir + "/index").c_str(), &sb) == 0, "stat index");
  st.index_bytes = static_cast<uint64_t>(sb.st_size);
  return st;
}

FloorSpec SpecOf(const CommitStats& st, uint64_t data_bytes, bool layout = false) {
  return {data_bytes, st.links, st.index_bytes, layout, st.links_bytecode};
}

// ---------------------------------------------------------------- fixtures

// A store whose genesis commit holds `modules` modules; module `target` has
// `mem` bytes with every page stored, the others 64 KiB-1 MiB (first 64 KiB
// stored, the rest zero).
struct Fixture {
  std::string dir;
  std::unique_ptr<crust::Store> store;
  Root genesis;
  ModuleId target;
  uint64_t mem = 0;
  int modules = 0;
  std::unique_ptr<Floor> floor;
  bool exact_tracking = false;
  double genesis_ms = 0;
};

std::map<std::string, std::unique_ptr<Fixture>>& Fixtures() {
  static std::map<std::string, std::unique_ptr<Fixture>> f;
  return f;
}

Fixture* GetFixture(const std::string& name, uint64_t mem, int modules, int target_index,
                    uint64_t other_size_fixed = 0, bool fill_others = false) {
  auto& all = Fixtures();
  auto it = all.find(name);
  if (it != all.end()) return it->second.get();
  const Config& c = Cfg();
  auto fx = std::make_unique<Fixture>();
  fx->dir = c.root + "/" + name;
  fx->mem = mem;
  fx->modules = modules;
  PosixCheck(::mkdir(fx->dir.c_str(), 0755) == 0, "mkdir " + fx->dir);
  crust::StoreOptions opt;
  opt.sync = true;
  opt.lazy_layers = EnvStr("CRUST_BENCH_LAZY") != "0";  // 0: eager mapping, to compare
  fx->store = Take(crust::Store::Open(fx->dir + "/store", opt), "open store");
  auto t0 = Clock::now();
  auto g = Take(fx->store->StartGenesis(), "StartGenesis");
  fx->target = Id(static_cast<uint32_t>(target_index));
  for (int i = 0; i < modules; i++) {
    const ModuleId id = Id(static_cast<uint32_t>(i));
    uint64_t len, filled;
    if (i == target_index) {
      len = filled = mem;
    } else if (other_size_fixed) {
      len = other_size_fixed;
      filled = fill_others ? len : std::min<uint64_t>(len, 64 * KiB);
    } else {
      const uint64_t steps = (c.other_max - c.other_min) / (64 * KiB) + 1;
      len = c.other_min + (static_cast<uint64_t>(i) % steps) * 64 * KiB;
      filled = std::min<uint64_t>(len, 64 * KiB);
    }
    Check(g->AddModule(id, Bytecode(static_cast<uint32_t>(i)), {}, len), "AddModule");
    crust::os::MemoryRegion* r = Take(crust::store::SessionMemoryRegion(*g, id), "MemoryRegion");
    FillPages(r->data(), filled / kPage, static_cast<uint64_t>(i));
    if (i == target_index) fx->exact_tracking = r->exact();
  }
  fx->genesis = Take(g->Commit(), "genesis commit");
  g.reset();
  fx->genesis_ms = MsSince(t0);
  fx->floor = std::make_unique<Floor>(fx->dir + "/floor");
  SyncAll();
  std::fprintf(stderr, "store_bench: fixture %s: genesis of %d modules in %.0f ms\n", name.c_str(), modules,
               fx->genesis_ms);
  Fixture* p = fx.get();
  all[name] = std::move(fx);
  return p;
}

std::string CommitDir(const Fixture& fx, const Root& r) { return fx.dir + "/store/" + r.ToHex(); }

// ---------------------------------------------------------------- results

struct CommitRow {
  uint64_t mem;
  int modules;
  int pages;
  double crust_ms, floor_ms, floor_raw_ms, floor_layout_ms;
  double crust_min, crust_max;
  double paired_ratio;  // median over repetitions of crust / floor A of the same repetition
  CommitStats stats;
  bool exact;
};
struct HistoryRow {
  uint64_t mem;
  int history, window;
  double fresh_ms, fresh_floor_ms;
  double fresh_mean, fresh_max;  // the same statistics of the interleaved fresh commits
  double build_mean, build_median, build_max;
  int build_max_at;
  double win_mean, win_median, win_max;
  int win_max_at;
  double win_floor_mean, win_floor_median, win_floor_at_max;
  uint64_t win_max_bytes;
  double win_bytes_mean;
  uint32_t last_layers;
  double start_fresh_ms, start_hist_ms, start_floor_fresh_ms, start_floor_hist_ms;
};
struct StartRow {
  std::string what;
  int modules;
  uint64_t module_size;
  double crust_ms, floor_ms, end_ms;
};

struct SizeRow {
  int modules;
  uint64_t small, large;
  double small_ms, large_ms, paired;
};

std::vector<CommitRow> commit_rows;
std::vector<SizeRow> size_rows;
std::vector<HistoryRow> history_rows;
std::vector<StartRow> start_rows;

// ---------------------------------------------------------------- commit case

// One commit from genesis with `n` dirty pages of the target module.
// Returns (ms, stats).
std::pair<double, CommitStats> CrustCommit(Fixture* fx, int n, int rep) {
  auto s = Take(fx->store->StartSession(fx->genesis), "StartSession");
  const uint64_t pages = fx->mem / kPage;
  const uint64_t stride = std::max<uint64_t>(1, pages / static_cast<uint64_t>(n));
  const uint64_t shift = (static_cast<uint64_t>(rep) * 7919) % stride;
  for (int j = 0; j < n; j++) DirtyPage(s.get(), fx->target, (static_cast<uint64_t>(j) * stride + shift) % pages, j);
  auto t0 = Clock::now();
  Root r = Take(s->Commit(), "Commit");
  double ms = MsSince(t0);
  CommitStats st = InspectCommit(CommitDir(*fx, r));
  s.reset();
  return {ms, st};
}

void BM_Commit(benchmark::State& state, uint64_t mem, int modules, int n) {
  const Config& c = Cfg();
  Fixture* fx = GetFixture("commit-" + SizeName(mem) + "-m" + std::to_string(modules), mem, modules, modules / 2);
  // Warm-up (untimed): also tells the floors what a commit writes.
  CommitStats last = CrustCommit(fx, n, -1).second;
  std::vector<double> crust, floor, floor_raw, floor_layout;
  for (int rep = 0; rep < c.reps; rep++) {
    // Rotate the order so that neither side always runs first.
    for (int k = 0; k < 4; k++) {
      switch ((rep + k) % 4) {
        case 0: {
          auto [ms, st] = CrustCommit(fx, n, rep);
          crust.push_back(ms);
          last = st;
          break;
        }
        case 1:
          floor.push_back(fx->floor->Run(SpecOf(last, last.new_bytes)));
          break;
        case 2:
          floor_raw.push_back(fx->floor->Run(SpecOf(last, static_cast<uint64_t>(n) * kPage)));
          break;
        case 3:
          floor_layout.push_back(fx->floor->Run(SpecOf(last, last.new_bytes, /*layout=*/true)));
          break;
      }
    }
  }
  std::vector<double> paired;
  for (size_t i = 0; i < crust.size(); i++) paired.push_back(crust[i] / floor[i]);
  CommitRow row{mem, modules, n, Median(crust), Median(floor), Median(floor_raw), Median(floor_layout),
                *std::min_element(crust.begin(), crust.end()), Max(crust), Median(paired), last,
                fx->exact_tracking};
  commit_rows.push_back(row);
  for (auto _ : state) state.SetIterationTime(row.crust_ms / 1e3);
  state.counters["crust_ms"] = row.crust_ms;
  state.counters["floor_ms"] = row.floor_ms;
  state.counters["ratio"] = row.crust_ms / row.floor_ms;
  state.counters["floor_raw_ms"] = row.floor_raw_ms;
  state.counters["ratio_raw"] = row.crust_ms / row.floor_raw_ms;
  state.counters["written_B"] = static_cast<double>(last.new_bytes);
  state.counters["links"] = last.links;
  state.counters["floor_layout_ms"] = row.floor_layout_ms;
}

// ---------------------------------------------------------------- session start

// Files a session reads for module `hex` in commit `dir`: its memory image
// (mapped) and its delta layers (read whole).
struct ModuleFiles {
  std::string memory;
  uint64_t length;
  std::vector<std::string> layers;
};

std::vector<ModuleFiles> ListModuleFiles(crust::Store* store, const Root& root, const std::string& dir) {
  crust::CommitInfo info = Take(store->ShowCommit(root), "ShowCommit");
  std::vector<ModuleFiles> out;
  for (const auto& m : info.modules) {
    ModuleFiles f;
    f.memory = dir + "/memory/" + m.id.ToHex();
    f.length = m.memory_length;
    for (uint32_t k = 1; k <= m.delta_layers; k++) {
      std::string layer = f.memory + ".diff";
      if (k > 1) layer.append(".").append(std::to_string(k));
      f.layers.push_back(std::move(layer));
    }
    out.push_back(std::move(f));
  }
  return out;
}

void ReadWhole(const std::string& path, crust::Bytes* buf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PosixCheck(fd >= 0, "floor open " + path);
  struct stat sb;
  PosixCheck(::fstat(fd, &sb) == 0, "floor fstat");
  buf->resize(static_cast<size_t>(sb.st_size));
  size_t done = 0;
  while (done < buf->size()) {
    ssize_t n = ::pread(fd, buf->data() + done, buf->size() - done, static_cast<off_t>(done));
    PosixCheck(n > 0, "floor read " + path);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

// Floor of a session start: read the index; for each module in `which`, map
// its memory file copy-on-write, read its layer files and read one page.
double FloorStart(const std::string& dir, const std::vector<ModuleFiles>& files, const std::vector<size_t>& which,
                  uint64_t page) {
  struct Mapping {
    int fd;
    void* p;
    size_t len;
  };
  std::vector<Mapping> maps;
  maps.reserve(which.size());
  crust::Bytes buf;
  uint8_t out[kPage];
  auto t0 = Clock::now();
  ReadWhole(dir + "/index", &buf);
  for (size_t i : which) {
    const ModuleFiles& f = files[i];
    int fd = ::open(f.memory.c_str(), O_RDONLY | O_CLOEXEC);
    PosixCheck(fd >= 0, "floor open " + f.memory);
    void* p = ::mmap(nullptr, f.length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    PosixCheck(p != MAP_FAILED, "floor mmap");
    for (const std::string& l : f.layers) ReadWhole(l, &buf);
    std::memcpy(out, static_cast<uint8_t*>(p) + (page % (f.length / kPage)) * kPage, kPage);
    benchmark::DoNotOptimize(out);
    maps.push_back({fd, p, f.length});
  }
  double ms = MsSince(t0);
  for (auto& m : maps) {
    ::munmap(m.p, m.len);
    ::close(m.fd);
  }
  return ms;
}

struct StartTimes {
  double start_ms, end_ms;
};
StartTimes CrustStart(crust::Store* store, const Root& root, const std::vector<ModuleId>& which, uint64_t page) {
  uint8_t out[kPage];
  auto t0 = Clock::now();
  auto s = Take(store->StartSession(root), "StartSession");
  for (const ModuleId& id : which) {
    uint64_t len = Take(s->MemoryLength(id), "MemoryLength");
    Check(s->ReadMemory(id, (page % (len / kPage)) * kPage, out), "ReadMemory");
  }
  double ms = MsSince(t0);
  benchmark::DoNotOptimize(out);
  auto t1 = Clock::now();
  s.reset();
  return {ms, MsSince(t1)};
}

void BM_SessionStart(benchmark::State& state) {
  const Config& c = Cfg();
  Fixture* fx = GetFixture("start-m" + std::to_string(c.start_modules), c.start_module_size, c.start_modules, 0,
                           c.start_module_size, /*fill_others=*/true);
  const std::string dir = CommitDir(*fx, fx->genesis);
  std::vector<ModuleFiles> files = ListModuleFiles(fx->store.get(), fx->genesis, dir);
  std::vector<ModuleId> all_ids;
  std::vector<size_t> all_idx;
  for (int i = 0; i < fx->modules; i++) {
    all_ids.push_back(Id(static_cast<uint32_t>(i)));
    all_idx.push_back(static_cast<size_t>(i));
  }
  CrustStart(fx->store.get(), fx->genesis, all_ids, 0);  // warm-up
  for (int touch_all = 0; touch_all < 2; touch_all++) {
    std::vector<double> crust, floor, end;
    for (int rep = 0; rep < c.reps; rep++) {
      const size_t k = (static_cast<size_t>(rep) * 37 + 11) % fx->modules;
      std::vector<ModuleId> ids = touch_all ? all_ids : std::vector<ModuleId>{Id(static_cast<uint32_t>(k))};
      std::vector<size_t> idx = touch_all ? all_idx : std::vector<size_t>{k};
      const uint64_t page = static_cast<uint64_t>(rep) * 13 + 1;
      for (int o = 0; o < 2; o++) {
        if ((rep + o) % 2 == 0) {
          StartTimes t = CrustStart(fx->store.get(), fx->genesis, ids, page);
          crust.push_back(t.start_ms);
          end.push_back(t.end_ms);
        } else {
          floor.push_back(FloorStart(dir, files, idx, page));
        }
      }
    }
    StartRow row{touch_all ? "start + read one page of every module" : "start + first read of one module",
                 fx->modules, fx->mem, Median(crust), Median(floor), Median(end)};
    start_rows.push_back(row);
    state.counters[touch_all ? "all_crust_ms" : "one_crust_ms"] = row.crust_ms;
    state.counters[touch_all ? "all_floor_ms" : "one_floor_ms"] = row.floor_ms;
  }
  for (auto _ : state) state.SetIterationTime(start_rows[start_rows.size() - 2].crust_ms / 1e3);
}

// ---------------------------------------------------------------- history

void BM_History(benchmark::State& state) {
  const Config& c = Cfg();
  Fixture* fx = GetFixture("history-" + SizeName(c.history_mem), c.history_mem, 1, 0);
  HistoryRow row{};
  row.mem = fx->mem;
  row.history = c.history;
  row.window = c.window;
  // History: one session, one new page per commit (page i*13 mod pages: all
  // distinct while i < pages, as 13 is odd and pages a power of two).
  const uint64_t pages = fx->mem / kPage;
  auto s = Take(fx->store->StartSession(fx->genesis), "StartSession");
  std::vector<double> build;
  Root last_root = fx->genesis;
  for (int i = 0; i < c.history; i++) {
    DirtyPage(s.get(), fx->target, (static_cast<uint64_t>(i) * 13) % pages, static_cast<uint64_t>(i));
    auto t0 = Clock::now();
    last_root = Take(s->Commit(), "Commit");
    build.push_back(MsSince(t0));
  }
  // The window: each step makes one more commit in the long session and,
  // interleaved, one "fresh" commit (a new session on genesis, one dirty
  // page), each with its floor, so that both see the same machine load.
  std::vector<double> win, win_floor, fresh, fresh_floor;
  std::vector<uint64_t> win_bytes;
  for (int w = 0; w < c.window; w++) {
    const int i = c.history + w;
    DirtyPage(s.get(), fx->target, (static_cast<uint64_t>(i) * 13) % pages, static_cast<uint64_t>(i));
    auto t0 = Clock::now();
    last_root = Take(s->Commit(), "Commit");
    win.push_back(MsSince(t0));
    CommitStats st = InspectCommit(CommitDir(*fx, last_root));
    win_bytes.push_back(st.new_bytes);
    win_floor.push_back(fx->floor->Run(SpecOf(st, st.new_bytes)));
    auto [ms, fst] = CrustCommit(fx, 1, w);
    fresh.push_back(ms);
    fresh_floor.push_back(fx->floor->Run(SpecOf(fst, fst.new_bytes)));
  }
  s.reset();
  row.fresh_ms = Median(fresh);
  row.fresh_mean = Mean(fresh);
  row.fresh_max = Max(fresh);
  row.fresh_floor_ms = Median(fresh_floor);
  row.build_mean = Mean(build);
  row.build_median = Median(build);
  row.build_max = Max(build);
  row.build_max_at = static_cast<int>(std::max_element(build.begin(), build.end()) - build.begin()) + 1;
  row.win_mean = Mean(win);
  row.win_median = Median(win);
  row.win_max = Max(win);
  size_t at = static_cast<size_t>(std::max_element(win.begin(), win.end()) - win.begin());
  row.win_max_at = c.history + static_cast<int>(at) + 1;
  row.win_floor_mean = Mean(win_floor);
  row.win_floor_median = Median(win_floor);
  row.win_floor_at_max = win_floor[at];
  row.win_max_bytes = win_bytes[at];
  row.win_bytes_mean = 0;
  for (uint64_t b : win_bytes) row.win_bytes_mean += static_cast<double>(b) / static_cast<double>(win_bytes.size());
  crust::CommitInfo info = Take(fx->store->ShowCommit(last_root), "ShowCommit");
  row.last_layers = info.modules.at(0).delta_layers;

  // Session start (+ first read) on the last commit versus on genesis.
  const std::string gdir = CommitDir(*fx, fx->genesis), ldir = CommitDir(*fx, last_root);
  auto gfiles = ListModuleFiles(fx->store.get(), fx->genesis, gdir);
  auto lfiles = ListModuleFiles(fx->store.get(), last_root, ldir);
  std::vector<double> sg, sl, fg, fl;
  for (int rep = 0; rep < c.reps; rep++) {
    const uint64_t page = static_cast<uint64_t>(rep) * 29 + 3;
    sg.push_back(CrustStart(fx->store.get(), fx->genesis, {fx->target}, page).start_ms);
    fg.push_back(FloorStart(gdir, gfiles, {0}, page));
    fl.push_back(FloorStart(ldir, lfiles, {0}, page));
    sl.push_back(CrustStart(fx->store.get(), last_root, {fx->target}, page).start_ms);
  }
  row.start_fresh_ms = Median(sg);
  row.start_hist_ms = Median(sl);
  row.start_floor_fresh_ms = Median(fg);
  row.start_floor_hist_ms = Median(fl);
  history_rows.push_back(row);
  for (auto _ : state) state.SetIterationTime(row.win_mean / 1e3);
  state.counters["fresh_ms"] = row.fresh_ms;
  state.counters["win_mean_ms"] = row.win_mean;
  state.counters["win_max_ms"] = row.win_max;
  state.counters["win_floor_mean_ms"] = row.win_floor_mean;
  state.counters["layers"] = row.last_layers;
}

// One dirty page in a small and a large memory (the Commit cases' stores),
// alternated so that both see the same load: is the cost independent of
// memory size?
void BM_OnePageSizes(benchmark::State& state, int modules) {
  const Config& c = Cfg();
  const uint64_t small = c.mem_sizes.front(), large = c.mem_sizes.back();
  Fixture* fs = GetFixture("commit-" + SizeName(small) + "-m" + std::to_string(modules), small, modules, modules / 2);
  Fixture* fl = GetFixture("commit-" + SizeName(large) + "-m" + std::to_string(modules), large, modules, modules / 2);
  std::vector<double> ts, tl, paired;
  const int reps = 2 * c.reps;
  for (int rep = 0; rep < reps; rep++) {
    double a = 0, b = 0;
    if (rep % 2 == 0) {
      a = CrustCommit(fs, 1, 1000 + rep).first;
      b = CrustCommit(fl, 1, 1000 + rep).first;
    } else {
      b = CrustCommit(fl, 1, 1000 + rep).first;
      a = CrustCommit(fs, 1, 1000 + rep).first;
    }
    ts.push_back(a);
    tl.push_back(b);
    paired.push_back(b / a);
  }
  SizeRow row{modules, small, large, Median(ts), Median(tl), Median(paired)};
  size_rows.push_back(row);
  for (auto _ : state) state.SetIterationTime(row.large_ms / 1e3);
  state.counters["small_ms"] = row.small_ms;
  state.counters["large_ms"] = row.large_ms;
  state.counters["ratio"] = row.large_ms / row.small_ms;
  state.counters["paired"] = row.paired;
}

// ---------------------------------------------------------------- report

std::string Verdict(double ratio, double target) { return ratio <= target ? "meets" : "**misses**"; }

void WriteMarkdown(const std::string& path) {
  const Config& c = Cfg();
  std::ostringstream o;
  utsname u{};
  ::uname(&u);
  std::string cpu = "?";
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) == 0) {
        cpu = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  struct statfs sf{};
  ::statfs(c.root.c_str(), &sf);
  const bool ext4 = sf.f_type == 0xEF53;
  bool exact = !commit_rows.empty() ? commit_rows[0].exact : true;
  o << "Machine: " << u.sysname << " " << u.release << ", " << ::sysconf(_SC_NPROCESSORS_ONLN) << " CPUs (" << cpu
    << "), store on " << (ext4 ? "ext4" : "a non-ext4 filesystem") << " (" << c.root.substr(0, c.root.rfind('/'))
    << "); dirty tracking " << (exact ? "exact (userfaultfd + PAGEMAP_SCAN)" : "pagemap fallback") << "; "
    << c.reps << " repetitions per figure, medians" << (c.quick ? "; **quick mode (small sizes)**" : "") << ".\n\n";

  if (!commit_rows.empty()) {
    o << "### Commit (sync = true)\n\n"
      << "Floor A writes the bytes crust wrote (new delta layer or image, allocated size); floor B writes the raw "
         "dirty bytes (pages x 4 KiB). Both add the same number of hard links and the publish step (one directory). "
         "Floor C is floor A with crust's directory layout (bytecode/ and memory/ inside the commit directory, "
         "three directory fsyncs, read-only files): what the on-disk format itself costs. Target: ratio A <= 1.5.\n\n"
      << "Ratio A is median crust / median floor A; \"paired\" is the median of the per-repetition ratios (the "
         "two run back to back, so it suffers less from the load of a shared machine).\n\n"
      << "| memory | modules | dirty pages | crust ms | floor A ms | ratio A | paired | floor B ms | ratio B | "
         "floor C ms | ratio C | crust wrote | links | target 1.5x |\n"
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n";
    for (const auto& r : commit_rows) {
      double ra = r.crust_ms / r.floor_ms, rb = r.crust_ms / r.floor_raw_ms;
      o << "| " << SizeName(r.mem) << " | " << r.modules << " | " << r.pages << " | " << F(r.crust_ms) << " | "
        << F(r.floor_ms) << " | " << F(ra) << " | " << F(r.paired_ratio) << " | " << F(r.floor_raw_ms) << " | " << F(rb) << " | "
        << F(r.floor_layout_ms) << " | " << F(r.crust_ms / r.floor_layout_ms) << " | " << (r.stats.image ? "image " : "delta ") << Bytes(r.stats.new_bytes) << " | " << r.stats.links << " | "
        << Verdict(ra, 1.5) << " |\n";
    }
    o << "\n";
  }

  // One dirty page: independence of memory size and history.
  std::ostringstream ind;
  for (const auto& r : size_rows) {
    double ratio = r.large_ms / r.small_ms;
    ind << "| " << SizeName(r.large) << " vs " << SizeName(r.small) << ", " << r.modules << " module(s), alternated | "
        << F(r.large_ms) << " / " << F(r.small_ms) << " | " << F(ratio) << " (paired " << F(r.paired) << ") | "
        << Verdict(std::max(ratio, 1 / ratio), 1.3) << " |\n";
  }
  for (const auto& h : history_rows) {
    // Like for like: each statistic of the window against the same statistic
    // of the fresh commits interleaved with it (an I/O spike lands in either
    // series' mean and max alike; a mean against a median would count it
    // against one side only).
    double rmean = h.win_mean / h.fresh_mean, rmed = h.win_median / h.fresh_ms, rmax = h.win_max / h.fresh_max;
    ind << "| after " << h.history << " commits vs fresh, " << SizeName(h.mem) << ": mean / mean | " << F(h.win_mean)
        << " / " << F(h.fresh_mean) << " | " << F(rmean) << " | " << Verdict(rmean, 1.3) << " |\n";
    ind << "| after " << h.history << " commits vs fresh, " << SizeName(h.mem) << ": median / median | "
        << F(h.win_median) << " / " << F(h.fresh_ms) << " | " << F(rmed) << " | " << Verdict(rmed, 1.3) << " |\n";
    ind << "| after " << h.history << " commits vs fresh, " << SizeName(h.mem) << ": max / max | " << F(h.win_max)
        << " / " << F(h.fresh_max) << " | " << F(rmax) << " | " << Verdict(rmax, 1.3) << " (worst single commit) |\n";
  }
  if (!ind.str().empty()) {
    o << "### One dirty page: independent of memory size and history (target within 1.3x)\n\n"
      << "| comparison | crust ms | ratio | target 1.3x |\n|---|---:|---:|---|\n"
      << ind.str() << "\n";
  }

  for (const auto& h : history_rows) {
    o << "### Commit after " << h.history << " earlier commits (one module of " << SizeName(h.mem)
      << ", one new page per commit)\n\n"
      << "One session makes " << h.history << " commits, each dirtying a different page, then a window of "
      << h.window << " more, each timed with its floor (same bytes written, same links, publish) and each followed "
         "by a fresh commit (new session on genesis, one page) with its floor. Layer merging is "
         "geometric, so a few commits rewrite a merged layer: the mean is the amortised cost, the max the worst "
         "commit seen.\n\n"
      << "| figure | crust ms | floor ms | ratio | target |\n|---|---:|---:|---:|---|\n"
      << "| fresh (1 page on genesis, interleaved with the window; median) | " << F(h.fresh_ms) << " | " << F(h.fresh_floor_ms) << " | "
      << F(h.fresh_ms / h.fresh_floor_ms) << " | " << Verdict(h.fresh_ms / h.fresh_floor_ms, 1.5) << " |\n"
      << "| fresh: mean / max | " << F(h.fresh_mean) << " / " << F(h.fresh_max) << " | | | |\n"
      << "| window mean (commits " << h.history + 1 << "-" << h.history + h.window << ") | " << F(h.win_mean) << " | "
      << F(h.win_floor_mean) << " | " << F(h.win_mean / h.win_floor_mean) << " | "
      << Verdict(h.win_mean / h.win_floor_mean, 1.5) << " |\n"
      << "| window median | " << F(h.win_median) << " | " << F(h.win_floor_median) << " | "
      << F(h.win_median / h.win_floor_median) << " | " << Verdict(h.win_median / h.win_floor_median, 1.5) << " |\n"
      << "| window: mean bytes written per commit | " << Bytes(static_cast<uint64_t>(h.win_bytes_mean))
      << " | | | |\n"
      << "| window max (commit " << h.win_max_at << ", wrote " << Bytes(h.win_max_bytes) << ") | " << F(h.win_max)
      << " | " << F(h.win_floor_at_max) << " | " << F(h.win_max / h.win_floor_at_max) << " | "
      << Verdict(h.win_max / h.win_floor_at_max, 1.5) << " |\n"
      << "| commits 1-" << h.history << ": mean / median | " << F(h.build_mean) << " / " << F(h.build_median)
      << " | | | |\n"
      << "| commits 1-" << h.history << ": max (commit " << h.build_max_at << ") | " << F(h.build_max)
      << " | | | |\n"
      << "| session start + first read, on genesis | " << F(h.start_fresh_ms) << " | " << F(h.start_floor_fresh_ms)
      << " | " << F(h.start_fresh_ms / h.start_floor_fresh_ms) << " | |\n"
      << "| session start + first read, after " << h.history + h.window << " commits (" << h.last_layers
      << " layers) | " << F(h.start_hist_ms) << " | " << F(h.start_floor_hist_ms) << " | "
      << F(h.start_hist_ms / h.start_floor_hist_ms) << " | |\n\n";
  }

  if (!start_rows.empty()) {
    o << "### Session start over " << start_rows[0].modules << " modules of " << SizeName(start_rows[0].module_size)
      << "\n\n"
      << "Floor: read the index, then for each module read open + mmap (MAP_PRIVATE) its memory file and read one "
         "page. Page cache warm. Session end (unmapping) is shown apart, not included.\n\n"
      << "| figure | crust ms | floor ms | ratio | session end ms |\n|---|---:|---:|---:|---:|\n";
    for (const auto& r : start_rows) {
      o << "| " << r.what << " | " << F(r.crust_ms) << " | " << F(r.floor_ms) << " | " << F(r.crust_ms / r.floor_ms)
        << " | " << F(r.end_ms) << " |\n";
    }
    o << "\n";
  }
  std::ofstream out(path);
  out << o.str();
  if (!out) Fail("cannot write " + path);
}

void RegisterAll() {
  const Config& c = Cfg();
  for (uint64_t mem : c.mem_sizes) {
    for (int m : c.module_counts) {
      for (int n : c.dirty_counts) {
        std::string name = "Commit/mem:" + SizeName(mem) + "/modules:" + std::to_string(m) + "/pages:" +
                           std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), BM_Commit, mem, m, n)
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  if (c.mem_sizes.size() >= 2) {
    for (int m : c.module_counts) {
      benchmark::RegisterBenchmark(("OnePage/" + SizeName(c.mem_sizes.back()) + "_vs_" + SizeName(c.mem_sizes.front()) +
                                    "/modules:" + std::to_string(m))
                                       .c_str(),
                                   BM_OnePageSizes, m)
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark(("History/mem:" + SizeName(c.history_mem) + "/commits:" + std::to_string(c.history))
                                   .c_str(),
                               BM_History)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("SessionStart/modules:" + std::to_string(c.start_modules) + "/size:" +
                                SizeName(c.start_module_size))
                                   .c_str(),
                               BM_SessionStart)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  std::string markdown = crust::bench::TakeMarkdownFlag(argc, argv, &args);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  InitConfig();
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!markdown.empty()) WriteMarkdown(markdown);
  Fixtures().clear();  // closes the stores
  if (!Cfg().keep) {
    std::error_code ec;
    std::filesystem::remove_all(Cfg().root, ec);
    if (ec) std::fprintf(stderr, "store_bench: could not remove %s: %s\n", Cfg().root.c_str(), ec.message().c_str());
  } else {
    std::fprintf(stderr, "store_bench: kept %s\n", Cfg().root.c_str());
  }
  return 0;
}
