"""Memory stays flat under sustained traffic: a leak of even ~100 bytes per request shows up as
megabytes over the rounds below (reliability.md: bounded memory under load)."""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import free_port, nginx  # noqa: F401  (fixture)
from test_http2 import nghttpd  # noqa: F401  (fixture)

ROUND = 10_000


def rss_kib(proxy) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{proxy.process.pid}/status").read_text()).group(1))


def load(port, http2: bool, path: str):
    args = ["h2load", "-n", str(ROUND), "-c", "10", f"http://127.0.0.1:{port}{path}"]
    args[1:1] = ["-m", "10"] if http2 else ["--h1"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    assert f"{ROUND} succeeded" in out, out


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "http2"])
def test_memory_is_flat_under_load(start_proxy, nghttpd, nginx, http2):  # noqa: F811
    target, path = (nghttpd, "/0.bin") if http2 else (nginx, "/16")
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{target}", LINKERD2_PROXY_LOG="warn")
    load(port, http2, path)  # warm-up: pools, buffers and metric series settle
    before = rss_kib(proxy)
    for _ in range(3):
        load(port, http2, path)
    grown = rss_kib(proxy) - before
    assert grown < 2 * 1024, f"RSS grew by {grown} KiB over {3 * ROUND} requests"
