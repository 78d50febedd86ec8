#!/usr/bin/env bash
# Runs the tests labelled LABELS (default: unit) of an existing build as an
# ordinary user, so that nothing crust does needs a privilege: CI runs as
# root, where userfaultfd, for one, behaves differently (Debian's default
# vm.unprivileged_userfaultfd = 0 refuses an unprivileged process kernel
# faults: lazy filling then takes user-mode faults only, and any system call
# handed a page not filled yet fails; docs/architecture.md, "Lazy layers").
#
# Usage: scripts/test-unprivileged.sh BUILD_DIR [LABELS]
# Already unprivileged: runs the tests as is. As root: runs them as `nobody`
# (setpriv), after making BUILD_DIR writable to it (tests write caches and
# stores there); skips, saying why, when that user cannot read the sources
# or ../shared (a checkout under a private home directory).
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [LABELS]}
labels=${2:-unit}
jobs=${JOBS:-$(nproc)}
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "test-unprivileged: already user $(id -un); running the tests as is"
  cd "$build" && exec ctest --output-on-failure -j "$jobs" --timeout 900 -L "$labels"
fi
command -v setpriv >/dev/null || { echo "test-unprivileged: setpriv (util-linux) is missing" >&2; exit 1; }
uid=$(id -u nobody) gid=$(id -g nobody)
as_nobody=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all)
for path in "$src/CMakeLists.txt" "$src/../shared" "$build/CTestTestfile.cmake"; do
  if ! "${as_nobody[@]}" test -r "$path"; then
    echo "test-unprivileged: SKIPPED: user nobody cannot read $path (a parent directory is private)"
    exit 0
  fi
done
chmod -R o+rwX "$build"
home=$(mktemp -d /tmp/crust-unprivileged.XXXXXX)
chmod 1777 "$home"
trap 'rm -rf "$home"' EXIT
cd "$build"
# PATH without root's private directories (a lookup through one this user
# cannot search fails with EACCES instead of finding the next entry).
"${as_nobody[@]}" env HOME="$home" TMPDIR="$home" PATH=/usr/local/bin:/usr/bin:/bin \
  ctest --output-on-failure -j "$jobs" --timeout 900 -L "$labels"
