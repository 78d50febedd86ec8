# Copyright (c) crust authors. Licensed under the MIT license.
"""Python binding of crust over its C API (include/crust/crust.h), with ctypes.

Standard library only. The shared library is found through $CRUST_LIBRARY, the
installation prefix this package was installed under (share/crust/python ->
lib/), the system's library path, in that order.

    import crust
    with crust.VM("/path/to/store") as vm:
        s = vm.genesis_session()
        cid = s.deploy(open("counter.wasm", "rb").read())
        r = s.call_raw(cid, "increment", b"", 1_000_000)
        root = s.commit()

Ids and roots are 32-byte ``bytes`` (hex strings are accepted too). Every
failure raises ``CrustError`` (or its subclass for the code, e.g.
``NotFound``); a failed call's exception carries the receipt (gas spent,
events) as ``.receipt``. Thread-safety follows the C API: a VM may be shared
between threads, a Session is used by one thread at a time.
"""
import ctypes
import ctypes.util
import glob
import os

__all__ = ["VM", "Session", "Receipt", "Event", "CallNode", "Commit", "ModuleInfo", "CrustError", "version"]

_c_u8p = ctypes.POINTER(ctypes.c_uint8)
_HOST_QUERY_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, _c_u8p, ctypes.c_size_t, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_uint64))
_FEEDER_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, _c_u8p, ctypes.c_size_t)


class _ModuleInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint8 * 32), ("bytecode_hash", ctypes.c_uint8 * 32),
                ("memory_hash", ctypes.c_uint8 * 32), ("memory_length", ctypes.c_uint64),
                ("bytecode_size", ctypes.c_uint64), ("delta_layers", ctypes.c_uint32),
                ("metadata", _c_u8p), ("metadata_len", ctypes.c_size_t)]


class _Commit(ctypes.Structure):
    _fields_ = [("root", ctypes.c_uint8 * 32), ("created_unix_ns", ctypes.c_uint64),
                ("module_count", ctypes.c_size_t), ("modules", ctypes.POINTER(_ModuleInfo))]


_SWEEP_FIELDS = ("commits", "modules", "objects_kept", "objects_kept_bytes", "objects_removed",
                 "objects_removed_bytes", "prepared_kept", "prepared_kept_bytes", "prepared_removed",
                 "prepared_removed_bytes", "leftovers_removed")


class _CodeCacheSweep(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in _SWEEP_FIELDS]


class _DeployOptions(ctypes.Structure):
    _fields_ = [("has_id", ctypes.c_int), ("id", ctypes.c_uint8 * 32), ("owner", _c_u8p),
                ("owner_len", ctypes.c_size_t), ("nonce", ctypes.c_uint64), ("init_arg", _c_u8p),
                ("init_arg_len", ctypes.c_size_t), ("gas_limit", ctypes.c_uint64)]


class _Event(ctypes.Structure):
    _fields_ = [("source", ctypes.c_uint8 * 32), ("topic", ctypes.c_char_p), ("topic_len", ctypes.c_size_t),
                ("data", _c_u8p), ("data_len", ctypes.c_size_t), ("reverted", ctypes.c_int)]


class _CallNode(ctypes.Structure):
    _fields_ = [("module", ctypes.c_uint8 * 32), ("function", ctypes.c_char_p), ("depth", ctypes.c_uint32),
                ("gas_limit", ctypes.c_uint64), ("gas_spent", ctypes.c_uint64), ("status", ctypes.c_int),
                ("message", ctypes.c_char_p)]


def _candidates():
    env = os.environ.get("CRUST_LIBRARY")
    if env:
        yield env
    prefix = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    for pattern in ("lib/libcrust.so*", "lib/*/libcrust.so*", "lib64/libcrust.so*"):
        yield from sorted(glob.glob(os.path.join(prefix, pattern)))
    found = ctypes.util.find_library("crust")
    if found:
        yield found
    yield "libcrust.so"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("crust: cannot load libcrust (set CRUST_LIBRARY): " + "; ".join(errors))


_lib = _load()


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_vp = ctypes.c_void_p
_pvp = ctypes.POINTER(ctypes.c_void_p)
_int = ctypes.c_int
_sz = ctypes.c_size_t
_u64 = ctypes.c_uint64
_cp = ctypes.c_char_p
_version = _fn("crust_version", _cp)
_code_name = _fn("crust_code_name", _cp, _int)
_error_code = _fn("crust_error_code", _int, _vp)
_error_message = _fn("crust_error_message", _cp, _vp)
_error_free = _fn("crust_error_free", None, _vp)
_bytes_data = _fn("crust_bytes_data", _c_u8p, _vp)
_bytes_len = _fn("crust_bytes_len", _sz, _vp)
_bytes_free = _fn("crust_bytes_free", None, _vp)
_qr_set = _fn("crust_query_result_set", None, _vp, _c_u8p, _sz)
_qr_fail = _fn("crust_query_result_fail", None, _vp, _cp)
_opts_new = _fn("crust_vm_options_new", _vp)
_opts_free = _fn("crust_vm_options_free", None, _vp)
_opts_read_only = _fn("crust_vm_options_set_read_only", None, _vp, _int)
_opts_create = _fn("crust_vm_options_set_create_if_missing", None, _vp, _int)
_opts_sync = _fn("crust_vm_options_set_sync", None, _vp, _int)
_opts_opt_level = _fn("crust_vm_options_set_opt_level", None, _vp, _int)
_opts_cache_dir = _fn("crust_vm_options_set_code_cache_dir", _int, _vp, _cp, _pvp)
_opts_add_query = _fn("crust_vm_options_add_host_query", _int, _vp, _cp, _HOST_QUERY_FN, _vp, _vp, _pvp)
_vm_open = _fn("crust_vm_open", _int, _cp, _vp, _pvp, _pvp)
_vm_free = _fn("crust_vm_free", None, _vp)
_vm_store = _fn("crust_vm_store", _vp, _vp)
_vm_genesis = _fn("crust_vm_genesis_session", _int, _vp, _pvp, _pvp)
_vm_session = _fn("crust_vm_session", _int, _vp, _cp, _pvp, _pvp)
_vm_sweep = _fn("crust_vm_sweep_code_cache", _int, _vp, _int, ctypes.POINTER(_CodeCacheSweep), _pvp)
_store_list = _fn("crust_store_list_commits", _int, _vp, _pvp, _pvp)
_store_show = _fn("crust_store_show_commit", _int, _vp, _cp, _pvp, _pvp)
_store_verify = _fn("crust_store_verify_commit", _int, _vp, _cp, _pvp)
_store_delete = _fn("crust_store_delete_commit", _int, _vp, _cp, _int, _pvp)
_list_len = _fn("crust_commit_list_len", _sz, _vp)
_list_get = _fn("crust_commit_list_get", ctypes.POINTER(_Commit), _vp, _sz)
_list_free = _fn("crust_commit_list_free", None, _vp)
_session_free = _fn("crust_session_free", None, _vp)
_deploy = _fn("crust_session_deploy", _int, _vp, _cp, _sz, ctypes.POINTER(_DeployOptions), _cp, _pvp)
_call = _fn("crust_session_call", _int, _vp, _cp, _cp, _cp, _sz, _u64, _pvp, _pvp)
_feeder_call = _fn("crust_session_feeder_call", _int, _vp, _cp, _cp, _cp, _sz, _u64, _FEEDER_FN, _vp, _pvp, _pvp)
_migrate = _fn("crust_session_migrate", _int, _vp, _cp, _cp, _sz, _cp, _cp, _sz, _u64, _cp, _sz, _pvp, _pvp)
_set_meta = _fn("crust_session_set_meta", _int, _vp, _cp, _cp, _sz, _pvp)
_owner = _fn("crust_session_owner", _int, _vp, _cp, _pvp, _pvp)
_modules = _fn("crust_session_modules", _int, _vp, _pvp, _pvp)
_root = _fn("crust_session_root", _int, _vp, _cp, _pvp)
_base = _fn("crust_session_base", _int, _vp, _cp)
_commit = _fn("crust_session_commit", _int, _vp, _cp, _pvp)
_r_status = _fn("crust_receipt_status", _int, _vp)
_r_message = _fn("crust_receipt_message", _cp, _vp)
_r_data = _fn("crust_receipt_data", _c_u8p, _vp, ctypes.POINTER(_sz))
_r_gas_limit = _fn("crust_receipt_gas_limit", _u64, _vp)
_r_gas_spent = _fn("crust_receipt_gas_spent", _u64, _vp)
_r_event_count = _fn("crust_receipt_event_count", _sz, _vp)
_r_event = _fn("crust_receipt_event", ctypes.POINTER(_Event), _vp, _sz)
_r_debug_count = _fn("crust_receipt_debug_count", _sz, _vp)
_r_debug = _fn("crust_receipt_debug", _cp, _vp, _sz)
_r_call_count = _fn("crust_receipt_call_count", _sz, _vp)
_r_call = _fn("crust_receipt_call", ctypes.POINTER(_CallNode), _vp, _sz)
_r_free = _fn("crust_receipt_free", None, _vp)


def version():
    """The library's version string, e.g. "0.1.0"."""
    return _version().decode()


class CrustError(Exception):
    """A crust error: ``code`` (int, crust_code), ``code_name`` and ``message``.
    A failed call's error also has ``receipt`` (otherwise None)."""

    def __init__(self, code, message, receipt=None):
        self.code = code
        self.code_name = _code_name(code).decode()
        self.message = message
        self.receipt = receipt
        super().__init__(f"{self.code_name}: {message}")


_CODE_NAMES = ["NotFound", "Corruption", "IOError", "InvalidArgument", "Busy", "AlreadyExists", "NotSupported",
               "Trap", "OutOfGas", "Panic", "InvalidModule", "ResourceExhausted", "Aborted",
               "Internal"]
_ERROR_CLASSES = {}
for _i, _name in enumerate(_CODE_NAMES, start=1):
    _cls = type(_name, (CrustError,), {"__doc__": f"crust error code {_i} ({_name})."})
    globals()[_name] = _cls
    _ERROR_CLASSES[_i] = _cls
    __all__.append(_name)


def _raise(code, err, receipt=None):
    message = _error_message(err).decode("utf-8", "replace") if err else ""
    _error_free(err)
    raise _ERROR_CLASSES.get(code, CrustError)(code, message, receipt)


def _check(code, err):
    if code != 0:
        _raise(code, err)


def _id(value, what="id"):
    if isinstance(value, str):
        value = bytes.fromhex(value)
    value = bytes(value)
    if len(value) != 32:
        raise InvalidArgument(4, f"{what} must be 32 bytes (or 64 hex characters), got {len(value)}")
    return value


def _buf(data):
    data = bytes(data) if data is not None else b""
    return data, len(data)


def _u8p(data):
    return ctypes.cast(ctypes.c_char_p(data), _c_u8p) if data else None


class Event:
    """An event: ``source`` (32-byte module id), ``topic`` (str), ``data`` (bytes), ``reverted`` (bool)."""

    def __init__(self, source, topic, data, reverted):
        self.source, self.topic, self.data, self.reverted = source, topic, data, reverted

    def __repr__(self):
        return f"Event(source={self.source.hex()[:16]}.., topic={self.topic!r}, data={self.data!r}, reverted={self.reverted})"


class CallNode:
    """One call of a receipt's call tree (pre-order)."""

    def __init__(self, module, function, depth, gas_limit, gas_spent, code, message):
        self.module, self.function, self.depth = module, function, depth
        self.gas_limit, self.gas_spent, self.code, self.message = gas_limit, gas_spent, code, message


class Receipt:
    """A call's receipt: ``data``, ``gas_limit``, ``gas_spent``, ``events``, ``debug``, ``call_tree``,
    ``code`` (0 when the call succeeded) and ``message``."""

    def __init__(self, handle):
        self.code = _r_status(handle)
        self.message = _r_message(handle).decode("utf-8", "replace")
        n = _sz(0)
        p = _r_data(handle, ctypes.byref(n))
        self.data = ctypes.string_at(p, n.value) if n.value else b""
        self.gas_limit = _r_gas_limit(handle)
        self.gas_spent = _r_gas_spent(handle)
        self.events = []
        for i in range(_r_event_count(handle)):
            e = _r_event(handle, i).contents
            self.events.append(Event(bytes(e.source), ctypes.string_at(e.topic, e.topic_len).decode("utf-8", "replace"),
                                     ctypes.string_at(e.data, e.data_len) if e.data_len else b"", bool(e.reverted)))
        self.debug = [_r_debug(handle, i).decode("utf-8", "replace") for i in range(_r_debug_count(handle))]
        self.call_tree = []
        for i in range(_r_call_count(handle)):
            c = _r_call(handle, i).contents
            self.call_tree.append(CallNode(bytes(c.module), c.function.decode(), c.depth, c.gas_limit, c.gas_spent,
                                           c.status, c.message.decode("utf-8", "replace")))

    @property
    def ok(self):
        return self.code == 0


class ModuleInfo:
    def __init__(self, m):
        self.id = bytes(m.id)
        self.bytecode_hash = bytes(m.bytecode_hash)
        self.memory_hash = bytes(m.memory_hash)
        self.memory_length = m.memory_length
        self.bytecode_size = m.bytecode_size
        self.delta_layers = m.delta_layers
        self.metadata = ctypes.string_at(m.metadata, m.metadata_len) if m.metadata_len else b""


class Commit:
    """A commit: ``root`` (32 bytes), ``created_unix_ns`` and ``modules`` (filled by show_commit only)."""

    def __init__(self, c):
        self.root = bytes(c.root)
        self.created_unix_ns = c.created_unix_ns
        self.modules = [ModuleInfo(c.modules[i]) for i in range(c.module_count)]


def _commits(handle):
    try:
        return [Commit(_list_get(handle, i).contents) for i in range(_list_len(handle))]
    finally:
        _list_free(handle)


class VM:
    """A crust VM on the store at ``path`` (created when missing, unless ``create_if_missing`` is False).

    ``host_queries`` maps names to callables ``f(arg: bytes) -> bytes`` (or ``(bytes, gas)``) that
    contracts reach with ``hq``; an exception fails the contract's call.
    """

    def __init__(self, path, *, read_only=False, create_if_missing=True, sync=True, opt_level=2,
                 code_cache_dir=None, host_queries=None):
        self._handle = None
        self._sessions = []
        self._callbacks = []  # ctypes callback objects must outlive the VM
        opts = _opts_new()
        if not opts:
            raise MemoryError("crust_vm_options_new")
        try:
            _opts_read_only(opts, int(read_only))
            _opts_create(opts, int(create_if_missing))
            _opts_sync(opts, int(sync))
            _opts_opt_level(opts, opt_level)
            err = ctypes.c_void_p()
            if code_cache_dir is not None:
                _check(_opts_cache_dir(opts, os.fsencode(code_cache_dir), ctypes.byref(err)), err)
            for name, fn in (host_queries or {}).items():
                cb = _HOST_QUERY_FN(self._make_query(fn))
                self._callbacks.append(cb)
                _check(_opts_add_query(opts, name.encode(), cb, None, None, ctypes.byref(err)), err)
            handle = ctypes.c_void_p()
            _check(_vm_open(os.fsencode(path), opts, ctypes.byref(handle), ctypes.byref(err)), err)
            self._handle = handle
        finally:
            _opts_free(opts)

    @staticmethod
    def _make_query(fn):
        def query(user, arg, arg_len, result, gas):
            try:
                out = fn(ctypes.string_at(arg, arg_len) if arg_len else b"")
                if isinstance(out, tuple):
                    out, charge = out
                    gas[0] = int(charge)
                out = bytes(out)
                _qr_set(result, _u8p(out), len(out))
                return 0
            except BaseException as e:  # noqa: B902 -- nothing may cross the C boundary
                _qr_fail(result, f"{type(e).__name__}: {e}".encode("utf-8", "replace"))
                return 1
        return query

    def _live(self):
        if self._handle is None:
            raise Aborted(13, "the VM is closed")
        return self._handle

    def genesis_session(self):
        """A session on the empty state."""
        return self.session(None)

    def session(self, base=None):
        """A session on commit ``base`` (None: genesis)."""
        handle, err = ctypes.c_void_p(), ctypes.c_void_p()
        if base is None:
            _check(_vm_genesis(self._live(), ctypes.byref(handle), ctypes.byref(err)), err)
        else:
            _check(_vm_session(self._live(), _id(base, "root"), ctypes.byref(handle), ctypes.byref(err)), err)
        s = Session(self, handle)
        return s

    def commits(self):
        """Every commit, oldest first."""
        handle, err = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_store_list(_vm_store(self._live()), ctypes.byref(handle), ctypes.byref(err)), err)
        return _commits(handle)

    def show_commit(self, root):
        handle, err = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_store_show(_vm_store(self._live()), _id(root, "root"), ctypes.byref(handle), ctypes.byref(err)), err)
        return _commits(handle)[0]

    def verify_commit(self, root):
        err = ctypes.c_void_p()
        _check(_store_verify(_vm_store(self._live()), _id(root, "root"), ctypes.byref(err)), err)

    def delete_commit(self, root, wait=True):
        err = ctypes.c_void_p()
        _check(_store_delete(_vm_store(self._live()), _id(root, "root"), int(wait), ctypes.byref(err)), err)

    def sweep_code_cache(self, dry_run=False):
        """Removes from the code cache what no commit of the store needs (crust/vm.h,
        Vm::SweepCodeCache; `crust prune-code`). Returns a dict of counts: commits, modules,
        objects_kept, objects_kept_bytes, objects_removed, objects_removed_bytes,
        prepared_kept, prepared_kept_bytes, prepared_removed, prepared_removed_bytes,
        leftovers_removed. dry_run=True counts without removing."""
        out = _CodeCacheSweep()
        err = ctypes.c_void_p()
        _check(_vm_sweep(self._live(), int(bool(dry_run)), ctypes.byref(out), ctypes.byref(err)), err)
        return {name: int(getattr(out, name)) for name in _SWEEP_FIELDS}

    def close(self):
        """Frees the VM (closing any session still open first)."""
        for s in self._sessions:
            s.close()
        self._sessions = []
        if self._handle is not None:
            _vm_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Session:
    """A session: deploys, calls, commits. Use from one thread at a time."""

    def __init__(self, vm, handle):
        self._vm = vm
        self._handle = handle
        vm._sessions.append(self)

    def _live(self):
        if self._handle is None:
            raise Aborted(13, "the session is closed")
        return self._handle

    def deploy(self, bytecode, *, owner=b"", nonce=0, init_arg=b"", gas_limit=1_000_000_000, contract_id=None):
        """Deploys ``bytecode`` and returns the module id (32 bytes)."""
        wasm, wasm_len = _buf(bytecode)
        owner, owner_len = _buf(owner)
        init_arg, init_len = _buf(init_arg)
        o = _DeployOptions()
        if contract_id is not None:
            o.has_id = 1
            o.id[:] = list(_id(contract_id))
        o.owner, o.owner_len = _u8p(owner), owner_len
        o.init_arg, o.init_arg_len = _u8p(init_arg), init_len
        o.nonce, o.gas_limit = nonce, gas_limit
        out = ctypes.create_string_buffer(32)
        err = ctypes.c_void_p()
        _check(_deploy(self._live(), wasm, wasm_len, ctypes.byref(o), out, ctypes.byref(err)), err)
        return out.raw

    def _finish(self, code, receipt, err):
        r = Receipt(receipt) if receipt else None
        _r_free(receipt)
        if code != 0:
            _raise(code, err, r)
        return r

    def call_raw(self, module, function, arg=b"", gas_limit=1_000_000_000):
        """Calls ``function`` of ``module``; returns the Receipt or raises CrustError (with ``.receipt``)."""
        arg, n = _buf(arg)
        receipt, err = ctypes.c_void_p(), ctypes.c_void_p()
        code = _call(self._live(), _id(module, "module"), function.encode(), arg, n, gas_limit,
                     ctypes.byref(receipt), ctypes.byref(err))
        return self._finish(code, receipt, err)

    def feeder_call(self, module, function, arg, gas_limit, feeder):
        """As call_raw, passing every ``feed`` of the contract to ``feeder(data: bytes)``. An exception
        in the feeder stops delivery and raises Aborted after the call."""
        failure = []

        def feed(user, data, n):
            try:
                feeder(ctypes.string_at(data, n) if n else b"")
                return 0
            except BaseException as e:  # noqa: B902
                failure.append(e)
                return 1
        cb = _FEEDER_FN(feed)
        arg, n = _buf(arg)
        receipt, err = ctypes.c_void_p(), ctypes.c_void_p()
        code = _feeder_call(self._live(), _id(module, "module"), function.encode(), arg, n, gas_limit, cb, None,
                            ctypes.byref(receipt), ctypes.byref(err))
        return self._finish(code, receipt, err)

    def migrate(self, module, new_bytecode, function, arg, gas_limit, new_owner=None):
        """Replaces ``module``'s bytecode, running ``function`` of the new code (VmSession::Migrate)."""
        wasm, wasm_len = _buf(new_bytecode)
        arg, n = _buf(arg)
        owner, owner_len = (None, 0) if new_owner is None else _buf(new_owner)
        if owner is not None and owner_len == 0:
            owner = b"\0"  # non-NULL: "set the owner to the empty string"
        receipt, err = ctypes.c_void_p(), ctypes.c_void_p()
        code = _migrate(self._live(), _id(module, "module"), wasm, wasm_len, function.encode(), arg, n, gas_limit,
                        owner, owner_len, ctypes.byref(receipt), ctypes.byref(err))
        return self._finish(code, receipt, err)

    def set_meta(self, name, value):
        value, n = _buf(value)
        err = ctypes.c_void_p()
        _check(_set_meta(self._live(), name.encode(), value, n, ctypes.byref(err)), err)

    def owner(self, module):
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_owner(self._live(), _id(module, "module"), ctypes.byref(out), ctypes.byref(err)), err)
        try:
            n = _bytes_len(out)
            return ctypes.string_at(_bytes_data(out), n) if n else b""
        finally:
            _bytes_free(out)

    def modules(self):
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_modules(self._live(), ctypes.byref(out), ctypes.byref(err)), err)
        try:
            n = _bytes_len(out)
            raw = ctypes.string_at(_bytes_data(out), n) if n else b""
        finally:
            _bytes_free(out)
        return [raw[i:i + 32] for i in range(0, len(raw), 32)]

    def root(self):
        """The root a commit now would produce."""
        out, err = ctypes.create_string_buffer(32), ctypes.c_void_p()
        _check(_root(self._live(), out, ctypes.byref(err)), err)
        return out.raw

    @property
    def base(self):
        """The commit this session started from or last made (None for an uncommitted genesis)."""
        out = ctypes.create_string_buffer(32)
        return out.raw if _base(self._live(), out) else None

    def commit(self):
        """Commits the state; returns the new root."""
        out, err = ctypes.create_string_buffer(32), ctypes.c_void_p()
        _check(_commit(self._live(), out, ctypes.byref(err)), err)
        return out.raw

    def close(self):
        if self._handle is not None:
            _session_free(self._handle)
            self._handle = None
            if self in self._vm._sessions:
                self._vm._sessions.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
