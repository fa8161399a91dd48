"""How soon a weft-proxy is ready: the time from its start to the first 200 from its admin
/ready, polled every millisecond over a raw socket.

Two cases: a proxy with fixed targets and no identity, and a meshed proxy that certifies with
the mesh's identity service at start (a copy of a running `weft run` proxy's environment, on
loopback ports of its own; the bootstrap token is reusable until it expires)."""
import os
import pathlib
import socket
import statistics
import subprocess
import time

from kit import WORK, free_port

LISTEN_VARIABLES = ("LINKERD2_PROXY_INBOUND_LISTEN_ADDR", "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR", "LINKERD2_PROXY_ADMIN_LISTEN_ADDR")
# Ports bound on the workload's address, which the running proxy holds.
PORT_VARIABLES = ("WEFT_PROXY_INBOUND_PORTS", "WEFT_PROXY_OUTBOUND_PORTS", "LINKERD2_PROXY_INBOUND_PORTS")


def _ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05) as connection:
            connection.sendall(b"GET /ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return connection.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def relocated(environment):
    """`environment` with every listener on a free loopback port and no workload ports."""
    env = {**environment, **{variable: f"127.0.0.1:{free_port()}" for variable in LISTEN_VARIABLES}}
    for variable in PORT_VARIABLES:
        env.pop(variable, None)
    return env


def time_to_ready(binary, environment, name):
    """Seconds from the proxy's start to its first /ready 200 (None after 10 s)."""
    env = relocated(environment)
    admin = int(env["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"].rsplit(":", 1)[1])
    with open(WORK / f"ready-{name}.log", "w") as log:
        start = time.monotonic()
        process = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.monotonic() - start < 10:
                if _ready(admin):
                    return time.monotonic() - start
                if process.poll() is not None:
                    raise RuntimeError(f"weft-proxy ({name}) exited with {process.returncode}; see {log.name}")
                time.sleep(0.001)
            return None
        finally:
            process.terminate()
            process.wait(timeout=10)


def environment_of(pid):
    """The environment a running process was started with."""
    entries = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


def ready_times(binary, meshed_pid, repetitions=5):
    """{'plain': [seconds], 'meshed': [seconds]} over `repetitions` starts of each."""
    plain = {"PATH": os.environ.get("PATH", ""), "LINKERD2_PROXY_LOG": "warn"}
    meshed = environment_of(meshed_pid)
    times = {"plain": [], "meshed": []}
    for index in range(repetitions):
        times["plain"].append(time_to_ready(binary, plain, f"plain-{index}"))
        times["meshed"].append(time_to_ready(binary, meshed, f"meshed-{index}"))
    return times


def summary(values):
    known = [v * 1000 for v in values if v is not None]
    if not known:
        return "never ready"
    return f"median {statistics.median(known):.0f} ms, max {max(known):.0f} ms over {len(known)}" + \
        (f" ({len(values) - len(known)} never ready)" if len(known) < len(values) else "")
