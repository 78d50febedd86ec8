#!/usr/bin/env bash
# Out-of-tree use of an installed crust (ctest: install_examples_test).
#   install_examples.sh BUILD_DIR SOURCE_DIR COUNTER_WASM
# Installs the build into a temporary prefix (cmake --install: copies only,
# nothing is rebuilt), then builds and runs, against that prefix only:
#   * a C program through pkg-config (tests/embed/counter_example.c);
#   * a C++ program through find_package(crust), on the shared and on the
#     static library (tests/embed/cxx_example/);
#   * the Rust crate's example, from the installed crate sources, linked
#     through pkg-config (bindings/rust/examples/counter.rs);
#   * a Python program on the installed binding (tests/embed/counter_example.py).
# Each deploys counter, calls it, commits, reopens the store and reads the
# state back. $CRUST_CARGO/$RUSTC and $CRUST_PYTHON3 name the tools (empty:
# that part is skipped, and said so).
set -euo pipefail
build=$1 src=$2 wasm=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crust-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
version=$(sed -n 's/^#define CRUST_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/crust/version.h")
[ "$("$prefix/bin/crust" --version)" = "crust $version" ] || { echo "crust --version: wrong output"; exit 1; }
lib=$(find "$prefix" -name "libcrust.so.$version" | head -1)
libdir=$(dirname "$lib")
[ -f "$libdir/libcrust.a" ] || { echo "libcrust.a not installed"; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
# libcrust.so.<major>, or libcrust.so.0.<minor> before 1.0.
want=libcrust.so.${version%%.*}
[ "${version%%.*}" = 0 ] && want=libcrust.so.$(echo "$version" | cut -d. -f1,2)
[ "$soname" = "$want" ] || { echo "SONAME is '$soname', expected '$want'"; exit 1; }
# No internal type in the installed headers.
if cat "$prefix/include/crust/"*.h | grep -v '^\s*//' | grep -n 'os::\|namespace os\b'; then
  echo "installed headers name internal types"; exit 1
fi
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion crust)" = "$version" ]

echo "== C (pkg-config)"
cc -std=c99 -Wall -Wextra -Werror "$src/tests/embed/counter_example.c" -o "$tmp/c_example" \
  $(pkg-config --cflags --libs crust) -Wl,-rpath,"$libdir"
"$tmp/c_example" "$tmp/c-store" "$wasm"

echo "== C++ (find_package)"
cmake -S "$src/tests/embed/cxx_example" -B "$tmp/cxx" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_BUILD_RPATH="$libdir" >"$tmp/cxx-configure.log"
cmake --build "$tmp/cxx" -j 2 >"$tmp/cxx-build.log" || { cat "$tmp/cxx-build.log"; exit 1; }
"$tmp/cxx/cxx_example" "$tmp/cxx-store" "$wasm"
"$tmp/cxx/cxx_example_static" "$tmp/cxx-static-store" "$wasm"

if [ -n "${CRUST_CARGO:-}" ]; then
  echo "== Rust (installed crate, pkg-config)"
  cp -r "$prefix/share/crust/rust" "$tmp/rust"
  (cd "$tmp/rust" && "$CRUST_CARGO" build --offline --quiet --example counter --target-dir "$tmp/rust-target")
  "$tmp/rust-target/debug/examples/counter" "$tmp/rust-store" "$wasm"
else
  echo "== Rust: skipped (no cargo)"
fi

if [ -n "${CRUST_PYTHON3:-}" ]; then
  echo "== Python (installed binding)"
  env -u CRUST_LIBRARY PYTHONPATH="$prefix/share/crust/python" PYTHONDONTWRITEBYTECODE=1 \
    "$CRUST_PYTHON3" "$src/tests/embed/counter_example.py" "$tmp/py-store" "$wasm"
else
  echo "== Python: skipped (no python3)"
fi
echo "install_examples: OK"
