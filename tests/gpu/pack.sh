#!/usr/bin/env bash
# Pack what the whole-job GPU run (tests/gpu/e2e.sh) needs on the GPU machine into DIR:
#   repo.tar.gz     this checkout's files (tracked and untracked, not ignored)
#   bin.tar.xz      tests/gpu/build.sh's components (kube multi-call, containerd, shim, ctr,
#                   runc, CNI plugins, helm, pause)
#   rootfs.tar.xz   tests/gpu/rootfs.sh's Debian 12 root filesystem
#   mirror.tar.xz   the lab mirror tree (tests/lab/mirror/build.sh), its www/ only
#   python.tar.xz   wheels for the GPU machine's python3.12 (ansible-core, kubernetes and what
#                   they import, at tests/constraints.txt's versions) and the collections the
#                   run uses (kubernetes.core, community.docker for the nsenter connection,
#                   community.general for kernel_blacklist) from the project's virtualenv
#   times.txt       how long each build and the pack took here
#   run.sh          the entry point: `bash DIR/run.sh` on the GPU machine (unpacks repo.tar.gz,
#                   runs tests/gpu/e2e.sh DIR $OUT)
# Usage: tests/gpu/pack.sh DIR   (the device tool carries at most 64 MiB a call: see README.md)
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

pack_bins() {
  local stage; stage=$(mktemp -d)
  while IFS='=' read -r _ dir; do
    find "$dir" -maxdepth 1 -type f ! -name '.complete' -exec cp {} "$stage/" \;
  done < "$dest/.components"
  tar -C "$stage" -cf - . | xz -T0 -9 > "$dest/bin.tar.xz"
  rm -rf "$stage"
}
timed "pack bin.tar.xz" pack_bins
cp "$(tail -n 1 "$dest/.rootfs")" "$dest/rootfs.tar.xz"
timed "pack mirror.tar.xz" sh -c "tar -C '$(tail -n 1 "$dest/.mirror")' -cf - www | xz -T0 -6 > '$dest/mirror.tar.xz'"

wheels=$K3S_GPU_CACHE/gpu-wheels
pack_python() {
  local venv site stage
  venv=$(ls -d "$K3S_GPU_CACHE"/venv-*/ | head -n 1)
  site=$(ls -d "$venv"lib/python3*/site-packages | head -n 1)
  stage=$(mktemp -d)
  mkdir -p "$stage/wheels" "$stage/collections/ansible_collections/community"
  cp "$wheels"/*.whl "$stage/wheels/"
  cp -r "$site/ansible_collections/kubernetes" "$stage/collections/ansible_collections/"
  cp -r "$site/ansible_collections/community/docker" "$site/ansible_collections/community/general" \
    "$stage/collections/ansible_collections/community/"
  find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
  tar -C "$stage" -cf - . | xz -T0 -6 > "$dest/python.tar.xz"
  rm -rf "$stage"
}
[ -n "$(ls "$wheels"/*.whl 2>/dev/null)" ] || { echo "pack.sh: no wheels in $wheels (see tests/gpu/README.md)" >&2; exit 1; }
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
du -ch "$dest"/* | tee -a "$times" >&2
