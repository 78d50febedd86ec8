#!/usr/bin/env bash
# Fails when a lower layer includes a higher one (docs/architecture.md,
# "Layers"): src/util <- src/os <- src/store <- src/engine <- src/vm <- src/capi
# <- src/testing (test-only code: no product layer includes it); inside the
# engine, src/engine/prepare <- src/engine/{compile,runtime};
# and the public headers (include/crust) include nothing from src/.
# Run by ctest (test "layering"); prints every violation.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(util os store engine vm capi sync testing)  # sync: above the store; testing: above everything, included by no layer
status=0
for i in "${!layers[@]}"; do
  low=${layers[$i]}
  [ -d "src/$low" ] || continue
  for j in "${!layers[@]}"; do
    [ "$j" -gt "$i" ] || continue
    high=${layers[$j]}
    # Tests beside the code (*_test.cc) may use the test-only layer.
    skip=()
    [ "$high" = testing ] && skip=(--exclude='*_test.cc')
    if hits=$(grep -rnE "${skip[@]}" "^#include \"src/$high/" "src/$low" 2>/dev/null); then
      echo "layering: src/$low includes src/$high (a higher layer):"
      echo "$hits"
      status=1
    fi
  done
done
# Inside the engine: prepare/ (deploy time) is below compile/ and runtime/
# (which use each other: compiled code is loaded by the runtime, the compiler
# sizes frames with the runtime's stack rules). Its tests may use the others.
if hits=$(grep -rnE --exclude='*_test.cc' '^#include "src/engine/(compile|runtime)/' src/engine/prepare 2>/dev/null); then
  echo "layering: src/engine/prepare includes src/engine/compile or runtime (higher parts):"
  echo "$hits"
  status=1
fi
if hits=$(grep -rnE '^#include "(src|tools|tests)/' include/crust 2>/dev/null); then
  echo "layering: a public header includes an internal one:"
  echo "$hits"
  status=1
fi
[ $status -eq 0 ] && echo "layering: ok (${layers[*]}; engine prepare <- compile, runtime; include/crust self-contained)"
exit $status
