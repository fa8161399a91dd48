"""HTTP/1.1 through weft-proxy, driven by curl and raw sockets."""
import hashlib
import json
import pathlib
import socket
import subprocess
import time

import pytest

from conftest import free_port
from http_backend import Backend, pattern


@pytest.fixture
def backend():
    server = Backend()
    yield server
    server.close()


@pytest.fixture
def proxied(start_proxy, backend):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
    return proxy, port


def curl(*args, timeout=60):
    result = subprocess.run(["curl", "-sS", "--max-time", "50", *args], capture_output=True, timeout=timeout)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("size", [0, 1024 * 1024, 64 * 1024 * 1024])
def test_download_is_byte_exact(proxied, tmp_path, size):
    proxy, port = proxied
    out = tmp_path / "body"
    curl("-o", str(out), f"http://127.0.0.1:{port}/bytes/{size}")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(pattern(size)).hexdigest()


@pytest.mark.parametrize("size", [0, 1024 * 1024, 64 * 1024 * 1024])
def test_upload_is_byte_exact(proxied, tmp_path, size):
    proxy, port = proxied
    body = tmp_path / "upload"
    body.write_bytes(pattern(size)[::-1])
    reply = json.loads(curl("--data-binary", f"@{body}", f"http://127.0.0.1:{port}/sha256"))
    assert reply["length"] == size
    assert reply["sha256"] == hashlib.sha256(body.read_bytes()).hexdigest()
    if size > 1024 * 1024:
        assert reply["expect"] == "100-continue"  # curl asked, the backend's 100 came back through the proxy


def test_chunked_upload(proxied, tmp_path):
    proxy, port = proxied
    body = tmp_path / "upload"
    body.write_bytes(pattern(3 * 1024 * 1024 + 7))
    reply = json.loads(curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", f"http://127.0.0.1:{port}/sha256"))
    assert reply["sha256"] == hashlib.sha256(body.read_bytes()).hexdigest()


def raw_exchange(port: int, request: bytes, until: bytes = b"\r\n0\r\n", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(request)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
            if until in data and data.endswith(b"\r\n\r\n"):
                break
        return data


def test_chunked_response_with_trailers(proxied):
    proxy, port = proxied
    data = raw_exchange(port, b"GET /chunked HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"hello " in body and b"world" in body
    assert b"x-checksum: abc123" in body.lower()


def test_head_and_bodiless_statuses(proxied):
    proxy, port = proxied
    head = curl("-I", f"http://127.0.0.1:{port}/bytes/12345").decode().lower()
    assert "content-length: 12345" in head
    for status in (204, 304):
        assert curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/status/{status}") == str(status).encode()


def test_keep_alive_reuses_one_upstream_connection(proxied, backend):
    proxy, port = proxied
    out = curl(f"http://127.0.0.1:{port}/bytes/10", f"http://127.0.0.1:{port}/bytes/20", f"http://127.0.0.1:{port}/bytes/30")
    assert len(out) == 60
    assert len(backend.server.connections_seen) == 1


def test_pipelined_requests_are_answered_in_order(proxied):
    proxy, port = proxied
    requests = b"".join(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in (3, 1, 2))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(requests)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(pattern(2)):
            chunk = client.recv(65536)
            assert chunk
            data += chunk
    lengths = [int(line.split(b":")[1]) for line in data.lower().split(b"\r\n") if line.startswith(b"content-length")]
    assert lengths == [3, 1, 2]


def test_mesh_identity_headers_from_the_client_are_removed(proxied):
    """reliability.md §2a row 10: a header named by Connection is hop-by-hop, and a client-sent
    l5d-client-id never reaches the app (only the inbound proxy may set it, from mTLS)."""
    proxy, port = proxied
    seen = json.loads(curl("-H", "Connection: x-client-id", "-H", "X-Client-Id: forged", "-H", "l5d-client-id: forged.sa",
                           f"http://127.0.0.1:{port}/headers"))
    assert "x-client-id" not in seen and "l5d-client-id" not in seen, seen


def raw_headers_request(port, request: bytes):
    """Sends raw request bytes for the backend's /headers; returns the status line and the headers it saw."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request)
        data = b""
        while b"}" not in data:
            chunk = client.recv(65536)
            assert chunk, data
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


def test_h2c_upgrade_is_stripped(proxied):
    """reliability.md §2a row 11: `Upgrade: h2c` and `HTTP2-Settings` never reach the target."""
    proxy, port = proxied
    seen = json.loads(curl("--http2", f"http://127.0.0.1:{port}/headers"))  # curl asks for h2c by upgrade
    assert "upgrade" not in seen and "http2-settings" not in seen, seen
    status, seen = raw_headers_request(port, b"GET /headers HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                             b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200") and "upgrade" not in seen and "http2-settings" not in seen, seen


def test_absolute_form_target_wins_over_host(proxied, backend):
    """reliability.md §2a row 9: the absolute URI's host wins, and the target sees the same."""
    proxy, port = proxied
    status, seen = raw_headers_request(port, b"GET http://app.example:8080/headers HTTP/1.1\r\nHost: other.example\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200") and seen["host"] == "app.example:8080", seen


def test_a_malformed_request_after_a_good_one_in_a_pipeline(proxied):
    """reliability.md §2a row 12: the first is answered, then 400 and close, with no desync."""
    proxy, port = proxied
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /bytes/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                       b"GET /bytes/9 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        client.settimeout(5)
        try:
            while chunk := client.recv(65536):
                data += chunk
        except socket.timeout:
            pytest.fail(f"the connection was not closed after the 400: {data!r}")
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and rest.startswith(pattern(5)), data
    rest = rest[5:]
    assert rest.startswith(b"HTTP/1.1 400"), data
    assert data.count(b"HTTP/1.1 ") == 2, data


def test_hop_by_hop_headers_are_removed(proxied):
    proxy, port = proxied
    seen = json.loads(curl("-H", "Connection: keep-alive, X-Private", "-H", "X-Private: secret", "-H", "Keep-Alive: timeout=5",
                           "-H", "Proxy-Connection: keep-alive", "-H", "X-Kept: yes", f"http://127.0.0.1:{port}/headers"))
    assert seen["x-kept"] == "yes"
    for name in ("x-private", "keep-alive", "proxy-connection"):
        assert name not in seen


def test_unreachable_target_gets_502_with_the_reason(start_proxy):
    dead = free_port()
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{dead}")
    out = curl("-i", f"http://127.0.0.1:{port}/").decode().lower()
    assert out.startswith("http/1.1 502")
    assert f"l5d-proxy-error: connection refused: 127.0.0.1:{dead}" in out
    grpc = curl("-i", "-H", "content-type: application/grpc", "--data-binary", "", f"http://127.0.0.1:{port}/pkg.Svc/Call").decode().lower()
    assert grpc.startswith("http/1.1 200")
    assert "grpc-status: 14" in grpc
    metrics = proxy.metrics()
    failures = [v for k, v in metrics.items() if k.startswith("response_total") and 'status_code="502"' in k and 'classification="failure"' in k]
    assert failures == [1]


def test_connect_is_refused(proxied):
    proxy, port = proxied
    reply = raw_exchange(port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", until=b"")
    assert reply.startswith(b"HTTP/1.1 400")


def test_request_metrics_count_what_was_sent(proxied, backend):
    proxy, port = proxied
    for _ in range(5):
        curl(f"http://127.0.0.1:{port}/bytes/1")
    curl(f"http://127.0.0.1:{port}/missing")
    metrics = proxy.metrics()
    target = f"127.0.0.1:{backend.port}"
    base = f'direction="inbound",target_addr="{target}",tls="disabled"'
    assert metrics[f"request_total{{{base}}}"] == 6
    assert metrics[f'response_total{{{base},status_code="200",classification="success"}}'] == 5
    assert metrics[f'response_total{{{base},status_code="404",classification="success"}}'] == 1
    assert metrics[f'response_latency_ms_count{{{base},status_code="200"}}'] == 5


HOSTILE = [
    ("20,000 tiny headers", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"a: b\r\n" * 20_000 + b"\r\n"),
    ("1 MiB header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"),
    ("1 MiB request target", b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("NUL in a header", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("bad transfer-encoding", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("both content-length and chunked", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("two content-lengths", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("signed content-length", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n"),
    ("non-hex chunk size", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n"),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("chunked, identity", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
    ("xchunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("tab chunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \tchunked\r\n\r\n0\r\n\r\n"),
    ("CHUNKED;x", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED;x\r\n\r\n0\r\n\r\n"),
    ("chunked twice", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("missing chunk CRLF", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
    ("bare LF request line", b"GET / HTTP/1.1\nHost: x\n\n"),
    ("bare LF in the head", b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"),
    ("bare CR in the head", b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"),
    ("CR in a value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
    ("8-bit name", b"GET / HTTP/1.1\r\nHost: x\r\nX-\xe9: a\r\n\r\n"),
    ("no Host on 1.1", b"GET / HTTP/1.1\r\nX-A: a\r\n\r\n"),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
]


BAD_BODY_ONLY = {"chunk size overflow", "non-hex chunk size", "missing chunk CRLF"}


@pytest.mark.parametrize("name,request_bytes", HOSTILE, ids=[name for name, _ in HOSTILE])
def test_hostile_requests_get_a_4xx_and_nothing_leaks(proxied, backend, name, request_bytes):
    """reliability.md §2a rows 1-7: oversized heads get 431, malformed ones 400, within 2 s."""
    proxy, port = proxied
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        try:
            client.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = client.recv(100)
            # Refused requests end the connection: nothing after them can be framed.
            closed = name == "tab chunked"
            while not closed and client.recv(65536):
                pass
            closed = True
        except ConnectionResetError:
            reply, closed = b"", True
        except socket.timeout:
            closed = False
    assert closed, f"{name}: the connection stayed open"
    expected = b"HTTP/1.1 431" if name in ("20,000 tiny headers", "1 MiB header", "1 MiB request target") else b"HTTP/1.1 400"
    if name == "tab chunked":
        # A leading tab is optional whitespace (RFC 9110 §5.6.3): the value is plain "chunked",
        # and the one canonical framing is used on both sides.
        expected = b"HTTP/1.1 200"
    assert reply == b"" or reply.startswith(expected), (name, reply)
    assert time.monotonic() - started < 2
    if name not in BAD_BODY_ONLY and name != "tab chunked":
        # A bad head never reaches the target. (A good head with a bad body has been streamed on
        # by then; the body error cuts both connections.)
        assert backend.server.connections_seen == set(), name
    assert curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/bytes/1") == b"200"


class WebSocketEcho:
    """A minimal RFC 6455 server: answers the upgrade, greets in the same packet as its 101,
    then echoes every message until a close frame."""

    def __init__(self):
        import threading
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def frame(payload: bytes, opcode: int = 1, mask: bool = False) -> bytes:
        import os
        header = bytes([0x80 | opcode])
        size = len(payload)
        bit = 0x80 if mask else 0
        if size < 126:
            header += bytes([bit | size])
        elif size < 65536:
            header += bytes([bit | 126]) + size.to_bytes(2, "big")
        else:
            header += bytes([bit | 127]) + size.to_bytes(8, "big")
        if mask:
            key = os.urandom(4)
            return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return header + payload

    @staticmethod
    def read_frame(conn, buffer: bytearray):
        def need(n):
            while len(buffer) < n:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    raise EOFError
                buffer.extend(chunk)
        need(2)
        opcode, size, masked = buffer[0] & 0x0F, buffer[1] & 0x7F, buffer[1] & 0x80
        offset = 2
        if size == 126:
            need(4); size = int.from_bytes(buffer[2:4], "big"); offset = 4
        elif size == 127:
            need(10); size = int.from_bytes(buffer[2:10], "big"); offset = 10
        key = b""
        if masked:
            need(offset + 4); key = bytes(buffer[offset:offset + 4]); offset += 4
        need(offset + size)
        payload = bytes(buffer[offset:offset + size])
        del buffer[:offset + size]
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    def serve(self):
        import base64
        conn, _ = self.listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            head, _, rest = request.partition(b"\r\n\r\n")
            key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key")][0]
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + self.frame(b"welcome"))
            buffer = bytearray(rest)
            while True:
                opcode, payload = self.read_frame(conn, buffer)
                if opcode == 8:
                    conn.sendall(self.frame(payload, opcode=8))
                    return
                conn.sendall(self.frame(payload, opcode=opcode))


def test_websocket_upgrade_then_raw_bytes(start_proxy):
    backend = WebSocketEcho()
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += client.recv(4096)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert b"s3pplmbitxaq9kygzzhzrbk+xoo=" in head.lower()
        buffer = bytearray(rest)
        assert WebSocketEcho.read_frame(client, buffer) == (1, b"welcome")  # sent with the 101
        for message in (b"hello", pattern(1024 * 1024)):
            client.sendall(WebSocketEcho.frame(message, mask=True))
            assert WebSocketEcho.read_frame(client, buffer) == (1, message)
        client.sendall(WebSocketEcho.frame(b"\x03\xe8", opcode=8, mask=True))
        assert WebSocketEcho.read_frame(client, buffer)[0] == 8


def test_outbound_metrics_carry_the_request_authority(start_proxy, backend):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_OUTBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
    for host in ("Books.Shop.svc.cluster.local:80", "books.shop.svc.cluster.local:80", "web:8080"):
        curl("-H", f"Host: {host}", f"http://127.0.0.1:{port}/bytes/1")
    metrics = proxy.metrics()
    target = f"127.0.0.1:{backend.port}"
    books = f'request_total{{direction="outbound",authority="books.shop.svc.cluster.local:80",target_addr="{target}",tls="disabled"}}'
    web = f'request_total{{direction="outbound",authority="web:8080",target_addr="{target}",tls="disabled"}}'
    assert metrics[books] == 2
    assert metrics[web] == 1


def test_idle_upstream_connections_are_shared_and_expire(start_proxy, backend):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                        LINKERD2_PROXY_INBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT="500ms")
    # Three clients, one after another: one connection to the target serves them all.
    for _ in range(3):
        assert curl(f"http://127.0.0.1:{port}/bytes/2") == pattern(2)
    assert len(backend.server.connections_seen) == 1
    # Idle past the timeout, the pooled connection is closed; the next request opens another.
    time.sleep(1.0)
    target = f'target_addr="127.0.0.1:{backend.port}",tls="disabled"'
    assert proxy.metrics()[f'tcp_open_connections{{direction="inbound",peer="dst",{target}}}'] == 0
    assert curl(f"http://127.0.0.1:{port}/bytes/2") == pattern(2)
    assert len(backend.server.connections_seen) == 2


def test_connect_timeout_gets_504(start_proxy):
    # A listener that never accepts, with its backlog full: further SYNs go unanswered.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    stuck = [socket.socket() for _ in range(4)]
    for s in stuck:
        s.setblocking(False)
        try:
            s.connect(listener.getsockname())
        except BlockingIOError:
            pass
    time.sleep(0.1)
    try:
        port = free_port()
        proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{listener.getsockname()[1]}",
                            LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT="200ms")
        started = time.monotonic()
        out = curl("-i", f"http://127.0.0.1:{port}/").decode().lower()
        assert out.startswith("http/1.1 504")
        assert "l5d-proxy-error: connect timed out after 200ms" in out
        assert time.monotonic() - started < 3
    finally:
        for s in stuck:
            s.close()
        listener.close()


def test_slowloris_head_is_cut_off_at_the_header_timeout(start_proxy, backend):
    """reliability.md §2a row 8: a head dribbled byte by byte is closed at the header timeout."""
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                WEFT_PROXY_HTTP1_HEADER_READ_TIMEOUT="1s")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # detected as HTTP/1, head never finished
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4:
            try:
                client.sendall(b"X")
                time.sleep(0.2)
            except OSError:
                closed = True
                break
            client.settimeout(0.01)
            try:
                if client.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
        assert closed
        assert 0.9 <= time.monotonic() - started < 2.5
    assert backend.server.connections_seen == set()
    # An idle keep-alive connection goes the same way; a prompt client is unaffected.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        client.settimeout(3)
        started = time.monotonic()
        assert client.recv(10) == b""
        assert time.monotonic() - started < 2
