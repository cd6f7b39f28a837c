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
# The kube binaries (kube-apiserver, etcd, helm, the older kube-apiserver of the skew tests)
# are Go builds of about 20 minutes each on 2 cores with an empty cache, and only integration,
# reliability and the demo need them: they build behind the stages that do not (a no-op when
# cached). Their output goes to .tmp/kube-bins.log; stage times still go to stage-times.txt.
make --no-print-directory kube-bins > .tmp/kube-bins.log 2>&1 &
kube_bins=$!
for t in lint sanity unit build molecule; do run "$t"; done
if ! wait "$kube_bins"; then
  failed+=(kube-bins); tail -n 40 .tmp/kube-bins.log
fi
# reliability: the bad-input, fault and leak matrix; it writes docs/reliability.md
# only when every case passed, and a failed case fails the run.
for t in integration reliability; do run "$t"; done
# The demo (site.yml twice on the local lab, then upgrade.yml and reset.yml), from
# the collection that `make build` installed from its tarball, as a user would run it.
make --no-print-directory lab-images kube-bins mirror >/dev/null
K3S_GPU_DEMO_DAY2=1 scripts/stage.sh demo scripts/demo.sh --from-installed "$REPO_ROOT/.tmp/build/installed" || failed+=(demo)
scripts/stage.sh leftovers scripts/leftovers.sh || failed+=(leftovers)
echo
echo "==================== make test summary ===================="
cat .tmp/stage-times.txt
grep -hE '^(yamllint|antsibull-changelog|sanity|unit|integration|build|molecule|tarball|demo|reliability|execution environment)[ :]' \
  .tmp/stage.log 2>/dev/null || true
echo "total: $(( $(date +%s) - start ))s; failed stages: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
