#!/usr/bin/env bash
# code-server for the GPU workspace image (Containerfile beside this file).
# The password comes from $PASSWORD, which the gpu_workspace role takes from the workspace's
# Secret; code-server refuses to start with --auth password and no password, so a pod without
# it fails visibly instead of serving an open editor.
set -euo pipefail

if [ -z "${PASSWORD:-}" ] && [ -z "${HASHED_PASSWORD:-}" ]; then
  echo "entrypoint: PASSWORD is not set (the gpu_workspace role sets it from the workspace's Secret)" >&2
  exit 1
fi

# A fresh home volume is empty: give the user a shell profile and the same Python the image has.
if [ ! -e "$HOME/.bashrc" ]; then
  cp /etc/skel/.bashrc /etc/skel/.profile "$HOME/" 2>/dev/null || true
fi
mkdir -p "$HOME/.config/code-server" "$HOME/.local/share/code-server" "$HOME/work"

# Plain HTTP on 8443: TLS is the Ingress's job (or kubectl port-forward's tunnel); /healthz
# answers without authentication, which the role's readiness probe uses.
exec code-server \
  --bind-addr 0.0.0.0:8443 \
  --auth password \
  --disable-telemetry \
  --disable-update-check \
  --user-data-dir "$HOME/.local/share/code-server" \
  --extensions-dir "$HOME/.local/share/code-server/extensions" \
  "$HOME/work" "$@"
