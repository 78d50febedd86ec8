#!/usr/bin/env bash
# Installs the Debian 12 packages crust needs to build, test and run its demo
# (`install-deps.sh --test` adds those only the tests need).
# Idempotent and fast when everything is present: it asks dpkg first and only
# calls apt-get for what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libzstd-dev libssl-dev libgtest-dev libgmock-dev
      libbenchmark-dev wabt binaryen clang lld nodejs librust-blake3-dev
      libcpp-httplib-dev nlohmann-json3-dev tcc
      libfuzzer-14-dev
      liblmdb-dev librocksdb-dev libsqlite3-dev  # optional: read_bench's comparisons
      cargo rustc python3 python3-pytest)  # the Rust and Python bindings' tests
# --test: also what only the tests need: Chromium, the browser that loads the
# web view (`crust ui`) in tests/cli_ui_test.cc (large, so not for builds).
[ "${1:-}" = "--test" ] && pkgs+=(chromium nginx)  # nginx: tests/sync_test.cc serves an export
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
