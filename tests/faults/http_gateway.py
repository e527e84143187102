"""A controllable SMS/e-mail gateway for the fault tests (run with /usr/bin/python3).

usage: http_gateway.py PORT LOG_FILE CONTROL_FILE

The OTP senders' http provider POSTs {"to", "text"} here. The answer's status comes from
CONTROL_FILE, a JSON object read on every request: the entry of the destination ("to") if there
is one, else "default" (200 when the file is missing). The test rewrites it to take a
destination down (503) or up again; killing this process makes the port refuse connections.
One JSON line per POST is appended to LOG_FILE: to, text and the status answered. GET answers
200 (a readiness probe). Only the standard library.
"""
import http.server
import json
import sys
import threading

port = int(sys.argv[1])
log_path = sys.argv[2]
control_path = sys.argv[3]
lock = threading.Lock()


def status_for(to):
    try:
        with open(control_path, encoding="utf-8") as f:
            control = json.load(f)
    except (OSError, ValueError):
        control = {}
    return int(control.get(to, control.get("default", 200)))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.reply(200)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except ValueError:
            body = {}
        to = str(body.get("to", ""))
        status = status_for(to)
        with lock:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"to": to, "text": str(body.get("text", "")),
                                      "status": status}) + "\n")
        self.reply(status)

    def reply(self, status):
        payload = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
