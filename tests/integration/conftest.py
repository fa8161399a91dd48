"""Fixtures that start real weft-proxy processes and small backends on loopback."""
import os
import pathlib
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def weft_binary(name: str) -> pathlib.Path:
    path = REPO / ".build" / "debug" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/test (it builds first)")
    return path


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, below the kernel's ephemeral range.

    Ports from bind(0) come from the ephemeral range, which outgoing connections
    also draw from: between picking the port and the proxy binding it, another
    test's client socket may take it. Ports below that range are only ever taken
    by listeners, and each is handed out once per test run.
    """
    low, _ = (int(n) for n in pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(1024 if low <= 11000 else 10000, min(low, 30000))
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def still_open(sockets, wait: float = 0.5) -> int:
    """How many of `sockets` the server has not closed after `wait` seconds (a closed one is
    readable at end of stream; the others wait for something to read)."""
    import select
    readable, _, _ = select.select(sockets, [], [], wait)
    closed = 0
    for s in readable:
        try:
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
    return len(sockets) - closed


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


class Controller:
    """A running weft-controller. Its ports, store and socket stay the same across stop() and
    start(), so that a test can take it down and bring it back. With a trust directory it serves
    the identity service too (on `port`)."""

    def __init__(self, trust_dir=None, port=None, *flags, workdir=None):
        self.trust_dir, self.flags = trust_dir, flags
        self.port = port or free_port()
        self.grpc_port, self.admin_port = free_port(), free_port()
        self.workdir = pathlib.Path(workdir or (trust_dir.parent if trust_dir else tempfile.mkdtemp(prefix="weft-ctl-")))
        self.data = self.workdir / f"store-{self.grpc_port}"
        # Unix socket paths are limited to 107 bytes: keep it short, away from pytest's long paths.
        self.socket = os.path.join(tempfile.mkdtemp(prefix="weft-"), "c.sock")
        self.log = open(self.workdir / f"controller-{self.port}.log", "a+")
        self.process = None
        self.start()

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self):
        command = [str(weft_binary("weft-controller")), "--data-dir", str(self.data), "--api-socket", self.socket,
                   "--destination-addr", self.grpc_address, "--policy-addr", self.grpc_address,
                   "--admin-addr", f"127.0.0.1:{self.admin_port}"]
        if self.trust_dir:
            command += ["--identity-dir", str(self.trust_dir), "--identity-addr", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(command + list(self.flags), stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.admin_port)
            wait_for_port("127.0.0.1", self.grpc_port)  # the gRPC servers start after the admin port
            if self.trust_dir:
                wait_for_port("127.0.0.1", self.port)
        except TimeoutError:
            self.process.kill()
            pytest.fail("weft-controller did not start: " + self.output())

    def weft(self, *args, input=None, check=True):
        """Runs `weft ARGS --socket <this controller>`."""
        result = subprocess.run([str(weft_binary("weft")), *args, "--socket", self.socket], input=input,
                                capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, f"weft {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def metrics(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines() if line and not line.startswith("#")}

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Proxy:
    """A running weft-proxy with its admin address."""

    def __init__(self, env: dict, admin_port: int, wait_ready: bool = True, admin_host: str = "127.0.0.1"):
        self.admin_port, self.admin_host = admin_port, admin_host
        self.log = open(REPO / ".build" / f"weft-proxy-test-{admin_host}-{admin_port}.log", "w+")
        self.process = subprocess.Popen(
            [str(weft_binary("weft-proxy"))], env={**os.environ, **env},
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weft-proxy exited with {self.process.returncode}: {self.output()}")
            try:
                if self.get("/ready")[0] == 200 or not wait_ready:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("weft-proxy did not become ready: " + self.output())

    def get(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"http://{self.admin_host}:{self.admin_port}{path}", method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def metrics(self) -> dict:
        """Every sample line as {series: value}."""
        status, text = self.get("/metrics")
        assert status == 200
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                samples[series] = float(value)
        return samples

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture
def start_proxy():
    proxies = []

    def start(wait_ready=True, **extra_env) -> Proxy:
        admin = free_port()
        env = {
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": f"127.0.0.1:{admin}",
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
            "LINKERD2_PROXY_LOG": "debug",
            **extra_env,
        }
        proxy = Proxy(env, admin, wait_ready)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop(signal.SIGKILL)


class EchoServer:
    """A TCP server that echoes, optionally greeting first (server-speaks-first)."""

    def __init__(self, greeting: bytes = b""):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.greeting = greeting
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    def echo(self, conn):
        with conn:
            if self.greeting:
                conn.sendall(self.greeting)
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)  # echo the half-close back
                    return
                conn.sendall(data)

    def close(self):
        self.listener.close()


@pytest.fixture
def echo_server():
    servers = []

    def start(greeting: bytes = b"") -> EchoServer:
        server = EchoServer(greeting)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def nginx(tmp_path):
    """nginx serving a 16-byte file over HTTP/1.1 on loopback: a backend fast enough for load."""
    import shutil
    if shutil.which("nginx") is None:
        pytest.fail("nginx is missing: scripts/bootstrap installs it")
    tmp_path.chmod(0o755)
    root = tmp_path / "www"
    root.mkdir()
    root.chmod(0o755)
    (root / "16").write_bytes(b"0123456789abcdef")
    (root / "16").chmod(0o644)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
{"user root;" if os.geteuid() == 0 else ""} worker_processes 1; daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; keepalive_requests 1000000; server {{ listen 127.0.0.1:{port}; root {root}; }} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port)
    yield port
    process.terminate()
    process.wait()
