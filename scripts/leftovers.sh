#!/usr/bin/env bash
# Fail if anything the tests started is still running: lab containers (any
# container of the lab images) and servers recorded in pidfiles under .tmp/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
left=0
for img in localhost/k3s-gpu-lab:debian12 localhost/k3s-gpu-lab:debian13; do
  while read -r c; do
    [ -n "$c" ] || continue
    echo "leftover container: $c ($img)"; left=$((left + 1))
  done < <(podman ps -a --filter "ancestor=$img" --format '{{.Names}}' 2>/dev/null)
done
while IFS= read -r -d '' pf; do
  pid=$(cat "$pf" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "leftover process: $pid ($pf: $(tr '\0' ' ' < /proc/"$pid"/cmdline | cut -c1-80))"; left=$((left + 1))
  fi
done < <(find .tmp -name '*.pid' -print0 2>/dev/null)
# The lab's own check (k3slab- containers, the mirror server).
tests/lab/leftovers.sh || left=$((left + 1))
echo "leftovers: $left"
[ "$left" -eq 0 ]
