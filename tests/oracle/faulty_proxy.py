"""A fault-injecting HTTP proxy in front of the test S3 server, on 127.0.0.1.
Arguments: LISTEN_PORT UPSTREAM_URL FAULT_RATE SEED [STALL_SECONDS [DENY [STALL_MATCH [DELAY [IGNORE_RANGE]]]]].
Every request is forwarded, except that a seeded FAULT_RATE share is answered 503
SlowDown, a few connections are reset without an answer, (with STALL_SECONDS) the first
ranged GET — or the first request whose path contains STALL_MATCH — stalls that long
before it is answered, and every request whose path contains DENY (when not empty) is
answered 403 AccessDenied, and (with DELAY, seconds) every request waits that long first:
a network's round trip in front of a server on loopback, and (with IGNORE_RANGE "1")
every GET is forwarded without its Range, as a server that ignores ranges answers: the
whole object. With the environment variable PROXY_LOG set to a file, each request's
method and path (query included) is appended to it, one line each, as it arrives. Stops
by itself after 10 minutes."""
import http.client
import http.server
import os
import random
import socket
import sys
import threading
import time
import urllib.parse

port, upstream, rate, seed = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
stall = [float(sys.argv[5])] if len(sys.argv) > 5 else []
deny = sys.argv[6] if len(sys.argv) > 6 else None
stall_match = (sys.argv[7] or None) if len(sys.argv) > 7 else None
delay = float(sys.argv[8]) if len(sys.argv) > 8 else 0.0
ignore_range = len(sys.argv) > 9 and sys.argv[9] == "1"
rng = random.Random(seed)
lock = threading.Lock()
log = open(os.environ["PROXY_LOG"], "a", buffering=1) if os.environ.get("PROXY_LOG") else None
SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')
DENIED = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
          b'<Message>Access Denied</Message></Error>')


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        if log:
            with lock:
                log.write(f"{self.command} {self.path}\n")
        if delay:
            time.sleep(delay)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with lock:
            roll = rng.random()
            if stall_match:
                due = stall_match in self.path
            else:
                due = self.command == "GET" and "Range" in self.headers
            pause = stall.pop() if stall and due else 0
        if pause:
            time.sleep(pause)
            roll = 1.0
        if deny and deny in self.path:
            self.answer(403, DENIED)
            return
        if roll < rate * 0.15:
            # Reset the connection without answering.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            self.close_connection = True
            return
        if roll < rate:
            self.answer(503, SLOWDOWN)
            return
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        dropped = ("connection", "range") if ignore_range else ("connection",)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        # A HEAD answer has no body but the object's length.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (an upload given up after a refused part) is
        # expected here; anything else is still reported.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", port), Proxy)
threading.Timer(600, server.shutdown).start()
server.serve_forever()
