"""A stand-in SMS gateway for the OTP integration tests (run with /usr/bin/python3).

usage: sms_gateway.py PORT LOG_FILE STATUS[,STATUS...]

Answers the n-th POST with the n-th status of the list (200 once the list is used up) and
appends one JSON line per request to LOG_FILE: path, authorization header, body, the status it
answered and the client's port (which connection it came on: HTTP/1.1 keeps connections open).
Only the standard library.
"""
import http.server
import json
import sys
import threading

port = int(sys.argv[1])
log_path = sys.argv[2]
statuses = [int(s) for s in sys.argv[3].split(",") if s]
lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        with lock:
            status = statuses[count] if count < len(statuses) else 200
            count += 1
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": body,
                    "status": status,
                    "client_port": self.client_address[1],
                }) + "\n")
        reply = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
