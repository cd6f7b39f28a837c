#!/usr/bin/env bash
# Stop the lab mirror recorded in $LAB_MIRROR_STATE (default $REPO_ROOT/.tmp/mirror) by its
# pidfile. Safe to call when it is not running. Also the "mirror stops mid-run" fault.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"
state="${LAB_MIRROR_STATE:-$REPO_ROOT/.tmp/mirror}"
[ -f "$state/pid" ] || exit 0
pid="$(cat "$state/pid")"
# Only stop our own server: the PID must still run server.py with this state dir.
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "mirror/server.py .* $state "; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  echo "mirror stopped (pid $pid)" >&2
fi
rm -f "$state/pid" "$state/env" "$state/port"
