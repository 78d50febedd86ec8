// Copyright (c) crust authors. Licensed under the MIT license.
//
// Out-of-tree example (tests/embed/install_examples.sh builds it against an
// installed crust through pkg-config):
//   counter STORE_DIR COUNTER_WASM
// deploys counter with init 41, increments it, commits, then reopens the
// store in a new VM and reads 42 back from the commit.
use crust::{ContractData, SessionData, VmOptions, VM};

fn main() -> Result<(), crust::Error> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, wasm) = (&args[1], std::fs::read(&args[2]).expect("read the contract"));
    let options = VmOptions { opt_level: 0, ..VmOptions::default() };
    let (id, root) = {
        let vm = VM::with_options(dir, options.clone())?;
        let mut session = vm.session(SessionData::builder())?;
        let id = session.deploy(&wasm, ContractData::builder().init_arg(41u64.to_le_bytes().to_vec()), 1_000_000_000)?;
        session.call_raw(id, "increment", Vec::new(), 1_000_000)?;
        (id, session.commit()?)
    };
    let vm = VM::with_options(dir, options)?;
    let mut session = vm.session(SessionData::builder().base(root))?;
    let data = session.call_raw(id, "read", Vec::new(), 1_000_000)?.data;
    let value = u64::from_le_bytes([data[0], data[1], data[2], data[3], data[4], data[5], data[6], data[7]]);
    println!("rust: crust {} counter = {}", crust::version(), value);
    assert_eq!(value, 42);
    Ok(())
}
