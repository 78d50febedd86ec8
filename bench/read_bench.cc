// Copyright (c) crust authors. Licensed under the MIT license.
//
// read_bench: what reading state back costs once history has piled up in
// delta layers (issue 9), next to LMDB, RocksDB and SQLite doing the same
// work, each when the bench was built with it (Debian liblmdb-dev,
// librocksdb-dev, libsqlite3-dev; CRUST_HAVE_LMDB/ROCKSDB/SQLITE). Each holds
// the same 1 GiB as 4 KiB values keyed by page number and commits durably
// (LMDB: fsync at commit; RocksDB: WriteBatch with sync; SQLite: WAL with
// synchronous=FULL).
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
//  * first touch of a random page of the newest commit: through the memory's
//    raw pointer (as contract code: a fault the lazy-fill thread serves) and
//    through ReadMemory (filled on the caller's thread), µs per page.
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
#include "src/store/session_region.h"

#ifdef CRUST_HAVE_LMDB
#include <lmdb.h>
#endif
#ifdef CRUST_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#endif
#ifdef CRUST_HAVE_SQLITE
#include <sqlite3.h>
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

// What each engine is measured on (ms, medians); 0: not built in.
struct OtherFigures {
  double reopen_read = 0, txn1 = 0, txn100 = 0;
};

// Changes 32 random bytes of a page (the same change shape as Touch).
void Scribble(Bytes* page, std::mt19937_64* rng) {
  for (int b = 0; b < 32; b++) (*page)[(*rng)() % kPage] = static_cast<uint8_t>((*rng)());
}

// An engine's transactions: its history (c.history transactions of c.pages
// pages, untimed), then c.reps rounds of one timed transaction of 1 page and
// one of 100 (txn_of(k): one durable transaction reading and writing k
// random pages). Returns the medians in txn1 and txn100.
template <typename TxnOf>
OtherFigures TimeTxns(const Config& c, TxnOf&& txn_of) {
  for (int h = 0; h < c.history; h++) txn_of(c.pages);
  std::vector<double> t1, t100;
  for (int r = 0; r < c.reps; r++) {
    auto t0 = Clock::now();
    txn_of(1);
    t1.push_back(MsSince(t0));
    t0 = Clock::now();
    txn_of(100);
    t100.push_back(MsSince(t0));
  }
  OtherFigures f;
  f.txn1 = Median(t1);
  f.txn100 = Median(t100);
  return f;
}

#ifdef CRUST_HAVE_LMDB
void Lmdb(int rc, const char* what) {
  if (rc != 0) Fail(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
}

OtherFigures RunLmdb(const Config& c) {
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
      Scribble(&page, &rng);
      MDB_val nv{kPage, page.data()};
      Lmdb(mdb_put(txn, dbi, &kv, &nv, 0), "put");
    }
    Lmdb(mdb_txn_commit(txn), "commit");
  };
  OtherFigures f = TimeTxns(c, txn_of);
  std::vector<double> rr;
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
  return f;
}
#endif

#ifdef CRUST_HAVE_ROCKSDB
void Rocks(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) Fail(std::string("rocksdb ") + what + ": " + s.ToString());
}

// RocksDB: the same pages as 4 KiB values keyed by big-endian page number;
// every transaction is one WriteBatch written with sync = true (durable).
OtherFigures RunRocksDb(const Config& c) {
  const std::string path = c.dir + "/rocksdb";
  rocksdb::Options o;
  o.create_if_missing = true;
  o.compression = rocksdb::kNoCompression;
  auto open = [&] {
    rocksdb::DB* db = nullptr;
    Rocks(rocksdb::DB::Open(o, path, &db), "open");
    return std::unique_ptr<rocksdb::DB>(db);
  };
  auto key_of = [](uint64_t p) {
    uint64_t k = __builtin_bswap64(p);
    return std::string(reinterpret_cast<const char*>(&k), 8);
  };
  std::mt19937_64 rng(7);
  Bytes page(kPage, 0);
  {
    auto db = open();
    rocksdb::WriteOptions bulk;
    bulk.disableWAL = true;
    for (uint64_t p = 0; p < c.mem / kPage;) {
      rocksdb::WriteBatch b;
      for (int i = 0; i < 1024 && p < c.mem / kPage; i++, p++) {
        b.Put(key_of(p), rocksdb::Slice(reinterpret_cast<const char*>(page.data()), kPage));
      }
      Rocks(db->Write(bulk, &b), "bulk write");
    }
    Rocks(db->Flush(rocksdb::FlushOptions()), "flush");
  }
  auto db = open();
  rocksdb::WriteOptions durable;
  durable.sync = true;
  auto txn_of = [&](int k) {
    rocksdb::WriteBatch b;
    std::string v;
    for (int i = 0; i < k; i++) {
      const std::string key = key_of(rng() % (c.mem / kPage));
      Rocks(db->Get(rocksdb::ReadOptions(), key, &v), "get");
      std::memcpy(page.data(), v.data(), kPage);
      Scribble(&page, &rng);
      b.Put(key, rocksdb::Slice(reinterpret_cast<const char*>(page.data()), kPage));
    }
    Rocks(db->Write(durable, &b), "write");
  };
  OtherFigures f = TimeTxns(c, txn_of);
  std::vector<double> rr;
  db.reset();
  for (int r = 0; r < c.reps; r++) {
    const auto t0 = Clock::now();
    auto d = open();
    std::string v;
    Rocks(d->Get(rocksdb::ReadOptions(), key_of(rng() % (c.mem / kPage)), &v), "get");
    std::memcpy(page.data(), v.data(), kPage);
    rr.push_back(MsSince(t0));
  }
  f.reopen_read = Median(rr);
  return f;
}
#endif

#ifdef CRUST_HAVE_SQLITE
void Sql(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Fail(std::string("sqlite ") + what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
}

// SQLite: a table (page INTEGER PRIMARY KEY, data BLOB) of 4 KiB blobs, WAL
// journal with synchronous=FULL (every commit fsynced), 4 KiB pages.
OtherFigures RunSqlite(const Config& c) {
  const std::string path = c.dir + "/sqlite.db";
  auto open = [&] {
    sqlite3* db = nullptr;
    Sql(db, sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), "open");
    Sql(db, sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr), "synchronous");
    return db;
  };
  auto exec = [](sqlite3* db, const char* q) { Sql(db, sqlite3_exec(db, q, nullptr, nullptr, nullptr), q); };
  std::mt19937_64 rng(7);
  Bytes page(kPage, 0);
  sqlite3* db = open();
  exec(db, "PRAGMA page_size=4096");
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "CREATE TABLE pages (page INTEGER PRIMARY KEY, data BLOB NOT NULL)");
  sqlite3_stmt* ins;
  Sql(db, sqlite3_prepare_v2(db, "INSERT INTO pages VALUES (?, ?)", -1, &ins, nullptr), "prepare insert");
  exec(db, "BEGIN");
  for (uint64_t p = 0; p < c.mem / kPage; p++) {
    sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(p));
    sqlite3_bind_blob(ins, 2, page.data(), kPage, SQLITE_STATIC);
    Sql(db, sqlite3_step(ins), "insert");
    sqlite3_reset(ins);
  }
  exec(db, "COMMIT");
  sqlite3_finalize(ins);
  sqlite3_stmt *get, *put;
  Sql(db, sqlite3_prepare_v2(db, "SELECT data FROM pages WHERE page = ?", -1, &get, nullptr), "prepare get");
  Sql(db, sqlite3_prepare_v2(db, "UPDATE pages SET data = ? WHERE page = ?", -1, &put, nullptr), "prepare put");
  auto txn_of = [&](int k) {
    exec(db, "BEGIN");
    for (int i = 0; i < k; i++) {
      const auto p = static_cast<sqlite3_int64>(rng() % (c.mem / kPage));
      sqlite3_bind_int64(get, 1, p);
      if (sqlite3_step(get) != SQLITE_ROW) Fail("sqlite get: no row");
      std::memcpy(page.data(), sqlite3_column_blob(get, 0), kPage);
      sqlite3_reset(get);
      Scribble(&page, &rng);
      sqlite3_bind_blob(put, 1, page.data(), kPage, SQLITE_STATIC);
      sqlite3_bind_int64(put, 2, p);
      Sql(db, sqlite3_step(put), "update");
      sqlite3_reset(put);
    }
    exec(db, "COMMIT");
  };
  OtherFigures f = TimeTxns(c, txn_of);
  std::vector<double> rr;
  sqlite3_finalize(get);
  sqlite3_finalize(put);
  sqlite3_close(db);
  for (int r = 0; r < c.reps; r++) {
    const auto t0 = Clock::now();
    sqlite3* d = open();
    sqlite3_stmt* g;
    Sql(d, sqlite3_prepare_v2(d, "SELECT data FROM pages WHERE page = ?", -1, &g, nullptr), "prepare get");
    sqlite3_bind_int64(g, 1, static_cast<sqlite3_int64>(rng() % (c.mem / kPage)));
    if (sqlite3_step(g) != SQLITE_ROW) Fail("sqlite get: no row");
    std::memcpy(page.data(), sqlite3_column_blob(g, 0), kPage);
    sqlite3_finalize(g);
    sqlite3_close(d);
    rr.push_back(MsSince(t0));
  }
  f.reopen_read = Median(rr);
  return f;
}
#endif

// One transaction of k pages on `root`: new session, k reads and writes, commit.
// Returns the time in ms; *before_commit gets the part before Commit.
double Transaction(Store* store, const Root& root, int k, std::mt19937_64* rng, uint64_t mem,
                   std::vector<double>* before_commit) {
  const auto t0 = Clock::now();
  auto s = Take(store->StartSession(root), "StartSession");
  Touch(s.get(), rng, mem, k, /*read_first=*/true);
  before_commit->push_back(MsSince(t0));
  Take(s->Commit(), "Commit");
  s.reset();
  return MsSince(t0);
}

// A session on `root` with `dirty` pages already dirty and collected.
std::unique_ptr<Session> DirtySession(Store* store, const Root& root, uint64_t dirty) {
  auto s = Take(store->StartSession(root), "StartSession");
  Bytes data(8, 1);
  for (uint64_t p = 0; p < dirty; p++) Check(s->WriteMemory(Target(), p * kPage, data), "WriteMemory");
  Check(s->Checkpoint(), "Checkpoint");  // collects them
  Check(s->Release(), "Release");
  return s;
}

// One call-sized collection writing a fresh page, in microseconds.
double CallOnce(Session* s, uint64_t page) {
  static const Bytes data(8, 1);
  const auto t0 = Clock::now();
  Check(s->Checkpoint(), "Checkpoint");
  Check(s->WriteMemory(Target(), page * kPage, data), "WriteMemory");
  Check(s->Release(), "Release");
  Check(s->Checkpoint(), "Checkpoint");  // the next call's collection picks the write up
  Check(s->Release(), "Release");
  return MsSince(t0) * 1000;
}

// The call with 0 and with `dirty` pages dirty, measured alternately (one
// call on each session in turn, so that load changes hit both alike), in
// rounds of 100 pairs; each figure is the median over all its calls and the
// ratio is the median of the rounds' ratios of medians.
struct CallFigures {
  double none = 0, many = 0, ratio = 0;
};
CallFigures CallWithDirty(Store* store, const Root& root, uint64_t mem, uint64_t dirty, int reps) {
  auto a = DirtySession(store, root, 0);
  auto b = DirtySession(store, root, dirty);
  std::vector<double> ta, tb, ratios;
  uint64_t fa = mem / kPage / 2 + dirty, fb = dirty;  // fresh pages, never the same twice in a session
  for (int round = 0; round < std::max(10, reps); round++) {
    std::vector<double> ra, rb;
    for (int i = 0; i < 100; i++) {
      ra.push_back(CallOnce(a.get(), fa++ % (mem / kPage)));
      rb.push_back(CallOnce(b.get(), fb++ % (mem / kPage)));
    }
    ratios.push_back(Median(rb) / Median(ra));
    ta.insert(ta.end(), ra.begin(), ra.end());
    tb.insert(tb.end(), rb.begin(), rb.end());
  }
  return {Median(ta), Median(tb), Median(ratios)};
}

// First touches of `pages` random pages of `root`'s memory, in µs per page,
// each repetition in two new sessions: through the raw pointer, as contract
// code touches memory (each page a fault that the lazy-fill handler thread
// fills), and through ReadMemory (filled on the calling thread). Medians.
struct TouchFigures {
  double fault_us = 0, caller_us = 0;
};
TouchFigures FirstTouches(Store* store, const Root& root, uint64_t mem, int pages, int reps, std::mt19937_64* rng) {
  std::vector<double> by_fault, by_caller;
  std::vector<uint64_t> which(static_cast<size_t>(pages));
  for (int r = 0; r < reps; r++) {
    for (uint64_t& p : which) p = (*rng)() % (mem / kPage);
    {
      auto s = Take(store->StartSession(root), "StartSession");
      const uint8_t* m = Take(store::SessionMemoryRegion(*s, Target()), "SessionMemoryRegion")->data();
      const auto t0 = Clock::now();
      for (uint64_t p : which) (void)*static_cast<const volatile uint8_t*>(m + p * kPage);
      by_fault.push_back(MsSince(t0) * 1000 / pages);
    }
    {
      auto s = Take(store->StartSession(root), "StartSession");
      Check(s->ReadMemory(Target(), 0, std::span<uint8_t>()), "ReadMemory");  // maps it, as above
      uint8_t byte[1];
      const auto t0 = Clock::now();
      for (uint64_t p : which) Check(s->ReadMemory(Target(), p * kPage, byte), "ReadMemory");
      by_caller.push_back(MsSince(t0) * 1000 / pages);
    }
  }
  return {Median(by_fault), Median(by_caller)};
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
  if (base.empty()) base = std::filesystem::read_symlink("/proc/self/exe").parent_path().string() + "/bench-stores";
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
  std::vector<double> reopen, open_part, start_part, read_part;
  Bytes page(kPage);
  for (int r = 0; r < c.reps; r++) {
    const auto t0 = Clock::now();
    auto store = OpenStore(sdir, true);
    const auto t1 = Clock::now();
    auto s = Take(store->StartSession(last), "StartSession");
    const auto t2 = Clock::now();
    Check(s->ReadMemory(Target(), (rng() % (c.mem / kPage)) * kPage, page), "ReadMemory");
    reopen.push_back(MsSince(t0));
    open_part.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    start_part.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    read_part.push_back(MsSince(t2));
    s.reset();
    store.reset();
  }
  // Transactions after 1 and after H commits (alternated).
  auto store = OpenStore(sdir, true);
  std::vector<double> a1, aH, b1, bH, pa1, paH, pb1, pbH;
  for (int r = 0; r < c.reps; r++) {
    a1.push_back(Transaction(store.get(), first, 1, &rng, c.mem, &pa1));
    aH.push_back(Transaction(store.get(), last, 1, &rng, c.mem, &paH));
    b1.push_back(Transaction(store.get(), first, 100, &rng, c.mem, &pb1));
    bH.push_back(Transaction(store.get(), last, 100, &rng, c.mem, &pbH));
  }
  const CallFigures call =
      CallWithDirty(store.get(), last, c.mem, std::min<uint64_t>(65536, c.mem / kPage / 4), c.reps);
  const TouchFigures touch = FirstTouches(store.get(), last, c.mem, 100, c.reps, &rng);
  store.reset();

  const char* names[3] = {"LMDB", "RocksDB", "SQLite"};
  OtherFigures other[3];
#ifdef CRUST_HAVE_LMDB
  other[0] = RunLmdb(c);
#endif
#ifdef CRUST_HAVE_ROCKSDB
  other[1] = RunRocksDb(c);
#endif
#ifdef CRUST_HAVE_SQLITE
  other[2] = RunSqlite(c);
#endif
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("## read_bench: %" PRIu64 " MiB memory, %d commits of %d pages; newest commit: %u layers\n\n",
              c.mem >> 20, c.history, c.pages, info.modules.at(0).delta_layers);
  std::printf("load average %.2f %.2f %.2f (at the end)\n\n", load[0], load[1], load[2]);
  std::printf("| figure | crust ms |");
  for (const char* n : names) std::printf(" %s ms | crust / %s |", n, n);
  std::printf("\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  auto row = [&](const char* what, double crust, double OtherFigures::*field) {
    std::printf("| %s | %.3f |", what, crust);
    for (const OtherFigures& o : other) {
      if (o.*field > 0) {
        std::printf(" %.3f | %.2f |", o.*field, crust / (o.*field));
      } else {
        std::printf(" (not built) | |");
      }
    }
    std::printf("\n");
  };
  row("reopen + read one random page (newest commit)", Median(reopen), &OtherFigures::reopen_read);
  row("transaction, 1 page, after 1 commit", Median(a1), &OtherFigures::txn1);
  row("transaction, 1 page, after all commits", Median(aH), &OtherFigures::txn1);
  row("transaction, 100 pages, after 1 commit", Median(b1), &OtherFigures::txn100);
  row("transaction, 100 pages, after all commits", Median(bH), &OtherFigures::txn100);
  std::printf("\nreopen + read, parts (medians, ms): Store::Open %.3f, StartSession %.3f, first ReadMemory %.3f\n",
              Median(open_part), Median(start_part), Median(read_part));
  std::printf("\ntransactions before Commit (session start, reads and writes; medians, ms): 1 page %.3f after 1, %.3f "
              "after all; 100 pages %.3f after 1, %.3f after all\n",
              Median(pa1), Median(paH), Median(pb1), Median(pbH));
  std::printf("\n| ratio | value |\n|---|---:|\n");
  std::printf("| 1 page: after all / after 1 | %.2f |\n", Median(aH) / Median(a1));
  std::printf("| 100 pages: after all / after 1 | %.2f |\n", Median(bH) / Median(b1));
  std::printf("| call writing a fresh page, us: 0 dirty / 64k dirty (median of per-round ratios) | %.2f / %.2f = %.2f |\n",
              call.none, call.many, call.ratio);
  std::printf("| first touch of a random page (newest commit), us: by a fault (fault thread) / by ReadMemory "
              "(caller's thread) | %.1f / %.1f |\n",
              touch.fault_us, touch.caller_us);
  if (EnvStr("CRUST_BENCH_KEEP") != "1") std::filesystem::remove_all(c.dir);
  return 0;
}
