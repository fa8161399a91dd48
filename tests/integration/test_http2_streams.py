"""HTTP/2 stream and connection lifecycle through the proxy against a scripted target (h2_backend.py):
resets both ways, GOAWAY from the target, content-length mismatches (reliability.md §2a row 23), and
the SIGTERM drain with an in-flight stream."""
import signal
import socket
import time

import h2.events
import pytest

from conftest import free_port
from h2_backend import H2Backend
from test_http2_hostile import connect, read_events


@pytest.fixture
def backend():
    server = H2Backend()
    yield server
    server.close()


@pytest.fixture
def proxied(start_proxy, backend):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}")
    return proxy, port


def request(path, method="GET"):
    return [(":method", method), (":scheme", "http"), (":authority", "backend"), (":path", path)]


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def stream_finished(stream_id):
    def done(events):
        return any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == stream_id
                   for e in events)
    return done


def outcome(events, stream_id):
    """("ok", status, body) for a stream that ended, ("reset", code) for one that was reset."""
    status, body = None, b""
    for event in events:
        if getattr(event, "stream_id", None) != stream_id:
            continue
        if isinstance(event, h2.events.ResponseReceived):
            status = dict(event.headers)[":status"]
        elif isinstance(event, h2.events.DataReceived):
            body += event.data
        elif isinstance(event, h2.events.StreamEnded):
            return ("ok", status, body)
        elif isinstance(event, h2.events.StreamReset):
            return ("reset", event.error_code)
    return ("unfinished",)


@pytest.mark.parametrize("code", [0x2, 0x7, 0xB], ids=["INTERNAL_ERROR", "REFUSED_STREAM", "ENHANCE_YOUR_CALM"])
def test_a_reset_from_the_target_reaches_the_client_with_its_code(proxied, code):
    _, port = proxied
    sock, conn = connect(port)
    conn.send_headers(1, request(f"/reset/{code}"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 5, until=stream_finished(1))
    assert outcome(events, 1) == ("reset", code)
    # The connection is still good for the next request.
    conn.send_headers(3, request("/ok"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 5, until=stream_finished(3))
    sock.close()
    assert outcome(events, 3) == ("ok", "200", b"ok")


def test_a_reset_from_the_client_reaches_the_target(proxied, backend):
    _, port = proxied
    sock, conn = connect(port)
    conn.send_headers(1, request("/slow/3000"), end_stream=True)
    sock.sendall(conn.data_to_send())
    wait_until(lambda: backend.requests)
    conn.reset_stream(1, error_code=0x2)
    sock.sendall(conn.data_to_send())
    wait_until(lambda: backend.resets_received)
    sock.close()
    assert backend.resets_received == [0x2]


def test_goaway_from_the_target_moves_new_streams_to_a_new_connection(proxied, backend):
    _, port = proxied
    sock, conn = connect(port)
    # Stream 1 is still running on the target's connection when the target sends GOAWAY on 3.
    conn.send_headers(1, request("/slow/1500"), end_stream=True)
    sock.sendall(conn.data_to_send())
    time.sleep(0.2)
    conn.send_headers(3, request("/goaway"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 5, until=stream_finished(3))
    assert outcome(events, 3) == ("ok", "200", b"ok")
    # The target takes no more streams on that connection: the next ones go over a new one,
    # while stream 1 finishes where it is; the client's own connection is untouched.
    time.sleep(0.05)
    for stream_id in (5, 7):
        conn.send_headers(stream_id, request("/ok"), end_stream=True)
        sock.sendall(conn.data_to_send())
        events += read_events(sock, conn, 5, until=stream_finished(stream_id))
        assert outcome(events, stream_id) == ("ok", "200", b"ok")
    events += read_events(sock, conn, 5, until=stream_finished(1))
    assert outcome(events, 1) == ("ok", "200", b"slow")
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
    sock.close()
    assert backend.connections == 2


def test_client_sent_identity_header_never_reaches_the_app(proxied, backend):
    """reliability.md §2a row 10 over HTTP/2: only the inbound proxy may set l5d-client-id."""
    _, port = proxied
    sock, conn = connect(port)
    conn.send_headers(1, request("/ok") + [("l5d-client-id", "forged.default.serviceaccount.identity.linkerd.cluster.local"),
                                           ("x-kept", "yes")], end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 5, until=stream_finished(1))
    sock.close()
    assert outcome(events, 1) == ("ok", "200", b"ok")
    headers = backend.requests[0]["headers"]
    assert headers.get("x-kept") == "yes" and "l5d-client-id" not in headers, headers


def test_request_body_shorter_than_its_content_length_is_reset(proxied, backend):
    """reliability.md §2a row 23: the target never sees a truncated request as complete."""
    _, port = proxied
    sock, conn = connect(port)
    conn.send_headers(1, request("/ok", "POST") + [("content-length", "10")])
    conn.config.validate_outbound_headers = False
    # h2 itself refuses to send a short body; write the DATA frame by hand.
    sock.sendall(conn.data_to_send() + bytes.fromhex("000005" "00" "01" "00000001") + b"12345")
    events = read_events(sock, conn, 3, until=stream_finished(1))
    sock.close()
    assert outcome(events, 1)[0] == "reset"
    time.sleep(0.3)
    assert not any(r["ended"] and r["body"] == 5 for r in backend.requests), backend.requests


def test_response_body_shorter_than_its_content_length_is_reset(proxied):
    """reliability.md §2a row 23, the other way: the client never sees a truncated "success"."""
    _, port = proxied
    sock, conn = connect(port)
    conn.send_headers(1, request("/short"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 3, until=stream_finished(1))
    sock.close()
    assert outcome(events, 1)[0] == "reset"


def raw_frames(sock, seconds, until):
    """Frames (type, flags, stream, payload) from the socket until `until(frames)`, EOF or timeout.

    Read without h2, which stops accepting frames after a GOAWAY even for the streams it covers."""
    buffer, frames = b"", []
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline and not until(frames):
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length = int.from_bytes(buffer[:3], "big")
            frames.append((buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF, buffer[9:9 + length]))
            buffer = buffer[9 + length:]
    return frames


def test_sigterm_sends_goaway_and_lets_the_in_flight_stream_finish(start_proxy, backend):
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                        LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD="10s")
    sock, conn = connect(port)
    conn.send_headers(1, request("/slow/1500"), end_stream=True)
    sock.sendall(conn.data_to_send())
    wait_until(lambda: backend.requests)
    started = time.monotonic()
    proxy.process.send_signal(signal.SIGTERM)

    def stream_ended(frames):
        return any(kind == 0 and flags & 0x1 and stream == 1 for kind, flags, stream, _ in frames)
    frames = []
    while not stream_ended(frames) and time.monotonic() - started < 8:
        frames += raw_frames(sock, 1, stream_ended)
        # Answer the proxy's PING, as any client would: that tells it we saw the first GOAWAY.
        for kind, flags, stream, payload in frames:
            if kind == 6 and not flags & 0x1:
                sock.sendall(bytes.fromhex("000008" "06" "01" "00000000") + payload)
        frames = [f for f in frames if f[0] != 6]
    # Stopped accepting at once.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    sock.close()
    goaways = [int.from_bytes(payload[:4], "big") & 0x7FFFFFFF for kind, _, _, payload in frames if kind == 7]
    assert goaways, "no GOAWAY"
    assert goaways[-1] == 1, f"the last GOAWAY should name stream 1 as the last one taken: {goaways}"
    body = b"".join(payload for kind, _, stream, payload in frames if kind == 0 and stream == 1)
    assert stream_ended(frames) and body == b"slow"
    assert not any(kind == 3 for kind, *_ in frames), "a stream was reset"
    assert proxy.process.wait(timeout=8) == 0
    assert time.monotonic() - started < 8
