#!/usr/bin/env bash
# Checks that the built contracts are well-formed crust contracts, without the
# crust engine:
#   - wasm-validate with every post-MVP feature disabled;
#   - exports: memory "memory", an immutable i32 global "A" whose 64 KiB buffer
#     lies inside the initial memory, is 16-aligned and overlaps no data
#     segment; every exported function has type (i32) -> i32;
#   - imports: functions only, from module "env", with known names and the
#     exact signatures of the crust ABI;
#   - no f32/f64 anywhere (types, locals, instructions);
#   - exactly one mutable global: i32 __stack_pointer, not exported, starting
#     at 65536 (64 KiB stack first);
# then runs every example under Node's WebAssembly (tests/harness.js).
#
# Usage: check.sh CONTRACTS_DIR   (the directory holding <name>.wasm and sdk-tests/)
# Exit 77 (skipped) when wasm-validate, wasm-objdump or node is missing.
set -euo pipefail

dir=${1:?usage: check.sh CONTRACTS_DIR}
here=$(cd "$(dirname "$0")" && pwd)

tool() { # tool ENVVALUE NAME...
  local v=$1; shift
  if [[ -n $v && $v != *NOTFOUND* && -x $v ]]; then echo "$v"; return; fi
  for n in "$@"; do command -v "$n" && return; done
  echo ""
}
validate=$(tool "${WASM_VALIDATE:-}" wasm-validate)
objdump=$(tool "${WASM_OBJDUMP:-}" wasm-objdump)
node=$(tool "${NODE:-}" node nodejs)
for t in validate objdump node; do
  if [[ -z ${!t} ]]; then echo "SKIP: $t tool not found"; exit 77; fi
done

examples=(counter box fibonacci grower panicker hostinfo callcenter crossover migrated)
sdk_tests=(sdk_all_c sdk_all_cxx)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

check_module() { # check_module FILE
  local f=$1 name x d
  name=$(basename "$f")
  if [[ ! -f $f ]]; then fail "$name: missing (build target crust_contracts first)"; return; fi
  if ! "$validate" --disable-mutable-globals --disable-saturating-float-to-int \
      --disable-sign-extension --disable-simd --disable-multi-value \
      --disable-bulk-memory --disable-reference-types "$f" >"$tmp/validate" 2>&1; then
    fail "$name: wasm-validate (MVP only): $(cat "$tmp/validate")"
    return
  fi
  x="$tmp/$name.x"
  d="$tmp/$name.d"
  "$objdump" -x "$f" >"$x"
  "$objdump" -d "$f" >"$d"

  # All structural checks in one awk pass over `wasm-objdump -x`.
  local report
  report=$(awk -v name="$name" '
    function problem(msg) { problems = problems name ": " msg "\n" }
    /^[A-Za-z]+\[[0-9]+\]:$/ { section = $1; sub(/\[.*/, "", section); next }
    /^[A-Za-z]+:$/ { section = $1; sub(/:$/, "", section); next }
    section == "Type" && /- type\[/ {
      idx = $2; gsub(/[^0-9]/, "", idx)
      sig = $0; sub(/^ *- type\[[0-9]+\] /, "", sig)
      types[idx] = sig
    }
    section == "Import" {
      if ($0 !~ /- func\[/) { problem("non-function import: " $0); next }
      s = $3; sub(/sig=/, "", s)
      what = $NF
      if (what !~ /^env\./) { problem("import not from env: " what); next }
      fn = substr(what, 5)
      imports[fn] = s
    }
    section == "Function" && /- func\[/ {
      i = $2; gsub(/[^0-9]/, "", i); s = $3; sub(/sig=/, "", s); fsig[i] = s
    }
    section == "Memory" && /- memory\[0\]/ {
      for (k = 1; k <= NF; k++) if ($k ~ /^initial=/) { v = $k; sub(/initial=/, "", v); pages = v + 0 }
      nmem++
    }
    section == "Global" && /- global\[/ {
      i = $2; gsub(/[^0-9]/, "", i)
      gtype[i] = $3; gmut[i] = $4
      v = $NF; sub(/.*=/, "", v); ginit[i] = v + 0
      gname[i] = ($5 ~ /^</) ? $5 : ""
    }
    section == "Export" && /->/ {
      ename = $NF; gsub(/"/, "", ename)
      kind = $2; i = kind; gsub(/[^0-9]/, "", i); sub(/\[.*/, "", kind)
      if (kind == "memory") { if (ename == "memory") has_memory = 1; else problem("memory exported as " ename) }
      else if (kind == "global") { if (ename == "A") a_global = i; else problem("extra global export " ename); gexported[i] = 1 }
      else if (kind == "func") { fexports[ename] = i }
      else problem("unexpected export " $0)
    }
    section == "Data" && /- segment\[/ {
      sz = $0; sub(/.*size=/, "", sz); sub(/ .*/, "", sz)
      at = $0; sub(/.*init i32=/, "", at); sub(/ .*/, "", at)
      seg_at[++nseg] = at + 0; seg_size[nseg] = sz + 0
    }
    END {
      expect["panic"] = "(i32) -> nil"; expect["limit"] = "() -> i64"; expect["spent"] = "() -> i64"
      expect["self_id"] = "() -> nil"; expect["hd"] = "(i32, i32) -> i32"
      expect["c"] = "(i32, i32, i32, i32, i64) -> i32"; expect["hq"] = "(i32, i32, i32) -> i32"
      expect["emit"] = "(i32, i32, i32) -> nil"; expect["feed"] = "(i32) -> nil"
      expect["caller"] = "() -> i32"; expect["callstack"] = "() -> i32"; expect["owner"] = "(i32) -> i32"
      for (fn in imports) {
        if (!(fn in expect)) problem("unknown import env." fn)
        else if (types[imports[fn]] != expect[fn])
          problem("import env." fn " has type " types[imports[fn]] ", expected " expect[fn])
        names = names " " fn
      }
      if (!has_memory) problem("no memory export named memory")
      if (nmem != 1) problem("expected exactly one memory")
      if (a_global == "") problem("no global export named A")
      else {
        if (gtype[a_global] != "i32" || gmut[a_global] != "mutable=0") problem("A is not an immutable i32")
        a = ginit[a_global]
        if (a % 16 != 0) problem("A is not 16-aligned")
        if (a + 65536 > pages * 65536) problem("A buffer is not inside the initial memory")
        for (k = 1; k <= nseg; k++)
          if (seg_at[k] < a + 65536 && a < seg_at[k] + seg_size[k]) problem("A overlaps data segment " k)
      }
      nfun = 0
      for (e in fexports) {
        nfun++
        if (types[fsig[fexports[e]]] != "(i32) -> i32") problem("export " e " has type " types[fsig[fexports[e]]])
        fnames = fnames " " e
      }
      nmut = 0
      for (i in gmut) if (gmut[i] == "mutable=1") {
        nmut++
        if (gtype[i] != "i32" || gname[i] != "<__stack_pointer>" || (i in gexported) || ginit[i] != 65536)
          problem("unexpected mutable global " i " " gtype[i] " " gname[i] " init " ginit[i])
      }
      if (nmut != 1) problem("expected exactly one mutable global (__stack_pointer), found " nmut)
      for (t in types) if (types[t] ~ /f32|f64/) problem("float type " types[t])
      printf "%s", problems
      printf "INFO %s: memory %d pages, A=%d, exports:%s; imports:%s\n", name, pages, ginit[a_global], fnames, names
    }' "$x")
  if grep -q '^INFO' <<<"$report"; then grep '^INFO' <<<"$report" | sed 's/^INFO /ok  /'; fi
  while IFS= read -r line; do [[ -n $line && $line != INFO* ]] && fail "$line"; done <<<"$report"

  # Instruction and local-type column of the disassembly (after the "|").
  if sed -n 's/^[^|]*| //p' "$d" | grep -Eq '\b(f32|f64)'; then
    fail "$name: float instructions or locals: $(sed -n 's/^[^|]*| //p' "$d" | grep -Em3 '\b(f32|f64)' | tr '\n' ';')"
  fi
}

for n in "${examples[@]}"; do check_module "$dir/$n.wasm"; done
for n in "${sdk_tests[@]}"; do check_module "$dir/sdk-tests/$n.wasm"; done

# The SDK self-test must import every host function the header declares.
if [[ -f $tmp/sdk_all_c.wasm.x ]]; then
  for imp in panic limit spent self_id hd c hq emit feed caller callstack owner; do
    grep -q "<- env\.$imp\$" "$tmp/sdk_all_c.wasm.x" || fail "sdk_all_c.wasm does not import env.$imp"
  done
fi

if ! "$node" "$here/tests/harness.js" "$dir"; then fail "node harness"; fi

if ((failures)); then echo "$failures check(s) failed"; exit 1; fi
echo "all contract checks passed"
