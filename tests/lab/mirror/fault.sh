#!/usr/bin/env bash
# Inject faults into the running lab mirror; the server re-reads faults.json per request.
#   fault.sh status <path-prefix> <http-code>   e.g. fault.sh status /libnvidia-container/ 404
#   fault.sh delay <path-prefix> <seconds>
#   fault.sh clear
# Uses $LAB_MIRROR_STATE (default $REPO_ROOT/.tmp/mirror). A new delay, and clear, also
# forget delayed.log (which requests earlier delays held; see server.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"
state="${LAB_MIRROR_STATE:-$REPO_ROOT/.tmp/mirror}"
mkdir -p "$state"
usage() { sed -n '2,7p' "$0" >&2; exit 2; }
case "${1:-}" in
  status|delay)
    [ $# -eq 3 ] || usage
    [ "$1" = status ] || rm -f "$state/delayed.log"
    python3 - "$state/faults.json" "$1" "$2" "$3" <<'PY'
import json, os, sys
path, kind, prefix, value = sys.argv[1:]
try:
    with open(path) as f:
        faults = json.load(f)
except (OSError, ValueError):
    faults = {}
faults.setdefault(kind, {})[prefix] = int(value) if kind == "status" else float(value)
with open(path + ".tmp", "w") as f:
    json.dump(faults, f, indent=2)
os.replace(path + ".tmp", path)
PY
    ;;
  clear) rm -f "$state/faults.json" "$state/delayed.log" ;;
  *) usage ;;
esac
