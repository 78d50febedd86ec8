// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/prepare_fingerprint.h"

#include <string_view>

#include "src/engine/prepare/host_abi.h"
#include "src/engine/prepare/prepared_format.h"
#include "src/engine/prepare/wat.h"
#include "src/util/sha256.h"
#include "wabt/config.h"

namespace crust::engine {
namespace {

// A contract touching most of what preparation does. Never change it without
// reason: its prepared form is part of every fingerprint (a change only
// invalidates caches, which is harmless).
constexpr std::string_view kCanary = R"((module
  (import "env" "panic" (func $panic (param i32)))
  (import "env" "limit" (func $limit (result i64)))
  (type $t (func (param f64) (result f64)))
  (memory (export "memory") 2 8)
  (global (export "A") i32 (i32.const 65536))
  (global $sp (mut i32) (i32.const 4096))
  (global $acc (mut i64) (i64.const -7))
  (global $f (mut f64) (f64.const 1.5))
  (table 2 funcref)
  (elem (i32.const 0) $sq $cube)
  (data (i32.const 16) "crust canary")
  (data (i32.const 20) "XY")
  (data $p "passive")
  (func $sq (type $t) (f64.mul (local.get 0) (local.get 0)))
  (func $cube (type $t) (f64.mul (local.get 0) (call $sq (local.get 0))))
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $x f32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (global.set $f (call_indirect (type $t) (global.get $f) (i32.and (local.get $i) (i32.const 1))))
        (local.set $x (f32.div (f32.demote_f64 (global.get $f)) (f32.const 3)))
        (global.set $acc (i64.div_s (i64.add (global.get $acc) (call $limit)) (i64.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
    (memory.copy (i32.const 64) (i32.const 16) (i32.const 12))
    (memory.init $p (i32.const 128) (i32.const 0) (i32.const 7))
    (if (i32.eqz (local.get $n)) (then (call $panic (i32.const 0))))
    (drop (memory.grow (i32.const 1)))
    (i32.store (global.get $sp) (i32.trunc_sat_f32_s (local.get $x)))
    (i32.load8_u (i32.const 16)))
  (func (export "init") (param i32) (result i32) (global.set $sp (i32.const 8192)) (i32.const 0))))";

struct Canary {
  std::string summary;  // "<16 hex>" or "rejected: <status>"
  Hash32 digest;        // SHA-256 of the prepared body, or of the summary
};

Canary PrepareCanary() {
  Canary c;
  Result<Bytes> wasm = WatToWasm(kCanary);
  Result<PreparedModule> pm = wasm.ok() ? PrepareModule(*wasm) : Result<PreparedModule>(wasm.status());
  if (pm.ok()) {
    c.digest = Sha256Of(EncodePreparedModule(*pm));
    c.summary = c.digest.ToHex().substr(0, 16);
  } else {
    c.summary = "rejected: " + pm.status().ToString();
    c.digest = Sha256Of(ByteView(reinterpret_cast<const uint8_t*>(c.summary.data()), c.summary.size()));
  }
  return c;
}

const Canary& TheCanary() {
  static const Canary canary = PrepareCanary();
  return canary;
}

std::string HostTableText() {
  std::string s;
  for (const HostFunctionSpec& f : HostFunctions()) {
    s += std::to_string(static_cast<int>(f.id)) + " " + std::string(f.name) + " " +
         SignatureString(f.params, f.results) + (f.reserved ? " reserved" : "") + "\n";
  }
  return s;
}

}  // namespace

std::string PreparationDescription(const PrepareOptions& options, const PreparationVersions& versions) {
  return "prepare " + std::to_string(versions.prepare) + "; instrumentation " +
         std::to_string(versions.instrumentation) + "; wabt " + WABT_VERSION_STRING + "; abi " +
         (options.abi == Abi::kContract ? "contract" : "none") + "; max_initial_pages " +
         std::to_string(options.max_initial_pages) + "; max_module_bytes " +
         std::to_string(options.max_module_bytes) + "; canary " + TheCanary().summary;
}

Hash32 PreparationFingerprint(const PrepareOptions& options, const PreparationVersions& versions) {
  static const std::string host_table = HostTableText();
  const std::string description = PreparationDescription(options, versions);
  Sha256 h;
  h.Update(description.data(), description.size());
  h.Update(host_table.data(), host_table.size());
  h.Update(TheCanary().digest.bytes.data(), 32);
  return h.Finish();
}

}  // namespace crust::engine
