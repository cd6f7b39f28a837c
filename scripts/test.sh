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
# The kube binaries (kube-apiserver, etcd, helm, then the older kube-apiserver of the skew tests)
# are Go builds of about 12 and 10 minutes on 2 cores with an empty cache, and only integration,
# reliability and the demo need them: they build behind the stages that do not (a no-op when
# cached). Their output goes to .tmp/kube-bins.log; stage times still go to stage-times.txt.
make --no-print-directory kube-bins > .tmp/kube-bins.log 2>&1 &
kube_bins=$!
for t in lint sanity unit build lab-images mirror; do run "$t"; done
# Then two branches side by side. Each mostly waits on its containers (ansible, apt, dpkg and
# systemd in them) and uses about one of the two cores, so together they take little more
# than the longer one:
#   A: molecule, then the demo (site.yml twice on the local lab, upgrade.yml and reset.yml,
#      from the collection that `make build` installed from its tarball, as a user runs it);
#   B: reliability (the bad-input, fault and leak matrix; it writes docs/reliability.md only
#      when every case passed), then integration (it also needs the skew tests' kube-apiserver).
# They share nothing: container names, mirrors and kube-apiservers are each their own, and the
# builds they would both start are serialised by flock. A's output goes to .tmp/branch-a.log,
# printed when it ends.
: > .tmp/branch-a.failed
(
  make --no-print-directory molecule || echo molecule >> .tmp/branch-a.failed
  make --no-print-directory lab-images kube-bins mirror >/dev/null || echo demo-deps >> .tmp/branch-a.failed
  K3S_GPU_DEMO_DAY2=1 scripts/stage.sh demo scripts/demo.sh --from-installed "$REPO_ROOT/.tmp/build/installed" \
    || echo demo >> .tmp/branch-a.failed
) > .tmp/branch-a.log 2>&1 &
branch_a=$!
# B starts once kube-apiserver, etcd and helm are there (build.sh waits on the background
# build's lock, then finds them cached); the skew build goes on behind reliability, which does
# not need it (make -o: take kube-bins as done).
if tests/integration/kube/build.sh > .tmp/kube-bins-main.log 2>&1; then
  make --no-print-directory -o kube-bins reliability || failed+=(reliability)
else
  failed+=(kube-bins); tail -n 40 .tmp/kube-bins-main.log
fi
if ! wait "$kube_bins"; then
  failed+=(kube-bins); tail -n 40 .tmp/kube-bins.log
fi
run integration
wait "$branch_a"
echo "==================== branch A (molecule, demo) ===================="
cat .tmp/branch-a.log
while read -r t; do [ -n "$t" ] && failed+=("$t"); done < .tmp/branch-a.failed
scripts/stage.sh leftovers scripts/leftovers.sh || failed+=(leftovers)
echo
echo "==================== make test summary ===================="
cat .tmp/stage-times.txt
grep -hE '^(yamllint|antsibull-changelog|sanity|unit|integration|build|molecule|tarball|demo|reliability|execution environment)[ :]' \
  .tmp/stage.log 2>/dev/null || true
echo "total: $(( $(date +%s) - start ))s; failed stages: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
