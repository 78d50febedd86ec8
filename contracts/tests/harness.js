// Runs the example contracts under Node's WebAssembly with a minimal host that
// follows the crust ABI: the argument is written to A, the function is called
// with its length, the result is read from A[0..ret]. No rollback, no gas:
// this checks the contracts themselves, not the VM.
//
// Usage: node harness.js CONTRACTS_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node harness.js CONTRACTS_DIR');
  process.exit(2);
}

class ContractPanic extends Error {}

function u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; }
function i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; }
function u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); return b; }
function readU64(b, o = 0) { return b.readBigUInt64LE(o); }
function readU32(b, o = 0) { return b.readUInt32LE(o); }

// Instantiates a contract; returns { call(fn, arg) -> Buffer, memory, exports }.
function load(name, opts = {}) {
  const bytes = fs.readFileSync(path.join(dir, name + '.wasm'));
  let inst = null;
  const mem = () => new Uint8Array(inst.exports.memory.buffer);
  const A = () => inst.exports.A.value;
  const id = opts.id || Buffer.alloc(32, 0xab);
  const meta = opts.meta || {};
  const unsupported = (n) => () => { throw new Error('host function ' + n + ' not provided by the harness'); };
  const env = {
    panic(len) {
      throw new ContractPanic(Buffer.from(mem().slice(A(), A() + len)).toString('utf8'));
    },
    limit() { return BigInt(opts.limit || 1000000); },
    spent() { return BigInt(opts.spent || 1234); },
    self_id() { mem().set(id, A()); },
    hd(ptr, len) {
      const key = Buffer.from(mem().slice(ptr, ptr + len)).toString('utf8');
      if (!(key in meta)) return 0;
      const v = Buffer.from(meta[key]);
      mem().set(v, A());
      return v.length;
    },
  };
  for (const n of ['c', 'hq', 'emit', 'feed', 'caller', 'callstack', 'owner']) env[n] = unsupported(n);
  // Extra host functions: opts.env(self) returns imports that override these;
  // self gives them the instance's memory and A.
  if (opts.env) Object.assign(env, opts.env({ mem, A: () => A() }));
  inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env });
  assert.ok(inst.exports.memory instanceof WebAssembly.Memory, name + ': memory export');
  assert.ok(inst.exports.A instanceof WebAssembly.Global, name + ': A export');
  return {
    exports: inst.exports,
    memory: () => mem(),
    call(fn, arg = Buffer.alloc(0)) {
      const f = inst.exports[fn];
      assert.strictEqual(typeof f, 'function', name + ': no function ' + fn);
      assert.ok(arg.length <= 65536);
      mem().set(arg, A());
      const ret = f(arg.length);
      assert.ok(ret >= 0 && ret <= 65536, `${name}.${fn}: bad return length ${ret}`);
      return Buffer.from(mem().slice(A(), A() + ret));
    },
  };
}

function expectPanic(fnc, msg) {
  assert.throws(fnc, (e) => e instanceof ContractPanic && (msg === undefined || e.message === msg),
                'expected panic ' + msg);
}
function expectTrap(fnc, re) {
  assert.throws(fnc, (e) => (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) &&
                            re.test(e.message), 'expected trap ' + re);
}

let passed = 0;
function test(label, fn) {
  const t0 = process.hrtime.bigint();
  fn();
  passed++;
  console.log(`ok  node: ${label} (${Number(process.hrtime.bigint() - t0) / 1e6} ms)`);
}

test('fibonacci', () => {
  const c = load('fibonacci');
  const fib = (n) => readU64(c.call('fib', u32(n)));
  assert.strictEqual(fib(0), 0n);
  assert.strictEqual(fib(1), 1n);
  assert.strictEqual(fib(2), 1n);
  assert.strictEqual(fib(10), 55n);
  assert.strictEqual(fib(25), 75025n);
  const iter = (n) => readU64(c.call('fib_iter', u32(n)));
  assert.strictEqual(iter(10), 55n);
  assert.strictEqual(iter(90), 2880067194370816120n);
  assert.strictEqual(iter(94), BigInt.asUintN(64, 19740274219868223167n)); // wraps mod 2^64
  expectPanic(() => c.call('fib', Buffer.alloc(3)), 'fib: expected u32');
});

test('counter', () => {
  const c = load('counter');
  assert.strictEqual(c.call('init', u64(41)).length, 0);
  assert.strictEqual(readU64(c.call('read')), 41n);
  assert.strictEqual(readU64(c.call('increment')), 42n);
  assert.strictEqual(readU64(c.call('increment')), 43n);
  assert.strictEqual(readU64(c.call('read')), 43n);
  assert.strictEqual(readU64(c.call('add', u64(100))), 143n);
  assert.strictEqual(readU64(c.call('add', u64(-143n))), 0n); // wrapping
  expectPanic(() => c.call('add', Buffer.alloc(4)), 'counter.add: expected 8 bytes');
  const d = load('counter');
  d.call('init');
  assert.strictEqual(readU64(d.call('increment')), 1n);
  assert.strictEqual(readU64(load('counter').call('read')), 0n);
});

test('box', () => {
  const c = load('box');
  const set = (k, v) => readU32(c.call('set', Buffer.concat([u32(k.length), Buffer.from(k), Buffer.from(v)])));
  const get = (k) => c.call('get', Buffer.from(k));
  const remove = (k) => c.call('remove', Buffer.from(k))[0];
  assert.deepStrictEqual(get('missing'), Buffer.from([0]));
  assert.strictEqual(remove('missing'), 0);
  assert.strictEqual(set('a', 'apple'), 1);
  assert.strictEqual(set('', 'empty key'), 2);
  assert.strictEqual(set('e', ''), 3);
  assert.deepStrictEqual(get('a'), Buffer.from('\x01apple'));
  assert.deepStrictEqual(get(''), Buffer.from('\x01empty key'));
  assert.deepStrictEqual(get('e'), Buffer.from([1]));
  assert.strictEqual(set('a', 'ant'), 3); // replace in place
  assert.deepStrictEqual(get('a'), Buffer.from('\x01ant'));
  assert.strictEqual(set('a', 'a much longer value than before'), 3); // reallocated
  assert.deepStrictEqual(get('a'), Buffer.from('\x01a much longer value than before'));
  assert.strictEqual(remove('a'), 1);
  assert.strictEqual(remove('a'), 0);
  assert.deepStrictEqual(get('a'), Buffer.from([0]));
  assert.strictEqual(readU32(c.call('len')), 2);
  // Many keys: rehashing, tombstones, large values.
  const model = new Map([['', 'empty key'], ['e', '']]);
  for (let i = 0; i < 600; i++) {
    const k = 'key' + (i * 7919 % 1000);
    const v = 'v'.repeat(i % 50) + i;
    set(k, v);
    model.set(k, v);
    if (i % 3 === 0) {
      const r = 'key' + (i * 31 % 1000);
      assert.strictEqual(remove(r), model.delete(r) ? 1 : 0);
    }
  }
  assert.strictEqual(readU32(c.call('len')), model.size);
  for (let i = 0; i < 1000; i++) {
    const k = 'key' + i;
    const want = model.has(k) ? Buffer.concat([Buffer.from([1]), Buffer.from(model.get(k))]) : Buffer.from([0]);
    assert.deepStrictEqual(get(k), want, k);
  }
  const big = Buffer.alloc(60000, 0x5a);
  set('big', big);
  assert.deepStrictEqual(get('big'), Buffer.concat([Buffer.from([1]), big]));
  expectPanic(() => c.call('set', Buffer.concat([u32(10), Buffer.from('abc')])), 'box.set: key_len exceeds the argument');
});

// The grower's pattern and checksum, as documented in grower.c.
function chunkWords(seed) {
  const w = new Uint32Array(16384);
  let x = (seed ^ 0xA5A5A5A5) >>> 0;
  if (x === 0) x = 1;
  for (let i = 0; i < w.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    w[i] = x;
  }
  return w;
}
function fnvWords(h, words) {
  const P = 0x100000001b3n;
  for (const w of words) h = BigInt.asUintN(64, (h ^ BigInt(w)) * P);
  return h;
}
const FNV_INIT = 0xcbf29ce484222325n;

test('grower', () => {
  const c = load('grower');
  const info0 = c.call('info');
  const pages0 = readU32(info0, 4);
  assert.strictEqual(readU32(info0, 0), 0);
  let r = c.call('grow', u32(7));
  assert.strictEqual(readU32(r, 0), 1);
  assert.strictEqual(readU32(r, 4), pages0 + 1);
  r = c.call('grow', Buffer.concat([u32(0xFFFFFFFF), u32(3)])); // seeds wrap: ffffffff, 0, 1, 2
  assert.strictEqual(readU32(r, 0), 4);
  assert.strictEqual(readU32(r, 4), pages0 + 4);
  assert.strictEqual(c.memory().length, (pages0 + 4) * 65536);
  const seeds = [7, 0xFFFFFFFF, 0, 1];
  const info = c.call('info');
  assert.strictEqual(readU32(info, 8), pages0);
  let all = FNV_INIT;
  seeds.forEach((s, i) => {
    const words = chunkWords(s);
    const h = fnvWords(FNV_INIT, words);
    assert.strictEqual(readU64(c.call('checksum', u32(i))), h, 'checksum ' + i);
    all = fnvWords(all, [Number(h & 0xffffffffn), Number(h >> 32n)]);
    // memory contents, read directly and through read()
    const mem = Buffer.from(c.memory().buffer, (pages0 + i) * 65536, 65536);
    assert.ok(mem.equals(Buffer.from(words.buffer)), 'chunk ' + i + ' contents');
    const part = c.call('read', Buffer.concat([u32(i), u32(65536 - 16), u32(16)]));
    assert.ok(part.equals(Buffer.from(words.buffer, 65536 - 16, 16)));
  });
  const v = c.call('verify');
  assert.strictEqual(readU32(v, 0), 4);
  assert.strictEqual(readU64(v, 4), all);
  assert.strictEqual(readU32(c.call('write', Buffer.concat([u32(2), u32(100), Buffer.from('xy')]))), 2);
  expectPanic(() => c.call('verify'), 'chunk 2 corrupted');
  expectPanic(() => c.call('read', Buffer.concat([u32(9), u32(0), u32(1)])), 'grower: no such chunk');
  expectPanic(() => c.call('grow_and_panic', u32(5)), 'grow_and_panic');
});

test('panicker', () => {
  const c = load('panicker');
  expectPanic(() => c.call('panic', Buffer.from('boom')), 'boom');
  expectPanic(() => c.call('panic', Buffer.from('héllo ✓')), 'héllo ✓');
  assert.deepStrictEqual(c.call('maybe_panic', Buffer.from('\x00fine')), Buffer.from('fine'));
  expectPanic(() => c.call('maybe_panic', Buffer.from('\x01bad')), 'bad');
  assert.deepStrictEqual(c.call('echo', Buffer.from('echo me')), Buffer.from('echo me'));
  c.call('set', u64(99));
  assert.strictEqual(readU64(c.call('get')), 99n);
  expectPanic(() => c.call('set_then_panic', u64(5)), 'set_then_panic');
  assert.strictEqual(readU32(c.call('divide', Buffer.concat([i32(-7), i32(2)]))), (-3) >>> 0);
  expectTrap(() => c.call('divide', Buffer.concat([i32(1), i32(0)])), /divi/);
  expectTrap(() => c.call('divide', Buffer.concat([i32(-2147483648), i32(-1)])), /unrepresentable|overflow/);
  expectTrap(() => c.call('unreachable'), /unreachable/);
  assert.strictEqual(c.call('load', u32(65536)).length, 1);
  expectTrap(() => c.call('load', u32(0xFFFFFFF0)), /out of bounds/);
  assert.strictEqual(readU32(c.call('recurse', u32(5000))), 5000);
  expectTrap(() => c.call('recurse', u32(100000000)), /call stack/);
  assert.strictEqual(readU32(c.call('stack_hog', u32(100))), 100);
  expectTrap(() => c.call('stack_hog', u32(1000)), /out of bounds/);
  assert.strictEqual(readU32(c.call('burn', u32(100000))), 100000);
});

test('hostinfo', () => {
  const id = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) id[i] = i * 3;
  const c = load('hostinfo', { id, limit: 5000, spent: 17, meta: { height: Buffer.from('42'), empty: Buffer.alloc(0) } });
  const g = c.call('gas');
  assert.strictEqual(readU64(g, 0), 5000n);
  assert.strictEqual(readU64(g, 8), 17n);
  assert.deepStrictEqual(c.call('self_id'), id);
  assert.deepStrictEqual(c.call('meta', Buffer.from('height')), Buffer.from('42'));
  assert.strictEqual(c.call('meta', Buffer.from('absent')).length, 0);
});

test('sdk-tests/sdk_all_cxx (C++ and two translation units)', () => {
  const id = Buffer.alloc(32, 0x11);
  const c = load('sdk-tests/sdk_all_cxx', { id });
  assert.strictEqual(readU64(c.call('sum_pairs', Buffer.concat([u64(1), u64(2), u64(30), u64(40)]))), 73n);
  assert.strictEqual(readU64(c.call('sum_pairs', Buffer.concat([u64(5), u64(5)]))), 83n);
  const r = c.call('second');
  assert.strictEqual(r.length, 48);
  // self_id wrote the id into A[0..32], then the 16 fresh (zero) heap bytes
  // were returned over A[0..16].
  assert.ok(r.subarray(0, 16).equals(Buffer.alloc(16)));
  assert.ok(r.subarray(16, 32).equals(id.subarray(16)));
});

// A minimal multi-contract host for the issue-4 examples: `c` dispatches to
// another instance (argument from the caller's A to the callee's, result
// back), with a call stack for caller/callstack, events and feeds recorded.
// No rollback and no gas: it checks the contracts' encodings, not the VM.
function world() {
  const w = { modules: new Map(), stack: [], events: [], fed: [], owners: new Map() };
  const hex = (b) => Buffer.from(b).toString('hex');
  const read = (self, p, n) => Buffer.from(self.mem().slice(p, p + n));
  w.add = (name, id, owner = Buffer.alloc(0)) => {
    const m = load(name, { id, env: (self) => ({
      c(mp, fp, fl, al, gas) {
        const callee = w.modules.get(hex(read(self, mp, 32)));
        const fn = read(self, fp, fl).toString('utf8');
        if (!callee || typeof callee.exports[fn] !== 'function' || fn === 'init') return -3;
        const arg = read(self, self.A(), al);
        w.stack.push(id);
        try {
          const r = callee.call(fn, arg);
          self.mem().set(r, self.A());
          return r.length;
        } catch (e) {
          if (!(e instanceof ContractPanic)) throw e;
          const msg = Buffer.from(e.message, 'utf8');
          self.mem().set(Buffer.concat([u32(msg.length), msg]), self.A());
          return -1;
        } finally {
          w.stack.pop();
        }
      },
      caller() {
        if (!w.stack.length) return 0;
        self.mem().set(w.stack[w.stack.length - 1], self.A());
        return 1;
      },
      callstack() {
        const ids = [...w.stack].reverse();
        ids.forEach((x, i) => self.mem().set(x, self.A() + 32 * i));
        return ids.length;
      },
      owner(p) {
        const o = w.owners.get(hex(read(self, p, 32)));
        if (!o) return 0;
        self.mem().set(o, self.A());
        return o.length;
      },
      emit(tp, tl, al) { w.events.push([hex(id), read(self, tp, tl).toString('utf8'), read(self, self.A(), al)]); },
      feed(al) { w.fed.push(read(self, self.A(), al)); },
      hq(np, nl, al) {
        const name = read(self, np, nl).toString('utf8');
        assert.strictEqual(name, 'reverse');
        const r = read(self, self.A(), al).reverse();
        self.mem().set(r, self.A());
        return r.length;
      },
    }) });
    w.modules.set(hex(id), m);
    w.owners.set(hex(id), owner);
    return m;
  };
  return w;
}
const idOf = (n) => Buffer.alloc(32, n);
function req(id, fn, arg = Buffer.alloc(0), gas = 0) {
  return Buffer.concat([id, u64(gas), u32(fn.length), Buffer.from(fn), arg]);
}
const i32At = (b, o = 0) => b.readInt32LE(o);

test('callcenter', () => {
  const w = world();
  const A = idOf(1), B = idOf(2), C = idOf(3);
  const a = w.add('callcenter', A, Buffer.from('alice'));
  const b = w.add('callcenter', B);
  w.add('callcenter', C);
  const p = w.add('panicker', idOf(9));
  assert.strictEqual(a.call('write', u64(5)).length, 0);
  assert.strictEqual(readU64(a.call('read')), 5n);
  assert.deepStrictEqual(a.call('self_id'), A);
  assert.deepStrictEqual(a.call('caller'), Buffer.from([0]));
  assert.deepStrictEqual(a.call('callstack'), u32(0));
  // call: i32 code | result
  let r = a.call('call', req(B, 'self_id'));
  assert.strictEqual(i32At(r), 32);
  assert.deepStrictEqual(r.subarray(4), B);
  r = a.call('call', req(B, 'call', req(C, 'callstack')));
  assert.strictEqual(i32At(r), 4 + 4 + 64);
  assert.strictEqual(i32At(r, 4), 4 + 64);
  assert.deepStrictEqual(r.subarray(8), Buffer.concat([u32(2), B, A]));
  r = a.call('call', req(B, 'caller'));
  assert.deepStrictEqual(r.subarray(4), Buffer.concat([Buffer.from([1]), A]));
  r = a.call('write_then_call', Buffer.concat([u64(6), req(idOf(9), 'panic', Buffer.from('boom'))]));
  assert.strictEqual(i32At(r), -1);
  assert.deepStrictEqual(r.subarray(4), Buffer.concat([u32(4), Buffer.from('boom')]));
  assert.strictEqual(readU64(a.call('read')), 6n);
  r = a.call('call', req(idOf(77), 'read'));
  assert.deepStrictEqual(r, i32(-3));
  assert.deepStrictEqual(b.call('owner_of', A), Buffer.concat([u32(5), Buffer.from('alice')]));
  assert.deepStrictEqual(b.call('owner_of', idOf(77)), u32(0));
  // emit, query, feed_n, spend
  a.call('emit', Buffer.concat([u32(3), Buffer.from('top'), Buffer.from([0, 1, 2])]));
  assert.deepStrictEqual(w.events.pop(), [A.toString('hex'), 'top', Buffer.from([0, 1, 2])]);
  assert.deepStrictEqual(a.call('query', Buffer.concat([u32(7), Buffer.from('reverse'), Buffer.from('abc')])), Buffer.from('cba'));
  assert.deepStrictEqual(a.call('feed_n', u32(3)), u32(3));
  assert.deepStrictEqual(w.fed.splice(0), [u32(0), u32(1), u32(2)]);
  r = a.call('spend', u32(1000));
  assert.strictEqual(readU64(r, 0), 1000000n);
  assert.strictEqual(readU64(r, 8), 1234n);
  // depth: self-calls (no depth limit in this host: all 20 levels succeed)
  r = a.call('depth', u32(20));
  assert.strictEqual(readU32(r, 0), 20);
  assert.strictEqual(i32At(r, 4), 0);
  // run: W E F C S records
  const script = Buffer.concat([
    Buffer.from('W'), u64(9),
    Buffer.from('E'), u32(1), Buffer.from('t'), u32(2), Buffer.from('hi'),
    Buffer.from('F'), u32(42),
    Buffer.from('C'), u32(req(B, 'read').length), req(B, 'read'),
    Buffer.from('S'), u32(10),
    Buffer.from('C'), u32(req(idOf(9), 'panic', Buffer.from('x')).length), req(idOf(9), 'panic', Buffer.from('x')),
  ]);
  r = a.call('run', script);
  assert.strictEqual(readU64(r, 0), 9n);
  assert.strictEqual(i32At(r, 8), 8);
  assert.strictEqual(readU32(r, 12), 8);
  assert.strictEqual(readU64(r, 16), 0n);
  assert.strictEqual(i32At(r, 24), -1);
  assert.deepStrictEqual(r.subarray(28), Buffer.concat([u32(5), u32(1), Buffer.from('x')]));
  assert.deepStrictEqual(w.events.pop(), [A.toString('hex'), 't', Buffer.from('hi')]);
  assert.deepStrictEqual(w.fed.splice(0), [u32(42)]);
  expectPanic(() => a.call('run', Buffer.from('P')), 'run: panic');
  expectPanic(() => a.call('run', Buffer.from('Z')), 'run: unknown op');
  void p;
});

test('crossover (no rollback in this host: only the encodings)', () => {
  const w = world();
  const x = w.add('crossover', idOf(1));
  w.add('crossover', idOf(2));
  assert.strictEqual(readU64(x.call('crossover')), 0n);
  assert.strictEqual(readU64(x.call('set_crossover', u64(5))), 0n);
  assert.deepStrictEqual(w.events.pop(), [idOf(1).toString('hex'), 'crossover', u64(5)]);
  assert.strictEqual(readU64(x.call('crossover')), 5n);
  expectPanic(() => x.call('set_back_and_panic', u64(1)), 'set_back_and_panic: no caller');
  // Without rollback the callback's write stays, so the check panics here.
  expectPanic(() => x.call('check_consistent_state_on_errors', Buffer.concat([idOf(2), u64(7), u64(9)])),
              'crossover: a failed call changed the caller\'s state');
});

test('migrated (v2 of counter, over a copy of counter\'s memory and beside it)', () => {
  const w = world();
  const v1 = w.add('counter', idOf(1));
  v1.call('init', u64(41));
  v1.call('increment');
  const v2 = w.add('migrated', idOf(2));
  assert.strictEqual(v2.memory().length, v1.memory().length);
  v2.memory().set(v1.memory());  // the same layout: v2 finds counter's value
  assert.strictEqual(readU64(v2.call('read')), 42n);
  v1.call('increment');  // 43 in the old module; migrate reads it through `c`
  assert.strictEqual(readU64(v2.call('migrate', idOf(1))), 430n);
  assert.strictEqual(readU64(v2.call('decrement')), 429n);
  assert.strictEqual(readU64(v2.call('migrate', Buffer.concat([idOf(1), u64(2)]))), 86n);
  assert.strictEqual(readU32(v2.call('version')), 2);
  expectPanic(() => v2.call('add', Buffer.alloc(1)), 'counter.add: expected 8 bytes');
  expectTrap(() => v2.call('migrate', idOf(77)), /unreachable/);
});

console.log(`node harness: ${passed} contracts passed`);
