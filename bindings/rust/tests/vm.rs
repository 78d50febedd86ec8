// Copyright (c) crust authors. Licensed under the MIT license.
//
// Tests of the Rust binding (ctest: rust_binding_test). Need
// $CRUST_CONTRACTS_DIR (the built example contracts).
use std::path::PathBuf;
use std::sync::mpsc;

use crust::{ContractData, ContractId, ErrorCode, QueryFn, SessionData, VmOptions, VM};

const GAS: u64 = 100_000_000;

fn contract(name: &str) -> Vec<u8> {
    let dir = std::env::var("CRUST_CONTRACTS_DIR").expect("CRUST_CONTRACTS_DIR");
    std::fs::read(PathBuf::from(dir).join(format!("{}.wasm", name))).expect("contract")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        let p = PathBuf::from(base).join(format!("crust-rust-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn options() -> VmOptions {
    VmOptions { sync: false, opt_level: 0, ..VmOptions::default() }
}

fn u64_of(data: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(data);
    u64::from_le_bytes(b)
}

fn query_arg(name: &str, arg: &[u8]) -> Vec<u8> {
    let mut v = (name.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(arg);
    v
}

#[test]
fn deploy_call_commit_reopen() {
    let tmp = TempDir::new("basic");
    let dir = tmp.0.join("store");
    let (id, root) = {
        let vm = VM::with_options(&dir, options()).unwrap();
        let mut s = vm.session(SessionData::builder()).unwrap();
        assert_eq!(s.base(), None);
        let id = s
            .deploy(&contract("counter"), ContractData::builder().owner(b"me".to_vec()).init_arg(5u64.to_le_bytes().to_vec()), GAS)
            .unwrap();
        assert_eq!(s.owner(id).unwrap(), b"me");
        let r = s.call_raw(id, "increment", Vec::new(), GAS).unwrap();
        assert_eq!(u64_of(&r.data), 6);
        assert!(r.gas_spent > 0 && r.gas_limit == GAS);
        assert_eq!(r.call_tree.len(), 1);
        assert_eq!(r.call_tree[0].fn_name, "increment");
        let expected = s.root().unwrap();
        let root = s.commit().unwrap();
        assert_eq!(root, expected);
        assert_eq!(vm.commits().unwrap(), vec![root]);
        let info = vm.show_commit(root).unwrap();
        assert_eq!(info.modules.len(), 1);
        assert_eq!(info.modules[0].id, id);
        vm.verify_commit(root).unwrap();
        (id, root)
    };
    let vm = VM::with_options(&dir, VmOptions { read_only: true, ..options() }).unwrap();
    let mut s = vm.session(SessionData::builder().base(root)).unwrap();
    assert_eq!(u64_of(&s.call_raw(id, "read", Vec::new(), GAS).unwrap().data), 6);
    assert_eq!(s.commit_and_continue().unwrap_err().code, ErrorCode::Aborted);
}

#[test]
fn errors_are_values() {
    let tmp = TempDir::new("errors");
    let vm = VM::with_options(tmp.0.join("store"), options()).unwrap();
    assert_eq!(vm.session(SessionData::builder().base([0; 32])).err().unwrap().code, ErrorCode::NotFound);
    assert_eq!(vm.verify_commit([0; 32]).unwrap_err().code, ErrorCode::NotFound);
    let mut s = vm.session(SessionData::builder()).unwrap();
    assert_eq!(s.deploy(b"\0asm\x09\x09", ContractData::builder(), GAS).unwrap_err().code, ErrorCode::InvalidModule);
    assert_eq!(s.deploy(b"", ContractData::builder(), GAS).unwrap_err().code, ErrorCode::InvalidModule);
    let id = s.deploy(&contract("counter"), ContractData::builder(), GAS).unwrap();
    assert_eq!(s.deploy(&contract("counter"), ContractData::builder(), GAS).unwrap_err().code, ErrorCode::AlreadyExists);
    let e = s.call_raw(id, "nope", Vec::new(), GAS).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = s.call_raw(id, "add", vec![1, 2, 3], GAS).unwrap_err();
    assert_eq!(e.code, ErrorCode::Panic);
    assert!(e.message.contains("counter.add"));
    assert!(e.receipt.unwrap().gas_spent > 0);
    assert_eq!(s.call_raw(id, "increment", Vec::new(), 1).unwrap_err().code, ErrorCode::OutOfGas);
    assert_eq!(s.call_raw(id, "bad\0name", Vec::new(), GAS).unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(s.call_raw(ContractId::from_bytes([7; 32]), "read", Vec::new(), GAS).unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(u64_of(&s.call_raw(id, "read", Vec::new(), GAS).unwrap().data), 0);
    assert!(VM::with_options(tmp.0.join("missing"), VmOptions { create_if_missing: false, ..options() }).is_err());
}

#[test]
fn host_queries_events_feeds_meta() {
    let tmp = TempDir::new("hq");
    let mut vm = VM::with_options(tmp.0.join("store"), options()).unwrap();
    // piecrust's closure form: the argument in the buffer, the result written back.
    vm.register_host_query("double", |buf: &mut [u8], len: u32| {
        let n = len as usize;
        let arg = buf[..n].to_vec();
        buf[n..2 * n].copy_from_slice(&arg);
        2 * len
    })
    .unwrap();
    vm.register_host_query("broken", QueryFn(|_: &[u8]| Err("the oracle is down".to_string()))).unwrap();
    vm.register_host_query("panics", QueryFn(|_: &[u8]| -> Result<(Vec<u8>, u64), String> { panic!("boom") })).unwrap();
    let mut s = vm.session(SessionData::builder().insert("height", vec![42, 0, 0, 0]).unwrap()).unwrap();
    let mut vm2 = VM::with_options(tmp.0.join("other"), options()).unwrap();
    let _keep = vm2.session(SessionData::builder()).unwrap();
    assert_eq!(vm2.register_host_query("late", QueryFn(|a: &[u8]| Ok((a.to_vec(), 0)))).unwrap_err().code, ErrorCode::Busy);

    let cc = s.deploy(&contract("callcenter"), ContractData::builder(), GAS).unwrap();
    let r = s.call_raw(cc, "query", query_arg("double", b"ab"), GAS).unwrap();
    assert_eq!(r.data, b"abab");
    let e = s.call_raw(cc, "query", query_arg("broken", b"x"), GAS).unwrap_err();
    assert!(e.message.contains("the oracle is down"), "{}", e);
    let e = s.call_raw(cc, "query", query_arg("panics", b"x"), GAS).unwrap_err();
    assert!(e.message.contains("panicked"), "{}", e);

    let r = s.call_raw(cc, "emit", query_arg("topic", b"data"), GAS).unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!((r.events[0].source, r.events[0].topic.as_str(), r.events[0].data.as_slice(), r.events[0].reverted), (cc, "topic", &b"data"[..], false));

    let (tx, rx) = mpsc::channel();
    s.feeder_call_raw(cc, "feed_n", 3u32.to_le_bytes().to_vec(), GAS, tx).unwrap();
    let fed: Vec<Vec<u8>> = rx.try_iter().collect();
    assert_eq!(fed, (0u32..3).map(|i| i.to_le_bytes().to_vec()).collect::<Vec<_>>());
    let (tx, rx) = mpsc::channel();
    drop(rx);
    assert_eq!(s.feeder_call_raw(cc, "feed_n", 3u32.to_le_bytes().to_vec(), GAS, tx).unwrap_err().code, ErrorCode::Aborted);

    let hi = s.deploy(&contract("hostinfo"), ContractData::builder(), GAS).unwrap();
    assert_eq!(s.call_raw(hi, "meta", b"height".to_vec(), GAS).unwrap().data, vec![42, 0, 0, 0]);
}

#[test]
fn migrate_and_delete() {
    let tmp = TempDir::new("migrate");
    let vm = VM::with_options(tmp.0.join("store"), options()).unwrap();
    let mut s = vm.session(SessionData::builder()).unwrap();
    let id = s.deploy(&contract("counter"), ContractData::builder().init_arg(4u64.to_le_bytes().to_vec()), GAS).unwrap();
    let first = s.commit_and_continue().unwrap();
    s.migrate_raw(id, &contract("migrated"), "migrate", id.as_bytes().to_vec(), GAS, None).unwrap();
    assert_eq!(u64_of(&s.call_raw(id, "read", Vec::new(), GAS).unwrap().data), 40);
    assert_eq!(s.migrate_raw(id, b"\0asm", "migrate", id.as_bytes().to_vec(), GAS, None).unwrap_err().code, ErrorCode::InvalidModule);
    let second = s.commit_and_continue().unwrap();
    // A session pins its base and every commit it made: s pins first.
    assert_eq!(vm.try_delete_commit(first).unwrap_err().code, ErrorCode::Busy);
    drop(s);
    let pinned = vm.session(SessionData::builder().base(first)).unwrap();
    assert_eq!(vm.try_delete_commit(first).unwrap_err().code, ErrorCode::Busy);
    drop(pinned);
    vm.delete_commit(first).unwrap();
    assert_eq!(vm.commits().unwrap(), vec![second]);
}

#[test]
fn sweep_code_cache() {
    let tmp = TempDir::new("sweep");
    let dir = tmp.0.join("store");
    let (id, kept, dropped) = {
        let vm = VM::with_options(&dir, options()).unwrap();
        let mut s = vm.session(SessionData::builder()).unwrap();
        let id = s.deploy(&contract("counter"), ContractData::builder().init_arg(1u64.to_le_bytes().to_vec()), GAS).unwrap();
        let kept = s.commit_and_continue().unwrap();
        s.deploy(&contract("hostinfo"), ContractData::builder(), GAS).unwrap();
        let dropped = s.commit_and_continue().unwrap();
        (id, kept, dropped)
    };
    // A fresh VM: nothing loaded in this process.
    let vm = VM::with_options(&dir, options()).unwrap();
    vm.delete_commit(dropped).unwrap(); // hostinfo is in no commit now
    let dry = vm.sweep_code_cache(true).unwrap();
    assert_eq!((dry.commits, dry.modules), (1, 1));
    assert_eq!((dry.objects_kept, dry.objects_removed), (1, 1)); // opt_level 0: one tier
    assert_eq!((dry.prepared_kept, dry.prepared_removed), (1, 1));
    assert!(dry.objects_removed_bytes > 0);
    assert_eq!(vm.sweep_code_cache(false).unwrap(), dry);
    let again = vm.sweep_code_cache(false).unwrap();
    assert_eq!((again.objects_kept, again.objects_removed, again.prepared_removed), (1, 0, 0));
    let mut s = vm.session(SessionData::builder().base(kept)).unwrap();
    assert_eq!(u64_of(&s.call_raw(id, "read", Vec::new(), GAS).unwrap().data), 1);
}
