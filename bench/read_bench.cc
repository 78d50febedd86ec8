// Copyright (c) crust authors. Licensed under the MIT license.
//
// read_bench: what reading state back costs once history has piled up in
// delta layers (issue 9), next to LMDB doing the same work when the bench was
// built with it (Debian liblmdb-dev; CRUST_HAVE_LMDB).
//
// Setup: one module with a 1 GiB memory; H commits (default 200), each
// writing 32 random bytes into each of P random pages (default 160), so the
// newest commit's layers hold ~H*P distinct pages (>= 30,000). The LMDB
// database holds the same 1 GiB as 262,144 page-sized values (4 KiB, key =
// page number), written with the same pages changed, durable (no NOSYNC).
//
// Figures (median over R repetitions, default 30; page cache warm):
//  * reopen + read one random page: Store::Open + StartSession(newest) +
//    ReadMemory of 4 KiB; LMDB: env open + read txn + get + close.
//  * one transaction on the newest commit, k = 1 and 100 pages read and
//    written (32 bytes each), then Commit (sync); after 1 commit and after H
//    commits. LMDB: one write txn, k gets + puts, commit (fsync).
//  * a call-sized collection: in one session with D pages already dirty
//    (D = 0 and 65,536), a checkpoint, one write to a fresh page, release:
//    what a VM call around one fresh write costs.
//
// Environment: CRUST_BENCH_DIR (default bench-stores/ beside the binary),
// CRUST_READ_HISTORY=H, CRUST_READ_PAGES=P, CRUST_BENCH_REPS=R,
// CRUST_BENCH_QUICK=1 (64 MiB, H = 20, R = 5). Prints a Markdown table.
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "crust/session.h"
#include "crust/store.h"

#ifdef CRUST_HAVE_LMDB
#include <lmdb.h>
#endif

namespace crust::bench {
namespace {

constexpr uint64_t kPage = 4096;

ModuleId Target() {
  ModuleId id;
  id.bytes[31] = 1;
  return id;
}

struct Config {
  uint64_t mem = 1ull << 30;
  int history = 200;
  int pages = 160;
  int reps = 30;
  std::string dir;
};

std::unique_ptr<Store> OpenStore(const std::string& dir, bool sync) {
  StoreOptions o;
  o.sync = sync;
  return Take(Store::Open(dir, o), "Store::Open " + dir);
}

// Writes 32 bytes into each of `pages` random pages of the session's memory.
void Touch(Session* s, std::mt19937_64* rng, uint64_t mem, int pages, bool read_first) {
  Bytes data(32);
  Bytes page(kPage);
  for (int i = 0; i < pages; i++) {
    const uint64_t p = (*rng)() % (mem / kPage);
    if (read_first) Check(s->ReadMemory(Target(), p * kPage, page), "ReadMemory");
    for (auto& b : data) b = static_cast<uint8_t>((*rng)());
    Check(s->WriteMemory(Target(), p * kPage + (*rng)() % (kPage - 32), data), "WriteMemory");
  }
}

#ifdef CRUST_HAVE_LMDB
void Lmdb(int rc, const char* what) {
  if (rc != 0) Fail(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
}

struct LmdbFigures {
  double reopen_read = 0, txn1 = 0, txn100 = 0;
};

LmdbFigures RunLmdb(const Config& c) {
  const std::string path = c.dir + "/lmdb";
  std::filesystem::create_directories(path);
  auto open = [&](MDB_env** env) {
    Lmdb(mdb_env_create(env), "env_create");
    Lmdb(mdb_env_set_mapsize(*env, c.mem * 2 + (256ull << 20)), "set_mapsize");
    Lmdb(mdb_env_open(*env, path.c_str(), 0, 0644), "env_open");
  };
  MDB_env* env;
  open(&env);
  MDB_dbi dbi;
  std::mt19937_64 rng(7);
  Bytes page(kPage, 0);
  {
    MDB_txn* txn;
    Lmdb(mdb_txn_begin(env, nullptr, 0, &txn), "txn_begin");
    Lmdb(mdb_dbi_open(txn, nullptr, 0, &dbi), "dbi_open");
    for (uint64_t p = 0; p < c.mem / kPage; p++) {
      uint64_t key = __builtin_bswap64(p);
      MDB_val k{8, &key}, v{kPage, page.data()};
      Lmdb(mdb_put(txn, dbi, &k, &v, MDB_APPEND), "put");
    }
    Lmdb(mdb_txn_commit(txn), "commit");
  }
  auto txn_of = [&](int k) {
    MDB_txn* txn;
    Lmdb(mdb_txn_begin(env, nullptr, 0, &txn), "txn_begin");
    for (int i = 0; i < k; i++) {
      uint64_t key = __builtin_bswap64(rng() % (c.mem / kPage));
      MDB_val kv{8, &key}, v;
      Lmdb(mdb_get(txn, dbi, &kv, &v), "get");
      std::memcpy(page.data(), v.mv_data, kPage);
      for (int b = 0; b < 32; b++) page[rng() % kPage] = static_cast<uint8_t>(rng());
      MDB_val nv{kPage, page.data()};
      Lmdb(mdb_put(txn, dbi, &kv, &nv, 0), "put");
    }
    Lmdb(mdb_txn_commit(txn), "commit");
  };
  for (int h = 0; h < c.history; h++) txn_of(c.pages);
  LmdbFigures f;
  std::vector<double> t1, t100, rr;
  for (int r = 0; r < c.reps; r++) {
    auto t0 = Clock::now();
    txn_of(1);
    t1.push_back(MsSince(t0));
    t0 = Clock::now();
    txn_of(100);
    t100.push_back(MsSince(t0));
  }
  mdb_env_close(env);
  for (int r = 0; r < c.reps; r++) {
    const auto t0 = Clock::now();
    MDB_env* e;
    open(&e);
    MDB_txn* txn;
    Lmdb(mdb_txn_begin(e, nullptr, MDB_RDONLY, &txn), "txn_begin");
    MDB_dbi d;
    Lmdb(mdb_dbi_open(txn, nullptr, 0, &d), "dbi_open");
    uint64_t key = __builtin_bswap64(rng() % (c.mem / kPage));
    MDB_val kv{8, &key}, v;
    Lmdb(mdb_get(txn, d, &kv, &v), "get");
    std::memcpy(page.data(), v.mv_data, kPage);
    mdb_txn_abort(txn);
    mdb_env_close(e);
    rr.push_back(MsSince(t0));
  }
  f.reopen_read = Median(rr);
  f.txn1 = Median(t1);
  f.txn100 = Median(t100);
  return f;
}
#endif

// One transaction of k pages on `root`: new session, k reads and writes, commit.
double Transaction(Store* store, const Root& root, int k, std::mt19937_64* rng, uint64_t mem) {
  const auto t0 = Clock::now();
  auto s = Take(store->StartSession(root), "StartSession");
  Touch(s.get(), rng, mem, k, /*read_first=*/true);
  Take(s->Commit(), "Commit");
  s.reset();
  return MsSince(t0);
}

double CallWithDirty(Store* store, const Root& root, uint64_t mem, uint64_t dirty, int reps) {
  auto s = Take(store->StartSession(root), "StartSession");
  Bytes data(8, 1);
  for (uint64_t p = 0; p < dirty; p++) Check(s->WriteMemory(Target(), p * kPage, data), "WriteMemory");
  Check(s->Checkpoint(), "Checkpoint");  // collects them
  Check(s->Release(), "Release");
  std::vector<double> t;
  uint64_t fresh = dirty;
  for (int r = 0; r < reps * 20; r++) {
    const auto t0 = Clock::now();
    Check(s->Checkpoint(), "Checkpoint");
    Check(s->WriteMemory(Target(), (fresh++ % (mem / kPage)) * kPage, data), "WriteMemory");
    Check(s->Release(), "Release");
    Check(s->Checkpoint(), "Checkpoint");  // the next call's collection picks the write up
    Check(s->Release(), "Release");
    t.push_back(MsSince(t0) * 1000);
  }
  return Median(t);
}

}  // namespace
}  // namespace crust::bench

int main() {
  using namespace crust;
  using namespace crust::bench;
  Config c;
  const bool quick = EnvStr("CRUST_BENCH_QUICK") == "1";
  if (quick) {
    c.mem = 64ull << 20;
    c.history = 20;
    c.reps = 5;
  }
  if (!EnvStr("CRUST_READ_HISTORY").empty()) c.history = std::stoi(EnvStr("CRUST_READ_HISTORY"));
  if (!EnvStr("CRUST_READ_PAGES").empty()) c.pages = std::stoi(EnvStr("CRUST_READ_PAGES"));
  if (!EnvStr("CRUST_BENCH_REPS").empty()) c.reps = std::stoi(EnvStr("CRUST_BENCH_REPS"));
  std::string base = EnvStr("CRUST_BENCH_DIR");
  if (base.empty()) base = std::filesystem::path("/proc/self/exe").parent_path().string() + "/bench-stores";
  c.dir = base + "/read-" + std::to_string(getpid());
  std::filesystem::create_directories(c.dir);
  const std::string sdir = c.dir + "/store";

  std::mt19937_64 rng(1);
  Root first, last;
  {
    auto store = OpenStore(sdir, /*sync=*/false);
    auto g = Take(store->StartGenesis(), "StartGenesis");
    Check(g->AddModule(Target(), Bytes{1, 2, 3}, Bytes(1 << 20, 1), c.mem), "AddModule");
    const Root genesis = Take(g->Commit(), "genesis");
    auto s = Take(store->StartSession(genesis), "StartSession");
    Touch(s.get(), &rng, c.mem, c.pages, false);
    first = Take(s->Commit(), "Commit");
    for (int h = 1; h < c.history; h++) {
      Touch(s.get(), &rng, c.mem, c.pages, false);
      last = Take(s->Commit(), "Commit");
    }
  }
  auto probe = OpenStore(sdir, false);
  const CommitInfo info = Take(probe->ShowCommit(last), "ShowCommit");
  probe.reset();

  // Reopen + read one random page.
  std::vector<double> reopen;
  Bytes page(kPage);
  for (int r = 0; r < c.reps; r++) {
    const auto t0 = Clock::now();
    auto store = OpenStore(sdir, true);
    auto s = Take(store->StartSession(last), "StartSession");
    Check(s->ReadMemory(Target(), (rng() % (c.mem / kPage)) * kPage, page), "ReadMemory");
    reopen.push_back(MsSince(t0));
    s.reset();
    store.reset();
  }
  // Transactions after 1 and after H commits (alternated).
  auto store = OpenStore(sdir, true);
  std::vector<double> a1, aH, b1, bH;
  for (int r = 0; r < c.reps; r++) {
    a1.push_back(Transaction(store.get(), first, 1, &rng, c.mem));
    aH.push_back(Transaction(store.get(), last, 1, &rng, c.mem));
    b1.push_back(Transaction(store.get(), first, 100, &rng, c.mem));
    bH.push_back(Transaction(store.get(), last, 100, &rng, c.mem));
  }
  const double call0 = CallWithDirty(store.get(), last, c.mem, 0, c.reps);
  const double call64k = CallWithDirty(store.get(), last, c.mem, std::min<uint64_t>(65536, c.mem / kPage / 2), c.reps);
  store.reset();

  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("## read_bench: %" PRIu64 " MiB memory, %d commits of %d pages; newest commit: %u layers\n\n",
              c.mem >> 20, c.history, c.pages, info.modules.at(0).delta_layers);
  std::printf("load average %.2f %.2f %.2f\n\n", load[0], load[1], load[2]);
  std::printf("| figure | crust ms | LMDB ms | ratio |\n|---|---:|---:|---:|\n");
#ifdef CRUST_HAVE_LMDB
  const LmdbFigures l = RunLmdb(c);
#else
  struct {
    double reopen_read = 0, txn1 = 0, txn100 = 0;
  } l;
#endif
  auto row = [&](const char* what, double crust, double other) {
    if (other > 0) {
      std::printf("| %s | %.3f | %.3f | %.2f |\n", what, crust, other, crust / other);
    } else {
      std::printf("| %s | %.3f | (no LMDB) | |\n", what, crust);
    }
  };
  row("reopen + read one random page (newest commit)", Median(reopen), l.reopen_read);
  row("transaction, 1 page, after 1 commit", Median(a1), l.txn1);
  row("transaction, 1 page, after all commits", Median(aH), l.txn1);
  row("transaction, 100 pages, after 1 commit", Median(b1), l.txn100);
  row("transaction, 100 pages, after all commits", Median(bH), l.txn100);
  std::printf("\n| ratio | value |\n|---|---:|\n");
  std::printf("| 1 page: after all / after 1 | %.2f |\n", Median(aH) / Median(a1));
  std::printf("| 100 pages: after all / after 1 | %.2f |\n", Median(bH) / Median(b1));
  std::printf("| call writing a fresh page, us: 0 dirty / 64k dirty | %.2f / %.2f = %.2f |\n", call0, call64k,
              call64k / call0);
  if (EnvStr("CRUST_BENCH_KEEP") != "1") std::filesystem::remove_all(c.dir);
  return 0;
}
