#!/usr/bin/env bash
# `make test`: every check, in order, each stage timed. A failed stage does not
# stop the others (so one run shows every problem) but fails the whole run.
# At the end nothing the tests started may survive (containers, servers).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
mkdir -p .tmp; : > .tmp/stage-times.txt; : > .tmp/stage.log
start=$(date +%s)
failed=()
run() { make --no-print-directory "$1" || failed+=("$1"); }
make --no-print-directory setup || { echo "setup failed"; exit 1; }
# The kube binaries (kube-apiserver, etcd, helm; the skew tests' server is a second link of
# the same build) are a Go build of about 12 minutes on 2 cores with an empty cache, and only
# lab-tests, reliability, integration and the demo need them: they build behind the stages that do not
# (a no-op when cached). Their output goes to .tmp/kube-bins.log; stage times still go to
# stage-times.txt.
make --no-print-directory kube-bins > .tmp/kube-bins.log 2>&1 &
kube_bins=$!
for t in lint sanity unit build lab-images mirror molecule; do run "$t"; done
if ! wait "$kube_bins"; then
  failed+=(kube-bins); tail -n 40 .tmp/kube-bins.log
fi
# The rest one after the other: on 2 cores, suites side by side took longer than in a row
# (each is CPU-bound in ansible, apt and dpkg). make -o kube-bins: built above.
for t in lab-tests reliability integration; do
  make --no-print-directory -o kube-bins "$t" || failed+=("$t")
done
# The demo as a user runs it: site.yml twice on the local lab, upgrade.yml and reset.yml,
# from the collection that `make build` installed from its tarball.
K3S_GPU_DEMO_DAY2=1 scripts/stage.sh demo scripts/demo.sh --from-installed "$REPO_ROOT/.tmp/build/installed" \
  || failed+=(demo)
scripts/stage.sh leftovers scripts/leftovers.sh || failed+=(leftovers)
echo
echo "==================== make test summary ===================="
cat .tmp/stage-times.txt
grep -hE '^(yamllint|antsibull-changelog|sanity|unit|lab-tests|integration|build|molecule|tarball|demo|reliability|execution environment)[ :]' \
  .tmp/stage.log 2>/dev/null || true
echo "total: $(( $(date +%s) - start ))s; failed stages: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
