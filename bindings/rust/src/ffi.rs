// Copyright (c) crust authors. Licensed under the MIT license.
//
// Declarations of the C API (include/crust/crust.h) this crate uses.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_int, c_void};

pub type crust_code = c_int;
pub const CRUST_OK: crust_code = 0;

#[repr(C)]
pub struct opaque {
    _private: [u8; 0],
}
pub type crust_error = opaque;
pub type crust_vm_options = opaque;
pub type crust_vm = opaque;
pub type crust_store = opaque;
pub type crust_session = opaque;
pub type crust_receipt = opaque;
pub type crust_commit_list = opaque;
pub type crust_bytes = opaque;
pub type crust_query_result = opaque;

#[repr(C)]
pub struct crust_module_info {
    pub id: [u8; 32],
    pub bytecode_hash: [u8; 32],
    pub memory_hash: [u8; 32],
    pub memory_length: u64,
    pub bytecode_size: u64,
    pub delta_layers: u32,
    pub metadata: *const u8,
    pub metadata_len: usize,
}

#[repr(C)]
pub struct crust_commit {
    pub root: [u8; 32],
    pub created_unix_ns: u64,
    pub module_count: usize,
    pub modules: *const crust_module_info,
}

#[repr(C)]
pub struct crust_deploy_options {
    pub has_id: c_int,
    pub id: [u8; 32],
    pub owner: *const u8,
    pub owner_len: usize,
    pub nonce: u64,
    pub init_arg: *const u8,
    pub init_arg_len: usize,
    pub gas_limit: u64,
}

#[repr(C)]
pub struct crust_event {
    pub source: [u8; 32],
    pub topic: *const c_char,
    pub topic_len: usize,
    pub data: *const u8,
    pub data_len: usize,
    pub reverted: c_int,
}

#[repr(C)]
pub struct crust_call_node {
    pub module: [u8; 32],
    pub function: *const c_char,
    pub depth: u32,
    pub gas_limit: u64,
    pub gas_spent: u64,
    pub status: crust_code,
    pub message: *const c_char,
}

pub type crust_host_query_fn =
    extern "C" fn(*mut c_void, *const u8, usize, *mut crust_query_result, *mut u64) -> c_int;
pub type crust_feeder_fn = extern "C" fn(*mut c_void, *const u8, usize) -> c_int;

extern "C" {
    pub fn crust_version() -> *const c_char;
    pub fn crust_code_name(code: c_int) -> *const c_char;
    pub fn crust_error_code(err: *const crust_error) -> crust_code;
    pub fn crust_error_message(err: *const crust_error) -> *const c_char;
    pub fn crust_error_free(err: *mut crust_error);

    pub fn crust_bytes_data(b: *const crust_bytes) -> *const u8;
    pub fn crust_bytes_len(b: *const crust_bytes) -> usize;
    pub fn crust_bytes_free(b: *mut crust_bytes);

    pub fn crust_query_result_set(r: *mut crust_query_result, data: *const u8, len: usize);
    pub fn crust_query_result_fail(r: *mut crust_query_result, message: *const c_char);

    pub fn crust_vm_options_new() -> *mut crust_vm_options;
    pub fn crust_vm_options_free(o: *mut crust_vm_options);
    pub fn crust_vm_options_set_read_only(o: *mut crust_vm_options, v: c_int);
    pub fn crust_vm_options_set_create_if_missing(o: *mut crust_vm_options, v: c_int);
    pub fn crust_vm_options_set_sync(o: *mut crust_vm_options, v: c_int);
    pub fn crust_vm_options_set_opt_level(o: *mut crust_vm_options, level: c_int);
    pub fn crust_vm_options_add_host_query(
        o: *mut crust_vm_options,
        name: *const c_char,
        f: crust_host_query_fn,
        user: *mut c_void,
        free_user: Option<extern "C" fn(*mut c_void)>,
        err: *mut *mut crust_error,
    ) -> crust_code;

    pub fn crust_vm_open(
        dir: *const c_char,
        o: *const crust_vm_options,
        out: *mut *mut crust_vm,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_vm_free(vm: *mut crust_vm);
    pub fn crust_vm_store(vm: *mut crust_vm) -> *mut crust_store;
    pub fn crust_vm_genesis_session(
        vm: *mut crust_vm,
        out: *mut *mut crust_session,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_vm_session(
        vm: *mut crust_vm,
        root: *const u8,
        out: *mut *mut crust_session,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_vm_sweep_code_cache(
        vm: *mut crust_vm,
        dry_run: c_int,
        out: *mut crate::CodeCacheSweep,
        err: *mut *mut crust_error,
    ) -> crust_code;

    pub fn crust_store_list_commits(
        s: *mut crust_store,
        out: *mut *mut crust_commit_list,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_store_show_commit(
        s: *mut crust_store,
        root: *const u8,
        out: *mut *mut crust_commit_list,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_store_verify_commit(s: *mut crust_store, root: *const u8, err: *mut *mut crust_error) -> crust_code;
    pub fn crust_store_delete_commit(
        s: *mut crust_store,
        root: *const u8,
        wait: c_int,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_commit_list_len(l: *const crust_commit_list) -> usize;
    pub fn crust_commit_list_get(l: *const crust_commit_list, i: usize) -> *const crust_commit;
    pub fn crust_commit_list_free(l: *mut crust_commit_list);

    pub fn crust_session_free(s: *mut crust_session);
    pub fn crust_deploy_options_init(o: *mut crust_deploy_options);
    pub fn crust_session_deploy(
        s: *mut crust_session,
        wasm: *const u8,
        wasm_len: usize,
        o: *const crust_deploy_options,
        id_out: *mut u8,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_call(
        s: *mut crust_session,
        module: *const u8,
        function: *const c_char,
        arg: *const u8,
        arg_len: usize,
        gas_limit: u64,
        out: *mut *mut crust_receipt,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_feeder_call(
        s: *mut crust_session,
        module: *const u8,
        function: *const c_char,
        arg: *const u8,
        arg_len: usize,
        gas_limit: u64,
        feeder: crust_feeder_fn,
        user: *mut c_void,
        out: *mut *mut crust_receipt,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_migrate(
        s: *mut crust_session,
        module: *const u8,
        wasm: *const u8,
        wasm_len: usize,
        function: *const c_char,
        arg: *const u8,
        arg_len: usize,
        gas_limit: u64,
        new_owner: *const u8,
        new_owner_len: usize,
        out: *mut *mut crust_receipt,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_set_meta(
        s: *mut crust_session,
        name: *const c_char,
        value: *const u8,
        value_len: usize,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_owner(
        s: *mut crust_session,
        module: *const u8,
        out: *mut *mut crust_bytes,
        err: *mut *mut crust_error,
    ) -> crust_code;
    pub fn crust_session_root(s: *mut crust_session, root_out: *mut u8, err: *mut *mut crust_error) -> crust_code;
    pub fn crust_session_base(s: *const crust_session, root_out: *mut u8) -> c_int;
    pub fn crust_session_commit(s: *mut crust_session, root_out: *mut u8, err: *mut *mut crust_error) -> crust_code;

    pub fn crust_receipt_status(r: *const crust_receipt) -> crust_code;
    pub fn crust_receipt_message(r: *const crust_receipt) -> *const c_char;
    pub fn crust_receipt_data(r: *const crust_receipt, len: *mut usize) -> *const u8;
    pub fn crust_receipt_gas_limit(r: *const crust_receipt) -> u64;
    pub fn crust_receipt_gas_spent(r: *const crust_receipt) -> u64;
    pub fn crust_receipt_event_count(r: *const crust_receipt) -> usize;
    pub fn crust_receipt_event(r: *const crust_receipt, i: usize) -> *const crust_event;
    pub fn crust_receipt_debug_count(r: *const crust_receipt) -> usize;
    pub fn crust_receipt_debug(r: *const crust_receipt, i: usize) -> *const c_char;
    pub fn crust_receipt_call_count(r: *const crust_receipt) -> usize;
    pub fn crust_receipt_call(r: *const crust_receipt, i: usize) -> *const crust_call_node;
    pub fn crust_receipt_free(r: *mut crust_receipt);
}
