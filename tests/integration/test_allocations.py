"""Allocations per request on the mesh path as users run it, counted, not timed.

`weft up`, then a server workload (`weft run --port`) and a client workload (`weft run
--forward`), both proxies started with a malloc-counting preload (alloc/malloc_count.c; `weft
run` starts the weft-proxy beside it, so it runs from a directory where weft-proxy is a script
that adds the preload): each
request goes client -> client proxy -> mesh TLS + HTTP/2 (l5d-orig-proto for HTTP/1.1) -> server
proxy -> app. The test counts each proxy's heap allocations over a fixed number of requests and
fails when either proxy allocates more than 10 % above alloc/baseline.json. The proxies are the
release build users run (scripts/test builds it; .build/release/weft-proxy), whose counts are
the ones that matter: a debug build allocates five times as often. After a change that
lowers them, write the new numbers there (the test prints them) so the guard follows.

The per-operation checks run weft-microbench (release) under the same preload: protocol
detection of a connection's first read, the balancer's pick with its load accounting, a
weighted backend draw; each case's allocations per run must stay within its baseline + 10 %
(a case at 0 must stay at 0)."""
import json
import os
import pathlib
import subprocess
import time

import pytest

from conftest import free_port, weft_binary
from mesh import NamedApp
from test_mesh_cli import Mesh, proxy_pid

WEFT = str(weft_binary("weft"))
HERE = pathlib.Path(__file__).parent / "alloc"
BASELINE = json.loads((HERE / "baseline.json").read_text())
REQUESTS = 2000
RELEASE = pathlib.Path(__file__).resolve().parents[2] / ".build" / "release"
RELEASE_PROXY = RELEASE / "weft-proxy"
MICROBENCH = RELEASE / "weft-microbench"
# Allowed growth over the baseline before the check fails.
MARGIN = 1.10


def counter(directory, pid):
    """The allocations the process `pid` has made so far."""
    return int.from_bytes((directory / str(pid)).read_bytes()[:8], "little")


def malloc_counter(directory):
    """The malloc-counting preload, compiled into `directory`."""
    library = directory / "malloc_count.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(HERE / "malloc_count.c")], check=True)
    return library


@pytest.fixture
def counted_mesh(tmp_path):
    if not RELEASE_PROXY.exists():
        pytest.skip(f"no release build of weft-proxy at {RELEASE_PROXY}: scripts/test builds it (swift build -c release --product weft-proxy)")
    library = malloc_counter(tmp_path)
    counts = tmp_path / "counts"
    counts.mkdir()
    mesh = Mesh(tmp_path / "home")
    mesh.up()
    # weft run starts the weft-proxy beside its own executable: here, a script adding the preload.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.link(WEFT, bin_dir / "weft")
    wrapper = bin_dir / "weft-proxy"
    wrapper.write_text(f"#!/bin/sh\nexport LD_PRELOAD={library} WEFT_MALLOC_COUNT_DIR={counts}\n"
                       f"exec {RELEASE_PROXY} \"$@\"\n")
    wrapper.chmod(0o755)
    env = {**os.environ, "WEFT_HOME": ""}
    app = NamedApp("books")
    h2_root = tmp_path / "www"
    h2_root.mkdir()
    (h2_root / "index.html").write_text("books\n")
    h2_port = free_port()
    h2_app = subprocess.Popen(["nghttpd", "--no-tls", "-d", str(h2_root), str(h2_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fronts = {"http1": free_port(), "http2": free_port()}
    runs = []

    def run(name, *ports):
        runs.append(subprocess.Popen([str(bin_dir / "weft"), "run", "--home", str(mesh.home), "--name", name, "--service", name, "-n", "alloc",
                                      "--proxy-log-level", "warn", *ports, "--", "sleep", "600"],
                                     env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 60
        while time.time() < deadline:
            workloads = mesh.workloads("alloc")
            if name in workloads and workloads[name].get("status", {}).get("conditions", [{}])[0].get("status") == "True":
                return workloads[name]["spec"]["workloadIPs"][0]["ip"]
            time.sleep(0.2)
        raise TimeoutError(f"weft run {name} did not become ready")

    try:
        server_ip = run("books", "--port", f"8080:{app.port}", "--port", f"8081:{h2_port}")
        client_ip = run("client", "--forward", f"{fronts['http1']}=books.alloc.svc.cluster.local:8080",
                        "--forward", f"{fronts['http2']}=books.alloc.svc.cluster.local:8081")
        pids = {"client": proxy_pid(client_ip), "server": proxy_pid(server_ip)}
        assert all(pids.values()), pids
        yield counts, pids, client_ip, fronts
    finally:
        for process in runs:
            process.send_signal(2)
        for process in runs:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        h2_app.kill()
        app.close()
        mesh.down()


def load(protocol, ip, port, requests):
    """`requests` GETs through the client proxy with h2load; returns how many succeeded."""
    args = ["h2load", "-n", str(requests), "-c", "4"]
    args += ["--h1"] if protocol == "http1" else ["-m", "4"]
    out = subprocess.run(args + [f"http://{ip}:{port}/"], capture_output=True, text=True, timeout=120).stdout
    line = next(line for line in out.splitlines() if line.startswith("requests:"))
    return int(line.split()[7])  # "requests: N total, N started, N done, N succeeded, ..."


@pytest.mark.parametrize("protocol", ["http1", "http2"])
def test_mesh_path_allocations_per_request_stay_within_the_baseline(counted_mesh, protocol):
    counts, pids, client_ip, fronts = counted_mesh
    # Warm up: connections, streams, series and caches are made once, not per request.
    assert load(protocol, client_ip, fronts[protocol], 300) == 300
    before = {side: counter(counts, pid) for side, pid in pids.items()}
    assert load(protocol, client_ip, fronts[protocol], REQUESTS) == REQUESTS
    measured = {side: (counter(counts, pid) - before[side]) / REQUESTS for side, pid in pids.items()}
    print(f"\nallocations per request, {protocol}: client proxy {measured['client']:.1f}, server proxy {measured['server']:.1f}")
    for side, value in measured.items():
        allowed = BASELINE[protocol][side] * MARGIN
        assert value <= allowed, (f"{side} proxy allocates {value:.1f} times per {protocol} request, over {allowed:.1f} "
                                  f"(baseline {BASELINE[protocol][side]} + 10 %)")
        # Counting must see the proxy at all: a broken preload would pass any bound.
        assert value > 5, f"{side} proxy: {value:.1f} allocations per request is not a count of its work"


def test_detection_and_decisions_allocate_within_the_baseline(tmp_path):
    if not MICROBENCH.exists():
        pytest.skip(f"no release build of weft-microbench at {MICROBENCH}: scripts/test builds it (swift build -c release --product weft-microbench)")
    unloaded = subprocess.run([str(MICROBENCH)], capture_output=True, text=True, timeout=60)
    assert unloaded.returncode == 2 and "LD_PRELOAD" in unloaded.stderr, "without the preload it must refuse to report counts"
    env = {**os.environ, "LD_PRELOAD": str(malloc_counter(tmp_path))}
    result = subprocess.run([str(MICROBENCH)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    measured = {name: float(value) for name, value in (line.split() for line in result.stdout.splitlines())}
    print("\nallocations per run: " + ", ".join(f"{name} {value}" for name, value in measured.items()))
    expected = BASELINE["microbench"]
    assert set(measured) == set(expected), f"cases measured {sorted(measured)} differ from the baseline's {sorted(expected)}"
    for name, value in measured.items():
        allowed = expected[name] * MARGIN
        assert value <= allowed, f"{name} allocates {value} times per run, over {allowed:.2f} (baseline {expected[name]} + 10 %)"
    # Counting must see the process at all: the SNI of a ClientHello becomes a String.
    assert measured["detect-tls"] >= 1, f"detect-tls: {measured['detect-tls']} allocations is not a count of its work"
