#!/usr/bin/env bash
# Installs the Debian 12 packages crust needs to build, test and run its demo.
# Idempotent and fast when everything is present: it asks dpkg first and only
# calls apt-get for what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libzstd-dev libssl-dev libgtest-dev libgmock-dev
      libbenchmark-dev wabt binaryen clang lld nodejs librust-blake3-dev
      liblmdb-dev)  # liblmdb-dev: optional, read_bench's comparison
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
