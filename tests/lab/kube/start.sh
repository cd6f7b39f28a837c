#!/usr/bin/env bash
# Start a real etcd and kube-apiserver (built by build.sh) on 127.0.0.1, on free
# ports, with generated certificates, RBAC on and a service-account signing key.
#
#   start.sh [STATE_DIR]     (default: $REPO_ROOT/.tmp/kube/state)
#
# Writes into STATE_DIR:
#   kubeconfig           admin: client certificate in group system:masters
#   kubeconfig-limited   user "limited" (static token, no RBAC rights): every
#                        request is authenticated but forbidden (403)
#   cluster.env          SERVER, CA, ports, token of the limited user (shell syntax)
#   pki/                 CA, serving, client and kubelet certificates
#   etcd.pid kube-apiserver.pid, etcd.log kube-apiserver.log
# waits for /readyz, and prints the admin kubeconfig path as the last line of stdout.
# stop.sh STATE_DIR stops exactly these processes. KUBE_BIN_DIR overrides the
# binaries (default: the output of build.sh, which builds them when missing);
# KUBE_APISERVER_BIN runs another kube-apiserver with that etcd (build.sh's skew/
# one, which reports v1.35.4, for the version-skew tests).
#
# Anonymous requests are refused (--anonymous-auth=false), as K3s's own
# kube-apiserver does (k3s-io/k3s pkg/daemons/control/server.go sets
# anonymous-auth=false unless an authentication-config is given): clients read
# GET /version with credentials, as they must on a real K3s server.
#
# There is no kube-controller-manager, kube-scheduler nor kubelet: tests play
# their part through the API (see kubelet.py). Because no token controller
# creates "default" service accounts, the ServiceAccount admission plugin is
# disabled, so pods are creatable in any namespace.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/lib.sh
. "$here/../../../scripts/lib.sh"

state="${1:-$REPO_ROOT/.tmp/kube/state}"
bin="${KUBE_BIN_DIR:-$("$here/build.sh" | tail -n 1)}"
apiserver="${KUBE_APISERVER_BIN:-$bin/kube-apiserver}"
for b in "$bin/etcd" "$apiserver"; do
  [ -x "$b" ] || { echo "start.sh: $b missing: run $here/build.sh" >&2; exit 1; }
done

if [ -f "$state/kube-apiserver.pid" ] || [ -f "$state/etcd.pid" ]; then
  echo "start.sh: $state has pidfiles: stop it first ($here/stop.sh $state)" >&2
  exit 1
fi
rm -rf "$state"
mkdir -p "$state/pki" "$state/etcd"
chmod 700 "$state"
state="$(cd "$state" && pwd)"
pki="$state/pki"

# Three free ports on 127.0.0.1, chosen by the kernel.
read -r etcd_port peer_port api_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
)

start=$(date +%s)
# --- certificates -------------------------------------------------------------
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=k3s-gpu-test-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt"
# issue NAME SUBJECT EXTFILE-CONTENT
issue() {
  printf '%s\n' "$3" > "$pki/$1.ext"
  ossl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr"
  ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/$1.ext" -out "$pki/$1.crt"
  rm -f "$pki/$1.csr" "$pki/$1.ext"
}
serving='keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth'
client='keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
issue apiserver "/CN=kube-apiserver" "$serving
subjectAltName=IP:127.0.0.1,IP:10.43.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue admin "/O=system:masters/CN=admin" "$client"
# The API server's client certificate towards kubelets (pods/log, exec, proxy).
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
# Serving certificate of a kubelet on 127.0.0.1 (used by kubelet.FakeKubelet).
issue kubelet "/CN=kubelet-127.0.0.1" "$serving
subjectAltName=IP:127.0.0.1,DNS:localhost"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key"
ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
chmod 600 "$pki"/*.key

limited_token="$(openssl rand -hex 24)"
# token,user,uid,"group1,group2": a user whom no RBAC binding grants anything.
printf '%s,limited,limited-uid,"test:limited"\n' "$limited_token" > "$pki/tokens.csv"
# KUBE_EXTRA_TOKENS_FILE: more lines of the same format (the whole-job GPU run adds its
# node's token, user system:node:<name> in group system:nodes, as K3s's server authorises nodes).
if [ -n "${KUBE_EXTRA_TOKENS_FILE:-}" ]; then cat "$KUBE_EXTRA_TOKENS_FILE" >> "$pki/tokens.csv"; fi
chmod 600 "$pki/tokens.csv"

# --- etcd -----------------------------------------------------------------------
etcd_url="http://127.0.0.1:$etcd_port"
"$bin/etcd" --name default --data-dir "$state/etcd" \
  --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "default=http://127.0.0.1:$peer_port" \
  --quota-backend-bytes $((1024 * 1024 * 1024)) --unsafe-no-fsync \
  --log-level warn > "$state/etcd.log" 2>&1 < /dev/null &
echo $! > "$state/etcd.pid"

# probe URL [CA CERT KEY]: succeeds when GET URL answers 200 (python3, no curl needed).
probe() {
  python3 - "$@" <<'PY' >/dev/null 2>&1
import ssl, sys, urllib.request
ctx = None
if len(sys.argv) > 2:
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
urllib.request.urlopen(sys.argv[1], context=ctx, timeout=2)
PY
}

fail() {
  echo "start.sh: $1" >&2
  for log in "$state/etcd.log" "$state/kube-apiserver.log"; do
    [ -f "$log" ] && { echo "--- tail of $log" >&2; tail -n 30 "$log" >&2; }
  done
  "$here/stop.sh" "$state" >&2 || true
  exit 1
}
etcd_ok=""
for _ in $(seq 1 100); do
  if probe "$etcd_url/health"; then etcd_ok=1; break; fi
  kill -0 "$(cat "$state/etcd.pid")" 2>/dev/null || fail "etcd exited"
  sleep 0.2
done
[ -n "$etcd_ok" ] || fail "etcd not healthy after 20s"

# --- kube-apiserver ---------------------------------------------------------------
# Node,RBAC as in K3s; the static token file carries the limited user.
# --kubelet-*: the API server reaches kubelets (pods/log) at the node's InternalIP
# and status.daemonEndpoints.kubeletEndpoint.Port over HTTPS, verifying them with
# our CA and presenting apiserver-kubelet-client.
"$apiserver" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --etcd-servers "$etcd_url" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
  --authorization-mode Node,RBAC --anonymous-auth=false \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.43.0.0/16 \
  --disable-admission-plugins ServiceAccount \
  --allow-privileged=true \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" \
  --kubelet-preferred-address-types InternalIP \
  --profiling=false --v=1 \
  > "$state/kube-apiserver.log" 2>&1 < /dev/null &
echo $! > "$state/kube-apiserver.pid"

server="https://127.0.0.1:$api_port"
ready=""
for _ in $(seq 1 300); do
  if probe "$server/readyz" "$pki/ca.crt" "$pki/admin.crt" "$pki/admin.key"; then ready=1; break; fi
  kill -0 "$(cat "$state/kube-apiserver.pid")" 2>/dev/null || fail "kube-apiserver exited"
  sleep 0.2
done
[ -n "$ready" ] || fail "kube-apiserver not ready after 60s"

# --- kubeconfigs -------------------------------------------------------------------
b64() { base64 -w0 < "$1"; }
cat > "$state/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: admin@test
  context: {cluster: test, user: admin}
current-context: admin@test
KC
cat > "$state/kubeconfig-limited" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: limited
  user:
    token: $limited_token
contexts:
- name: limited@test
  context: {cluster: test, user: limited}
current-context: limited@test
KC
cat > "$state/cluster.env" <<ENV
KUBE_SERVER=$server
KUBE_CA=$pki/ca.crt
KUBE_ETCD_URL=$etcd_url
KUBE_API_PORT=$api_port
KUBE_LIMITED_TOKEN=$limited_token
KUBE_KUBELET_CERT=$pki/kubelet.crt
KUBE_KUBELET_KEY=$pki/kubelet.key
KUBE_BIN_DIR=$bin
ENV
chmod 600 "$state"/kubeconfig* "$state/cluster.env"
echo "kube-apiserver ready at $server (start $(( $(date +%s) - start ))s)" >&2
echo "$state/kubeconfig"
