"""Transparent mode: iptables redirects a workload's traffic through weft-proxy, which finds the
original destination with SO_ORIGINAL_DST. Two network namespaces made by the test, joined by a
veth pair: 'app' (10.250.7.1) runs a client behind an outbound-capturing proxy, 'srv' (10.250.7.2)
runs an echo server behind an inbound-capturing proxy. Everything is removed afterwards."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import REPO, weft_binary

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or any(shutil.which(tool) is None for tool in ("iptables", "ip", "setpriv")),
    reason="transparent mode needs root, iptables, iproute2 and setpriv (network namespaces, a proxy user)")

PROXY_UID = 2102
ECHO = """
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.250.7.2", 8080)); s.listen(16)
def serve(c):
    with c:
        while (d := c.recv(65536)): c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""
CLIENT = """
import socket, sys
c = socket.create_connection(("10.250.7.2", 8080), timeout=5)
c.sendall(b"through two proxies"); c.shutdown(socket.SHUT_WR)
data = b""
while (chunk := c.recv(100)): data += chunk
print(data.decode())
"""


def run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=30)


@pytest.fixture
def namespaces():
    suffix = uuid.uuid4().hex[:6]
    app, srv = f"weft-app-{suffix}", f"weft-srv-{suffix}"
    processes = []
    run("ip", "netns", "add", app)
    run("ip", "netns", "add", srv)
    try:
        run("ip", "link", "add", f"wa{suffix}", "type", "veth", "peer", "name", f"ws{suffix}")
        run("ip", "link", "set", f"wa{suffix}", "netns", app)
        run("ip", "link", "set", f"ws{suffix}", "netns", srv)
        for ns, dev, address in ((app, f"wa{suffix}", "10.250.7.1/24"), (srv, f"ws{suffix}", "10.250.7.2/24")):
            run("ip", "-n", ns, "addr", "add", address, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        yield app, srv, processes
    finally:
        for process in processes:
            process.kill()
            process.wait()
        run("ip", "netns", "del", app, check=False)
        run("ip", "netns", "del", srv, check=False)
    assert app not in run("ip", "netns", "list").stdout


def start_in(ns, args, processes, uid=None, env=None):
    # Entering a namespace needs root; the user is dropped after, inside it.
    log = open(REPO / ".build" / f"transparent-{ns}-{len(processes)}.log", "w")
    user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    process = subprocess.Popen(["ip", "netns", "exec", ns, *user, *args], env={**os.environ, **(env or {})},
                               stdout=log, stderr=subprocess.STDOUT)
    processes.append(process)
    return process


def admin_metrics(ns):
    out = run("ip", "netns", "exec", ns, "python3", "-c",
              "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:4191/metrics').read().decode())").stdout
    return out


def wait_ready(ns):
    for _ in range(200):
        result = run("ip", "netns", "exec", ns, "python3", "-c",
                     "import urllib.request;urllib.request.urlopen('http://127.0.0.1:4191/ready')", check=False)
        if result.returncode == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"proxy in {ns} not ready")


def test_outbound_and_inbound_capture(namespaces):
    app, srv, processes = namespaces
    proxy = str(weft_binary("weft-proxy"))
    init = str(REPO / "scripts" / "proxy-init")
    env = {"LINKERD2_PROXY_LOG": "debug"}
    # The proxy binary must be reachable by the unprivileged proxy user.
    start_in(srv, ["python3", "-c", ECHO], processes)
    start_in(app, [proxy], processes, uid=PROXY_UID, env=env)
    start_in(srv, [proxy], processes, uid=PROXY_UID, env=env)
    wait_ready(app)
    wait_ready(srv)
    run("ip", "netns", "exec", app, init, "install", "--proxy-uid", str(PROXY_UID))
    run("ip", "netns", "exec", srv, init, "install", "--proxy-uid", str(PROXY_UID))
    rules = run("ip", "netns", "exec", app, "iptables", "-t", "nat", "-S").stdout
    assert "proxy-init/redirect-all-outgoing-to-proxy-port" in rules

    client = run("ip", "netns", "exec", app, "python3", "-c", CLIENT, check=False)
    assert client.returncode == 0, client.stderr
    assert client.stdout.strip() == "through two proxies"

    time.sleep(0.3)
    outbound = admin_metrics(app)
    inbound = admin_metrics(srv)
    target = 'target_addr="10.250.7.2:8080",tls="disabled"'
    assert f'tcp_read_bytes_total{{direction="outbound",peer="src",{target}}} 19' in outbound
    assert f'tcp_read_bytes_total{{direction="inbound",peer="src",{target}}} 19' in inbound
    assert f'tcp_write_bytes_total{{direction="inbound",peer="src",{target}}} 19' in inbound

    run("ip", "netns", "exec", app, init, "remove")
    run("ip", "netns", "exec", srv, init, "remove")
    for ns in (app, srv):
        assert "PROXY_INIT" not in run("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-S").stdout
