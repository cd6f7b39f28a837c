"""Serve the lab mirror tree on 127.0.0.1 with run-time fault injection (stdlib only).

Usage: server.py ROOT STATE_DIR [PORT]
  ROOT       the served tree (build.sh's output)/www
  STATE_DIR  where the server writes `port` once it listens, appends `access.log` (when a
             response is sent) and `delayed.log` (the path, when a delay fault starts), and
             reads `faults.json` on every request:
               {"status": {"/path/prefix": 404, ...}, "delay": {"/path/prefix": 2.5, ...}}
             the longest matching prefix wins; an absent or unreadable file means no faults.
  PORT       0 (default) picks a free port.
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse


class Handler(http.server.SimpleHTTPRequestHandler):
    state_dir = "."
    log_lock = threading.Lock()

    def _faults(self):
        try:
            with open(os.path.join(self.state_dir, "faults.json"), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _match(table, path):
        best = None
        for prefix, value in (table or {}).items():
            if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, value)
        return best[1] if best else None

    def _fault(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        faults = self._faults()
        delay = self._match(faults.get("delay"), path)
        if delay:
            # Tests that act during a slow download wait for this line (the client's command
            # line need not name the module: pipelined modules arrive on stdin).
            with self.log_lock, open(os.path.join(self.state_dir, "delayed.log"), "a", encoding="utf-8") as f:
                f.write(path + "\n")
            time.sleep(float(delay))
        status = self._match(faults.get("status"), path)
        if status:
            body = ("%d injected by the k3s_gpu.node lab mirror (faults.json)\n" % int(status)).encode()
            self.send_response(int(status))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return True
        return False

    def do_GET(self):
        if not self._fault():
            super().do_GET()

    def do_HEAD(self):
        if not self._fault():
            super().do_HEAD()

    def list_directory(self, path):
        # Vendors do not list directories either.
        self.send_error(404, "File not found")
        return None

    def log_request(self, code="-", size="-"):
        if isinstance(code, http.HTTPStatus):
            code = code.value
        line = "%s %s %s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), self.client_address[0],
                                     self.command, self.path, code)
        with self.log_lock, open(os.path.join(self.state_dir, "access.log"), "a", encoding="utf-8") as f:
            f.write(line)

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv):
    root, state_dir = argv[1], argv[2]
    port = int(argv[3]) if len(argv) > 3 else 0
    Handler.state_dir = state_dir

    def handler(*a, **kw):
        return Handler(*a, directory=root, **kw)

    httpd = Server(("127.0.0.1", port), handler)
    tmp = os.path.join(state_dir, "port.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.replace(tmp, os.path.join(state_dir, "port"))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
