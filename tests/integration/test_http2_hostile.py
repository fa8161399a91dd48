"""Hostile HTTP/2 clients (reliability.md §2a rows 13-22, 24 and 25), written with the h2 library and raw frames."""
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


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def read_until_closed(sock, seconds):
    """(bytes received, whether the proxy closed the connection) within `seconds`."""
    received = b""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def send_raw_and_expect_goaway(port, raw: bytes, code: int):
    """Sends a valid preface and SETTINGS, then `raw`; the proxy must answer GOAWAY(code) and close."""
    sock, conn = connect(port)
    try:
        sock.sendall(raw)
    except OSError:
        pass
    received, closed = read_until_closed(sock, 3)
    sock.close()
    assert goaway_codes(received) == [code], f"expected GOAWAY {code:#x}, got {goaway_codes(received)}"
    assert closed


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
    received, closed = read_until_closed(sock, 3)
    assert closed, "the connection was left open"
    assert goaway_codes(received) in ([], [0x1], [0xB]), goaway_codes(received)
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


def test_hpack_bomb_is_capped_at_the_header_list_size(h2_port):
    """Row 15: one ~4 KiB dynamic-table entry referenced 1,000 times decodes to 4 MB."""
    sock, conn = connect(h2_port)
    # h2's encoder indexes the first occurrence and refers to it afterwards.
    block = conn.encoder.encode(REQUEST + [("x-bomb", "b" * 4000)] * 1000)
    assert len(block) < 10_000
    sock.sendall(HeadersFrame(1, data=block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    events = read_events(sock, conn, 3, until=lambda events: any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.ResponseReceived)) for e in events))
    sock.close()
    assert not any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200" for e in events)
    assert any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) or
               isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "431" for e in events)
    assert still_serves(h2_port)


def test_cookie_crumbs_over_the_header_list_size_are_refused(h2_port):
    """Row 15: 1,000 cookie crumbs."""
    sock, conn = connect(h2_port)
    conn.send_headers(1, REQUEST + [("cookie", f"c{i}=v") for i in range(1000)], end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 3, until=lambda events: any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.ResponseReceived)) for e in events))
    sock.close()
    assert not any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200" for e in events)
    assert still_serves(h2_port)


@pytest.mark.parametrize("block", [
    b"\xff" + b"\xff" * 9 + b"\x7f",          # indexed field, varint far beyond 2^32
    b"\xfe",                                  # index 126: nothing there
    b"\x00\x81\xff" + b"\x01a",               # name in Huffman: 8 bits of padding
    b"\x00\x84\xff\xff\xff\xff" + b"\x01a",   # name in Huffman: the EOS symbol
], ids=["varint overflow", "invalid index", "huffman padding", "huffman eos"])
def test_broken_hpack_is_a_compression_error(h2_port, block):
    """Row 16."""
    send_raw_and_expect_goaway(h2_port, frame(0x1, 0x5, 1, block), 0x9)
    assert still_serves(h2_port)


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_control_frame_flood_without_reading_is_cut_off(h2_port, kind):
    """Row 17: the client never reads the proxy's ACKs; they must not pile up without bound."""
    sock, conn = connect(h2_port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    one = frame(0x6, 0, 0, b"\x00" * 8) if kind == "ping" else frame(0x4, 0, 0)
    batch = one * 1000
    sock.settimeout(5)
    cut_off = False
    started = time.monotonic()
    for _ in range(200):  # up to 200,000 frames
        try:
            sock.sendall(batch)
        except OSError:
            cut_off = True
            break
    if not cut_off:
        _, cut_off = read_until_closed(sock, 3)
    sock.close()
    assert cut_off, "the proxy kept taking control frames it could not answer"
    assert time.monotonic() - started < 15
    assert still_serves(h2_port)


@pytest.mark.parametrize("increment, code", [(0x7FFFFFFF, 0x3), (0, 0x1)], ids=["past 2^31-1", "zero"])
def test_bad_connection_window_update(h2_port, increment, code):
    """Row 19: FLOW_CONTROL_ERROR past 2^31-1; PROTOCOL_ERROR for an increment of 0."""
    send_raw_and_expect_goaway(h2_port, frame(0x8, 0, 0, increment.to_bytes(4, "big")), code)
    assert still_serves(h2_port)


def test_stream_window_update_past_the_limit_resets_the_stream(h2_port):
    """Row 19 on a stream: the stream is reset with FLOW_CONTROL_ERROR; the connection lives on."""
    sock, conn = connect(h2_port)
    conn.send_headers(1, [(":method", "POST")] + REQUEST[1:], end_stream=False)
    sock.sendall(conn.data_to_send() + frame(0x8, 0, 1, (0x7FFFFFFF).to_bytes(4, "big")))
    events = read_events(sock, conn, 3, until=lambda events: any(
        isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in events))
    sock.close()
    resets = [e.error_code for e in events if isinstance(e, h2.events.StreamReset)]
    assert resets == [0x3], events


@pytest.mark.parametrize("raw, codes", [
    (frame(0x0, 0x8, 1, b"\x05abc"), [0x1]),                  # pad length 5 > 3 bytes left
    (frame(0x1, 0x24, 3, b"\x00\x00"), [0x1, 0x6]),           # PRIORITY flag, shorter than 5 bytes
    (frame(0x0, 0x0, 1, b"\x00" * 16_385), [0x6]),            # above SETTINGS_MAX_FRAME_SIZE
], ids=["pad length", "short headers", "oversized frame"])
def test_malformed_frames(h2_port, raw, codes):
    """Row 20: PROTOCOL_ERROR or FRAME_SIZE_ERROR, and the connection is closed."""
    sock, conn = connect(h2_port)
    conn.send_headers(1, [(":method", "POST")] + REQUEST[1:], end_stream=False)
    try:
        sock.sendall(conn.data_to_send() + raw)
    except OSError:
        pass
    received, closed = read_until_closed(sock, 3)
    sock.close()
    assert closed and goaway_codes(received)[:1] in [[code] for code in codes], goaway_codes(received)
    assert still_serves(h2_port)


def test_unknown_frames_are_ignored(h2_port):
    """Row 21: ALTSVC, ORIGIN, an unknown type and 100 PRIORITY frames; the same connection still serves."""
    sock, conn = connect(h2_port)
    noise = frame(0xA, 0, 0, b"\x00\x00h2=\":443\"") + frame(0xC, 0, 0, b"\x00\x05a.com") + frame(0xFA, 0xFF, 0, b"junk")
    noise += b"".join(frame(0x2, 0, 2 * i + 101, (0).to_bytes(4, "big") + b"\x10") for i in range(100))
    sock.sendall(noise)
    conn.send_headers(1, REQUEST, end_stream=True)
    sock.sendall(conn.data_to_send())
    events = read_events(sock, conn, 5, until=lambda events: any(isinstance(e, h2.events.StreamEnded) for e in events))
    sock.close()
    assert any(isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200" for e in events), events


def test_priority_storm_is_limited(h2_port):
    """Row 21: 10,000 PRIORITY frames are ignored or cut off with ENHANCE_YOUR_CALM; nothing else suffers."""
    sock, conn = connect(h2_port)
    storm = b"".join(frame(0x2, 0, 2 * i + 101, (0).to_bytes(4, "big") + b"\x10") for i in range(10_000))
    try:
        sock.sendall(storm)
    except OSError:
        pass
    received, closed = read_until_closed(sock, 2)
    sock.close()
    assert goaway_codes(received) in ([], [0xB]), goaway_codes(received)
    assert closed == bool(goaway_codes(received))
    assert still_serves(h2_port)


def test_stream_ids_going_backwards_are_a_protocol_error(h2_port):
    """Row 25."""
    sock, conn = connect(h2_port)
    block = conn.encoder.encode(REQUEST)
    try:
        sock.sendall(frame(0x1, 0x5, 5, block) + frame(0x1, 0x5, 3, conn.encoder.encode(REQUEST)))
    except OSError:
        pass
    received, closed = read_until_closed(sock, 3)
    sock.close()
    assert closed and goaway_codes(received) == [0x1], goaway_codes(received)


def test_streams_beyond_max_concurrent_are_refused(h2_port):
    """Row 25: the proxy advertises 1,000 concurrent streams; opening stream 1,001 once the client has
    acknowledged that is refused (REFUSED_STREAM) or a connection error (PROTOCOL_ERROR, then close)."""
    sock, conn = connect(h2_port)
    # Acknowledge the proxy's SETTINGS first: until then its own limit is not in force.
    read_events(sock, conn, 0.5, until=lambda events: any(isinstance(e, h2.events.SettingsAcknowledged) for e in events))
    sock.sendall(conn.data_to_send())
    time.sleep(0.1)
    # h2 would enforce the limit itself: write the frames by hand.
    raw = b"".join(frame(0x1, 0x4, 2 * i + 1, conn.encoder.encode([(":method", "POST")] + REQUEST[1:]))
                   for i in range(1001))
    sock.sendall(raw)
    received, closed = read_until_closed(sock, 3)
    sock.close()
    resets, offset = [], 0
    while offset + 9 <= len(received):
        length = int.from_bytes(received[offset:offset + 3], "big")
        if received[offset + 3] == 0x3:
            resets.append((int.from_bytes(received[offset + 5:offset + 9], "big"),
                           int.from_bytes(received[offset + 9:offset + 13], "big")))
        offset += 9 + length
    if goaway_codes(received):
        assert goaway_codes(received) == [0x1] and closed
    else:
        assert resets == [(2001, 0x7)], resets[:5]
    assert still_serves(h2_port)


def test_streams_whose_window_never_opens_are_bounded_then_reset(start_proxy, nghttpd):  # noqa: F811
    """Row 24: 100 downloads to a client whose stream windows are 0 and never updated. The proxy
    holds a bounded amount per stream (it stops reading from the target), and resets the streams
    once they have been stalled for WEFT_PROXY_HTTP2_STREAM_STALL_TIMEOUT."""
    import h2.settings
    from test_memory import rss_kib
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{nghttpd}",
                        WEFT_PROXY_HTTP2_STREAM_STALL_TIMEOUT="3s")
    before = rss_kib(proxy)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.local_settings = h2.settings.Settings(client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    conn.initiate_connection()
    for i in range(100):
        conn.send_headers(2 * i + 1, [(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                                      (":path", "/67108864.bin")], end_stream=True)
    sock.sendall(conn.data_to_send())
    started = time.monotonic()
    events = read_events(sock, conn, 2)
    grown = rss_kib(proxy) - before
    assert sum(isinstance(e, h2.events.ResponseReceived) for e in events) == 100
    assert not any(isinstance(e, h2.events.DataReceived) for e in events)
    # 100 streams × 64 MiB wanted; the target's windows hold ~64 KiB each.
    assert grown < 24 * 1024, f"RSS grew by {grown} KiB"
    events = read_events(sock, conn, 6, until=lambda events: sum(isinstance(e, h2.events.StreamReset) for e in events) == 100)
    sock.close()
    assert sum(isinstance(e, h2.events.StreamReset) for e in events) == 100
    assert 2.5 < time.monotonic() - started < 8
    assert still_serves(port)
