#!/usr/bin/env bash
# Boot a Debian root filesystem as a systemd host in its own namespaces (the GPU host of
# tests/gpu/e2e.sh; see README.md "How the GPU host is made"):
#
#   node.sh boot ROOT HOSTNAME LOG   prints the host PID of the node's systemd (PID 1 inside)
#                                     once `systemctl is-system-running` says running/degraded
#   node.sh stop PID                  ends the node (kill -9 on its PID 1 ends its PID namespace)
#
# The node gets new PID, mount, UTS, IPC and cgroup namespaces, in the child cgroup
# /sys/fs/cgroup/gpu-e2e-<HOSTNAME>; it shares the caller's network namespace. Inside: proc,
# sysfs, cgroup2, tmpfs /run and /tmp, /dev bound recursively (the GPU device nodes), and
# /usr/local/nvidia bound read-only when it exists (the driver), then pivot_root into ROOT, so
# that `nsenter --mount` (community.docker.nsenter) lands in the node's root.
set -euo pipefail
cmd=${1:?usage: node.sh boot ROOT HOSTNAME LOG | stop PID}

if [ "$cmd" = stop ]; then
  kill -9 "${2:?PID}" 2>/dev/null || true
  exit 0
fi
[ "$cmd" = boot ] || { echo "node.sh: unknown command $cmd" >&2; exit 2; }
root=$(cd "${2:?ROOT}" && pwd)
name=${3:?HOSTNAME}
log=${4:?LOG}
[ -x "$root/lib/systemd/systemd" ] || { echo "node.sh: $root has no /lib/systemd/systemd" >&2; exit 1; }
# cgroup v2 (the GPU machine); on a hybrid host (v1 controllers) its unified hierarchy.
cgroot=/sys/fs/cgroup
[ "$(stat -fc %T "$cgroot")" = cgroup2fs ] || cgroot=/sys/fs/cgroup/unified
cg=$cgroot/gpu-e2e-$name
mkdir -p "$cg"
nvidia=""
if [ -d /usr/local/nvidia ]; then
  mkdir -p "$root/usr/local/nvidia"
  nvidia="mount --bind /usr/local/nvidia $root/usr/local/nvidia; mount -o remount,bind,ro $root/usr/local/nvidia"
fi
echo "$name" > "$root/etc/hostname"
inner=$(mktemp /tmp/gpu-e2e-node.XXXXXX)
cat > "$inner" <<INNER
set -e
mount --make-rprivate /
mount --bind $root $root
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t cgroup2 cgroup2 $root/sys/fs/cgroup
mount -t tmpfs -o mode=0755 tmpfs $root/run
mount -t tmpfs tmpfs $root/tmp
mount --rbind /dev $root/dev
$nvidia
hostname $name
cd $root
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
ldconfig
exec /usr/bin/env -i container=gpu-e2e TERM=dumb /lib/systemd/systemd --system --log-target=console --log-level=notice
INNER
# setsid: the node outlives this script (while the machine stays up); the subshell moves
# itself into the node's cgroup first, so systemd's cgroup namespace is rooted there.
setsid bash -c 'echo $$ > "$1/cgroup.procs"; exec unshare --pid --fork --mount --uts --ipc --cgroup -- /bin/bash "$2"' \
  _ "$cg" "$inner" > "$log" 2>&1 < /dev/null &
starter=$!
pid1=""
for _ in $(seq 1 200); do
  for c in $(cat /proc/$starter/task/*/children 2>/dev/null); do
    if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then pid1=$c; fi
  done
  [ -n "$pid1" ] && break
  kill -0 "$starter" 2>/dev/null || break
  sleep 0.1
done
[ -n "$pid1" ] || { echo "node.sh: systemd did not start; console:" >&2; cat "$log" >&2; exit 1; }
# The node's cgroup is the root of its cgroup namespace: like a host's root cgroup it must hold
# no process of its own and delegate every controller, or the kubelet's cgroupfs driver finds
# kubepods without cpu, memory, pids... ("cgroup [kubepods] has some missing controllers").
# unshare itself (the parent of the node's PID 1) moves to a sibling cgroup; once systemd has
# moved itself to init.scope, the controllers are enabled for the node's children.
mkdir -p "$cg-starter"
echo "$starter" > "$cg-starter/cgroup.procs"
for _ in $(seq 1 100); do
  [ -z "$(cat "$cg/cgroup.procs")" ] && break
  sleep 0.1
done
controllers=$(sed 's/[a-z_]\+/+&/g' "$cg/cgroup.controllers")
for _ in $(seq 1 50); do
  echo "$controllers" > "$cg/cgroup.subtree_control" 2>/dev/null && break
  sleep 0.2
done
echo "node $name: controllers delegated: $(cat "$cg/cgroup.subtree_control")" >&2
state=""
# systemd reports running once every unit has started; ansible needs only PID 1 to answer.
for _ in $(seq 1 40); do
  state=$(nsenter --target "$pid1" --mount --pid -- systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break ;; esac
  sleep 0.5
done
rm -f "$inner"
echo "node $name: systemd PID $pid1 on this machine, system $state" >&2
echo "$pid1"
