#!/usr/bin/env bash
# Fails when a lower layer includes a higher one (docs/architecture.md,
# "Layers"): src/util <- src/os <- src/store <- src/engine <- src/vm <- src/capi
# <- src/testing (test-only code: no product layer includes it),
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
if hits=$(grep -rnE '^#include "(src|tools|tests)/' include/crust 2>/dev/null); then
  echo "layering: a public header includes an internal one:"
  echo "$hits"
  status=1
fi
[ $status -eq 0 ] && echo "layering: ok (${layers[*]}; include/crust self-contained)"
exit $status
