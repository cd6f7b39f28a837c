# shellcheck shell=bash disable=SC2154  # e2e.sh's variables (W, res, out, here, repo, NODE, deadline)
# The GPU workspace phase of tests/gpu/e2e.sh (issue 19; what it needs: tests/gpu/workspace.md):
# after site.yml has passed, playbooks/workspace.yml deploys a workspace on the real node whose
# image is built here from this machine's own PyTorch, twice (the second run changes nothing),
# with the role's check that PyTorch in the pod sees the GPU; then the bad inputs and the
# not-ready causes the role must name on a real cluster. Its evidence goes to
# $res/workspace/ (tests/gpu/results/workspace-h200/ is its unpacked copy).
#
# Sourced by e2e.sh (GPU_E2E_WORKSPACE=0 leaves it out): it uses e2e.sh's variables (W, res,
# out, here, repo, NODE, deadline) and functions (phase, check, nodesh, left).
#   workspace_image_start   after the images phase: room on the tmpfs, then the image build in
#                           the background (it reads a few GB while site.yml runs)
#   workspace_phase         after the acceptance checks: the rest
#   workspace_cleanup       from e2e.sh's cleanup: stops the build, scans the final evidence
#                           for the password, copies the run's context into the evidence

WS_VENV=${GPU_E2E_TORCH_VENV:-/opt/torch/.venv}
WS_IMAGE=k3s-gpu-e2e.local/gpu-workspace:torch-local
WS_CLASS=e2e-hostpath
WS_HOMES=/var/lib/gpu-workspace-homes
ws_res=$res/workspace
ws_ctr='/var/lib/rancher/k3s/data/current/bin/ctr -a /run/k3s/containerd/containerd.sock -n k8s.io'
ws_builder=""
ws_pw=""
ws_uid=""

wcheck() { local name=$1; shift; check "workspace: $name" "$@"; }
# ws_time SECONDS WHAT: is there time left for WHAT? If not, say so in skipped.txt.
ws_time() {
  [ $((deadline - SECONDS)) -ge "$1" ] && return 0
  echo "skipped, $((deadline - SECONDS)) s left of the run's deadline and $1 s needed: $2" | tee -a "$ws_res/skipped.txt"
  return 1
}
# ws_grep LOG ERE: does the playbook log hold ERE, once its lines are joined? (The YAML callback
# folds long messages over several lines.)
ws_grep() { tr -s '[:space:]' ' ' < "$ws_res/$1" | grep -qE -- "$2"; }
# ws_rc_and_grep RC WANT LOG ERE: the run's exit status RC is 0 (WANT ok) or not (WANT failed),
# and its log holds ERE.
ws_rc_and_grep() {
  if [ "$2" = ok ]; then [ "$1" -eq 0 ] || return 1; else [ "$1" -ne 0 ] || return 1; fi
  ws_grep "$3" "$4"
}
# ws_stat LOG KEY: the play recap's KEY count of localhost in LOG (empty without a recap).
ws_stat() { grep -E '^localhost +: ok=' "$ws_res/$1" | grep -oE " $2=[0-9]+" | cut -d= -f2; }
# ws_playbook LOG LIMIT [ARGS...]: playbooks/workspace.yml with e2e.sh's inventory.
ws_playbook() {
  local log=$1 limit=$2 t0=$SECONDS rc=0; shift 2
  timeout "$limit" python3 "$W/site/bin/ansible-playbook" -i "$W/inventory/hosts.yml" \
    "$repo/playbooks/workspace.yml" "$@" > "$ws_res/$log" 2>&1 || rc=$?
  echo "$log: rc $rc in $((SECONDS - t0)) s" | tee -a "$ws_res/runs.txt"
  tail -n 6 "$ws_res/$log"
  return "$rc"
}
# ws_pod NS INSTANCE FIELD: a field of the workspace's live pod (workspace_checks.py pod).
ws_pod() {
  python3 "$here/workspace_checks.py" pod --namespace "$1" --instance "$2" 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$3" || true
}
ws_healthz() {  # GET /healthz of a pod, from this network namespace (the host's, shared by the node)
  local url="http://$1:8443/healthz"
  if command -v curl > /dev/null; then
    printf '$ curl -s -m 5 -w %s %s\n' "'\\nHTTP %{http_code}\\n'" "$url"
    curl -s -m 5 -w '\nHTTP %{http_code}\n' "$url"
  else
    echo "\$ python3 urllib.request (this machine has no curl) $url"
    python3 -c 'import sys, urllib.request; r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.read().decode()); print("HTTP", r.status)' "$url"
  fi
}
# ws_scan WHEN: the generated password, raw or in base64, in no file of the evidence.
ws_scan() {
  [ -n "$ws_pw" ] || return 0
  local files hits
  files=$(find "$res" "$out/e2e.log" -type f | wc -l)
  hits=$(printf '%s\n%s\n' "$ws_pw" "$(printf %s "$ws_pw" | base64 -w0)" | grep -rlF -f - "$res" "$out/e2e.log" || true)
  echo "$1: the generated password (${#ws_pw} characters) and its base64 form, searched in $files files: found in ${hits:-none}" \
    >> "$ws_res/password-absent.txt"
  wcheck "$1: the generated password is in none of the $files files of the evidence" test -z "$hits"
}

# ws_evidence: the workspace's objects and pod log, /healthz of its pod (also after a failed run).
ws_evidence() {
  local ip
  python3 "$here/workspace_checks.py" evidence --out "$ws_res" workspace-h200 || true
  ip=$(ws_pod workspace-h200 h200 ip)
  ws_healthz "$ip" > "$ws_res/healthz.txt" 2>&1 || true
  cat "$ws_res/healthz.txt"
}

workspace_image_start() {
  mkdir -p "$ws_res"
  if [ ! -x "$WS_VENV/bin/python" ]; then
    echo "no Python virtualenv at $WS_VENV (GPU_E2E_TORCH_VENV): the workspace image cannot be built" | tee "$ws_res/image-build.log"
    return 0
  fi
  # Room on this run's tmpfs for the archive, then containerd's copy in its content store and
  # the unpacked snapshot (the archive goes once imported). A tmpfs can grow while memory allows.
  local size avail need grow memfree
  size=$(du -sb "$WS_VENV/" 2>/dev/null | cut -f1 || true)
  size=${size:-0}
  avail=$(df -B1 --output=avail "$W" | tail -n 1)
  need=$((3 * size + 4 * 1024 ** 3))
  { echo "$WS_VENV: $((size / 1024 ** 2)) MiB; free on $W: $((avail / 1024 ** 2)) MiB; needed (3 copies + 4 GiB): $((need / 1024 ** 2)) MiB"
    df -h "$W"; } | tee "$ws_res/df.txt"
  if [ "$avail" -lt "$need" ]; then
    grow=$((need - avail))
    memfree=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024))
    if [ "$memfree" -lt $((grow + 16 * 1024 ** 3)) ]; then
      echo "not enough room for the workspace image: $((grow / 1024 ** 2)) MiB more needed on $W, $((memfree / 1024 ** 2)) MiB of memory available" \
        | tee -a "$ws_res/df.txt" "$ws_res/image-build.log"
      return 0
    fi
    mount -o remount,size=$(($(df -B1 --output=size "$W" | tail -n 1) + grow)) "$W" \
      || { echo "could not grow $W by $((grow / 1024 ** 2)) MiB for the workspace image" | tee -a "$ws_res/image-build.log"; return 0; }
    { echo "grew $W by $((grow / 1024 ** 2)) MiB"; df -h "$W"; } | tee -a "$ws_res/df.txt"
  fi
  WORKSPACE_IMAGE_STAGE=$W setsid "$here/workspace_image.sh" "$WS_VENV" "$WS_IMAGE" "$W/workspace-image.tar" \
    > "$ws_res/image-build.log" 2>&1 < /dev/null &
  ws_builder=$!
  echo "workspace image: building in the background (pid $ws_builder, image-build.log)"
}

workspace_phase() {
  ws_image || return 0
  ws_homes_and_inventory
  ws_runs || { ws_evidence; return 0; }
  ws_collect
  ws_refused
  ws_time 70 "the not-ready causes (negative-wait.log)" && ws_not_ready
  ws_time 60 "state absent (absent.log)" && ws_absent
  ws_time 60 "a misspelt image (negative-image.log)" && ws_misspelt
  ws_time 75 "the re-run with the right image (workspace-run3.log)" && ws_rerun
  return 0
}

ws_image() {
  local rc=1
  phase "workspace: the image from $WS_VENV's PyTorch (workspace_image.sh), into containerd (ctr)"
  if [ -n "$ws_builder" ]; then
    rc=0; wait "$ws_builder" || rc=$?
    ws_builder=""
  fi
  tail -n 12 "$ws_res/image-build.log"
  wcheck "image built from this machine's own PyTorch (image-build.log, rc $rc)" test "$rc" -eq 0
  [ "$rc" -eq 0 ] || return 1
  rc=0
  nodesh "$ws_ctr images import -" < "$W/workspace-image.tar" > "$ws_res/image-import.log" 2>&1 || rc=$?
  rm -f "$W/workspace-image.tar"
  nodesh "$ws_ctr images ls" >> "$ws_res/image-import.log" 2>&1 || true
  df -h "$W" >> "$ws_res/df.txt"
  tail -n 3 "$ws_res/image-import.log"
  wcheck "image imported into the node's containerd (rc $rc)" \
    sh -c "[ $rc -eq 0 ] && grep -qE '^$WS_IMAGE ' '$ws_res/image-import.log'"
  [ "$rc" -eq 0 ]
}

ws_homes_and_inventory() {
  local wait_s
  phase "workspace: home volumes (a hostPath PersistentVolume per workspace, class $WS_CLASS)"
  # The homes belong to the image's user, as a provisioner's would (hostPath volumes get no fsGroup).
  nodesh "for w in h200 cpu second; do mkdir -p $WS_HOMES/\$w && chown 2001:2001 $WS_HOMES/\$w && chmod 0750 $WS_HOMES/\$w; done; ls -ln $WS_HOMES" \
    > "$ws_res/homes.txt"
  python3 "$here/workspace_checks.py" volumes --node "$NODE" --class "$WS_CLASS" --size 1Gi --dir "$WS_HOMES" \
    h200 cpu second > "$ws_res/volumes.yaml"
  # The wait's bound: a pod whose image is already on the node is Ready in seconds; the bound
  # keeps a broken run inside the run's deadline.
  wait_s=$(left 200)
  [ "$wait_s" -le 150 ] || wait_s=150
  mkdir -p "$W/inventory/group_vars/controller"
  cat > "$W/inventory/group_vars/controller/workspace.yml" <<VARS
---
# Written by tests/gpu/workspace.sh: the GPU workspace of the e2e run (tests/gpu/workspace.md).
gpu_workspace_image: $WS_IMAGE   # imported with ctr, never pulled
gpu_workspace_image_pull_policy: Never
gpu_workspace_storage_class: $WS_CLASS   # hostPath PersistentVolumes: no provisioner here
gpu_workspace_home_size: 1Gi
gpu_workspace_wait_timeout: $wait_s
gpu_workspace_verify_gpu: true   # torch.cuda.is_available() in the pod, through kubectl exec
gpu_workspace_workspaces:
  - {name: h200, gpus: 1, generate_password: true}
VARS
  cp "$W/inventory/group_vars/controller/workspace.yml" "$ws_res/inventory-workspace.yml"
}

ws_runs() {
  local rc=0 uid2 restarts
  phase "workspace.yml, first run (the h200 workspace; PyTorch in the pod sees the GPU)"
  ws_playbook workspace-run1.log "$(left 150)" || rc=$?
  wcheck "first run succeeds (rc $rc)" test "$rc" -eq 0
  wcheck "first run: PyTorch in the pod reports cuda_available=True devices=1 name=NVIDIA H200" \
    ws_grep workspace-run1.log 'cuda_available=True devices=1 name=NVIDIA H200'
  wcheck "first run: the workspace was Ready" ws_grep workspace-run1.log 'Ready: h200'
  ws_uid=$(ws_pod workspace-h200 h200 uid)
  # Read now, while the API server runs: the final evidence is searched for it (ws_scan).
  ws_password
  [ "$rc" -eq 0 ] || return 1

  phase "workspace.yml, second run (idempotence)"
  rc=0; ws_playbook workspace-run2.log "$(left 120)" || rc=$?
  wcheck "second run succeeds (rc $rc)" test "$rc" -eq 0
  wcheck "second run: changed=0" test "$(ws_stat workspace-run2.log changed)" = 0
  wcheck "second run: PyTorch still sees the H200" \
    ws_grep workspace-run2.log 'cuda_available=True devices=1 name=NVIDIA H200'
  uid2=$(ws_pod workspace-h200 h200 uid)
  restarts=$(ws_pod workspace-h200 h200 restarts)
  wcheck "second run: the same pod, never restarted (uid $ws_uid -> $uid2, restarts $restarts)" \
    sh -c "[ -n '$ws_uid' ] && [ '$ws_uid' = '$uid2' ] && [ '$restarts' = 0 ]"
}

ws_collect() {
  local ip
  phase "workspace: evidence (objects, /healthz from the host network namespace, pod log)"
  ws_evidence
  ip=$(ws_pod workspace-h200 h200 ip)
  wcheck "GET /healthz of pod $ip from the host network namespace: status alive (code-server's stand-in)" \
    grep -qE '"status": "alive"' "$ws_res/healthz.txt"
  wcheck "the pod's log shows the kubelet's readiness probes answered" \
    grep -qF '"GET /healthz HTTP/1.1" 200' "$ws_res/pod-h200.log"
}

# ws_password: the generated password, kept in this shell only, for ws_scan.
ws_password() {
  ws_pw=$(python3 "$here/workspace_checks.py" password --namespace workspace-h200 --secret h200-password) || ws_pw=""
  wcheck "the generated password is in its Secret (${#ws_pw} characters)" test "${#ws_pw}" -ge 16
}

ws_refused() {
  local rc=0 changed
  phase "workspace: bad inputs the preflight refuses before any object changes"
  ws_playbook negative-preflight.log "$(left 60)" -e '{"gpu_workspace_runtime_class": "nvidia-missing",
    "gpu_workspace_workspaces": [{"name": "two", "gpus": 2, "generate_password": true}]}' || rc=$?
  changed=$(ws_stat negative-preflight.log changed)
  wcheck "gpus: 2 on the one-GPU node: refused, the most any node has is 1" \
    ws_grep negative-preflight.log "the most any node has is 1 \\($NODE\\)"
  wcheck "a RuntimeClass that does not exist: named" \
    ws_grep negative-preflight.log "RuntimeClass nvidia-missing does not exist"
  wcheck "refused before any change (rc $rc, changed=$changed, no namespace workspace-two)" \
    sh -c "[ $rc -ne 0 ] && [ '$changed' = 0 ] && python3 '$here/workspace_checks.py' gone --timeout 0 workspace-two"
}

ws_not_ready() {
  local rc=0 t0=$SECONDS took
  phase "workspace: what the bounded wait names (CPU-only on a GPU-only cluster, no GPU left, no volume)"
  ws_playbook negative-wait.log "$(left 45)" -e '{"gpu_workspace_wait_timeout": 20, "gpu_workspace_workspaces": [
    {"name": "cpu", "gpus": 0, "generate_password": true}, {"name": "second", "gpus": 1, "generate_password": true},
    {"name": "nohome", "gpus": 0, "generate_password": true}]}' || rc=$?
  took=$((SECONDS - t0))
  wcheck "the wait fails within its bound of 20 s (rc $rc after $took s)" sh -c "[ $rc -ne 0 ] && [ $took -lt 80 ]"
  wcheck "a CPU-only workspace (no toleration) on the tainted GPU node: scheduling, untolerated taint" \
    ws_grep negative-wait.log 'workspace cpu \(namespace workspace-cpu\): scheduling: [^;]*untolerated taint'
  wcheck "a second GPU workspace while h200 holds the only GPU: GPU, Insufficient nvidia.com/gpu" \
    ws_grep negative-wait.log 'workspace second \(namespace workspace-second\): GPU: [^;]*Insufficient nvidia.com/gpu'
  wcheck "a home claim no volume can satisfy: scheduling, unbound PersistentVolumeClaims" \
    ws_grep negative-wait.log 'workspace nohome \(namespace workspace-nohome\): scheduling: [^;]*unbound immediate PersistentVolumeClaims'
  wcheck "the h200 workspace was not touched (pod $ws_uid)" test "$(ws_pod workspace-h200 h200 uid)" = "$ws_uid"
}

ws_absent() {
  local rc=0
  phase "workspace: state absent with remove_home (the namespaces go, h200 stays)"
  ws_playbook absent.log "$(left 40)" -e '{"gpu_workspace_workspaces": [
    {"name": "cpu", "state": "absent", "remove_home": true}, {"name": "second", "state": "absent", "remove_home": true},
    {"name": "nohome", "state": "absent", "remove_home": true}]}' || rc=$?
  wcheck "state absent succeeds (rc $rc)" test "$rc" -eq 0
  wcheck "their namespaces are deleted by the real namespace controller" \
    python3 "$here/workspace_checks.py" gone --timeout 30 workspace-cpu workspace-second workspace-nohome
  wcheck "the h200 workspace stays (pod $ws_uid)" test "$(ws_pod workspace-h200 h200 uid)" = "$ws_uid"
}

ws_misspelt() {
  local rc=0 t0=$SECONDS
  phase "workspace: a misspelt image with imagePullPolicy Never"
  ws_playbook negative-image.log "$(left 40)" -e '{"gpu_workspace_wait_timeout": 20, "gpu_workspace_workspaces": [
    {"name": "h200", "gpus": 1, "generate_password": true, "image": "k3s-gpu-e2e.local/gpu-workspace:misspelt"}]}' || rc=$?
  wcheck "a misspelt image: image pull, ErrImageNeverPull, within the bound (rc $rc after $((SECONDS - t0)) s)" \
    ws_rc_and_grep "$rc" failed negative-image.log 'workspace h200 [^;]*image pull: [^;]*ErrImageNeverPull'
}

ws_rerun() {
  local rc=0
  phase "workspace.yml, third run (the right image again)"
  ws_playbook workspace-run3.log "$(left 30)" || rc=$?
  wcheck "a re-run with the right image makes it Ready again, PyTorch sees the H200 (rc $rc)" \
    ws_rc_and_grep "$rc" ok workspace-run3.log 'cuda_available=True devices=1 name=NVIDIA H200'
}

# Returns non-zero when the password is found in the final evidence.
workspace_cleanup() {
  local found=0
  if [ -n "$ws_builder" ]; then kill -- "-$ws_builder" 2>/dev/null || kill "$ws_builder" 2>/dev/null || true; fi
  [ -d "$ws_res" ] || return 0
  cp "$res/timings.txt" "$ws_res/e2e-timings.txt" 2>/dev/null || true
  cp "$res/environment.txt" "$ws_res/environment.txt" 2>/dev/null || true
  cp "$out/e2e.log" "$ws_res/e2e.log" 2>/dev/null || true
  if [ -n "$ws_pw" ]; then
    local before; before=$(grep -c '^FAIL ' "$res/checks.txt" || true)
    ws_scan "at the end of the run"
    [ "$(grep -c '^FAIL ' "$res/checks.txt" || true)" = "$before" ] || found=1
  fi
  cp "$res/checks.txt" "$ws_res/e2e-checks.txt" 2>/dev/null || true
  grep -E '^(PASS|FAIL) workspace: ' "$res/checks.txt" > "$ws_res/checks.txt" 2>/dev/null || true
  ws_pw=""
  return "$found"
}
