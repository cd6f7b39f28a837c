#!/usr/bin/env bash
# Benchmark the Kubernetes test harness (tests/lab/kube):
#   cold build   build.sh with an empty K3S_GPU_CACHE (modules downloaded from the
#                Go module proxy, nothing compiled); slow, skip with --skip-cold
#   warm build   build.sh when the binaries are cached (the usual case: a no-op)
#   warm rebuild build.sh forced to relink with a warm Go build cache
#   memory       peak and final RSS of etcd + kube-apiserver while a small workload
#                runs (namespaces, config maps, nodes, pods and their logs, a helm chart)
# Usage: bench/kube_build.sh [--skip-cold]     (or KUBE_BENCH_SKIP_COLD=1)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kube="$repo/tests/lab/kube"
skip_cold="${KUBE_BENCH_SKIP_COLD:-0}"
[ "${1:-}" = "--skip-cold" ] && skip_cold=1
py="${PYTHON:-$repo/.venv/bin/python}"

secs() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }

if [ "$skip_cold" = 0 ]; then
  cold_cache="$(mktemp -d)"
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  cleanup_cold() { chmod -R u+w "$cold_cache" 2>/dev/null; rm -rf "$cold_cache"; }
  trap cleanup_cold EXIT
  # Wall time depends on what else runs; the CPU time (user + sys of every child)
  # does not: on 2 idle cores the build takes about cpu / 2.
  TIMEFORMAT='%R %U %S'
  read -r wall user sys < <({ time K3S_GPU_CACHE="$cold_cache" KUBE_BUILD_NO_LINK=1 "$kube/build.sh" >/dev/null 2>&1; } 2>&1)
  unset TIMEFORMAT
  du_cold="$(du -sh "$cold_cache" | cut -f1)"
  cleanup_cold
  trap - EXIT
  printf 'cold build (empty cache, %s on disk)  %8.1f s wall, %.0f s CPU (user %.0f + sys %.0f), load average before: %s\n' \
    "$du_cold" "$wall" "$(echo "$user + $sys" | bc)" "$user" "$sys" "$load_before"
fi
"$kube/build.sh" >/dev/null 2>&1 # make sure the cached build exists
printf 'warm build (binaries cached)            %8.1f s\n' "$(secs "$kube/build.sh")"
printf 'warm rebuild (Go build cache warm)      %8.1f s\n' "$(KUBE_BUILD_FORCE=1 secs "$kube/build.sh")"
bin="$("$kube/build.sh" 2>/dev/null | tail -n 1)"
printf 'binary sizes: %s\n' "$(cd "$bin" && du -h kube-apiserver etcd helm | awk '{printf "%s %s  ", $2, $1}')"

PYTHONPATH="$repo/tests/lab" "$py" - "$bin" <<'PY'
import os, sys, tempfile, threading, time
from kubernetes import client
from kube import cluster
from kube.kubelet import FakeKubelet

state = tempfile.mkdtemp(prefix="kube-bench-")
t0 = time.monotonic()
c = cluster.start(os.path.join(state, "state"), sys.argv[1])
print("start to /readyz                        %8.1f s" % (time.monotonic() - t0))
peak = {}
idle = c.rss_bytes()
stop = threading.Event()

def sample():
    while not stop.is_set():
        rss = c.rss_bytes()
        for k, v in rss.items():
            peak[k] = max(peak.get(k, 0), v)
        peak["total"] = max(peak.get("total", 0), sum(rss.values()))
        time.sleep(0.2)

th = threading.Thread(target=sample, daemon=True)
th.start()
try:
    t0 = time.monotonic()
    api = client.CoreV1Api(c.api_client())
    client.NodeV1Api(c.api_client()).create_runtime_class(
        {"metadata": {"name": "nvidia"}, "handler": "nvidia"})
    kubelets = []
    for n in range(5):
        k = FakeKubelet(c, "bench-node-%d" % n)
        k.register(gpus=8)
        kubelets.append(k)
    for i in range(20):
        ns = "bench-%d" % i
        api.create_namespace({"metadata": {"name": ns}})
        for j in range(25):
            api.create_namespaced_config_map(ns, {"metadata": {"name": "cm-%d" % j},
                                                  "data": {"payload": "x" * 4096}})
        for j in range(5):
            name = "pod-%d" % j
            api.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": {
                "restartPolicy": "Never", "runtimeClassName": "nvidia",
                "containers": [{"name": "main", "image": "busybox:1.36",
                                "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})
            kubelets[j].run_pod(ns, name, logs="Test PASSED\n")
            assert api.read_namespaced_pod_log(name, ns) == "Test PASSED\n"
        api.list_pod_for_all_namespaces()
    for k in kubelets:
        k.set_ready(True)
        k.close()
    print("workload (20 ns, 500 configmaps, 100 pods + logs) %6.1f s" % (time.monotonic() - t0))
    time.sleep(1)
    final = c.rss_bytes()
finally:
    stop.set()
    th.join()
    cluster.stop(c.state_dir)
mib = lambda b: b / 1048576.0
print("RSS idle after start: etcd %.0f MiB, kube-apiserver %.0f MiB, total %.0f MiB"
      % (mib(idle["etcd"]), mib(idle["kube-apiserver"]), mib(sum(idle.values()))))
print("RSS peak under load:  etcd %.0f MiB, kube-apiserver %.0f MiB, total %.0f MiB (target < 1536 MiB)"
      % (mib(peak["etcd"]), mib(peak["kube-apiserver"]), mib(peak["total"])))
print("RSS after load:       total %.0f MiB" % mib(sum(final.values())))
PY
