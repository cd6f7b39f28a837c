#!/usr/bin/env bash
# End-of-run check: list what the lab's tests started and did not stop, and exit 1 if
# anything survives. Run at the end of `make test`.
#   - containers named with a lab prefix (k3slab- and any in $LAB_LEFTOVER_PREFIXES,
#     space-separated) or labelled k3s-gpu-lab=test;
#   - lab mirror servers: any .tmp/mirror*/pid whose process still runs mirror/server.py.
# It only reports; it stops nothing (pass --clean to remove what it found, by name/PID).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
clean=0
[ "${1:-}" = "--clean" ] && clean=1
found=0

prefixes="k3slab- ${LAB_LEFTOVER_PREFIXES:-}"
mapfile -t names < <( { podman ps -a --filter label=k3s-gpu-lab=test --format '{{.Names}}'
  podman ps -a --format '{{.Names}}' | while read -r n; do
    for p in $prefixes; do case "$n" in "$p"*) echo "$n" ;; esac; done
  done; } 2>/dev/null | sort -u)
for n in "${names[@]}"; do
  [ -n "$n" ] || continue
  echo "leftover container: $n ($(podman inspect --format '{{.State.Status}}' "$n" 2>/dev/null))"
  found=1
  [ $clean = 1 ] && podman rm -f -t 0 "$n" >/dev/null
done

for pidfile in "$REPO_ROOT"/.tmp/mirror*/pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'mirror/server.py'; then
    echo "leftover lab mirror: pid $pid ($pidfile)"
    found=1
    [ $clean = 1 ] && LAB_MIRROR_STATE="$(dirname "$pidfile")" "$here/mirror/stop.sh"
  else
    echo "stale mirror pidfile (process gone): $pidfile"
    [ $clean = 1 ] && rm -f "$pidfile"
  fi
done

if [ $found = 1 ]; then
  echo "leftovers.sh: processes or containers survived the tests (see above)" >&2
  exit 1
fi
echo "leftovers.sh: no lab containers or mirror servers left"
