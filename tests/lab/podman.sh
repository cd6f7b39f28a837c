#!/usr/bin/env bash
# Configure podman for this kind of host (a Debian 12 VM with a hybrid cgroup
# layout): crun refuses hybrid cgroups, so use runc with the cgroupfs manager;
# the default ulimits cannot be raised here, so set ones the host allows.
set -euo pipefail
conf=/etc/containers/containers.conf
want='# Written by k3s_gpu.node tests/lab/podman.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
if [ "$(cat "$conf" 2>/dev/null)" != "$(printf '%s' "$want")" ]; then
  mkdir -p /etc/containers
  printf '%s' "$want" > "$conf"
  echo "podman configured: $conf"
fi
