// Copyright (c) crust authors. Licensed under the MIT license.
//
// Differential: a contract generated from the input's bytes (the generator
// of src/vm/equivalence_test.cc, src/vm/module_generator.h) runs natively
// (the VM: wasm2c + the C compiler at -O0, cached by code hash) and on the
// interpreter oracle (src/testing/interp_oracle.h). Up to three calls, each
// with an argument and a gas limit taken from the input, are compared:
// status code, trap kind, returned bytes and gas must be identical. The
// sequence stops at the first failed call (both engines then roll back
// differently; equivalence_test.cc covers rollback). Any difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "crust/vm.h"
#include "fuzz/fuzz_util.h"
#include "src/testing/interp_oracle.h"
#include "src/engine/prepare/prepare.h"
#include "src/engine/prepare/wat.h"
#include "src/util/coding.h"
#include "src/util/sha256.h"
#include "src/vm/module_generator.h"

using namespace crust;

namespace {

constexpr uint64_t kGas = 10'000'000;

using vmtest::TrapClass;

ModuleId DeriveId(ByteView wasm, uint64_t nonce) {
  const std::string tag = "crust-module-id-v1";
  Bytes buf(tag.begin(), tag.end());
  PutHash(&buf, Sha256Of(wasm));
  PutFixed32(&buf, 0);
  PutFixed64(&buf, nonce);
  return Sha256Of(buf);
}

Vm* TheVm() {
  static Vm* vm = [] {
    VmOptions o;
    o.store.sync = false;
    o.opt_level = 0;
    const char* cache = std::getenv("CRUST_FUZZ_CODE_CACHE");  // share compiled objects between runs
    if (cache != nullptr && *cache) o.code_cache_dir = cache;
    auto r = Vm::Open(fuzz::ScratchDir() + "/store", o);
    fuzz::Check(r.ok(), "open the VM: " + (r.ok() ? std::string() : r.status().ToString()));
    return r->release();
  }();
  return vm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  auto next = [&]() -> uint32_t {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | (pos < size ? data[pos++] : 0);
    return v;
  };
  vmtest::Generator gen(next);
  const std::string text = gen.Module();
  Result<Bytes> wasm = engine::WatToWasm(text);
  fuzz::Check(wasm.ok(), "generated module does not parse:\n" + text);
  Result<engine::PreparedModule> pm = engine::PrepareModule(*wasm);
  fuzz::Check(pm.ok(), "generated module does not prepare:\n" + text);

  static uint64_t nonce = 0;
  const ModuleId id = DeriveId(*wasm, ++nonce);
  engine::BasicOracleHost host;
  host.self_id = id;
  auto oracle = engine::InterpOracle::Create(*pm, &host);
  fuzz::Check(oracle.ok(), "oracle: " + (oracle.ok() ? std::string() : oracle.status().ToString()));

  auto session = TheVm()->StartGenesis();
  fuzz::Check(session.ok(), "session");
  Result<ModuleId> deployed = (*session)->Deploy(*wasm, DeployOptions{.nonce = nonce});
  fuzz::Check(deployed.ok() && *deployed == id,
              "deploy: " + (deployed.ok() ? std::string("other id") : deployed.status().ToString()));

  for (int k = 0; k < 3; ++k) {
    const std::string fn = "f" + std::to_string(next() % 2);
    const Bytes arg = gen.Arg();
    const uint64_t gas = (next() & 1) ? kGas : gen.Gas(200000);
    CallReceipt r = (*session)->Call(id, fn, arg, gas);
    engine::OracleOutcome o = (*oracle)->Call(fn, arg, gas);
    const std::string both = "\nvm     " + r.status.ToString() + " gas " + std::to_string(r.gas_spent) +
                             "\noracle " + o.status.ToString() + " gas " + std::to_string(o.gas_spent) +
                             "\ncall " + fn + " gas limit " + std::to_string(gas) + "\n" + text;
    fuzz::Check(r.status.code() == o.status.code(), "status differs" + both);
    fuzz::Check(TrapClass(r.status) == TrapClass(o.status), "trap kind differs" + both);
    fuzz::Check(r.gas_spent == o.gas_spent, "gas differs" + both);
    if (!r.ok()) break;
    fuzz::Check(r.data == o.data, "returned bytes differ" + both);
  }
  return 0;
}
