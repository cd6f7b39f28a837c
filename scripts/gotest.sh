#!/usr/bin/env bash
# gotest.sh [DIR...] : `go test` the lab's Go programs (the k3s and device-plugin stand-ins,
# default: every tests/lab/standins/*/go.mod), with the Go caches under $K3S_GPU_CACHE/go,
# and print the counts. Part of `make unit`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
command -v go >/dev/null || { echo "gotest.sh: go is missing (Go >= 1.26 must be on the PATH)" >&2; exit 1; }
export GOMODCACHE="$K3S_GPU_CACHE/go/mod" GOCACHE="$K3S_GPU_CACHE/go/build" GOFLAGS="-trimpath -mod=mod"
if [ $# -eq 0 ]; then
  set -- $(for m in tests/lab/standins/*/go.mod; do dirname "$m"; done)
fi
mkdir -p .tmp
log=.tmp/gotest.json
: > "$log"
rc=0
for d in "$@"; do
  echo "go test $d"
  (cd "$d" && go vet ./... && go test -count=1 -json ./...) >> "$log" || rc=1
done
python3 - "$log" <<'PY'
import json, sys
tests = {}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("Test") and e.get("Action") in ("pass", "fail", "skip"):
        tests[(e["Package"], e["Test"])] = e["Action"]
        if e["Action"] == "fail":
            print("FAILED %s %s" % (e["Package"], e["Test"]))
    elif e.get("Action") == "output" and e.get("Test") and "_test.go" in e.get("Output", ""):
        sys.stdout.write("  " + e["Output"])
top = {k: v for k, v in tests.items() if "/" not in k[1]}
n = lambda a: sum(1 for v in top.values() if v == a)
print("unit (go): %d tests, %d passed, %d failed, %d skipped" % (len(top), n("pass"), n("fail"), n("skip")))
PY
exit $rc
