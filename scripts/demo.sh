#!/usr/bin/env bash
# make demo: runs the design document's scenario on a fresh store and shows
# the resulting tree, with inode numbers and link counts so hard links show.
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
out=$("$build/crust-demo" "$store")
echo "$out"
echo
echo "The store ($store): inode, link count, path. Equal inodes are hard links."
names=$(mktemp)
trap 'rm -f "$names"' EXIT
# Short names for module ids, as in the design document.
for n in 1 2 3; do
  printf 's/0%s00000000000000000000000000000000000000000000000000000000000000/module_%s/g\n' "$n" "$n" >>"$names"
done
# ...and for roots (full roots are printed above).
echo "$out" | sed -n 's/^ *\(root_[123]\) = \([0-9a-f]\{64\}\)$/s|\2|\1|g/p' >>"$names"
(cd "$store" && find . -path ./LOCK -prune -o -path ./DEMO -prune -o -path ./FORMAT -prune -o -type f -printf '%i %n %P\n' | sort -k3) |
  sed -f "$names" | sort -k3 | awk '{ printf "  %10s  %s  %s\n", $1, $2, $3 }'
echo
echo "Listing and verifying with the crust tool:"
"$build/crust" --store "$store" commits
"$build/crust" --store "$store" verify
