#!/usr/bin/env bash
# Stop the kube-apiserver and etcd that start.sh started in STATE_DIR: only the
# PIDs in its pidfiles, and only while they still run the binary start.sh ran.
#   stop.sh [STATE_DIR]     (default: $REPO_ROOT/.tmp/kube/state)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${1:-$here/../../../.tmp/kube/state}"

stop_one() {
  local name="$1" pidfile="$state/$1.pid" pid exe
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  if [ -n "$exe" ] && [ "$(basename "${exe% (deleted)}")" = "$name" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop.sh: $name ($pid) ignored SIGTERM for 10s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}
# The API server first, so it does not log etcd errors while etcd goes.
stop_one kube-apiserver
stop_one etcd
