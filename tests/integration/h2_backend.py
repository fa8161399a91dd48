"""A scripted HTTP/2 (h2c) backend for the integration tests, written with the h2 library.

The request path chooses what the server does, so a test can make the target misbehave:
  /ok                 200 with body "ok"
  /slow/<ms>          200 after <ms> milliseconds
  /reset/<code>       RST_STREAM with that error code, before any response
  /goaway             200, then GOAWAY(NO_ERROR, last stream = this one); closes 2 s later
  /short              200 with content-length 10 but only 5 bytes of body
  /big/<bytes>        200 with that many bytes (sent as the client's window allows)
Requests it received (path, headers, body length, and whether END_STREAM arrived) are recorded.
"""
import socket
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class H2Backend:
    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[dict] = []
        self.resets_received: list[int] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=Connection(self, sock).run, daemon=True).start()


class Connection:
    def __init__(self, backend: H2Backend, sock: socket.socket):
        self.backend = backend
        self.sock = sock
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        self.send_lock = threading.Lock()
        self.streams: dict[int, dict] = {}
        self.pending_bodies: dict[int, bytes] = {}
        self.closing_after: int | None = None

    def flush(self):
        with self.send_lock:
            data = self.conn.data_to_send()
            if data:
                try:
                    self.sock.sendall(data)
                except OSError:
                    pass

    def run(self):
        self.conn.initiate_connection()
        self.flush()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                with self.send_lock:
                    events = self.conn.receive_data(data)
                for event in events:
                    self.handle(event)
                self.send_pending()
                self.flush()
                if self.closing_after is not None and self.closing_after not in self.streams:
                    # Like a real server, close a while after GOAWAY, not at once: the peer
                    # must stop using the connection because of the GOAWAY itself.
                    self.closing_after = None
                    threading.Timer(2.0, self.shutdown).start()
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            self.sock.close()

    def shutdown(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle(self, event):
        if isinstance(event, h2.events.RequestReceived):
            # (h2 reports END_STREAM on the request's HEADERS as a separate StreamEnded event too.)
            self.streams[event.stream_id] = {"path": dict(event.headers)[":path"], "headers": dict(event.headers),
                                             "body": 0, "ended": False}
        elif isinstance(event, h2.events.DataReceived):
            self.streams[event.stream_id]["body"] += len(event.data)
            with self.send_lock:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.streams:
            self.request_ended(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            with self.backend.lock:
                self.backend.resets_received.append(event.error_code)
            self.streams.pop(event.stream_id, None)
            self.pending_bodies.pop(event.stream_id, None)
        elif isinstance(event, h2.events.WindowUpdated):
            pass

    def request_ended(self, stream_id: int):
        request = self.streams[stream_id]
        request["ended"] = True
        with self.backend.lock:
            self.backend.requests.append(dict(request))
        path = request["path"]
        if path.startswith("/slow/"):
            delay = int(path.split("/")[2]) / 1000
            threading.Timer(delay, self.answer_later, args=(stream_id, b"slow")).start()
        elif path.startswith("/reset/"):
            with self.send_lock:
                self.conn.reset_stream(stream_id, error_code=int(path.split("/")[2]))
            self.streams.pop(stream_id, None)
        elif path == "/goaway":
            self.respond(stream_id, b"ok")
            # Written by hand: h2 refuses to send anything after its own GOAWAY, but a server
            # must still finish the streams the GOAWAY covers.
            goaway = (8).to_bytes(3, "big") + bytes([7, 0]) + bytes(4) + stream_id.to_bytes(4, "big") + bytes(4)
            self.flush()
            with self.send_lock:
                self.sock.sendall(goaway)
            self.closing_after = stream_id
        elif path == "/short":
            with self.send_lock:
                self.conn.send_headers(stream_id, [(":status", "200"), ("content-length", "10")])
                self.conn.send_data(stream_id, b"12345", end_stream=True)
            self.streams.pop(stream_id, None)
        elif path.startswith("/big/"):
            with self.send_lock:
                self.conn.send_headers(stream_id, [(":status", "200")])
            self.pending_bodies[stream_id] = b"x" * int(path.split("/")[2])
        else:
            self.respond(stream_id, b"ok")

    def respond(self, stream_id: int, body: bytes):
        with self.send_lock:
            self.conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(body)))])
            self.conn.send_data(stream_id, body, end_stream=True)
        self.streams.pop(stream_id, None)

    def answer_later(self, stream_id: int, body: bytes):
        try:
            self.respond(stream_id, body)
        except (h2.exceptions.ProtocolError, KeyError):
            return
        self.flush()

    def send_pending(self):
        """Sends as much of each /big body as the flow-control windows allow."""
        with self.send_lock:
            for stream_id, body in list(self.pending_bodies.items()):
                try:
                    window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
                except (h2.exceptions.ProtocolError, KeyError):
                    self.pending_bodies.pop(stream_id)
                    continue
                while body and window > 0:
                    chunk, body = body[:window], body[window:]
                    self.conn.send_data(stream_id, chunk, end_stream=not body)
                    window = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
                if body:
                    self.pending_bodies[stream_id] = body
                else:
                    self.pending_bodies.pop(stream_id)
                    self.streams.pop(stream_id, None)
