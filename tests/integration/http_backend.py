"""A small HTTP/1.1 backend for the integration tests (run in a thread)."""
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pattern(n: int) -> bytes:
    block = bytes(range(256)) * 4096  # 1 MiB
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "weft-test-backend"

    def log_message(self, *args):
        pass

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def reply(self, status: int, body: bytes, content_type: str = "application/octet-stream", head: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head: bool = False):
        self.server.connections_seen.add(self.client_address)
        if self.path.startswith("/bytes/"):
            self.reply(200, pattern(int(self.path.split("/")[2])), head=head)
        elif self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
            self.send_response(status)
            if status not in (204, 304):
                self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/headers":
            self.reply(200, json.dumps({k.lower(): v for k, v in self.headers.items()}).encode(), "application/json")
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "x-checksum")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nx-checksum: abc123\r\n\r\n")
        elif self.path == "/slow":
            import time
            time.sleep(1.0)
            self.reply(200, b"slow done")
        else:
            self.reply(404, b"not found")

    def do_POST(self):
        self.server.connections_seen.add(self.client_address)
        body = self.read_body()
        self.reply(200, json.dumps({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body),
                                    "expect": self.headers.get("Expect")}).encode(), "application/json")

    do_PUT = do_POST


class Backend:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.connections_seen = set()
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
