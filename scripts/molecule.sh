#!/usr/bin/env bash
# Run every molecule scenario (or those named) against the lab, with the vendor
# mirror started for the duration and always stopped, and print the counts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/tests/lab/mirror/start.sh" >/dev/null
trap '"$REPO_ROOT/tests/lab/mirror/stop.sh" >/dev/null' EXIT
# shellcheck disable=SC1091
. "${LAB_MIRROR_STATE:-$REPO_ROOT/.tmp/mirror}/env"
export LAB_MIRROR_URL
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for d in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$d")")"); done
fi
passed=(); failed=()
for s in "${scenarios[@]}"; do
  start=$(date +%s)
  if molecule test -s "$s" > ".tmp/molecule-$s.log" 2>&1; then
    passed+=("$s"); r=ok
  else
    failed+=("$s"); r=FAILED; tail -60 ".tmp/molecule-$s.log"
  fi
  echo "molecule $s: $r in $(( $(date +%s) - start ))s (log .tmp/molecule-$s.log)"
done
echo "molecule: ${#scenarios[@]} scenarios, ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
[ ${#failed[@]} -eq 0 ]
