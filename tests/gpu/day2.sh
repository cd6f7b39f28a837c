# shellcheck shell=bash disable=SC2154  # e2e.sh's variables (W, res, here, repo, NODE, VADD_IMAGE)
# The day-2 phase of tests/gpu/e2e.sh (issue 18), on the live cluster after site.yml:
#   1. playbooks/validate.yml on the real node: every check OK (driver, K3s's containerd runtime,
#      the RuntimeClasses, allocatable nvidia.com/gpu = nvidia-smi's count, taints, labels, the
#      vectoradd pod), changed=0;
#   2. a planted fault: the nvidia runtime renamed away in K3s's generated containerd config (what
#      a lost runtime configuration looks like); validate.yml must fail naming the node and the
#      check; the file is then put back byte for byte (containerd only reads it when it starts,
#      so nothing running is touched);
#   3. the GPU-only RuntimeClass (tests/gpu/day2_checks.py): a pod naming only the class gets the
#      class's nodeSelector and toleration and runs on the GPU; without the node label it stays
#      Pending.
# Its evidence goes to $res/day2/ (tests/gpu/results/day2-h200/ is its unpacked copy).
# Sourced by e2e.sh (GPU_E2E_DAY2=0 leaves it out); uses e2e.sh's phase, check, nodesh, left.

d2_res=$res/day2
d2_config=/var/lib/rancher/k3s/agent/etc/containerd/config.toml

d2check() { local name=$1; shift; check "day 2: $name" "$@"; }
# d2_validate LOG: run validate.yml (its custom stats, the AWX report, printed at the end).
d2_validate() {
  local rc=0
  ANSIBLE_SHOW_CUSTOM_STATS=1 timeout "$(left 20)" python3 "$W/site/bin/ansible-playbook" \
    -i "$W/inventory/hosts.yml" "$repo/playbooks/validate.yml" > "$d2_res/$1" 2>&1 || rc=$?
  echo "$rc"
}
# d2_grep LOG ERE: does the log hold ERE once its lines are joined (the callback folds them)?
d2_grep() { tr -s '[:space:]' ' ' < "$d2_res/$1" | grep -qE -- "$2"; }
d2_recap_ok() {  # d2_recap_ok LOG: changed=0 and failed=0 on every host of the recap
  python3 - "$d2_res/$1" <<'PY'
import re, sys
recap = [l for l in open(sys.argv[1]) if re.match(r"^\S+\s+: ok=", l)]
sys.exit(0 if recap and all(" changed=0 " in l and " failed=0 " in l for l in recap) else 1)
PY
}

day2_phase() {
  local rc sum_before sum_after
  mkdir -p "$d2_res"
  phase "day 2: validate.yml on the real node"
  rc=$(d2_validate validate-run1.log)
  tail -n 30 "$d2_res/validate-run1.log"
  d2check "validate.yml passes on the real node (rc $rc)" test "$rc" -eq 0
  d2check "validate.yml: every check passed" d2_grep validate-run1.log "validate.yml: every check passed on 1 node"
  # One row per check; the RuntimeClass check has one row per class ("runtime_class nvidia").
  for c in driver containerd_runtime "runtime_class nvidia" "runtime_class k3s-gpu-nvidia" \
           gpu_allocatable taints pod; do
    d2check "validate.yml: $c OK on $NODE" d2_grep validate-run1.log "$NODE +$c +OK "
  done
  # The e2e inventory asks for no extra node label: the labels check says so, and passes.
  d2check "validate.yml: labels SKIPPED (none asked for)" d2_grep validate-run1.log "$NODE +labels +SKIPPED "
  d2check "validate.yml changes nothing (changed=0)" d2_recap_ok validate-run1.log

  phase "day 2: validate.yml finds a runtime lost from K3s's containerd config"
  sum_before=$(nodesh "sha256sum $d2_config" | cut -d' ' -f1)
  nodesh "cp -p $d2_config /run/containerd-config.saved && sed -i \"s/runtimes\\.'nvidia'/runtimes.'nvidia-planted-away'/\" $d2_config"
  rc=$(d2_validate validate-planted.log)
  nodesh "cp -p /run/containerd-config.saved $d2_config && rm -f /run/containerd-config.saved"
  sum_after=$(nodesh "sha256sum $d2_config" | cut -d' ' -f1)
  tail -n 8 "$d2_res/validate-planted.log"
  d2check "validate.yml fails with the runtime removed (rc $rc)" test "$rc" -ne 0
  d2check "validate.yml names the node and the containerd_runtime check" \
    d2_grep validate-planted.log "$NODE +containerd_runtime +FAILED .*no 'nvidia' runtime"
  d2check "the planted config was put back byte for byte ($sum_before)" test "$sum_before" = "$sum_after"

  phase "day 2: the GPU-only RuntimeClass on the real node"
  set +e
  timeout "$(left 10)" python3 "$here/day2_checks.py" --node "$NODE" --image "$VADD_IMAGE" \
    --out "$d2_res" --timeout "$(left 20)"
  rc=$?
  set -e
  d2check "the RuntimeClass checks (day2_checks.py, see rc-checks.json)" test "$rc" -eq 0
  return 0
}
