# Copyright (c) crust authors. Licensed under the MIT license.
"""Tests of the Python binding (run by ctest as python_binding_test).

Needs $CRUST_CONTRACTS_DIR (the built example contracts) and the library
($CRUST_LIBRARY or an installed copy)."""
import os
import struct

import pytest

import crust

CONTRACTS = os.environ.get("CRUST_CONTRACTS_DIR", "")
GAS = 100_000_000


def contract(name):
    with open(os.path.join(CONTRACTS, name + ".wasm"), "rb") as f:
        return f.read()


def u64(data):
    return struct.unpack("<Q", data)[0]


def query_arg(name, arg):
    return struct.pack("<I", len(name)) + name.encode() + arg


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "store")


def open_vm(path, **kw):
    return crust.VM(path, opt_level=0, sync=False, **kw)


def test_version():
    assert crust.version().count(".") == 2


def test_deploy_call_commit_reopen(store):
    with open_vm(store) as vm:
        s = vm.genesis_session()
        assert s.base is None
        cid = s.deploy(contract("counter"), init_arg=struct.pack("<Q", 5), owner=b"me")
        assert len(cid) == 32
        assert s.owner(cid) == b"me"
        r = s.call_raw(cid, "increment", b"", GAS)
        assert r.ok and u64(r.data) == 6 and 0 < r.gas_spent <= r.gas_limit == GAS
        assert [n.function for n in r.call_tree] == ["increment"]
        assert s.modules() == [cid]
        expected = s.root()
        root = s.commit()
        assert root == expected and s.base == root
        s.close()
        assert [c.root for c in vm.commits()] == [root]
        info = vm.show_commit(root.hex())
        assert [m.id for m in info.modules] == [cid]
        vm.verify_commit(root)
    with open_vm(store, read_only=True) as vm:
        s = vm.session(root)
        assert u64(s.call_raw(cid, "read").data) == 6
        with pytest.raises(crust.Aborted):
            s.commit()
        with pytest.raises(crust.Aborted):  # the writer's uncommitted deploys are in no commit
            vm.sweep_code_cache(dry_run=True)


def test_errors(store):
    with open_vm(store) as vm:
        with pytest.raises(crust.NotFound):
            vm.session(b"\0" * 32)
        with pytest.raises(crust.InvalidArgument):
            vm.session(b"short")
        with pytest.raises(crust.NotFound):
            vm.verify_commit("00" * 32)
        s = vm.genesis_session()
        with pytest.raises(crust.InvalidModule):
            s.deploy(b"\0asm\x09\x09")
        with pytest.raises(crust.InvalidModule):
            s.deploy(b"")
        cid = s.deploy(contract("counter"))
        with pytest.raises(crust.AlreadyExists):
            s.deploy(contract("counter"))
        with pytest.raises(crust.NotFound) as e:
            s.call_raw(cid, "nope")
        assert e.value.receipt is not None and e.value.receipt.code == e.value.code
        with pytest.raises(crust.Panic) as e:
            s.call_raw(cid, "add", b"\1\2\3", GAS)
        assert "counter.add" in e.value.message and e.value.receipt.gas_spent > 0
        with pytest.raises(crust.OutOfGas):
            s.call_raw(cid, "increment", b"", 1)
        assert u64(s.call_raw(cid, "read").data) == 0
        s.close()
        with pytest.raises(crust.Aborted):
            s.call_raw(cid, "read")
    with pytest.raises(crust.Aborted):
        vm.commits()
    with pytest.raises(crust.NotFound):
        crust.VM(store + "-missing", create_if_missing=False)


def test_host_queries_events_feeds_meta(store):
    seen = []

    def double(arg):
        seen.append(arg)
        return arg * 2, 7

    def broken(arg):
        raise RuntimeError("the oracle is down")

    with open_vm(store, host_queries={"double": double, "broken": broken}) as vm:
        s = vm.genesis_session()
        cc = s.deploy(contract("callcenter"))
        r = s.call_raw(cc, "query", query_arg("double", b"ab"), GAS)
        assert r.data == b"abab" and seen == [b"ab"]
        with pytest.raises(crust.CrustError) as e:
            s.call_raw(cc, "query", query_arg("broken", b"x"), GAS)
        assert "the oracle is down" in e.value.message
        r = s.call_raw(cc, "emit", query_arg("topic", b"data"), GAS)
        assert [(ev.source, ev.topic, ev.data, ev.reverted) for ev in r.events] == [(cc, "topic", b"data", False)]
        fed = []
        r = s.feeder_call(cc, "feed_n", struct.pack("<I", 3), GAS, fed.append)
        assert fed == [struct.pack("<I", i) for i in range(3)]

        def bad_feeder(data):
            raise ValueError("full")
        with pytest.raises(crust.Aborted):
            s.feeder_call(cc, "feed_n", struct.pack("<I", 3), GAS, bad_feeder)
        hi = s.deploy(contract("hostinfo"))
        s.set_meta("height", b"\x2a\0\0\0")
        assert s.call_raw(hi, "meta", b"height", GAS).data == b"\x2a\0\0\0"


def test_migrate_and_delete(store):
    with open_vm(store) as vm:
        s = vm.genesis_session()
        cid = s.deploy(contract("counter"), init_arg=struct.pack("<Q", 4))
        first = s.commit()
        s.migrate(cid, contract("migrated"), "migrate", cid, GAS)
        assert u64(s.call_raw(cid, "read").data) == 40
        with pytest.raises(crust.InvalidModule):
            s.migrate(cid, b"\0asm", "migrate", cid, GAS)
        second = s.commit()
        # A session pins its base and every commit it made: s pins first.
        with pytest.raises(crust.Busy):
            vm.delete_commit(first, wait=False)
        s.close()
        pinned = vm.session(first)
        with pytest.raises(crust.Busy):
            vm.delete_commit(first, wait=False)
        pinned.close()
        vm.delete_commit(first)
        assert [c.root for c in vm.commits()] == [second]


def test_sweep_code_cache(store):
    with open_vm(store) as vm:
        s = vm.genesis_session()
        cid = s.deploy(contract("counter"), init_arg=struct.pack("<Q", 1))
        kept = s.commit()
        s.deploy(contract("hostinfo"))
        dropped = s.commit()
        s.close()
    with open_vm(store) as vm:  # nothing loaded in this process yet
        vm.delete_commit(dropped)  # hostinfo is in no commit now
        dry = vm.sweep_code_cache(dry_run=True)
        assert dry["commits"] == 1 and dry["modules"] == 1
        assert dry["objects_kept"] == 1 and dry["objects_removed"] == 1  # opt_level 0: one tier
        assert dry["prepared_kept"] == 1 and dry["prepared_removed"] == 1
        assert dry["objects_removed_bytes"] > 0
        assert vm.sweep_code_cache() == dry  # the same counts, now removed
        again = vm.sweep_code_cache()
        assert again["objects_removed"] == 0 and again["prepared_removed"] == 0
        assert again["objects_kept"] == 1
        s = vm.session(kept)
        assert u64(s.call_raw(cid, "read").data) == 1
        s.close()
