"""A mesh on loopback for the discovery tests: a weft-controller, workloads (an app and its
weft-proxy on their own 127.0.x.y address, registered as ExternalWorkloads) and a client proxy
that reaches services by name."""
import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import Proxy, free_port

_next_ip = [1, 1]


def free_ip() -> str:
    """A loopback address of its own for a workload (the whole 127/8 is loopback on Linux)."""
    while True:
        third, fourth = _next_ip
        _next_ip[1] += 1
        if _next_ip[1] > 254:
            _next_ip[0], _next_ip[1] = _next_ip[0] + 1, 1
        ip = f"127.0.{third}.{fourth}"
        try:
            for port in (4191, 4143, 4140, 8080):
                with socket.socket() as s:
                    s.bind((ip, port))
            return ip
        except OSError:
            continue


class BackloggedHTTPServer(ThreadingHTTPServer):
    # Python's default listen backlog is 5: a burst of new connections would wait for SYN
    # retransmits (a second), longer than a proxy's 300 ms inbound connect timeout.
    request_queue_size = 128


class ServedApp:
    """An app served by a threaded HTTP server of its own (`serve`), stopped by `close`."""

    def serve(self, handler, host="127.0.0.1", port=None):
        self.server = BackloggedHTTPServer((host, port or free_port()), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NamedApp(ServedApp):
    """An HTTP/1.1 app that answers every GET with its name (and /health as told)."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0):
        app = self
        self.name, self.healthy, self.requests = name, True, 0
        self.client_ids = []
        self.seen = []  # (HTTP version, l5d-orig-proto) of each request

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/ready":
                    status, body = (200, b"ready\n") if app.healthy else (503, b"not ready\n")
                else:
                    app.requests += 1
                    app.client_ids.append(self.headers.get("l5d-client-id"))
                    app.seen.append((self.request_version, self.headers.get("l5d-orig-proto")))
                    status, body = 200, app.name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler, host, port)


class Workload:
    """An app and its proxy at `ip`: the app port 8080 is bound by the proxy on `ip` and
    forwarded to the app on 127.0.0.1; admin on ip:4191, as the controller probes it."""

    def __init__(self, name: str, namespace: str = "shop", labels=None, extra_env=None, annotations=None, identity=None,
                 server_name=None, app_port=None, port=8080, proxy_port=False, ip=None):
        self.name, self.namespace = name, namespace
        # The identity the ExternalWorkload declares (by default the one its proxy would have).
        self.identity = identity or f"{name}.{namespace}.serviceaccount.identity.linkerd.cluster.local"
        self.server_name = server_name or self.identity
        # The workload's port; `proxy_port` declares its proxy's inbound port (`linkerd-proxy`),
        # which opaque transport uses.
        self.port, self.proxy_port = port, proxy_port

        self.labels = labels or {"app": "web"}
        self.annotations = annotations or {}
        self.ip = ip or free_ip()
        # An app of the test's own (e.g. a gRPC server) when `app_port` is given.
        self.app = NamedApp(name) if app_port is None else None
        app_port = app_port or self.app.port
        env = {
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": f"{self.ip}:4143",
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": f"{self.ip}:4140",
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": f"{self.ip}:4191",
            "WEFT_PROXY_INBOUND_PORTS": f"{self.ip}:{port}=127.0.0.1:{app_port}",
            **(extra_env or {}),
        }
        self.proxy = Proxy(env, 4191, admin_host=self.ip)

    def manifest(self) -> str:
        labels = ", ".join(f"{k}: {v}" for k, v in self.labels.items())
        annotations = ", ".join(f'{k}: "{v}"' for k, v in self.annotations.items())
        return f"""---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {self.name}, namespace: {self.namespace}, labels: {{{labels}}}, annotations: {{{annotations}}}}}
spec:
  meshTLS: {{identity: "{self.identity}", serverName: "{self.server_name}"}}
  workloadIPs: [{{ip: {self.ip}}}]
  ports: [{{port: {self.port}, name: {"http" if self.port == 8080 else "app"}}}{", {port: 4143, name: linkerd-proxy}" if self.proxy_port else ""}]
"""

    def stop(self):
        self.proxy.stop()
        if self.app:
            self.app.close()


SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def client_proxy(start_proxy, controller, *services, **env):
    """A proxy whose local ports lead to services by name: returns (proxy, {service: port})."""
    ports = {service: free_port() for service in services}
    mapping = ",".join(f"127.0.0.1:{port}={service}" for service, port in ports.items())
    proxy = start_proxy(WEFT_PROXY_OUTBOUND_PORTS=mapping, LINKERD2_PROXY_DESTINATION_SVC_ADDR=controller.grpc_address,
                        **{"LINKERD2_PROXY_LOG": "info", **env})
    return proxy, ports


def get(port: int, path: str = "/", timeout: float = 5.0):
    """One GET on a new connection: (status, body, l5d-proxy-error)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode(), response.getheader("l5d-proxy-error")
    finally:
        connection.close()


def wait_ready(controller, names, namespace="shop", ready=True, timeout=10.0):
    """Waits until the controller has marked each workload Ready (or not)."""
    deadline = time.monotonic() + timeout
    import json
    while time.monotonic() < deadline:
        listed = json.loads(controller.weft("get", "externalworkloads", "-n", namespace, "-o", "json").stdout)
        state = {}
        for item in listed["items"]:
            conditions = {c["type"]: c["status"] for c in (item.get("status") or {}).get("conditions", [])}
            state[item["metadata"]["name"]] = conditions.get("Ready") == "True"
        if all(state.get(name) == ready for name in names):
            return
        time.sleep(0.1)
    raise AssertionError(f"workloads {names} not {'ready' if ready else 'unready'} within {timeout}s: {state}")


class Load:
    """Requests at a steady rate from several threads, each on its own keep-alive connection,
    recording (time, status, body) of every answer."""

    def __init__(self, port: int, rate: float, threads: int = 4, path: str = "/"):
        self.port, self.path = port, path
        self.interval = threads / rate
        self.results = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self):
        connection = None
        next_at = time.monotonic()
        while self.running:
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                connection.request("GET", self.path)
                response = connection.getresponse()
                result = (time.monotonic(), response.status, response.read().decode())
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                result = (time.monotonic(), 0, f"{type(error).__name__}: {error}")
                if connection:
                    connection.close()
                connection = None
            with self.lock:
                self.results.append(result)
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        if connection:
            connection.close()

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=15)
        return self.results
