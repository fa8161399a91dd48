"""weft-proxy forwarding opaque TCP, driven with raw sockets."""
import hashlib
import os
import signal
import socket
import threading
import time

from conftest import free_port, wait_for_port


def roundtrip(port: int, payload: bytes, half_close: bool = True, greeting_len: int = 0) -> bytes:
    """Sends `payload` (from another thread), half-closes, and reads everything back until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        def send():
            client.sendall(payload)
            if half_close:
                client.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send)
        sender.start()
        received = bytearray()
        while True:
            chunk = client.recv(1 << 20)
            if not chunk:
                break
            received += chunk
        sender.join()
        return bytes(received)


def test_eight_mebibyte_opaque_echo_with_half_close(start_proxy, echo_server):
    backend = echo_server()
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
    payload = os.urandom(8 * 1024 * 1024)
    received = roundtrip(port, payload)
    assert len(received) == len(payload)
    if received != payload:
        first = next(i for i in range(len(payload)) if received[i] != payload[i])
        moved_from = payload.find(received[first:first + 64])
        raise AssertionError(f"bytes differ from offset {first}; the bytes found there come from offset {moved_from}")
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    # The proxy counted every byte both ways, on both peers.
    time.sleep(0.2)
    metrics = proxy.metrics()
    target = f'target_addr="127.0.0.1:{backend.port}",tls="disabled"'
    assert metrics[f'tcp_read_bytes_total{{direction="inbound",peer="src",{target}}}'] == len(payload)
    assert metrics[f'tcp_write_bytes_total{{direction="inbound",peer="dst",{target}}}'] == len(payload)
    assert metrics[f'tcp_read_bytes_total{{direction="inbound",peer="dst",{target}}}'] == len(payload)
    assert metrics[f'tcp_write_bytes_total{{direction="inbound",peer="src",{target}}}'] == len(payload)
    assert metrics[f'tcp_open_total{{direction="inbound",peer="src",{target}}}'] == 1
    assert metrics[f'tcp_close_total{{direction="inbound",peer="src",{target},classification="success"}}'] == 1
    assert metrics[f'tcp_close_total{{direction="inbound",peer="dst",{target},classification="success"}}'] == 1
    assert metrics[f'tcp_open_connections{{direction="inbound",peer="src",{target}}}'] == 0


def test_idle_connections_do_not_hold_up_a_busy_one(start_proxy, echo_server):
    """reliability.md §2a row 43: connections still waiting in detection cost nothing to the others."""
    backend = echo_server()
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="60s")
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
    idle[0].sendall(b"GET / HT")  # one has sent part of a request line, and stops
    payload = os.urandom(8 * 1024 * 1024)
    started = time.monotonic()
    assert roundtrip(port, payload) == payload
    assert time.monotonic() - started < 5
    for sock in idle:
        sock.close()


def test_server_speaks_first_on_an_opaque_port_is_immediate(start_proxy, echo_server):
    backend = echo_server(greeting=b"220 smtp.example ESMTP ready\r\n")
    port = free_port()
    # The backend's port is opaque: no detection, the greeting flows at once.
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION=str(backend.port),
                LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="10s")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        started = time.monotonic()
        greeting = client.recv(100)
        assert greeting == b"220 smtp.example ESMTP ready\r\n"
        assert time.monotonic() - started < 1.0


def test_server_speaks_first_after_the_detect_timeout(start_proxy, echo_server):
    backend = echo_server(greeting=b"* OK IMAP ready\r\n")
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="300ms")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        started = time.monotonic()
        assert client.recv(100) == b"* OK IMAP ready\r\n"
        waited = time.monotonic() - started
        assert 0.25 <= waited < 2.0


def test_http_sent_byte_by_byte_is_detected(start_proxy):
    from http_backend import Backend
    backend = Backend()
    try:
        port = free_port()
        start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
        request = b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
        # One byte at a time: detection waits for the whole request line, then HTTP is proxied.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            for byte in request:
                client.sendall(bytes([byte]))
                time.sleep(0.002)
            received = b""
            while not received.endswith(bytes(range(5))):
                chunk = client.recv(1024)
                assert chunk
                received += chunk
            assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        backend.close()


def test_unreachable_target_closes_the_client(start_proxy):
    dead = free_port()  # nothing listens here
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{dead}",
                LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION=str(dead))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"hello")
        try:
            assert client.recv(10) == b""   # closed: EOF, or a reset since "hello" was never read
        except ConnectionResetError:
            pass
    time.sleep(0.2)
    target = f'target_addr="127.0.0.1:{dead}",tls="disabled"'
    assert proxy.metrics()[f'tcp_close_total{{direction="inbound",peer="src",{target},classification="failure"}}'] == 1


def test_unredirected_connections_are_refused(start_proxy):
    """A connection made straight to the transparent listeners has no original destination."""
    inbound = free_port()
    outbound = free_port()
    proxy = start_proxy(LINKERD2_PROXY_INBOUND_LISTEN_ADDR=f"127.0.0.1:{inbound}",
                        LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR=f"127.0.0.1:{outbound}")
    for port in (inbound, outbound):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            assert client.recv(10) == b""
    assert "no original destination" in proxy.output()


def test_sigterm_drains_in_flight_streams(start_proxy, echo_server):
    backend = echo_server()
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                        LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION=str(backend.port),
                        LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD="10s")
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"before")
    assert client.recv(100) == b"before"
    proxy.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # New connections are refused, the open one still works.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        accepted = True
    except OSError:
        accepted = False
    assert not accepted
    client.sendall(b"during")
    assert client.recv(100) == b"during"
    assert proxy.process.poll() is None
    client.close()
    assert proxy.process.wait(timeout=5) == 0


def test_grace_period_bounds_the_drain(start_proxy, echo_server):
    backend = echo_server()
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                        LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION=str(backend.port),
                        LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD="1s")
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"x")
    assert client.recv(10) == b"x"
    started = time.monotonic()
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(timeout=10) == 0
    assert 0.9 <= time.monotonic() - started < 5
    assert client.recv(10) == b""  # closed by the proxy when the grace period ended
    client.close()
