# Copyright (c) crust authors. Licensed under the MIT license.
"""Out-of-tree Python example against an installed crust (install_examples.sh
sets PYTHONPATH to <prefix>/share/crust/python):
    python3 counter_example.py STORE_DIR COUNTER_WASM
deploys counter with init 41, increments it, commits, reopens the store and
reads 42 back from the commit."""
import struct
import sys

import crust

store, wasm_path = sys.argv[1], sys.argv[2]
with open(wasm_path, "rb") as f:
    wasm = f.read()
with crust.VM(store, opt_level=0) as vm:
    s = vm.genesis_session()
    cid = s.deploy(wasm, init_arg=struct.pack("<Q", 41))
    s.call_raw(cid, "increment", b"", 1_000_000)
    root = s.commit()
with crust.VM(store, opt_level=0) as vm:
    value = struct.unpack("<Q", vm.session(root).call_raw(cid, "read", b"", 1_000_000).data)[0]
print(f"python: crust {crust.version()} counter = {value}")
sys.exit(0 if value == 42 else 1)
