// Copyright (c) crust authors. Licensed under the MIT license.
//
// The page tree's hash (docs/format.md, format 2: BLAKE3) against the
// baseline it replaced (format 1: SHA-256 of 0x00 || page, OpenSSL with
// SHA-NI where the CPU has it), on the same 10,000 random 4 KiB pages (40 MB,
// the largest commit of bench/store_bench.cc), one thread; and the 64-byte
// tree nodes. Console output only (Google Benchmark): the figure is
// bytes_per_second, and the ratio between the rows of one run is what
// docs/benchmarks.md quotes.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "src/store/page_tree.h"
#include "src/util/sha256.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 10000;

const std::vector<uint8_t>& Pages() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> d(kPages * kPage);
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < d.size(); i += 8) {
      const uint64_t v = rng();
      for (int b = 0; b < 8; b++) d[i + b] = static_cast<uint8_t>(v >> (8 * b));
    }
    return d;
  }();
  return data;
}

void SetBytes(benchmark::State& state, size_t per_iteration) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * per_iteration));
}

void BM_PageLeaves_Sha256(benchmark::State& state) {
  const auto& d = Pages();
  std::vector<crust::Hash32> out(kPages);
  for (auto _ : state) {
    for (size_t p = 0; p < kPages; p++) {
      crust::Sha256 s;
      const uint8_t tag = 0;
      s.Update(&tag, 1);
      s.Update(d.data() + p * kPage, kPage);
      out[p] = s.Finish();
    }
    benchmark::DoNotOptimize(out.data());
  }
  SetBytes(state, kPages * kPage);
}

void BM_PageLeaves_Blake3OneByOne(benchmark::State& state) {
  const auto& d = Pages();
  std::vector<crust::Hash32> out(kPages);
  for (auto _ : state) {
    for (size_t p = 0; p < kPages; p++) out[p] = crust::store::PageLeafHash(d.data() + p * kPage);
    benchmark::DoNotOptimize(out.data());
  }
  SetBytes(state, kPages * kPage);
}

void BM_PageLeaves_Blake3Batched(benchmark::State& state) {
  const auto& d = Pages();
  std::vector<crust::Hash32> out(kPages);
  for (auto _ : state) {
    crust::store::PageLeafHashes(d.data(), nullptr, 0, kPages, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  SetBytes(state, kPages * kPage);
}

void BM_TreeNodes_Sha256(benchmark::State& state) {
  std::vector<crust::Hash32> h(kPages);
  for (size_t i = 0; i < kPages; i++) h[i].bytes[0] = static_cast<uint8_t>(i);
  for (auto _ : state) {
    for (size_t i = 0; i + 1 < kPages; i += 2) h[i / 2] = crust::HashNode(1, h[i], h[i + 1]);
    benchmark::DoNotOptimize(h.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * (kPages / 2)));
}

void BM_TreeNodes_Blake3Batched(benchmark::State& state) {
  std::vector<crust::Hash32> leaves(kPages);
  for (size_t i = 0; i < kPages; i++) leaves[i].bytes[0] = static_cast<uint8_t>(i);
  for (auto _ : state) {
    // One level of a full tree: kPages / 2 nodes, batched as in BuildTree.
    auto levels = crust::store::BuildTree(leaves);
    benchmark::DoNotOptimize(levels.data());
  }
  // BuildTree hashes every level above the leaves: ~kPages nodes in total.
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kPages));
}

// The check a session makes the first time it reads a committed module's
// bytecode (and a commit before linking a file this process never read):
// SHA-256 of the whole file against the index. Arg: bytecode size.
void BM_BytecodeCheck_Sha256(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const uint8_t* data = Pages().data();
  for (auto _ : state) {
    crust::Hash32 h = crust::Sha256Of(crust::ByteView(data, n));
    benchmark::DoNotOptimize(h);
  }
  SetBytes(state, n);
}

}  // namespace

BENCHMARK(BM_BytecodeCheck_Sha256)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PageLeaves_Sha256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PageLeaves_Blake3OneByOne)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PageLeaves_Blake3Batched)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TreeNodes_Sha256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TreeNodes_Blake3Batched)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
