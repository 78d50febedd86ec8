// Copyright (c) crust authors. Licensed under the MIT license.
//
// The deploy budgets (module_limits.h): each crafted module that once made a
// deploy allocate without bound, recurse without bound or run for minutes is
// rejected by PrepareModule with ResourceExhausted naming the budget (or
// InvalidModule for modules no instantiation could use), and the real
// piecrust contracts stay well within every budget.
#include "src/engine/prepare/module_limits.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <cstdio>
#include <string>

#include "src/engine/compile/compiler.h"
#include "src/engine/compile/compiler_translate.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "src/os/env.h"
#include "tests/hostile_modules.h"
#include "tests/test_util.h"

namespace crust::engine {
namespace {

namespace h = crust::hostile;

template <typename T>
Status ToStatusOf(const Result<T>& r) {
  return r.ok() ? Status::OK() : r.status();
}

void ExpectRejected(const Bytes& wasm, Status::Code code, const std::string& needle, Abi abi = Abi::kNone) {
  Result<PreparedModule> r = PrepareModule(wasm, PrepareOptions{.abi = abi});
  ASSERT_FALSE(r.ok()) << "accepted; wanted " << needle;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
}

void ExpectBudget(const Bytes& wasm, const std::string& budget, const std::string& value) {
  ExpectRejected(wasm, Status::Code::kResourceExhausted, "(" + budget + ")");
  ExpectRejected(wasm, Status::Code::kResourceExhausted, value);
}

TEST(ModuleLimitsTest, HugeLocalDeclarations) {
  // 68 bytes once made deploy allocate until the OOM killer fired.
  ExpectBudget(h::ManyLocals({{0x0FFFFFFF, h::kI32}}), "locals per function", "268435455 locals");
  ExpectBudget(h::ManyLocals({{16u << 20, h::kI32}}), "locals per function", "16777216 locals");
  // Two declarations of 2^31 - 1: std::bad_alloc / SIGABRT before.
  ExpectBudget(h::ManyLocals({{0x7FFFFFFF, h::kI32}, {0x7FFFFFFF, h::kI64}}), "locals per function", "locals");
  // Within one function's budget, but too many over all functions.
  ExpectBudget(h::LocalsInManyFunctions(21, 10000), "locals in all functions", "locals");
}

TEST(ModuleLimitsTest, LocalsAtTheLimitAreAccepted) {
  EXPECT_OK(CheckModuleLimits(h::ManyLocals({{kDeployLimits.max_function_locals, h::kI32}})));
  EXPECT_EQ(CheckModuleLimits(h::ManyLocals({{kDeployLimits.max_function_locals + 1, h::kI32}})).code(),
            Status::Code::kResourceExhausted);
}

TEST(ModuleLimitsTest, DeepNestingIsRejectedBeforeAnyRecursion) {
  // 20,000 nested blocks crashed CheckFunctionFeatures (SIGSEGV); 14,000
  // nested loops took > 6 GB in translation.
  ExpectBudget(h::Nested(20000, 0x02), "block nesting depth", "function 0 nests blocks more than 1024 deep");
  ExpectBudget(h::Nested(14000, 0x03), "block nesting depth", "1024");
  ExpectBudget(h::Nested(1000000, 0x02), "block nesting depth", "1024");
}

TEST(ModuleLimitsTest, NestingAtTheLimitPreparesAndTranslates) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm, PrepareModule(h::Nested(kDeployLimits.max_nesting_depth, 0x03),
                                                        PrepareOptions{.abi = Abi::kNone}));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm.wasm));
  EXPECT_LT(c.c.size(), kMaxTranslatedCBytes);
  EXPECT_EQ(CheckModuleLimits(h::Nested(kDeployLimits.max_nesting_depth + 1)).code(),
            Status::Code::kResourceExhausted);
}

// The header's claim: at the depth limit every recursive walk (wabt's IR
// destruction and encoder, the instrumenter, wasm2c's C writer) fits in well
// under 1 MiB of native stack. Runs preparation and translation on a thread
// with exactly 1 MiB.
TEST(ModuleLimitsTest, NestingAtTheLimitFitsInOneMiBOfStack) {
  struct Job {
    Bytes wasm;
    Status status;
  } job{h::Nested(kDeployLimits.max_nesting_depth, 0x03), Status::OK()};
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, size_t{1} << 20), 0);
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* p) -> void* {
                  auto* j = static_cast<Job*>(p);
                  Result<PreparedModule> pm = PrepareModule(j->wasm, PrepareOptions{.abi = Abi::kNone});
                  j->status = pm.ok() ? ToStatusOf(TranslateToC(pm->wasm)) : pm.status();
                  return nullptr;
                },
                &job),
            0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  pthread_attr_destroy(&attr);
  EXPECT_OK(job.status);
}

TEST(ModuleLimitsTest, CountsOfEverything) {
  ExpectBudget(h::ManyFunctions(100000), "functions", "100000 functions");
  ExpectBudget(h::ManyExports(100000), "exports", "100000 exports");
  ExpectBudget(h::ManyImports(1001), "imports", "1001 imports");
  ExpectBudget(h::ManyGlobals(1001), "globals", "1001 globals");
  ExpectBudget(h::ManyTypes(2001), "types", "2001 types");
  ExpectBudget(h::WideType(1001), "params and results of a function type", "1001 params");
  ExpectBudget(h::ManyElementSegments(10001), "element segments", "10001 element segments");
  ExpectBudget(h::ManyDataSegments(10001), "data segments", "10001 data segments");
  ExpectBudget(h::ElementsPastTable(100000, 0, 100001), "element entries", "100001 entries");
  ExpectBudget(h::ManyInstructions(2000001), "instructions", "2000000 instructions");
}

TEST(ModuleLimitsTest, FunctionsAtTheLimitPrepareAndTranslate) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm,
                       PrepareModule(h::ManyFunctions(kDeployLimits.max_functions), PrepareOptions{.abi = Abi::kNone}));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm.wasm));
  EXPECT_LT(c.c.size(), kMaxTranslatedCBytes);
}

// The count budgets together bound wasm2c's worst case (its C writer copies
// the module-wide name set once per function): every count at its limit.
TEST(ModuleLimitsTest, AllCountsAtTheirLimitsPrepareAndTranslate) {
  const ModuleLimits& l = kDeployLimits;
  ASSERT_OK_AND_ASSIGN(PreparedModule pm, PrepareModule(h::Everything(l.max_types, l.max_functions, l.max_exports,
                                                                      l.max_globals),
                                                        PrepareOptions{.abi = Abi::kNone}));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm.wasm));
  EXPECT_LT(c.c.size(), kMaxTranslatedCBytes);
}

TEST(ModuleLimitsTest, ExportsAtTheLimitPrepareAndTranslate) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm,
                       PrepareModule(h::ManyExports(kDeployLimits.max_exports), PrepareOptions{.abi = Abi::kNone}));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm.wasm));
  EXPECT_LT(c.c.size(), kMaxTranslatedCBytes);
}

TEST(ModuleLimitsTest, LocalsAtTheLimitPrepareAndTranslate) {
  ASSERT_OK_AND_ASSIGN(PreparedModule pm, PrepareModule(h::LocalsInManyFunctions(20, 10000),
                                                        PrepareOptions{.abi = Abi::kNone}));
  ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm.wasm));
  EXPECT_LT(c.c.size(), kMaxTranslatedCBytes);
}

// The low items of issue 15: modules every instantiation of which fails.
TEST(ModuleLimitsTest, DataCountWithoutDataSection) {
  ExpectRejected(h::DataCountWithoutData(1), Status::Code::kInvalidModule,
                 "data count section announces 1 segments but the module has no data section");
  EXPECT_OK(CheckModuleLimits(h::DataCountWithoutData(0)));
}

TEST(ModuleLimitsTest, TableOfTwoToThe32Entries) {
  ExpectRejected(h::Table(0xFFFFFFFFu), Status::Code::kInvalidModule,
                 "table 0 has an initial size of 4294967295 entries; the limit is 100000");
  EXPECT_OK(CheckModuleLimits(h::Table(kDeployLimits.max_table_entries)));
}

TEST(ModuleLimitsTest, ElementSegmentPastTheTable) {
  ExpectRejected(h::ElementsPastTable(1, 0, 2), Status::Code::kInvalidModule,
                 "element segment 0 [0, 2) does not fit in table 0 of 1 entries", Abi::kContract);
  ExpectRejected(h::ElementsPastTable(4, 0xFFFFFFFFu, 1), Status::Code::kInvalidModule,
                 "element segment 0 [4294967295, 4294967296) does not fit in table 0 of 4 entries",
                 Abi::kContract);
  // A segment that fits passes this check (and fails later for the ABI).
  ExpectRejected(h::ElementsPastTable(2, 0, 2), Status::Code::kInvalidModule, "no memory", Abi::kContract);
}

// Found by deploy_fuzz: a global initialised by `i32.popcnt` with nothing to
// pop made wabt's IR reader assert (abort the process) while decoding.
TEST(ModuleLimitsTest, NonConstantInitExpressionsAreRefusedBeforeDecoding) {
  const Bytes crash = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
                       0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x02, 0x06, 0x08, 0x01, 0x7f, 0x00, 0x69, 0x80,
                       0x80, 0x04, 0x0b, 0x07, 0x12, 0x03, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01,
                       0x41, 0x03, 0x00, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x41, 0x01,
                       0x6a, 0x0b, 0x0b, 0x0a, 0x01, 0x00, 0x41, 0x08, 0x0b, 0x04, 0x73, 0x65, 0x65, 0x64};
  ExpectRejected(crash, Status::Code::kInvalidModule, "global 0: its constant expression uses i32.popcnt");
  // An empty initialiser (just `end`): the same assertion.
  const Bytes empty = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                       0x06, 0x04, 0x01, 0x7f, 0x00, 0x0b};
  ExpectRejected(empty, Status::Code::kInvalidModule, "global 0: its constant expression is empty");
  // Two constants: not a constant expression either.
  const Bytes two = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                     0x06, 0x08, 0x01, 0x7f, 0x00, 0x41, 0x01, 0x41, 0x02, 0x0b};
  ExpectRejected(two, Status::Code::kInvalidModule, "global 0: its constant expression uses i32.const");
  // A plain constant is fine.
  const Bytes ok = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x06, 0x06, 0x01, 0x7f, 0x00, 0x41, 0x07, 0x0b};
  EXPECT_OK(CheckModuleLimits(ok));
}

// The wasm frame: 8 bytes per param, local and operand-stack slot at the
// highest, from the bytes alone.
uint64_t FrameOf(const std::string& wat) {
  Result<Bytes> wasm = WatToWasm(wat);
  EXPECT_TRUE(wasm.ok()) << wasm.status().ToString();
  if (!wasm.ok()) return 0;
  ModuleStats stats;
  EXPECT_OK(CheckModuleLimits(*wasm, kDeployLimits, &stats));
  return stats.max_frame_bytes;
}

TEST(ModuleLimitsTest, WasmFrameFromLocalsAndOperandStack) {
  EXPECT_EQ(FrameOf("(module (func (param i32 i64) (local f32 f64)))"), 8u * 4);
  EXPECT_EQ(FrameOf("(module (func (result i32) i32.const 1 i32.const 2 i32.const 3 i32.add i32.add))"), 8u * 3);
  // Calls pop their params and push their results (through the callee's type);
  // the module's frame is its largest function's.
  EXPECT_EQ(FrameOf("(module (func $f (param i32 i32 i32) (result i32) i32.const 0)"
                    " (func (result i32) i32.const 1 i32.const 2 i32.const 3 call $f i32.const 1 i32.const 4"
                    " i32.add i32.add))"),
            8u * 4);  // $f: 3 params + 1; the caller: 3 slots at most
  // A block ends at its base plus its results, also after a branch; `else`
  // restarts at the block's params.
  EXPECT_EQ(FrameOf("(module (func (result i32) (local i32)"
                    " (block (result i32) i32.const 1 i32.const 2 i32.const 3 br 0)"
                    " (if (result i32) (local.get 0) (then i32.const 5 i32.const 6 i32.add) (else i32.const 7))"
                    " i32.add))"),
            8u * (1 + 3));
  // Multi-value block types: params stay on the stack inside.
  EXPECT_EQ(FrameOf("(module (type $t (func (param i32 i32) (result i32)))"
                    " (func (result i32) i32.const 1 i32.const 2 (block (type $t) i32.add i32.const 9 i32.add)))"),
            8u * 2);
  // The budget names the function and its parts.
  std::string wat = "(module (func $big";
  for (int i = 0; i < 9000; ++i) wat += " (local i64)";
  for (int i = 0; i < 4000; ++i) wat += " i32.const 0";
  for (int i = 0; i < 4000; ++i) wat += " drop";
  wat += "))";
  ASSERT_OK_AND_ASSIGN(Bytes big, WatToWasm(wat));
  ExpectBudget(big, "wasm frame bytes of one function", "function 0 has a wasm frame of 104000 bytes");
}

TEST(ModuleLimitsTest, MalformedBytesAreLeftToTheDecoder) {
  Bytes wasm = h::ManyFunctions(3);
  wasm.resize(wasm.size() - 3);
  EXPECT_OK(CheckModuleLimits(wasm));
  ExpectRejected(wasm, Status::Code::kInvalidModule, "malformed module");
}

// The real contracts of the ecosystem deploy within every budget (wasm32
// ones; memory64 support is added separately) and translate to C far below
// kMaxTranslatedCBytes.
TEST(ModuleLimitsTest, RealContractsAreWithinLimits) {
  const std::string dir = "/work/shared/piecrust-contracts";
  os::Env* env = os::Env::Default();
  if (!env->Exists(dir)) GTEST_SKIP() << dir << " not present";
  for (const char* name : {"box", "callcenter", "counter", "crossover", "event_reverter", "eventer", "feeder",
                           "metadata", "spender", "stake_contract", "c_example", "transfer_contract"}) {
    const bool memory64 = std::string(name) == "c_example" || std::string(name) == "transfer_contract";
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(Bytes wasm, env->ReadFile(dir + "/" + name + ".wasm"));
    ModuleStats stats;
    EXPECT_OK(CheckModuleLimits(wasm, kDeployLimits, &stats));
    EXPECT_OK(CheckModuleLimits(wasm, kDeployLimits.Prepared()));
    // Abi::kNone: the budgets do not depend on the ABI, and some of these
    // contracts import host functions added separately (hdebug).
    Result<PreparedModule> pm = PrepareModule(wasm, PrepareOptions{.abi = Abi::kNone});
    if (memory64 && !pm.ok()) continue;  // memory64 support is added separately
    ASSERT_OK(pm);
    ASSERT_OK_AND_ASSIGN(CSource c, TranslateToC(pm->wasm));
    EXPECT_LT(c.c.size(), kMaxTranslatedCBytes / 10);
    // Instrumentation stays within what the prepared frame budget allows.
    ModuleStats prepared;
    EXPECT_OK(CheckModuleLimits(pm->wasm, kDeployLimits.Prepared(), &prepared));
    EXPECT_LE(prepared.max_frame_bytes, stats.max_frame_bytes + kInstrumentationFrameBytes);
    // None is a heavy module (compiler.h): gcc -O2 compiles them all.
    EXPECT_LE(prepared.max_frame_bytes, kHeavyFrameBytes);
    EXPECT_LE(prepared.max_body_instructions, kHeavyBodyInstructions);
    EXPECT_LE(prepared.instructions, kHeavyModuleInstructions);
    std::printf("%s: %zu bytes of wasm, %zu bytes of C, largest wasm frame %llu bytes (prepared %llu), "
                "largest body %llu instructions (prepared %llu), %llu in all (prepared %llu)\n",
                name, wasm.size(), c.c.size(), static_cast<unsigned long long>(stats.max_frame_bytes),
                static_cast<unsigned long long>(prepared.max_frame_bytes),
                static_cast<unsigned long long>(stats.max_body_instructions),
                static_cast<unsigned long long>(prepared.max_body_instructions),
                static_cast<unsigned long long>(stats.instructions),
                static_cast<unsigned long long>(prepared.instructions));
  }
}

}  // namespace
}  // namespace crust::engine
