"""Hostile HTTP/2 clients (reliability.md §2a rows 13, 14, 18, 20, 22), written with the h2 library."""
import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame

from conftest import free_port, wait_for_port
from test_http2 import nghttpd  # noqa: F401  (fixture)


@pytest.fixture
def h2_port(start_proxy, nghttpd):  # noqa: F811
    port = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{nghttpd}")
    return port


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def read_events(sock, conn, seconds=3.0, until=None):
    """Everything the proxy sends until it closes, `until(events)` holds, or `seconds` pass."""
    events = []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not data:
            break
        try:
            events += conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            break
        if until and until(events):
            break
        pending = conn.data_to_send()
        if pending:
            try:
                sock.sendall(pending)
            except OSError:
                break
    return events


REQUEST = [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/0.bin")]


def still_serves(port):
    sock, conn = connect(port)
    conn.send_headers(1, REQUEST, end_stream=True)
    sock.sendall(conn.data_to_send())
    def answered(events):
        return any(isinstance(e, h2.events.StreamEnded) for e in events)
    events = read_events(sock, conn, 3, until=answered)
    sock.close()
    return any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200" for e in events)


def goaway_codes(data: bytes):
    """The error codes of the GOAWAY frames in raw HTTP/2 bytes from the server."""
    codes, offset = [], 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        kind = data[offset + 3]
        payload = data[offset + 9:offset + 9 + length]
        if kind == 7 and len(payload) >= 8:
            codes.append(int.from_bytes(payload[4:8], "big"))
        offset += 9 + length
    return codes


def test_rapid_reset_gets_enhance_your_calm(h2_port):
    sock, conn = connect(h2_port)
    started = time.monotonic()
    received = b""
    sock.setblocking(False)
    for stream in range(1, 20_001, 2):
        conn.send_headers(stream, REQUEST, end_stream=True)
        conn.reset_stream(stream)
        if stream % 100 == 1:
            try:
                sock.sendall(conn.data_to_send())
                received += sock.recv(1 << 20)
            except BlockingIOError:
                pass
            except OSError:
                break
            if goaway_codes(received):
                break
    sock.settimeout(3)
    try:
        while not goaway_codes(received) and (chunk := sock.recv(1 << 20)):
            received += chunk
    except OSError:
        pass
    sock.close()
    codes = goaway_codes(received)
    assert codes and set(codes) == {0xB}, f"expected GOAWAY with ENHANCE_YOUR_CALM, got {codes}"
    assert time.monotonic() - started < 10
    assert still_serves(h2_port)


def test_continuation_flood_is_cut_off(h2_port):
    sock, conn = connect(h2_port)
    block = conn.encoder.encode(REQUEST)
    frames = HeadersFrame(1, data=block).serialize()  # no END_HEADERS
    frames += b"".join(ContinuationFrame(1, data=b"\x00" * 16).serialize() for _ in range(10_000))
    try:
        sock.sendall(frames)
    except OSError:
        pass
    sock.settimeout(3)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    sock.close()
    # A GOAWAY frame (type 7) was sent, or the connection was dropped.
    assert b"\x07\x00" in received or received == b"" or len(received) < 200
    assert still_serves(h2_port)


def test_empty_data_flood_is_cut_off(h2_port):
    sock, conn = connect(h2_port)
    conn.send_headers(1, [(":method", "POST")] + REQUEST[1:], end_stream=False)
    sock.sendall(conn.data_to_send())
    flood = b"".join(DataFrame(1, data=b"").serialize() for _ in range(10_000))
    try:
        sock.sendall(flood)
    except OSError:
        pass
    events = read_events(sock, conn, 3, until=lambda events: any(
        isinstance(e, (h2.events.ConnectionTerminated, h2.events.StreamReset)) for e in events))
    sock.close()
    assert any(isinstance(e, (h2.events.ConnectionTerminated, h2.events.StreamReset)) for e in events)
    assert still_serves(h2_port)


@pytest.mark.parametrize("headers", [
    [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/a\r\nInjected: 1")],
    [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/"), ("connection", "close")],
    [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/"), ("Upper", "x")],
    [(":method", "GET"), (":authority", "x"), (":path", "/")],
    [(":method", "GET"), (":scheme", "http"), (":authority", "x"), ("x", "y"), (":path", "/")],
], ids=["crlf in path", "connection header", "uppercase name", "no scheme", "pseudo after regular"])
def test_invalid_headers_are_refused(h2_port, headers):
    sock, conn = connect(h2_port)
    conn.config.validate_outbound_headers = False
    conn.config.normalize_outbound_headers = False
    conn.send_headers(1, headers, end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 2, until=lambda events: any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded)) for e in events))
    sock.close()
    assert not any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200" for e in events)
    assert any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) or
               (isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status", "").startswith("4")) for e in events)
    assert still_serves(h2_port)
