"""The controller at scale: many proxies watching it, one change, how long until the last one knows.

Starts a release weft-controller with its own store, applies a Service with endpoints and a
Server, then opens WATCHES Destination.Get streams for the Service and WATCHES
InboundServerPolicies.WatchPort streams for one of its workloads' ports (Python grpcio, stubs
generated from Protos/ at run time, spread over several HTTP/2 connections and worker processes
so that the client keeps up). The changes: an endpoint added or removed (every destination watch
gets an update), and a Server's protocol switched (every policy watch gets one), each made two
ways: with `weft apply` / `weft delete`, as an operator makes it (so the CLI's own start is in
the time), and with one request to the management API's socket (the controller's part alone).
For each it reports how long after the change started the first, the median and the last
watcher got its update, and the controller's peak RSS over the run. All on loopback; the
watchers run on the same two cores as the controller, so their own decoding is in the numbers."""
import asyncio
import http.client
import json
import multiprocessing
import os
import pathlib
import statistics
import socket
import subprocess
import sys
import tempfile
import time

from kit import WORK, Process, free_port, wait_port

REPO = pathlib.Path(__file__).resolve().parents[1]
NAMESPACE = "load"
SERVICE = f"""apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""
WORKLOAD = """---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {name}, namespace: load, labels: {{app: web}}, annotations: {{workload.weft.io/health-check: "none"}}}}
spec:
  meshTLS: {{identity: "spiffe://cluster.local/ns/load/{name}", serverName: "{name}.load.cluster.local"}}
  workloadIPs: [{{ip: {ip}}}]
  ports: [{{port: 8080, name: http}}]
status:
  conditions: [{{type: Ready, status: "True"}}]
"""
SERVER = """apiVersion: policy.linkerd.io/v1beta2
kind: Server
metadata: {{name: web-http, namespace: load}}
spec:
  externalWorkloadSelector: {{matchLabels: {{app: web}}}}
  port: http
  proxyProtocol: {protocol}
"""
# Streams per HTTP/2 connection, and worker processes reading them.
PER_CONNECTION = 100
WORKERS = 2


def compile_stubs(out):
    import grpc_tools
    from grpc_tools import protoc
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = ["net", "meta", "http_types", "http_route", "grpc_route", "destination", "inbound"]
    if protoc.main(["protoc", f"-I{REPO / 'Protos'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
                    *[str(REPO / "Protos" / f"{name}.proto") for name in protos]]) != 0:
        raise RuntimeError("protoc failed on Protos/")


def watcher(address, stubs, kind, count, first_offset, ready, results):
    """A worker process: `count` streams of `kind`; puts (kind, monotonic arrival) of every
    message after the first into `results`, and one None on `ready` once all have their first."""
    sys.path.insert(0, stubs)
    import grpc
    import destination_pb2
    import destination_pb2_grpc
    import inbound_pb2
    import inbound_pb2_grpc

    async def run():
        channels = [grpc.aio.insecure_channel(address, options=[("weft.bench.connection", first_offset + i)])
                    for i in range((count + PER_CONNECTION - 1) // PER_CONNECTION)]
        started = asyncio.Semaphore(0)

        async def stream(index):
            channel = channels[index // PER_CONNECTION]
            if kind == "destination":
                call = destination_pb2_grpc.DestinationStub(channel).Get(destination_pb2.GetDestination(
                    path=f"web.{NAMESPACE}.svc.cluster.local:80", context_token=f'{{"ns":"{NAMESPACE}"}}'))
            else:
                call = inbound_pb2_grpc.InboundServerPoliciesStub(channel).WatchPort(inbound_pb2.PortSpec(
                    workload=f'{{"ns":"{NAMESPACE}","external_workload":"web-0"}}', port=8080))
            first = True
            async for _ in call:
                if first:
                    first = False
                    started.release()
                else:
                    results.put((kind, time.monotonic()))

        tasks = [asyncio.create_task(stream(i)) for i in range(count)]
        for _ in range(count):
            await started.acquire()
        ready.put(None)
        await asyncio.gather(*tasks)

    asyncio.run(run())


class ControllerLoad:
    def __init__(self, controller_binary, weft_binary, watches):
        self.weft, self.watches = weft_binary, watches
        self.socket = os.path.join(tempfile.mkdtemp(prefix="weft-"), "c.sock")
        grpc_port, admin_port = free_port(), free_port()
        self.address = f"127.0.0.1:{grpc_port}"
        self.controller = Process([controller_binary, "--data-dir", str(WORK / "controller-store"), "--api-socket", self.socket,
                                   "--destination-addr", self.address, "--policy-addr", self.address,
                                   "--admin-addr", f"127.0.0.1:{admin_port}", "--log-level", "warning"], name="controller-load")
        wait_port(admin_port)
        wait_port(grpc_port)
        self.command("apply", "-f", "-", input=SERVICE + "".join(WORKLOAD.format(name=f"web-{i}", ip=f"10.1.0.{i + 1}") for i in range(3))
                     + "---\n" + SERVER.format(protocol="HTTP/1"))
        self.stubs = WORK / "controller-stubs"
        self.stubs.mkdir()
        compile_stubs(self.stubs)
        self.workers, self.results, self.stray = [], multiprocessing.Queue(), 0

    def command(self, *args, input=None):
        result = subprocess.run([self.weft, *args, "--socket", self.socket], input=input, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"weft {' '.join(args)}: {result.stdout}{result.stderr}")

    def api(self, method, path, body=None):
        """One request to the management API over its Unix socket, as the CLI makes it."""
        connection = http.client.HTTPConnection("localhost", timeout=30)
        connection.sock = socket.socket(socket.AF_UNIX)
        connection.sock.connect(self.socket)
        connection.request(method, path, body=body.encode() if body else None)
        response = connection.getresponse()
        text = response.read().decode()
        connection.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {text}")

    def open_watches(self):
        """Opens every stream and waits until each has its first message; returns the seconds it took."""
        ready = multiprocessing.Queue()
        start = time.monotonic()
        per_worker = self.watches // WORKERS
        offset = 0
        for kind in ("destination", "policy"):
            for _ in range(WORKERS):
                process = multiprocessing.Process(target=watcher, daemon=True,
                                                  args=(self.address, str(self.stubs), kind, per_worker, offset, ready, self.results))
                process.start()
                self.workers.append(process)
                offset += per_worker
        for _ in self.workers:
            ready.get(timeout=120)
        return time.monotonic() - start

    def change(self, make, kind, watchers):
        """Makes one change (`make()`); returns (seconds until it returned, arrival delays of the
        `watchers` updates of `kind`). Updates of the other kind are counted in `self.stray`."""
        start = time.monotonic()
        make()
        returned = time.monotonic() - start
        delays = []
        while len(delays) < watchers:
            got, arrived = self.results.get(timeout=30)
            if got == kind:
                delays.append(arrived - start)
            else:
                self.stray += 1
        time.sleep(0.2)  # anything more this change caused arrives now, not during the next one
        while not self.results.empty():
            self.results.get()
            self.stray += 1
        return returned, sorted(delays)

    def run(self, rounds):
        opened = self.open_watches()
        per_kind = (self.watches // WORKERS) * WORKERS
        rows = {(kind, way): [] for way in ("weft CLI", "API") for kind in ("endpoint", "policy")}
        switches = 0
        for round in range(rounds):
            for index, way in enumerate(("weft CLI", "API")):
                # Added on even rounds, removed on odd ones; the Server's protocol flips each time.
                name = f"web-{100 + 2 * (round // 2) + index}"
                workload = WORKLOAD.format(name=name, ip=f"10.1.{1 + index}.{round // 2 + 1}")
                switches += 1
                server = SERVER.format(protocol="HTTP/2" if switches % 2 else "HTTP/1")
                if way == "weft CLI":
                    add = lambda: self.command("apply", "-f", "-", input=workload)
                    remove = lambda: self.command("delete", "ew", name, "-n", NAMESPACE)
                    switch = lambda: self.command("apply", "-f", "-", input=server)
                else:
                    add = lambda: self.api("POST", "/v1/apply", json.dumps({"sources": [{"name": "-", "text": workload}]}))
                    remove = lambda: self.api("DELETE", f"/v1/objects?kind=ExternalWorkload&namespace={NAMESPACE}&name={name}")
                    switch = lambda: self.api("POST", "/v1/apply", json.dumps({"sources": [{"name": "-", "text": server}]}))
                rows[("endpoint", way)].append(self.change(add if round % 2 == 0 else remove, "destination", per_kind))
                rows[("policy", way)].append(self.change(switch, "policy", per_kind))
        peak = self.controller.usage()[0]
        return opened, per_kind, rows, peak, self.stray

    def stop(self):
        for worker in self.workers:
            worker.kill()
        self.controller.stop()


def measure(controller_binary, weft_binary, watches, rounds):
    load = ControllerLoad(controller_binary, weft_binary, watches)
    try:
        return load.run(rounds)
    finally:
        load.stop()


def print_controller(result, goal_ms=100.0, goal_rss=64.0):
    opened, per_kind, rows, peak, stray = result
    print(f"\ncontroller at scale: {per_kind} destination + {per_kind} policy watches on one weft-controller"
          f" (all open with their first message after {opened:.2f} s)")
    print(f"{'change':9} {'made with':9} {'count':>5} {'made ms':>8} {'first ms':>9} {'median ms':>9} {'last p50':>9} {'last p99':>9} {'last max':>9}")
    for (kind, way), changes in rows.items():
        lasts = sorted(delays[-1] * 1000 for _, delays in changes)
        commands = statistics.median(returned * 1000 for returned, _ in changes)
        firsts = statistics.median(delays[0] * 1000 for _, delays in changes)
        medians = statistics.median(statistics.median(delays) * 1000 for _, delays in changes)
        p99 = lasts[min(len(lasts) - 1, int(len(lasts) * 0.99))]
        print(f"{kind:9} {way:9} {len(changes):5} {commands:8.1f} {firsts:9.1f} {medians:9.1f} {statistics.median(lasts):9.1f} {p99:9.1f} {lasts[-1]:9.1f}")
    print(f"controller peak RSS: {peak:.1f} MiB (goal <= {goal_rss:.0f} MiB); goal for the last watcher: p99 <= {goal_ms:.0f} ms"
          " from the start of the change")
    if stray:
        print(f"updates no change here asked for: {stray}")
