#!/usr/bin/env bash
# make demo: runs the design document's scenario on a fresh store and shows
# the resulting tree, with inode numbers and link counts so hard links show;
# then deploys the example contracts ($build/contracts) and calls them over
# several commits (crust-demo --contracts), and finally uses the crust tool
# (call, run scripts/demo.run, commits, verify).
set -euo pipefail
build=${1:-build}
store=${2:-./crust-store}
if [ -e "$store" ]; then
  if [ -e "$store/DEMO" ] || [ -z "$(ls -A "$store")" ]; then
    rm -rf "$store"
  else
    echo "demo: $store exists and was not made by the demo; remove it or pass STORE=..." >&2
    exit 1
  fi
fi
mkdir -p "$store" && touch "$store/DEMO"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names=$tmp/names

# tree ROOT_NAME...: the files of the named commits (short names from $names):
# inode, link count, path. Equal inodes are hard links.
tree() {
  local dirs=()
  for r in "$@"; do
    dirs+=("$(sed -n "s/^s|\([0-9a-f]\{64\}\)|$r|g$/\1/p" "$names")")
  done
  (cd "$store" && find "${dirs[@]}" -type f -printf '%i %n %p\n') |
    sed -f "$names" | sort -k3 | awk '{ printf "  %10s  %s  %s\n", $1, $2, $3 }'
}

echo "=== Part 1: the store (design document scenario) ==="
echo
out=$("$build/crust-demo" "$store")
echo "$out"
echo
echo "The store ($store): inode, link count, path. Equal inodes are hard links."
# Short names for module ids, as in the design document.
for n in 1 2 3; do
  printf 's/0%s00000000000000000000000000000000000000000000000000000000000000/module_%s/g\n' "$n" "$n" >>"$names"
done
# ...and for roots (full roots are printed above).
echo "$out" | sed -n 's/^ *\(root_[123]\) = \([0-9a-f]\{64\}\)$/s|\2|\1|g/p' >>"$names"
tree root_1 root_2 root_3
echo
echo "Listing and verifying with the crust tool:"
"$build/crust" --store "$store" commits
"$build/crust" --store "$store" verify
echo
echo "=== Part 2: WebAssembly contracts (a new genesis in the same store) ==="
echo
out=$("$build/crust-demo" --contracts "$build/contracts" "$store")
echo "$out"
echo
echo "Commits root_4..root_6: inode, link count, path. A memory's base image is"
echo "shared (hard link) until a commit rewrites it; changes go to delta layers."
echo "$out" | sed -n 's/^ *\(root_[456]\) = \([0-9a-f]\{64\}\)$/s|\2|\1|g/p' >>"$names"
echo "$out" | sed -n 's/^\(module ids:\)\{0,1\} *\([a-z]*\) *= \([0-9a-f]\{64\}\)$/s|\3|\2|g/p' >>"$names"
tree root_4 root_5 root_6
echo
echo "=== Part 3: the crust tool (deploy, call, run) ==="
counter=$(echo "$out" | sed -n 's/^\(module ids:\)\{0,1\} *counter *= \([0-9a-f]\{64\}\)$/\2/p')
crust_bin=$(cd "$build" && pwd)/crust
store_dir=$(cd "$store" && pwd)
crust() {
  echo
  echo "\$ crust $*"
  "$crust_bin" --store "$store_dir" "$@"
}
crust call --no-commit "$counter" read
crust call --no-commit "$counter" nope || true
# scripts/demo.run with the contracts next to it (FILE paths are relative to
# the script), run from that directory.
cp scripts/demo.run "$build"/contracts/*.wasm "$tmp/"
cd "$tmp"
echo
echo "\$ cat demo.run"
cat demo.run
crust run demo.run
crust commits
crust verify
echo
echo "=== Part 4: inspecting the store (check, functions, diff, stat) ==="
crust check counter.wasm
crust functions "$counter"
roots=($("$crust_bin" --store "$store_dir" commits | awk 'NR > 1 { print $1 }'))
n=${#roots[@]}
crust diff "${roots[$((n - 2))]}" "${roots[$((n - 1))]}"
crust stat "${roots[$((n - 1))]}"
echo
echo "\$ crust stat | tail -1"
"$crust_bin" --store "$store_dir" stat | tail -1
echo
echo "A web view of this store: $crust_bin --store $store_dir ui (http://127.0.0.1:7878/)"
