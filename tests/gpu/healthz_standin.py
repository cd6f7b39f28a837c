# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""STAND-IN for code-server in the GPU workspace image of the e2e run (tests/gpu/workspace.md).

code-server cannot be brought to the GPU machine (no network there, and its release is not
carried), so the image that run builds from the machine's own PyTorch starts this instead. It
keeps only what the gpu_workspace role relies on: the entrypoint's rule (no $PASSWORD: exit 1,
as roles/gpu_workspace/files/entrypoint.sh does) and GET /healthz on 0.0.0.0:8443 answering
{"status": "alive", ...} without authentication (the role's readiness probe). It serves no
editor, and says so in every answer. It never prints the password.

    python healthz_standin.py [--bind-addr HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STANDIN = "tests/gpu/healthz_standin.py: a stand-in for code-server, which was not carried to this machine"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?", 1)[0] == "/healthz":
            body = {"status": "alive", "lastHeartbeat": int(time.time() * 1000), "standin": STANDIN}
            self._send(200, "application/json", json.dumps(body))
        else:
            self._send(404, "text/plain", "not found: this is %s; only /healthz is served\n" % STANDIN)

    def _send(self, code, kind, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # to stderr, the pod's log: the kubelet's probes show there
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind-addr", default="0.0.0.0:8443", help="HOST:PORT (code-server's flag)")
    args = parser.parse_args(argv)
    if not os.environ.get("PASSWORD") and not os.environ.get("HASHED_PASSWORD"):
        sys.stderr.write("entrypoint: PASSWORD is not set (the gpu_workspace role sets it from the workspace's Secret)\n")
        return 1
    host, port = args.bind_addr.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    # PID 1 of the container: without a handler SIGTERM would be ignored, and the pod would
    # wait out its grace period (the real image has tini for this).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("STAND-IN for code-server (%s), pid %d, user %d, listening on %s:%d\n"
                     % (STANDIN, os.getpid(), os.getuid(), host, server.server_address[1]))
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
