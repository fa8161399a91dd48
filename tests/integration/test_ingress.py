"""Ingress mode (LINKERD2_PROXY_INGRESS_MODE=true): requests on the outbound listener name their
own targets with l5d-dst-override, or else with their authority."""
import json
import socket
import subprocess

import pytest

from conftest import free_port
from http_backend import Backend
from test_http2 import nghttpd  # noqa: F401  (fixture)


@pytest.fixture
def backends():
    servers = [Backend(), Backend()]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def ingress(start_proxy):
    outbound = free_port()
    proxy = start_proxy(LINKERD2_PROXY_INGRESS_MODE="true", LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR=f"127.0.0.1:{outbound}")
    return proxy, outbound


def complete_responses(data: bytes) -> int:
    """How many whole responses (head and Content-Length body) `data` holds."""
    count, offset = 0, 0
    while (head_end := data.find(b"\r\n\r\n", offset)) != -1:
        head = data[offset:head_end].lower()
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.startswith(b"content-length:")), 0)
        if len(data) < head_end + 4 + length:
            break
        count += 1
        offset = head_end + 4 + length
    return count


def exchange(port, requests: bytes, responses: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(requests)
        data = b""
        while complete_responses(data) < responses:
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_each_request_goes_where_it_says(ingress, backends):
    proxy, port = ingress
    a, b = backends
    requests = b"".join(b"GET /headers HTTP/1.1\r\nHost: web.example\r\nl5d-dst-override: 127.0.0.1:%d\r\n\r\n" % server.port
                        for server in (a, b, a))
    data = exchange(port, requests, 3)
    assert data.count(b"HTTP/1.1 200 OK") == 3
    # One connection from the client reaches both backends in turn (the third request reuses the
    # pooled connection to the first); the override is not passed on.
    assert len(a.server.connections_seen) == 1 and len(b.server.connections_seen) == 1
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in data.split(b"HTTP/1.1 ")[1:]]
    assert all("l5d-dst-override" not in body and body["host"] == "web.example" for body in bodies)


def test_the_authority_is_used_without_an_override(ingress, backends):
    proxy, port = ingress
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Host: 127.0.0.1:{backends[0].port}",
                          f"http://127.0.0.1:{port}/bytes/4"], capture_output=True, text=True, timeout=10).stdout
    assert out == "200"
    assert len(backends[0].server.connections_seen) == 1


def test_a_request_without_a_target_is_refused(ingress):
    proxy, port = ingress
    data = exchange(port, b"GET / HTTP/1.0\r\n\r\n", 1)
    assert data.startswith(b"HTTP/1.1 400")
    assert b"l5d-proxy-error: no target: send l5d-dst-override or Host" in data


def test_http2_streams_choose_their_targets(ingress, nghttpd):  # noqa: F811
    proxy, port = ingress
    result = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                             "-H", f"l5d-dst-override: 127.0.0.1:{nghttpd}", f"http://127.0.0.1:{port}/0.bin"],
                            capture_output=True, text=True, timeout=10)
    assert result.stdout == "2 200", result.stderr


def test_opaque_bytes_without_a_destination_are_closed(ingress):
    proxy, port = ingress
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"\x00\x01binary")
        try:
            assert client.recv(10) == b""
        except ConnectionResetError:
            pass
