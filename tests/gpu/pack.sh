#!/usr/bin/env bash
# Pack what the whole-job GPU run (tests/gpu/e2e.sh) needs on the GPU machine into DIR:
#   repo.tar.gz     this checkout's files (tracked and untracked, not ignored)
#   bin-control.tar.xz  tests/gpu/build.sh's kube multi-call binary and helm
#   bin-node.tar.xz tests/gpu/build.sh's containerd, shim, ctr, runc, CNI plugins, device
#                   plugin, pause
#   rootfs.tar.xz   tests/gpu/rootfs.sh's Debian 12 root filesystem
#   mirror.tar.xz   the lab mirror tree (tests/lab/mirror/build.sh), its www/ only
#   python.tar.xz   wheels for the GPU machine's python3.12 (ansible-core, kubernetes and what
#                   they import, at tests/constraints.txt's versions) and the collections the
#                   run uses (kubernetes.core, community.docker for the nsenter connection)
#                   from the project's virtualenv
#   times.txt       how long each build and the pack took here
#   run.sh          the entry point: `bash DIR/run.sh` on the GPU machine (unpacks repo.tar.gz,
#                   runs tests/gpu/e2e.sh DIR $OUT)
# in parts DIR/1 .. DIR/N of at most 58 MiB (the device tool carries at most 64 MiB a call,
# the checkout included): see README.md for the calls.
# Usage: tests/gpu/pack.sh DIR
set -euo pipefail
dest=${1:?usage: pack.sh DIR}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib.sh
. "$here/../../scripts/lib.sh"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
times=$dest/times.txt
: > "$times"
timed() {  # timed LABEL CMD...: run CMD, append its duration to times.txt
  local label=$1 t0=$SECONDS; shift
  "$@"
  printf '%-44s %4d s\n' "CPU machine: $label" "$((SECONDS - t0))" | tee -a "$times" >&2
}

timed "build components (tests/gpu/build.sh)" "$here/build.sh" all > "$dest/.components"
timed "build rootfs (tests/gpu/rootfs.sh)" "$here/rootfs.sh" > "$dest/.rootfs"
timed "build mirror (tests/lab/mirror/build.sh)" "$REPO_ROOT/tests/lab/mirror/build.sh" > "$dest/.mirror"

# Two archives of components, so that each fits one call: the kube multi-call binary and
# helm; and the node's runtime pieces (containerd, shim, ctr, runc, CNI, device plugin, pause).
pack_bins() {
  local stage name dir; stage=$(mktemp -d)
  mkdir -p "$stage/a" "$stage/b"
  while IFS='=' read -r name dir; do
    case $name in kube|helm) sub=a ;; *) sub=b ;; esac
    find "$dir" -maxdepth 1 -type f ! -name '.complete' -exec cp {} "$stage/$sub/" \;
  done < "$dest/.components"
  tar -C "$stage/a" -cf - . | xz -T0 -9 > "$dest/bin-control.tar.xz"
  tar -C "$stage/b" -cf - . | xz -T0 -9 > "$dest/bin-node.tar.xz"
  rm -rf "$stage"
}
timed "pack bin-*.tar.xz" pack_bins
cp "$(tail -n 1 "$dest/.rootfs")" "$dest/rootfs.tar.xz"
# The mirror's www/ without what the run does not fetch: the untrusted-key copies and the
# toolkit's older version. Every K3s release stays (4 MiB each): with k3s_agent_version
# `server` (the default) the role picks the one that matches the harness's API server.
pack_mirror() {
  local tree; tree=$(tail -n 1 "$dest/.mirror")
  tar -C "$tree" --exclude=www/untrusted --exclude='*_1.17.8-1_*' -cf - www | xz -T0 -9 > "$dest/mirror.tar.xz"
}
timed "pack mirror.tar.xz" pack_mirror

wheels=$K3S_GPU_CACHE/gpu-wheels-$(hash_of "$here/wheels.txt")
fetch_wheels() {
  [ -f "$wheels/.complete" ] && return 0
  mkdir -p "$wheels"
  grep -vE '^\s*(#|$)' "$here/wheels.txt" | xargs python3 -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$wheels"
  touch "$wheels/.complete"
}
timed "fetch wheels (tests/gpu/wheels.txt)" fetch_wheels
pack_python() {
  local venv site stage
  venv=$(ls -d "$K3S_GPU_CACHE"/venv-*/ | head -n 1)
  site=$(ls -d "$venv"lib/python3*/site-packages | head -n 1)
  stage=$(mktemp -d)
  mkdir -p "$stage/wheels" "$stage/collections/ansible_collections/community"
  cp "$wheels"/*.whl "$stage/wheels/"
  mkdir -p "$stage/collections/ansible_collections/kubernetes"
  cp -r "$site/ansible_collections/kubernetes/core" "$stage/collections/ansible_collections/kubernetes/"
  cp -r "$site/ansible_collections/community/docker" "$stage/collections/ansible_collections/community/"
  find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
  find "$stage/collections" -mindepth 4 -maxdepth 4 -name tests -type d -prune -exec rm -rf {} +
  tar -C "$stage" -cf - . | xz -T0 -6 > "$dest/python.tar.xz"
  rm -rf "$stage"
}
timed "pack python.tar.xz" pack_python
(cd "$REPO_ROOT" && git ls-files -co --exclude-standard -z | tar --null -czf "$dest/repo.tar.gz" -T -)
cat > "$dest/run.sh" <<'RUN'
#!/usr/bin/env bash
# Entry point on the GPU machine (written by tests/gpu/pack.sh).
set -euo pipefail
payload=$(cd "$(dirname "$0")" && pwd)
repo=/var/tmp/gpu-e2e-repo
rm -rf "$repo"; mkdir -p "$repo"
tar -C "$repo" -xzf "$payload/repo.tar.gz"
exec "$repo/tests/gpu/e2e.sh" "$payload" "${OUT:-/tmp/gpu-e2e-out}"
RUN
rm -f "$dest/.components" "$dest/.rootfs" "$dest/.mirror"
# Parts for device calls made back to back (the machine keeps /var/tmp while it is warm):
# each part but the last is copied to /var/tmp/gpu-payload; the last joins them and runs.
# First fit, biggest first, in parts of at most 58 MiB (the checkout travels too).
rm -rf "$dest"/[0-9]
python3 - "$dest" <<'PY'
import os, sys
dest = sys.argv[1]
limit = 58 * 2**20
last = ["repo.tar.gz", "run.sh"]
files = sorted((f for f in os.listdir(dest) if f.endswith((".xz", ".gz", ".sh")) and f not in last),
               key=lambda f: -os.path.getsize(os.path.join(dest, f)))
parts = [[]]
size = lambda part: sum(os.path.getsize(os.path.join(dest, f)) for f in part)
for f in files:
    for part in parts:
        if size(part) + os.path.getsize(os.path.join(dest, f)) <= limit:
            part.append(f)
            break
    else:
        parts.append([f])
tail = [p for p in parts if size(p) + size(last) <= limit]
final = tail[-1] if tail else []
if not tail:
    parts.append(final)
parts.remove(final)
parts.append(final + last)
for i, part in enumerate(parts, 1):
    os.makedirs(os.path.join(dest, str(i)))
    for f in part:
        os.rename(os.path.join(dest, f), os.path.join(dest, str(i), f))
    print("part %d: %s (%.1f MiB)" % (i, " ".join(part), size([os.path.join(str(i), f) for f in part]) / 2**20))
PY
n=$(ls -d "$dest"/[0-9] | wc -l)
cp "$times" "$dest/$n/times.txt"
echo "$n parts: calls 1..$((n - 1)) copy, call $n runs (README.md)" >&2
