#!/usr/bin/env bash
# The GPU workspace image of the e2e run (tests/gpu/workspace.md), built from the GPU machine's
# own PyTorch: that machine has no network, so neither pytorch/pytorch nor code-server can be
# pulled there, and roles/gpu_workspace/files/Containerfile cannot be built as it is.
#
#   workspace_image.sh VENV IMAGE_NAME OUT      (OUT: the archive, - for stdout)
#
# VENV is a Python virtualenv with PyTorch (/opt/torch/.venv on the GPU machine). The image:
#   - the venv's base interpreter at its own path, its standard library and /etc/pythonX.Y, and
#     the venv's site-packages (torch and the nvidia/* CUDA wheel directories it loads, and what
#     torch imports) as the interpreter's own site directory, so that /usr/local/bin/python
#     (the role's `python -c` check) is that Python with PyTorch, without a venv;
#   - every library `ldd` lists for the interpreter, its extension modules and every shared
#     object in site-packages, from where it is found, plus libdl, libpthread, librt and libm
#     (libcuda loads them), and /bin/sh for `kubectl exec` - but no driver library: the NVIDIA
#     runtime's CDI edits bring libcuda and libnvidia-ml at /usr/local/nvidia/lib64;
#   - /etc/passwd and /etc/group with cs-user (uid/gid 2001), /home/cs-user, /tmp;
#   - the entrypoint: tests/gpu/healthz_standin.py, a labelled STAND-IN for code-server, which
#     cannot be carried there (GET /healthz on 0.0.0.0:8443; exits when $PASSWORD is empty).
# One uncompressed layer (oci_image.py --layer-compression none: a few GB, streamed twice,
# never compressed). The big trees are bound read-only into the staging root inside a private
# mount namespace (nothing copied, nothing left mounted when this ends); before the archive is
# written, the image's python imports WORKSPACE_IMAGE_CHECK_MODULE (default torch) in a chroot
# as uid 2001, as the pod will, and the stand-in must refuse to start without a password.
#
# Environment: WORKSPACE_IMAGE_STAGE (where the staging root goes; default $TMPDIR or /tmp),
# WORKSPACE_IMAGE_CHECK_MODULE. Runs as root (mount, chroot). Prints its steps on stderr.
set -euo pipefail
usage="usage: workspace_image.sh VENV IMAGE_NAME OUT"
venv=${1:?$usage}
name=${2:?$usage}
out=${3:?$usage}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_module=${WORKSPACE_IMAGE_CHECK_MODULE:-torch}
UID_CS=2001

if [ -z "${WORKSPACE_IMAGE_IN_MNTNS:-}" ]; then
  exec env WORKSPACE_IMAGE_IN_MNTNS=1 unshare --mount --propagation private -- "$0" "$@"
fi
[ -x "$venv/bin/python" ] || { echo "workspace_image.sh: $venv/bin/python does not exist: VENV must be a Python virtualenv (with PyTorch)" >&2; exit 2; }
[ "$out" = - ] || out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
t0=$SECONDS
say() { printf '[workspace_image +%ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }

# Where the venv's Python keeps things: its packages; and its base interpreter (the stdlib,
# lib-dynload, the interpreter's own first site directory, Debian's /usr/local/lib/pythonX.Y/
# dist-packages), asked without the venv (-I, from its real path).
{ read -r py_base; read -r py_purelib; read -r py_platlib; read -r py_venv; } < <("$venv/bin/python" -c '
import os, sys, sysconfig
r = os.path.realpath
print(r(getattr(sys, "_base_executable", None) or sys.executable), r(sysconfig.get_path("purelib")),
      r(sysconfig.get_path("platlib")), r(sys.prefix), sep="\n")')
[ -n "$py_venv" ] || { echo "workspace_image.sh: $venv/bin/python did not say where its files are" >&2; exit 2; }
{ read -r py_ver; read -r py_stdlib; read -r py_platstdlib; read -r py_dynload; read -r site_dest; } < <("$py_base" -I -c '
import os, site, sys, sysconfig
r = os.path.realpath
print("%d.%d" % sys.version_info[:2], r(sysconfig.get_path("stdlib")), r(sysconfig.get_path("platstdlib")),
      r([p for p in sys.path if p.endswith("lib-dynload")][0]), site.getsitepackages()[0], sep="\n")')
[ -n "$site_dest" ] || { echo "workspace_image.sh: $py_base did not say where its files are" >&2; exit 2; }
say "source: $venv: python $py_ver ($py_base), stdlib $py_stdlib, site-packages $py_purelib -> $site_dest in the image"
"$venv/bin/python" -c "import importlib, sys
m = importlib.import_module(sys.argv[1])
extra = ' (CUDA %s)' % m.version.cuda if sys.argv[1] == 'torch' else ''
print('[workspace_image] source %s %s%s at %s' % (sys.argv[1], getattr(m, '__version__', '?'), extra, m.__file__))" \
  "$check_module" >&2 || { echo "workspace_image.sh: $venv has no importable $check_module" >&2; exit 2; }

stage=$(mktemp -d "${WORKSPACE_IMAGE_STAGE:-${TMPDIR:-/tmp}}/workspace-root.XXXXXX")
chmod 0755 "$stage"
binds=()
cleanup() {
  local i
  for ((i = ${#binds[@]} - 1; i >= 0; i--)); do umount "${binds[$i]}" 2>/dev/null || umount -l "${binds[$i]}" || true; done
  # Never remove the staging root while a tree is still bound into it (rm would reach the source).
  if grep -qF " $stage" /proc/self/mountinfo; then
    echo "workspace_image.sh: $stage still has mounts; left in place" >&2
  else
    rm -rf --one-file-system "$stage"
  fi
}
trap cleanup EXIT
bind_ro() {  # bind_ro SRC DEST: SRC's tree at DEST in the staging root, read-only
  mkdir -p "$stage$2"
  mount --bind "$1" "$stage$2"
  binds+=("$stage$2")
  mount -o remount,bind,ro "$stage$2"
}
copy_lib() {  # a file into the staging root at the path it is found at (links resolved)
  mkdir -p "$stage$(dirname "$1")"
  cp -L "$1" "$stage$1"
}

mkdir -p "$stage"/{etc/ld.so.conf.d,home/cs-user,usr/local/bin,usr/local/nvidia/lib64,usr/local/lib/code-server-standin,bin,dev,proc,sys,run,var/tmp,tmp}
chmod 1777 "$stage/tmp" "$stage/var/tmp"
copy_lib "$py_base"
ln -s "$py_base" "$stage/usr/local/bin/python"
ln -s "$py_base" "$stage/usr/local/bin/python3"
bind_ro "$py_stdlib" "$py_stdlib"
for dir in "$py_platstdlib" "$py_dynload"; do
  case $dir in "$py_stdlib"|"$py_stdlib"/*) ;; *) bind_ro "$dir" "$dir" ;; esac
done
[ -d "/etc/python$py_ver" ] && cp -a "/etc/python$py_ver" "$stage/etc/"
bind_ro "$py_purelib" "$site_dest"
if [ "$py_platlib" != "$py_purelib" ]; then
  echo "workspace_image.sh: the venv's platlib $py_platlib differs from its purelib $py_purelib; only purelib goes in" >&2
  exit 2
fi
if grep -qiE '^include-system-site-packages *= *true' "$venv/pyvenv.cfg" 2>/dev/null; then
  say "note: $venv includes the system site-packages; they are not in the image"
fi
cp -L /bin/sh "$stage/bin/sh"
cp "$here/healthz_standin.py" "$stage/usr/local/lib/code-server-standin/healthz.py"

# The libraries: ldd of the interpreter, its extension modules and every shared object of
# site-packages, minus what is already inside (site-packages, the stdlib) and the driver's own.
say "ldd over the interpreter, lib-dynload and site-packages"
lddout=$(mktemp)
{ printf '%s\n' "$py_base" /bin/sh
  find "$py_dynload" "$py_purelib" -type f \( -name '*.so' -o -name '*.so.*' \) 2>/dev/null
} | xargs -d '\n' -P "$(nproc)" -n 32 ldd > "$lddout" 2>/dev/null || true
missing=$(awk '$2 == "=>" && $3 == "not" {print $1}' "$lddout" | sort -u | tr '\n' ' ')
libs=$(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}' "$lddout" | sort -u)
rm -f "$lddout"
n=0
copied=""
for lib in $libs; do
  case $lib in
    "$py_purelib"/*|"$py_stdlib"/*|"$py_platstdlib"/*|"$py_dynload"/*|"$py_venv"/*|/usr/local/nvidia/*) continue ;;
  esac
  case ${lib##*/} in
    libcuda.so*|libnvidia-*|libnvcuvid*|libnvoptix*|libcudadebugger*) continue ;;  # the driver's
  esac
  copy_lib "$lib"; n=$((n + 1)); copied+=" ${lib##*/}"
done
for lib in libdl.so.2 libpthread.so.0 librt.so.1 libm.so.6; do
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/$lib" ]; then [ -e "$stage$dir/$lib" ] || copy_lib "$dir/$lib"; break; fi
  done
done
say "copied $n libraries:$copied"
say "not found by ldd (the driver's, brought by the NVIDIA runtime, or optional): ${missing:-none}"
printf 'include /etc/ld.so.conf.d/*.conf\n/usr/local/nvidia/lib64\n/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n' \
  > "$stage/etc/ld.so.conf"
printf 'root:x:0:0:root:/root:/bin/sh\ncs-user:x:%d:%d:GPU workspace user:/home/cs-user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
  "$UID_CS" "$UID_CS" > "$stage/etc/passwd"
printf 'root:x:0:\ncs-user:x:%d:\nnogroup:x:65534:\n' "$UID_CS" > "$stage/etc/group"

# The pod runs as uid 2001: a tree only root can read (a venv made with umask 077) is made readable
# in the image, and the check below then runs as root (as uid 2001 it could not read the source).
readable=()
check_user=$UID_CS
unreadable=$(find "$py_purelib" "$py_stdlib" "$py_dynload" \( -type f ! -perm -o=r \) -o \( -type d ! -perm -o=rx \) 2>/dev/null \
  | head -n 1 || true)
if [ -n "$unreadable" ]; then
  say "note: not every file is readable by other users (e.g. $unreadable): the image makes them readable"
  readable=(--readable)
  check_user=0
fi
env_list=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/cs-user USER=cs-user
  LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64 'NVIDIA_DRIVER_CAPABILITIES=compute,utility'
  PYTHONUNBUFFERED=1)
# The checks run in a chroot, which has no /dev: torch reads /dev/urandom when it loads. The
# host's character devices are bound in for the checks only and taken out before the image is
# written (a container runtime gives the pod its own /dev).
mkdir -p "$stage/dev"
check_devs=()
for d in null zero random urandom; do
  : > "$stage/dev/$d"
  mount --bind "/dev/$d" "$stage/dev/$d"
  binds+=("$stage/dev/$d"); check_devs+=("$stage/dev/$d")
done
# The image as the pod will run it: uid 2001, the image's environment, no venv.
say "check: /usr/local/bin/python imports $check_module in the image's root, as uid $check_user"
env -i "${env_list[@]}" PYTHONDONTWRITEBYTECODE=1 chroot --userspec="$check_user:$check_user" "$stage" /usr/local/bin/python -c "
import importlib, sys
m = importlib.import_module(sys.argv[1])
print('[workspace_image] image python %s (%s, prefix %s) imports %s %s from %s' % (
    sys.version.split()[0], sys.executable, sys.prefix, sys.argv[1], getattr(m, '__version__', '?'), m.__file__))
assert not sys.prefix.startswith(sys.argv[2]), 'the image must not depend on the venv'" "$check_module" "$py_venv" >&2
set +e
env -i "${env_list[@]}" chroot --userspec="$check_user:$check_user" "$stage" /usr/local/bin/python \
  /usr/local/lib/code-server-standin/healthz.py > /dev/null 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { echo "workspace_image.sh: the stand-in started without a password (exit $rc): it must refuse" >&2; exit 1; }
say "check: the stand-in refuses to start without PASSWORD (exit 1)"
for d in "${check_devs[@]}"; do umount "$d" && rm -f "$d"; done
binds=("${binds[@]:0:${#binds[@]}-${#check_devs[@]}}")

env_args=()
for e in "${env_list[@]}"; do env_args+=(--env "$e"); done
say "image $name: $(du -sh "$stage" 2>/dev/null | cut -f1) unpacked; writing it to $out"
python3 "$here/oci_image.py" --name "$name" --rootfs "$stage" --layer-compression none "${readable[@]}" \
  --user "$UID_CS:$UID_CS" --workdir /home/cs-user \
  --entrypoint /usr/local/bin/python --entrypoint /usr/local/lib/code-server-standin/healthz.py \
  "${env_args[@]}" \
  --label "org.opencontainers.image.title=k3s_gpu.node e2e GPU workspace (PyTorch of the GPU machine)" \
  --label "io.k3s-gpu-node.standin=code-server is NOT in this image: its entrypoint is tests/gpu/healthz_standin.py (GET /healthz only)" \
  --label "io.k3s-gpu-node.source=$venv" \
  "$out"
say "done"
