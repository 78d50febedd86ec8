// Copyright (c) crust authors. Licensed under the MIT license.
//
//! Rust binding of crust, over its C API (`include/crust/crust.h`), with an
//! API modelled on piecrust's so that an embedder can switch with small
//! changes (docs/embedding.md has the table):
//!
//! ```no_run
//! use crust::{ContractData, SessionData, VM};
//! let vm = VM::new("/tmp/store")?;
//! let mut session = vm.session(SessionData::builder())?;
//! let bytecode = std::fs::read("counter.wasm").unwrap();
//! let id = session.deploy(&bytecode, ContractData::builder().owner(b"me".to_vec()), 1_000_000_000)?;
//! let receipt = session.call_raw(id, "increment", Vec::new(), 1_000_000)?;
//! let root = session.commit()?;
//! let mut again = vm.session(SessionData::builder().base(root))?;
//! # Ok::<(), crust::Error>(())
//! ```
//!
//! No dependencies outside the standard library. Thread-safety follows the
//! C API: a `VM` may be shared between threads (`Send + Sync`); a `Session`
//! may move between threads (`Send`) but is used by one at a time.

mod ffi;

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{mpsc, Arc};

/// The library's version (e.g. "0.1.0").
pub fn version() -> String {
    unsafe { CStr::from_ptr(ffi::crust_version()) }.to_string_lossy().into_owned()
}

/// The kinds of error (crust_code in the C API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    NotFound,
    Corruption,
    IoError,
    InvalidArgument,
    Busy,
    AlreadyExists,
    NotSupported,
    Trap,
    OutOfGas,
    Panic,
    InvalidModule,
    ResourceExhausted,
    Aborted,
    Internal,
    Unknown(i32),
}

impl ErrorCode {
    fn from_raw(code: c_int) -> ErrorCode {
        use ErrorCode::*;
        match code {
            1 => NotFound,
            2 => Corruption,
            3 => IoError,
            4 => InvalidArgument,
            5 => Busy,
            6 => AlreadyExists,
            7 => NotSupported,
            8 => Trap,
            9 => OutOfGas,
            10 => Panic,
            11 => InvalidModule,
            12 => ResourceExhausted,
            13 => Aborted,
            14 => Internal,
            other => Unknown(other),
        }
    }
}

/// An error: its kind, crust's message, and for a failed call the receipt
/// (gas spent, events).
#[derive(Clone, Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub receipt: Option<Box<CallReceipt<Vec<u8>>>>,
}

impl Error {
    fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), receipt: None }
    }

    // Takes ownership of a C error (may be null).
    fn from_c(code: c_int, err: *mut ffi::crust_error) -> Error {
        let message = if err.is_null() {
            String::new()
        } else {
            let m = unsafe { CStr::from_ptr(ffi::crust_error_message(err)) }.to_string_lossy().into_owned();
            unsafe { ffi::crust_error_free(err) };
            m
        };
        Error { code: ErrorCode::from_raw(code), message, receipt: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

fn check(code: c_int, err: *mut ffi::crust_error) -> Result<(), Error> {
    if code == ffi::CRUST_OK {
        Ok(())
    } else {
        Err(Error::from_c(code, err))
    }
}

fn cstring(s: &str, what: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::new(ErrorCode::InvalidArgument, format!("{} contains a NUL byte", what)))
}

/// A module id (32 bytes), as piecrust's `ContractId`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContractId([u8; 32]);

impl ContractId {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ContractId(bytes)
    }
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{:02x}", b)?;
        }
        Ok(())
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An event a contract emitted. `reverted` is true when the call that
/// emitted it was rolled back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub source: ContractId,
    pub topic: String,
    pub data: Vec<u8>,
    pub reverted: bool,
}

/// One call of a receipt's call tree (pre-order, the top-level call first).
#[derive(Clone, Debug)]
pub struct CallTreeElem {
    pub contract_id: ContractId,
    pub fn_name: String,
    pub depth: u32,
    pub gas_limit: u64,
    pub gas_spent: u64,
    /// None when the call succeeded.
    pub error: Option<(ErrorCode, String)>,
}

/// A call's receipt, as piecrust's: the returned data, gas, events, debug
/// lines and the call tree.
#[derive(Clone, Debug)]
pub struct CallReceipt<T> {
    pub gas_limit: u64,
    pub gas_spent: u64,
    pub events: Vec<Event>,
    pub debug: Vec<String>,
    pub call_tree: Vec<CallTreeElem>,
    pub data: T,
}

unsafe fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

unsafe fn c_bytes(p: *const u8, len: usize) -> Vec<u8> {
    if len == 0 || p.is_null() {
        Vec::new()
    } else {
        std::slice::from_raw_parts(p, len).to_vec()
    }
}

// Converts and frees a C receipt; Err (carrying the receipt) when the call
// failed.
fn finish_call(code: c_int, receipt: *mut ffi::crust_receipt, err: *mut ffi::crust_error) -> Result<CallReceipt<Vec<u8>>, Error> {
    let converted = if receipt.is_null() {
        None
    } else {
        unsafe {
            let mut len = 0usize;
            let data = c_bytes(ffi::crust_receipt_data(receipt, &mut len), len);
            let mut events = Vec::new();
            for i in 0..ffi::crust_receipt_event_count(receipt) {
                let e = &*ffi::crust_receipt_event(receipt, i);
                events.push(Event {
                    source: ContractId(e.source),
                    topic: String::from_utf8_lossy(&c_bytes(e.topic as *const u8, e.topic_len)).into_owned(),
                    data: c_bytes(e.data, e.data_len),
                    reverted: e.reverted != 0,
                });
            }
            let debug = (0..ffi::crust_receipt_debug_count(receipt))
                .map(|i| c_str(ffi::crust_receipt_debug(receipt, i)))
                .collect();
            let mut call_tree = Vec::new();
            for i in 0..ffi::crust_receipt_call_count(receipt) {
                let n = &*ffi::crust_receipt_call(receipt, i);
                call_tree.push(CallTreeElem {
                    contract_id: ContractId(n.module),
                    fn_name: c_str(n.function),
                    depth: n.depth,
                    gas_limit: n.gas_limit,
                    gas_spent: n.gas_spent,
                    error: if n.status == 0 { None } else { Some((ErrorCode::from_raw(n.status), c_str(n.message))) },
                });
            }
            let r = CallReceipt {
                gas_limit: ffi::crust_receipt_gas_limit(receipt),
                gas_spent: ffi::crust_receipt_gas_spent(receipt),
                events,
                debug,
                call_tree,
                data,
            };
            ffi::crust_receipt_free(receipt);
            Some(r)
        }
    };
    if code == ffi::CRUST_OK {
        match converted {
            Some(r) => Ok(r),
            None => Err(Error::new(ErrorCode::Aborted, "no receipt")),
        }
    } else {
        let mut e = Error::from_c(code, err);
        e.receipt = converted.map(Box::new);
        Err(e)
    }
}

/// A host query contracts reach with `hq`. The piecrust form is supported
/// directly: any `Fn(&mut [u8], u32) -> u32` receives a 64 KiB buffer with the
/// argument in its first `arg_len` bytes and returns the length of the result
/// it wrote to the start of the buffer. [`QueryFn`] offers a form that
/// charges gas and can fail.
pub trait HostQuery: Send + Sync + 'static {
    /// Returns the result bytes and the gas to charge, or why it failed (the
    /// contract's call then fails).
    fn query(&self, arg: &[u8]) -> Result<(Vec<u8>, u64), String>;
}

const ARG_BUF_SIZE: usize = 64 * 1024;

impl<F> HostQuery for F
where
    F: Fn(&mut [u8], u32) -> u32 + Send + Sync + 'static,
{
    fn query(&self, arg: &[u8]) -> Result<(Vec<u8>, u64), String> {
        let mut buf = vec![0u8; ARG_BUF_SIZE];
        buf[..arg.len()].copy_from_slice(arg);
        let n = self(&mut buf, arg.len() as u32) as usize;
        if n > ARG_BUF_SIZE {
            return Err(format!("host query returned {} bytes (at most {})", n, ARG_BUF_SIZE));
        }
        buf.truncate(n);
        Ok((buf, 0))
    }
}

/// A host query from a closure `Fn(&[u8]) -> Result<(Vec<u8>, u64), String>`
/// (result, gas to charge).
pub struct QueryFn<F>(pub F);

impl<F> HostQuery for QueryFn<F>
where
    F: Fn(&[u8]) -> Result<(Vec<u8>, u64), String> + Send + Sync + 'static,
{
    fn query(&self, arg: &[u8]) -> Result<(Vec<u8>, u64), String> {
        (self.0)(arg)
    }
}

extern "C" fn host_query_trampoline(
    user: *mut c_void,
    arg: *const u8,
    arg_len: usize,
    result: *mut ffi::crust_query_result,
    gas: *mut u64,
) -> c_int {
    let query = unsafe { &*(user as *const Arc<dyn HostQuery>) };
    let arg = unsafe { c_bytes(arg, arg_len) };
    let outcome = catch_unwind(AssertUnwindSafe(|| query.query(&arg)));
    let failure = match outcome {
        Ok(Ok((data, charge))) => {
            unsafe {
                ffi::crust_query_result_set(result, data.as_ptr(), data.len());
                *gas = charge;
            }
            return 0;
        }
        Ok(Err(message)) => message,
        Err(_) => "host query panicked".to_string(),
    };
    let message = CString::new(failure.replace('\0', " ")).unwrap_or_default();
    unsafe { ffi::crust_query_result_fail(result, message.as_ptr()) };
    1
}

extern "C" fn host_query_free(user: *mut c_void) {
    drop(unsafe { Box::from_raw(user as *mut Arc<dyn HostQuery>) });
}

struct VmHandle(*mut ffi::crust_vm);
// The C API's VM is safe for concurrent use from any thread.
unsafe impl Send for VmHandle {}
unsafe impl Sync for VmHandle {}

impl Drop for VmHandle {
    fn drop(&mut self) {
        unsafe { ffi::crust_vm_free(self.0) }
    }
}

/// Options for opening a VM (piecrust's VM::new takes only a directory).
#[derive(Clone, Debug)]
pub struct VmOptions {
    pub read_only: bool,
    pub create_if_missing: bool,
    /// Turning sync off voids crash safety (tests only).
    pub sync: bool,
    /// C compiler optimisation level for compiled modules: 0 or 2.
    pub opt_level: i32,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions { read_only: false, create_if_missing: true, sync: true, opt_level: 2 }
    }
}

/// A crust VM on a store directory.
pub struct VM {
    dir: PathBuf,
    options: VmOptions,
    queries: BTreeMap<String, Arc<dyn HostQuery>>,
    handle: Arc<VmHandle>,
}

impl VM {
    /// Opens (or creates) the store at `root_dir`.
    pub fn new<P: AsRef<Path>>(root_dir: P) -> Result<Self, Error> {
        Self::with_options(root_dir, VmOptions::default())
    }

    /// Opens the store at `root_dir` with `options`.
    pub fn with_options<P: AsRef<Path>>(root_dir: P, options: VmOptions) -> Result<Self, Error> {
        let dir = root_dir.as_ref().to_path_buf();
        let queries = BTreeMap::new();
        let handle = Self::open(&dir, &options, &queries)?;
        Ok(VM { dir, options, queries, handle })
    }

    fn open(dir: &Path, options: &VmOptions, queries: &BTreeMap<String, Arc<dyn HostQuery>>) -> Result<Arc<VmHandle>, Error> {
        let cdir = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| Error::new(ErrorCode::InvalidArgument, "directory contains a NUL byte"))?;
        unsafe {
            let o = ffi::crust_vm_options_new();
            if o.is_null() {
                return Err(Error::new(ErrorCode::ResourceExhausted, "crust_vm_options_new failed"));
            }
            ffi::crust_vm_options_set_read_only(o, options.read_only as c_int);
            ffi::crust_vm_options_set_create_if_missing(o, options.create_if_missing as c_int);
            ffi::crust_vm_options_set_sync(o, options.sync as c_int);
            ffi::crust_vm_options_set_opt_level(o, options.opt_level);
            let mut result = Ok(());
            for (name, query) in queries {
                let cname = match cstring(name, "host query name") {
                    Ok(c) => c,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                };
                let user = Box::into_raw(Box::new(query.clone())) as *mut c_void;
                let mut err = ptr::null_mut();
                let code = ffi::crust_vm_options_add_host_query(
                    o,
                    cname.as_ptr(),
                    host_query_trampoline,
                    user,
                    Some(host_query_free),
                    &mut err,
                );
                if code != ffi::CRUST_OK {
                    host_query_free(user);
                    result = Err(Error::from_c(code, err));
                    break;
                }
            }
            let mut vm = ptr::null_mut();
            if result.is_ok() {
                let mut err = ptr::null_mut();
                result = check(ffi::crust_vm_open(cdir.as_ptr(), o, &mut vm, &mut err), err);
            }
            ffi::crust_vm_options_free(o);
            result.map(|_| Arc::new(VmHandle(vm)))
        }
    }

    /// Registers host query `name` (piecrust's `register_host_query`). crust
    /// fixes host queries when a VM opens, so this reopens the VM: it fails
    /// with `Busy` while sessions of this VM are alive (register queries
    /// before starting sessions).
    pub fn register_host_query<Q, S>(&mut self, name: S, query: Q) -> Result<(), Error>
    where
        Q: HostQuery,
        S: Into<String>,
    {
        if Arc::strong_count(&self.handle) != 1 {
            return Err(Error::new(ErrorCode::Busy, "register_host_query: sessions of this VM are alive"));
        }
        let mut queries = self.queries.clone();
        queries.insert(name.into(), Arc::new(query));
        // Close first: only one handle may hold the store's write lock.
        let placeholder = Arc::new(VmHandle(ptr::null_mut()));
        drop(std::mem::replace(&mut self.handle, placeholder));
        match Self::reopen(&self.dir, &self.options, &queries) {
            Ok(h) => {
                self.handle = h;
                self.queries = queries;
                Ok(())
            }
            Err(e) => {
                // Reopen as it was, so the VM stays usable.
                if let Ok(h) = Self::reopen(&self.dir, &self.options, &self.queries) {
                    self.handle = h;
                }
                Err(e)
            }
        }
    }

    // Opens again a store this process just closed. The store's write lock
    // is an open-file-description lock, which a child this process forks
    // (the VM runs the C compiler in one, from any thread) shares until it
    // execs: while another thread is starting a compiler, the lock still
    // looks held by this very process. That lasts microseconds; retry for up
    // to a second, and only for that case.
    fn reopen(dir: &Path, options: &VmOptions, queries: &BTreeMap<String, Arc<dyn HostQuery>>) -> Result<Arc<VmHandle>, Error> {
        let own = format!("locked by process {}", std::process::id());
        let mut attempt = 0;
        loop {
            match Self::open(dir, options, queries) {
                Err(e) if e.code == ErrorCode::Busy && e.message.contains(&own) && attempt < 100 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    /// The store directory.
    pub fn root_dir(&self) -> &Path {
        &self.dir
    }

    fn raw(&self) -> Result<*mut ffi::crust_vm, Error> {
        if self.handle.0.is_null() {
            Err(Error::new(ErrorCode::Aborted, "the VM could not be reopened"))
        } else {
            Ok(self.handle.0)
        }
    }

    /// Starts a session on `data`'s base commit (genesis when none), with its
    /// metadata.
    pub fn session(&self, data: impl Into<SessionData>) -> Result<Session, Error> {
        let data = data.into();
        let vm = self.raw()?;
        let mut s = ptr::null_mut();
        let mut err = ptr::null_mut();
        let code = unsafe {
            match &data.base {
                Some(root) => ffi::crust_vm_session(vm, root.as_ptr(), &mut s, &mut err),
                None => ffi::crust_vm_genesis_session(vm, &mut s, &mut err),
            }
        };
        check(code, err)?;
        let mut session = Session { handle: s, _vm: self.handle.clone() };
        for (name, value) in data.meta {
            session.set_meta(name, value)?;
        }
        Ok(session)
    }

    fn store(&self) -> Result<*mut ffi::crust_store, Error> {
        Ok(unsafe { ffi::crust_vm_store(self.raw()?) })
    }

    /// Every commit's root, oldest first. (piecrust's returns the Vec
    /// directly; crust reports I/O errors.)
    pub fn commits(&self) -> Result<Vec<[u8; 32]>, Error> {
        Ok(self.commit_infos(None)?.into_iter().map(|c| c.root).collect())
    }

    /// One commit with its modules.
    pub fn show_commit(&self, root: [u8; 32]) -> Result<CommitInfo, Error> {
        let mut v = self.commit_infos(Some(root))?;
        v.pop().ok_or_else(|| Error::new(ErrorCode::NotFound, "no commit"))
    }

    fn commit_infos(&self, root: Option<[u8; 32]>) -> Result<Vec<CommitInfo>, Error> {
        let store = self.store()?;
        let mut list = ptr::null_mut();
        let mut err = ptr::null_mut();
        let code = unsafe {
            match &root {
                Some(r) => ffi::crust_store_show_commit(store, r.as_ptr(), &mut list, &mut err),
                None => ffi::crust_store_list_commits(store, &mut list, &mut err),
            }
        };
        check(code, err)?;
        let mut out = Vec::new();
        unsafe {
            for i in 0..ffi::crust_commit_list_len(list) {
                let c = &*ffi::crust_commit_list_get(list, i);
                let mut modules = Vec::new();
                for j in 0..c.module_count {
                    let m = &*c.modules.add(j);
                    modules.push(ModuleInfo {
                        id: ContractId(m.id),
                        bytecode_hash: m.bytecode_hash,
                        memory_hash: m.memory_hash,
                        memory_length: m.memory_length,
                        bytecode_size: m.bytecode_size,
                        metadata: c_bytes(m.metadata, m.metadata_len),
                    });
                }
                out.push(CommitInfo { root: c.root, created_unix_ns: c.created_unix_ns, modules });
            }
            ffi::crust_commit_list_free(list);
        }
        Ok(out)
    }

    /// Recomputes every hash of a commit (Corruption names the first mismatch).
    pub fn verify_commit(&self, root: [u8; 32]) -> Result<(), Error> {
        let store = self.store()?;
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_store_verify_commit(store, root.as_ptr(), &mut err) }, err)
    }

    /// Deletes a commit, waiting until no session pins it.
    pub fn delete_commit(&self, root: [u8; 32]) -> Result<(), Error> {
        self.delete(root, true)
    }

    /// Deletes a commit, or fails with `Busy` when a session pins it.
    pub fn try_delete_commit(&self, root: [u8; 32]) -> Result<(), Error> {
        self.delete(root, false)
    }

    fn delete(&self, root: [u8; 32], wait: bool) -> Result<(), Error> {
        let store = self.store()?;
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_store_delete_commit(store, root.as_ptr(), wait as c_int, &mut err) }, err)
    }

    /// Removes from the code cache what no commit of the store needs: compiled
    /// objects and prepared modules of contracts in no commit, objects of other
    /// builds (an upgrade compiles every contract again under a new key), and
    /// temporaries of builds whose process is gone; keeps what this process has
    /// loaded or is building. `dry_run` counts without removing. crust only
    /// (`Vm::SweepCodeCache` in crust/vm.h, `crust prune-code`).
    pub fn sweep_code_cache(&self, dry_run: bool) -> Result<CodeCacheSweep, Error> {
        let vm = self.raw()?;
        let mut out = CodeCacheSweep::default();
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_vm_sweep_code_cache(vm, dry_run as c_int, &mut out, &mut err) }, err)?;
        Ok(out)
    }
}

/// What `VM::sweep_code_cache` kept and removed (dry run: would remove);
/// bytes are file sizes.
#[repr(C)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeCacheSweep {
    /// Commits whose modules were looked at.
    pub commits: u64,
    /// Distinct module bytecodes among them.
    pub modules: u64,
    pub objects_kept: u64,
    pub objects_kept_bytes: u64,
    pub objects_removed: u64,
    pub objects_removed_bytes: u64,
    pub prepared_kept: u64,
    pub prepared_kept_bytes: u64,
    pub prepared_removed: u64,
    pub prepared_removed_bytes: u64,
    /// Temporaries of interrupted builds.
    pub leftovers_removed: u64,
}

/// A module of a commit.
#[derive(Clone, Debug)]
pub struct ModuleInfo {
    pub id: ContractId,
    pub bytecode_hash: [u8; 32],
    pub memory_hash: [u8; 32],
    pub memory_length: u64,
    pub bytecode_size: u64,
    pub metadata: Vec<u8>,
}

/// A commit: its root, creation time and (from `show_commit`) modules.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub root: [u8; 32],
    pub created_unix_ns: u64,
    pub modules: Vec<ModuleInfo>,
}

/// What a session starts from, as piecrust's `SessionData`.
#[derive(Clone, Debug, Default)]
pub struct SessionData {
    base: Option<[u8; 32]>,
    meta: Vec<(String, Vec<u8>)>,
}

impl SessionData {
    pub fn builder() -> SessionData {
        SessionData::default()
    }
    /// Metadata contracts read with `hd(name)` (raw bytes; piecrust serializes
    /// a value with rkyv).
    pub fn insert<S: Into<String>, V: Into<Vec<u8>>>(mut self, name: S, value: V) -> Result<Self, Error> {
        self.meta.push((name.into(), value.into()));
        Ok(self)
    }
    /// The commit to start from.
    pub fn base(mut self, base: [u8; 32]) -> Self {
        self.base = Some(base);
        self
    }
}

/// How to deploy a module, as piecrust's `ContractData` (with a raw init
/// argument).
#[derive(Clone, Debug, Default)]
pub struct ContractData {
    contract_id: Option<ContractId>,
    init_arg: Option<Vec<u8>>,
    owner: Option<Vec<u8>>,
    nonce: u64,
}

impl ContractData {
    pub fn builder() -> ContractData {
        ContractData::default()
    }
    pub fn contract_id(mut self, id: ContractId) -> Self {
        self.contract_id = Some(id);
        self
    }
    pub fn init_arg<V: Into<Vec<u8>>>(mut self, arg: V) -> Self {
        self.init_arg = Some(arg.into());
        self
    }
    pub fn owner<V: Into<Vec<u8>>>(mut self, owner: V) -> Self {
        self.owner = Some(owner.into());
        self
    }
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.nonce = nonce;
        self
    }
}

/// A session: deploys, calls, commits. Frees its C session when dropped.
pub struct Session {
    handle: *mut ffi::crust_session,
    _vm: Arc<VmHandle>,  // keeps the VM open while the session lives
}

// One thread at a time (it takes &mut self), any thread.
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        unsafe { ffi::crust_session_free(self.handle) }
    }
}

struct FeedState {
    sender: mpsc::Sender<Vec<u8>>,
}

extern "C" fn feeder_trampoline(user: *mut c_void, data: *const u8, len: usize) -> c_int {
    let state = unsafe { &*(user as *const FeedState) };
    let bytes = unsafe { c_bytes(data, len) };
    match catch_unwind(AssertUnwindSafe(|| state.sender.send(bytes))) {
        Ok(Ok(())) => 0,
        _ => 1,
    }
}

impl Session {
    /// Deploys `bytecode` and returns its id (piecrust's `deploy`, with a raw
    /// init argument).
    pub fn deploy<D: Into<ContractData>>(&mut self, bytecode: &[u8], deploy_data: D, gas_limit: u64) -> Result<ContractId, Error> {
        let d = deploy_data.into();
        self.deploy_raw(d.contract_id, bytecode, d.init_arg, d.owner.unwrap_or_default(), gas_limit, d.nonce)
    }

    /// Deploys with every option given (piecrust's `deploy_raw` plus the nonce).
    pub fn deploy_raw(
        &mut self,
        contract_id: Option<ContractId>,
        bytecode: &[u8],
        init_arg: Option<Vec<u8>>,
        owner: Vec<u8>,
        gas_limit: u64,
        nonce: u64,
    ) -> Result<ContractId, Error> {
        let init = init_arg.unwrap_or_default();
        let mut o = ffi::crust_deploy_options {
            has_id: 0,
            id: [0; 32],
            owner: owner.as_ptr(),
            owner_len: owner.len(),
            nonce,
            init_arg: init.as_ptr(),
            init_arg_len: init.len(),
            gas_limit,
        };
        if let Some(id) = contract_id {
            o.has_id = 1;
            o.id = id.0;
        }
        let mut out = [0u8; 32];
        let mut err = ptr::null_mut();
        check(
            unsafe { ffi::crust_session_deploy(self.handle, bytecode.as_ptr(), bytecode.len(), &o, out.as_mut_ptr(), &mut err) },
            err,
        )?;
        Ok(ContractId(out))
    }

    /// Calls `fn_name` of `contract` with raw argument bytes. A failed call
    /// is an `Err` whose `receipt` holds the gas spent and events.
    pub fn call_raw<V: Into<Vec<u8>>>(&mut self, contract: ContractId, fn_name: &str, fn_arg: V, gas_limit: u64) -> Result<CallReceipt<Vec<u8>>, Error> {
        let name = cstring(fn_name, "function name")?;
        let arg = fn_arg.into();
        let mut receipt = ptr::null_mut();
        let mut err = ptr::null_mut();
        let code = unsafe {
            ffi::crust_session_call(self.handle, contract.0.as_ptr(), name.as_ptr(), arg.as_ptr(), arg.len(), gas_limit, &mut receipt, &mut err)
        };
        finish_call(code, receipt, err)
    }

    /// As `call_raw`, sending every `feed` of the contract to `feeder`
    /// (piecrust's `feeder_call_raw`). A closed receiver stops delivery and
    /// the call returns `Aborted`.
    pub fn feeder_call_raw<V: Into<Vec<u8>>>(
        &mut self,
        contract: ContractId,
        fn_name: &str,
        fn_arg: V,
        gas_limit: u64,
        feeder: mpsc::Sender<Vec<u8>>,
    ) -> Result<CallReceipt<Vec<u8>>, Error> {
        let name = cstring(fn_name, "function name")?;
        let arg = fn_arg.into();
        let state = FeedState { sender: feeder };
        let mut receipt = ptr::null_mut();
        let mut err = ptr::null_mut();
        let code = unsafe {
            ffi::crust_session_feeder_call(
                self.handle,
                contract.0.as_ptr(),
                name.as_ptr(),
                arg.as_ptr(),
                arg.len(),
                gas_limit,
                feeder_trampoline,
                &state as *const FeedState as *mut c_void,
                &mut receipt,
                &mut err,
            )
        };
        finish_call(code, receipt, err)
    }

    /// Replaces `contract`'s bytecode: `fn_name` of the new code runs with
    /// `fn_arg` and may read the old module's state through calls; the owner
    /// is kept unless `new_owner` is given. (piecrust's `migrate` takes a
    /// closure run against the new contract instead.)
    pub fn migrate_raw<V: Into<Vec<u8>>>(
        &mut self,
        contract: ContractId,
        bytecode: &[u8],
        fn_name: &str,
        fn_arg: V,
        gas_limit: u64,
        new_owner: Option<Vec<u8>>,
    ) -> Result<CallReceipt<Vec<u8>>, Error> {
        let name = cstring(fn_name, "function name")?;
        let arg = fn_arg.into();
        let one = [0u8; 1];
        let (owner_ptr, owner_len) = match &new_owner {
            Some(o) if o.is_empty() => (one.as_ptr(), 0),
            Some(o) => (o.as_ptr(), o.len()),
            None => (ptr::null(), 0),
        };
        let mut receipt = ptr::null_mut();
        let mut err = ptr::null_mut();
        let code = unsafe {
            ffi::crust_session_migrate(
                self.handle,
                contract.0.as_ptr(),
                bytecode.as_ptr(),
                bytecode.len(),
                name.as_ptr(),
                arg.as_ptr(),
                arg.len(),
                gas_limit,
                owner_ptr,
                owner_len,
                &mut receipt,
                &mut err,
            )
        };
        finish_call(code, receipt, err)
    }

    /// Sets session metadata (raw bytes; piecrust's serializes the value).
    pub fn set_meta<S: Into<String>, V: Into<Vec<u8>>>(&mut self, name: S, value: V) -> Result<(), Error> {
        let name = cstring(&name.into(), "metadata name")?;
        let value = value.into();
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_session_set_meta(self.handle, name.as_ptr(), value.as_ptr(), value.len(), &mut err) }, err)
    }

    /// The owner given at deploy.
    pub fn owner(&mut self, contract: ContractId) -> Result<Vec<u8>, Error> {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_session_owner(self.handle, contract.0.as_ptr(), &mut out, &mut err) }, err)?;
        unsafe {
            let v = c_bytes(ffi::crust_bytes_data(out), ffi::crust_bytes_len(out));
            ffi::crust_bytes_free(out);
            Ok(v)
        }
    }

    /// The root a commit now would produce. (piecrust's returns the root
    /// directly; crust reports I/O errors.)
    pub fn root(&mut self) -> Result<[u8; 32], Error> {
        let mut out = [0u8; 32];
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_session_root(self.handle, out.as_mut_ptr(), &mut err) }, err)?;
        Ok(out)
    }

    /// The commit this session started from or last made.
    pub fn base(&self) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        if unsafe { ffi::crust_session_base(self.handle, out.as_mut_ptr()) } != 0 {
            Some(out)
        } else {
            None
        }
    }

    /// Commits the state and ends the session, as piecrust's `commit`.
    pub fn commit(mut self) -> Result<[u8; 32], Error> {
        self.commit_and_continue()
    }

    /// Commits the state and keeps the session (later commits build on it).
    pub fn commit_and_continue(&mut self) -> Result<[u8; 32], Error> {
        let mut out = [0u8; 32];
        let mut err = ptr::null_mut();
        check(unsafe { ffi::crust_session_commit(self.handle, out.as_mut_ptr(), &mut err) }, err)?;
        Ok(out)
    }
}
