// vm_bench_node.js: the Node.js (V8) side of bench/vm_bench.cc. Runs a crust
// contract under Node's WebAssembly with stub `env` imports, following the
// contract ABI (argument written to A, call with its length, result read from
// A[0..ret]), and prints one JSON object on stdout.
//
//   node vm_bench_node.js fib   WASM N REPS   recursive fib(N) REPS times; each
//                                              call timed with process.hrtime
//   node vm_bench_node.js run   WASM FN N REPS the same for function FN with the
//                                              u32 argument N (any result length)
//   node vm_bench_node.js calls WASM FN COUNT  COUNT ABI calls of FN (no
//                                              argument), timed as a whole
//   node vm_bench_node.js compile WASM         time of new WebAssembly.Module
//
// WASM may be the original contract or crust's prepared (instrumented) module:
// when the module exports the instrumentation globals (__crust_gas,
// __crust_depth, __crust_trap) they are set before every call as crust's host
// does (gas 2^62, depth 1000, trap 0), and gas_spent is reported. The prepared
// module has no data segments (crust applies them at deploy); fib and counter
// `read` do not need them.
//
// Output: {"compile_ms", "instantiate_ms", "first_ms", "median_ms", "min_ms",
// "reps", "times_ms", "cpu_ms", "result", "gas_spent"} for fib and run (cpu_ms:
// the process's user + system CPU time of each call, process.cpuUsage); {"count", "total_ms", "calls_per_s",
// "result"} for calls. Times are wall-clock milliseconds.
'use strict';
const fs = require('fs');

function usage() {
  console.error('usage: node vm_bench_node.js fib WASM N REPS | run WASM FN N REPS | calls WASM FN COUNT | compile WASM');
  process.exit(2);
}

const [mode, file] = process.argv.slice(2, 4);
if (!mode || !file) usage();

const nowNs = () => process.hrtime.bigint();
const ms = (ns) => Number(ns) / 1e6;

const bytes = fs.readFileSync(file);
let t0 = nowNs();
const wasmModule = new WebAssembly.Module(bytes);
const compileMs = ms(nowNs() - t0);

let inst = null;
const mem = () => new Uint8Array(inst.exports.memory.buffer);
const env = {};
for (const imp of WebAssembly.Module.imports(wasmModule)) {
  if (imp.kind !== 'function') {
    console.error('unexpected import ' + imp.module + '.' + imp.name);
    process.exit(1);
  }
  const name = imp.name;
  switch (name) {
    case 'panic':
      env[name] = (len) => {
        const a = inst.exports.A.value;
        throw new Error('panic: ' + Buffer.from(mem().slice(a, a + len)).toString('utf8'));
      };
      break;
    case 'limit': env[name] = () => 1n << 62n; break;
    case 'spent': env[name] = () => 0n; break;
    case 'hd': env[name] = () => 0; break;
    default: env[name] = () => { throw new Error('host function ' + name + ' not provided'); };
  }
}
t0 = nowNs();
inst = new WebAssembly.Instance(wasmModule, { env });
const instantiateMs = ms(nowNs() - t0);

const ex = inst.exports;
const A = ex.A.value;
const instrumented = ex.__crust_gas instanceof WebAssembly.Global;
const kGas = 1n << 62n;

// Host protocol before a call (module_info.h).
function arm() {
  if (!instrumented) return;
  ex.__crust_gas.value = kGas;
  ex.__crust_depth.value = 1000;
  ex.__crust_trap.value = 0;
}
function spent() { return instrumented ? (kGas - ex.__crust_gas.value).toString() : null; }

if (mode === 'fib' || mode === 'run') {
  const args = mode === 'fib' ? ['fib', ...process.argv.slice(4)] : process.argv.slice(4);
  const n = Number(args[1]);
  const reps = Number(args[2] || 10);
  const fib = ex[args[0]];
  if (typeof fib !== 'function' || !Number.isInteger(n) || !(reps > 0)) usage();
  const times = [], cpu = [];
  let result = null, gas = null;
  for (let i = 0; i < reps; i++) {
    const m = new DataView(ex.memory.buffer);
    m.setUint32(A, n, true);
    arm();
    const c0 = process.cpuUsage();
    const s = nowNs();
    const len = fib(4);
    const e = nowNs();
    const c1 = process.cpuUsage(c0);
    times.push(ms(e - s));
    cpu.push((c1.user + c1.system) / 1e3);
    if (mode === 'fib' && len !== 8) throw new Error('fib returned ' + len + ' bytes');
    result = len === 8 ? new DataView(ex.memory.buffer).getBigUint64(A, true).toString() : String(len);
    gas = spent();
  }
  const sorted = [...times].sort((a, b) => a - b);
  // Median of the repetitions after the first (V8 tiers up from Liftoff to
  // TurboFan during the first calls; first_ms shows that run alone).
  const steady = times.length > 1 ? [...times.slice(1)].sort((a, b) => a - b) : sorted;
  const median = steady.length % 2 ? steady[(steady.length - 1) / 2]
                                   : (steady[steady.length / 2 - 1] + steady[steady.length / 2]) / 2;
  console.log(JSON.stringify({
    compile_ms: compileMs, instantiate_ms: instantiateMs, first_ms: times[0], median_ms: median,
    min_ms: sorted[0], reps, times_ms: times.map((t) => +t.toFixed(3)), cpu_ms: cpu.map((t) => +t.toFixed(3)),
    result, gas_spent: gas, instrumented,
  }));
} else if (mode === 'calls') {
  const fn = ex[process.argv[4]];
  const count = Number(process.argv[5] || 1000000);
  if (typeof fn !== 'function' || !(count > 0)) usage();
  // Each call: host protocol, call, copy the result out of A (as crust does).
  const once = () => {
    arm();
    const len = fn(0);
    return Buffer.from(ex.memory.buffer, A, len).slice();  // copy, like CallReceipt::data
  };
  for (let i = 0; i < Math.min(count, 100000); i++) once();  // warm up / tier up
  const s = nowNs();
  let last = null;
  for (let i = 0; i < count; i++) last = once();
  const total = ms(nowNs() - s);
  console.log(JSON.stringify({
    count, total_ms: total, calls_per_s: count / (total / 1e3), result: last.toString('hex'), instrumented,
  }));
} else if (mode === 'compile') {
  console.log(JSON.stringify({ compile_ms: compileMs, instantiate_ms: instantiateMs, bytes: bytes.length }));
} else {
  usage();
}
