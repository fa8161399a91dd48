"""What the benchmark cells share: a work directory, free ports, processes with their usage."""
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="weft-bench-"))
WORK.chmod(0o755)  # nginx's workers run as another user and must read the document root


_handed_out = set()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range (which outgoing connections draw
    from, so a port from bind(0) could be taken before the proxy binds it), each handed out once."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(10000, min(low, 30000))
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


def wait_port(port: int, host: str = "127.0.0.1") -> None:
    for _ in range(400):
        try:
            socket.create_connection((host, port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.025)
    raise TimeoutError(f"port {port} did not open")


class Process:
    def __init__(self, args, env=None, name="process"):
        self.log = open(WORK / f"{name}.log", "w")
        self.popen = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT)

    def usage(self):
        """(peak RSS MiB, CPU seconds) so far."""
        status = Path(f"/proc/{self.popen.pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return peak, cpu

    def stop(self):
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
