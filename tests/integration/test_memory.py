"""Memory stays flat under sustained traffic: a leak of even ~100 bytes per request shows up as
megabytes over the rounds below (reliability.md: bounded memory under load)."""
import hashlib
import re
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import free_port, nginx  # noqa: F401  (fixture)
from test_http2 import nghttpd  # noqa: F401  (fixture)

ROUND = 10_000


def rss_kib(proxy) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{proxy.process.pid}/status").read_text()).group(1))


def load(port, http2: bool, path: str):
    args = ["h2load", "-n", str(ROUND), "-c", "10", f"http://127.0.0.1:{port}{path}"]
    args[1:1] = ["-m", "10"] if http2 else ["--h1"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    assert f"{ROUND} succeeded" in out, out


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_memory_is_flat_under_load(start_proxy, nghttpd, nginx, http2):  # noqa: F811
    target, path = (nghttpd, "/0.bin") if http2 else (nginx, "/16")
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{target}", LINKERD2_PROXY_LOG="warn")
    load(port, http2, path)  # warm-up: pools, buffers and metric series settle
    before = rss_kib(proxy)
    for _ in range(3):
        load(port, http2, path)
    grown = rss_kib(proxy) - before
    assert grown < 2 * 1024, f"RSS grew by {grown} KiB over {3 * ROUND} requests"


def peak_rss_kib(proxy) -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{proxy.process.pid}/status").read_text()).group(1))


class SinkBackend:
    """An HTTP/1.1 server that reads one request body of Content-Length bytes, hashing it as it
    goes, and answers with the byte count and the SHA-256."""

    def __init__(self):
        import threading
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            head, _, body = head.partition(b"\r\n\r\n")
            length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
            digest, received = hashlib.sha256(body), len(body)
            buffer = bytearray(1 << 20)
            while received < length:
                n = conn.recv_into(buffer)
                if not n:
                    break
                digest.update(memoryview(buffer)[:n])
                received += n
            answer = f"{received} {digest.hexdigest()}".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


def test_a_one_gibibyte_upload_does_not_grow_memory(start_proxy):
    """Issue 3: request bodies stream with backpressure; the proxy never holds the upload."""
    sink = SinkBackend()
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{sink.port}", LINKERD2_PROXY_LOG="warn")
    before = peak_rss_kib(proxy)
    chunk = bytes(range(256)) * 4096  # 1 MiB
    total = 1 << 30
    expected = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(b"POST /upload HTTP/1.1\r\nHost: sink\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // len(chunk)):
            client.sendall(chunk)
            expected.update(chunk)
        reply = b""
        while not reply.endswith(expected.hexdigest().encode()):
            data = client.recv(65536)
            assert data, reply
            reply += data
    assert reply.startswith(b"HTTP/1.1 200")
    assert reply.endswith(f"{total} {expected.hexdigest()}".encode())
    grown = peak_rss_kib(proxy) - before
    print(f"peak RSS {before} KiB -> {before + grown} KiB")
    assert grown < 16 * 1024, f"peak RSS grew by {grown} KiB while 1 GiB went through"
