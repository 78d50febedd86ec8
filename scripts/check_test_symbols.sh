#!/usr/bin/env bash
# Fails when a product library defines a test-only name: the code of
# src/testing (crust_testing: interpreter oracle, spec runner, runtime test
# helpers) and *ForTesting hooks must never be part of libcrust.
# Usage: check_test_symbols.sh LIBRARY...  (libcrust.a, libcrust.so, ...)
# Run by ctest (test "test_symbols"); prints every offending symbol.
set -euo pipefail
pattern='InterpOracle|OracleHost|OracleContext|OracleOutcome|InterpBackend|BackendImport|ForTesting|crust::engine::spec::|crust::engine::testing::|crust::testing::'
status=0
for lib in "$@"; do
  # --defined-only: names the library provides (not ones it merely uses).
  if hits=$(nm -C --defined-only "$lib" 2>/dev/null | grep -E "$pattern"); then
    echo "test_symbols: $lib defines test-only names:"
    echo "$hits" | head -50
    status=1
  fi
done
[ $status -eq 0 ] && echo "test_symbols: ok ($*: no test-only names)"
exit $status
