#!/usr/bin/env bash
# Start the lab mirror on 127.0.0.1 at a free port (builds the tree first; warm: < 1 s).
# State in $LAB_MIRROR_STATE (default $REPO_ROOT/.tmp/mirror): pid, env, access.log,
# faults.json. A no-op when the mirror recorded there is already running.
# Prints the URL. Stop it with stop.sh (same LAB_MIRROR_STATE).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"
state="${LAB_MIRROR_STATE:-$REPO_ROOT/.tmp/mirror}"
mkdir -p "$state"

if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null && [ -f "$state/env" ]; then
  # shellcheck disable=SC1091
  . "$state/env"
  echo "$LAB_MIRROR_URL"
  exit 0
fi

tree="$("$here/build.sh" | tail -n 1)"
rm -f "$state/port" "$state/env" "$state/pid"
# setsid: the server outlives this script and is not killed by the caller's terminal.
setsid python3 "$here/server.py" "$tree/www" "$state" 0 >>"$state/server.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$state/pid"
for _ in $(seq 1 100); do
  [ -s "$state/port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "mirror server died:" >&2; tail -5 "$state/server.log" >&2; rm -f "$state/pid"; exit 1; }
  sleep 0.05
done
[ -s "$state/port" ] || { echo "mirror server did not start in 5 s" >&2; kill "$pid"; rm -f "$state/pid"; exit 1; }
url="http://127.0.0.1:$(cat "$state/port")"
printf 'LAB_MIRROR_URL=%s\nLAB_MIRROR_ROOT=%s\nLAB_MIRROR_KEYS=%s\nLAB_MIRROR_PID=%s\n' \
  "$url" "$tree/www" "$tree/www/lab/keys" "$pid" > "$state/env.tmp"
mv "$state/env.tmp" "$state/env"
echo "mirror started (pid $pid) serving $tree/www" >&2
echo "$url"
