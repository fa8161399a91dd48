"""Benchmarks weft-proxy against a direct connection and against Envoy, in one run, on loopback:

- plain cells: one proxy, and a client-side + server-side pair, each with fixed targets and
  plaintext between, for weft-proxy and Envoy, over HTTP/1.1 and HTTP/2 (h2c);
- mesh cells: the mesh as users run it (`weft up` + two `weft run` workloads: discovery, mesh
  TLS, HTTP/2 between the proxies) next to an Envoy pair with TLS 1.3 mTLS and HTTP/2 between,
  for an HTTP/1.1 client and an HTTP/2 client;
- the controller cell (bench/controller.py): 1,000 destination and 1,000 policy watches on one
  weft-controller, the time from a change to the last watcher's update, and its peak RSS.

Prints tables with ratios to a direct connection and to Envoy."""
import argparse
import re
import statistics
import subprocess
import time
from pathlib import Path

from kit import WORK, Process, free_port, wait_port
from controller import measure as measure_controller, print_controller
from mesh import EnvoyMesh, WeftMesh, envoy
from ready import ready_times, summary


def start_nginx():
    h1, h2 = free_port(), free_port()
    root = WORK / "www"
    root.mkdir()
    (root / "index.html").write_text("x" * 64)
    conf = WORK / "nginx.conf"
    conf.write_text(f"""
worker_processes 1; daemon off; pid {WORK}/nginx.pid; error_log {WORK}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server {{ listen 127.0.0.1:{h1}; root {root}; }}
  server {{ listen 127.0.0.1:{h2} http2; root {root}; }}
}}""")
    process = Process(["nginx", "-c", str(conf), "-p", str(WORK)], name="nginx")
    wait_port(h1)
    wait_port(h2)
    return process, h1, h2


def start_weft(binary, listen, target, name):
    env = {"LINKERD2_PROXY_ADMIN_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
           "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
           "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": f"127.0.0.1:{free_port()}",
           "LINKERD2_PROXY_LOG": "warn",
           "WEFT_PROXY_INBOUND_PORTS": f"127.0.0.1:{listen}=127.0.0.1:{target}"}
    process = Process([binary], env=env, name=name)
    wait_port(listen)
    return process


def start_envoy(binary, listen, target, http2, name):
    """A plain Envoy in front of `target`, HTTP/2 to it when `http2`."""
    return envoy(binary, name, listen, target, listener_tls=False, upstream_tls=False, upstream_h2=http2)


def fixed_rate(port, http2, duration, host="127.0.0.1"):
    """p50/p99/mean latency (ms) at 1,000 RPS: 10 connections x 100 requests/s, from h2load's
    per-request log; and how many requests failed."""
    log = WORK / f"latency-{host}-{port}.log"
    args = ["h2load", "-c", "10", "--rps", "100", "-D", str(duration), "--log-file", str(log), f"http://{host}:{port}/"]
    if not http2:
        args.insert(1, "--h1")
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    durations = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line.split("\t")[1] == "200")
    failed = re.search(r"(\d+) failed", out)
    failures = failed.group(1) if failed else "?"
    if not durations:
        return None, None, None, failures
    return statistics.median(durations), durations[int(len(durations) * 0.99) - 1], statistics.fmean(durations), failures


def max_throughput(port, http2, duration, host="127.0.0.1", connections=20):
    """Requests per second: wrk (HTTP/1.1) or h2load with 10 streams per connection (HTTP/2)."""
    if http2:
        out = subprocess.run(["h2load", "-c", str(connections), "-m", "10", "-D", str(duration), f"http://{host}:{port}/"],
                             capture_output=True, text=True, timeout=duration + 60).stdout
        match = re.search(r"finished in .*?, ([\d.]+) req/s", out)
        errors = re.search(r"(\d+) failed, (\d+) errored", out)
        if errors and (int(errors.group(1)) or int(errors.group(2))):
            print(f"  h2load to {host}:{port}: {errors.group(0)}")
    else:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", f"http://{host}:{port}/"],
                             capture_output=True, text=True, timeout=duration + 60).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
        if errors:
            print(f"  wrk to {host}:{port}: {errors.group(0)}")
    return float(match.group(1)) if match else 0.0


def plain_cells(args, h1_port, h2_port):
    """Rows (protocol, path, p50, p99, mean, rps, peak RSS, CPU s, failed) of the plain cells."""
    rows = []
    for protocol, target in (("HTTP/1.1", h1_port), ("HTTP/2", h2_port)):
        http2 = protocol == "HTTP/2"
        setups = {"direct": ([], target)}
        for kind in ("weft", "envoy"):
            for topology in ("one", "pair"):
                processes = []
                front = free_port()
                ports = [front] if topology == "one" else [front, free_port()]
                targets = ports[1:] + [target]
                for index, (listen, to) in enumerate(zip(ports, targets)):
                    name = f"{kind}-{topology}-{index}-{'h2' if http2 else 'h1'}"
                    processes.append(start_weft(args.proxy, listen, to, name) if kind == "weft"
                                     else start_envoy(args.envoy, listen, to, http2, name))
                setups[f"{kind} {topology}"] = (processes, front)
        for label, (processes, port) in setups.items():
            p50, p99, mean, failed = fixed_rate(port, http2, args.duration)
            rps = max_throughput(port, http2, args.duration)
            usage = [process.usage() for process in processes]
            rss = max((u[0] for u in usage), default=0.0)
            cpu = sum(u[1] for u in usage)
            rows.append((protocol, label, p50, p99, mean, rps, rss, cpu, failed))
            for process in processes:
                process.stop()
    return rows


def print_plain(rows):
    print(f"\nplain cells (fixed targets, plaintext between the proxies)")
    print(f"{'protocol':9} {'path':11} {'p50 ms':>7} {'p99 ms':>7} {'max rps':>9} {'peak RSS MiB':>12} {'CPU s':>6} {'failed':>6}")
    for protocol, label, p50, p99, _, rps, rss, cpu, failed in rows:
        print(f"{protocol:9} {label:11} {p50 or 0:7.3f} {p99 or 0:7.3f} {rps:9.0f} {rss:12.1f} {cpu:6.1f} {failed:>6}")
    print("ratios (Weft / baseline; added latency = path p50 - direct p50):")
    by = {(r[0], r[1]): r for r in rows}
    for protocol in ("HTTP/1.1", "HTTP/2"):
        direct = by[(protocol, "direct")]
        for topology in ("one", "pair"):
            weft, envoy = by[(protocol, f"weft {topology}")], by[(protocol, f"envoy {topology}")]
            added_weft = (weft[2] or 0) - (direct[2] or 0)
            added_envoy = (envoy[2] or 0) - (direct[2] or 0)
            print(f"  {protocol:8} {topology:4}: added p50 weft {added_weft:.3f} ms vs envoy {added_envoy:.3f} ms"
                  f" | throughput weft/direct {weft[5] / max(direct[5], 1):.2f}, weft/envoy {weft[5] / max(envoy[5], 1):.2f}"
                  f" | peak RSS weft/envoy {weft[6] / max(envoy[6], 0.1):.2f}")


CONCURRENCY = (1, 4, 20, 100)


def measure_mesh(front, host, http2, processes, duration):
    """One mesh cell: latency at 1,000 RPS, throughput at each concurrency, CPU per request over
    the throughput runs (both proxies, from /proc) and peak RSS (the larger proxy)."""
    p50, p99, mean, failed = fixed_rate(front, http2, duration, host)
    before = sum(p.usage()[1] for p in processes)
    rps, requests = [], 0.0
    for connections in CONCURRENCY:
        rate = max_throughput(front, http2, duration, host, connections)
        rps.append(rate)
        requests += rate * duration
    cpu_ms = (sum(p.usage()[1] for p in processes) - before) * 1000 / max(requests, 1)
    rss = max(p.usage()[0] for p in processes)
    return dict(p50=p50, p99=p99, mean=mean, failed=failed, rps=rps, cpu=cpu_ms, rss=rss)


def mesh_cells(args, h1_port, h2_port):
    """{(client protocol, 'weft'|'envoy'|'direct'): cell} for the mesh cells."""
    cells = {}
    for label, port, http2 in (("HTTP/1.1", h1_port, False), ("HTTP/2", h2_port, True)):
        p50, p99, mean, failed = fixed_rate(port, http2, args.duration)
        cells[(label, "direct")] = dict(p50=p50, p99=p99, mean=mean)
    weft = WeftMesh(args.weft, h1_port, h2_port)
    try:
        cells["weft RSS idle"] = max(p.rss() for p in weft.proxies)
        for label, front, http2 in (("HTTP/1.1", weft.front_h1, False), ("HTTP/2", weft.front_h2, True)):
            cells[(label, "weft")] = measure_mesh(front, weft.client_ip, http2, weft.proxies, args.duration)
        cells["weft RSS after"] = max(p.rss() for p in weft.proxies)
        cells["routes"] = routes_cell(weft, args.duration, args.route_rules)
        cells["retries"] = retries_cell(weft, args.duration)
        cells["authorization"] = authorization_cell(weft, args.duration)
        cells["ready"] = ready_times(args.proxy, weft.proxies[0].pid)
    finally:
        weft.stop()
    envoy = EnvoyMesh(args.envoy, h1_port, h2_port)
    try:
        for label, key, http2 in (("HTTP/1.1", "h1", False), ("HTTP/2", "h2", True)):
            front, processes = envoy.pairs[key]
            cells[(label, "envoy")] = measure_mesh(front, "127.0.0.1", http2, processes, args.duration)
    finally:
        envoy.stop()
    return cells


#: Retries and timeouts that a healthy backend never triggers.
RETRIES = {"retry.linkerd.io/http": "5xx", "retry.linkerd.io/limit": "2", "retry.linkerd.io/timeout": "5s",
           "timeout.linkerd.io/request": "10s"}


def routes_cell(weft, duration, rules, rounds=5):
    """The weft pair at c=20 without routes and with a table of `rules` rules, alternating,
    `rounds` times each: {protocol: {"without"|"with": [(rps, client proxy CPU µs/request)],
    "counted": requests the client proxy counted under the routes}}."""
    return compare_cell(weft, duration, rounds, without=weft.delete_routes, with_=lambda: weft.apply_routes(rules))


def retries_cell(weft, duration, rounds=5):
    """As `routes_cell`, one catch-all route without and with retries and timeouts (`RETRIES`)
    that the bench's backend never triggers: what having them configured costs."""
    return compare_cell(weft, duration, rounds, without=lambda: weft.apply_routes(1), with_=lambda: weft.apply_routes(1, RETRIES))


def authorization_cell(weft, duration, rounds=5):
    """As `routes_cell`, the server's ports under the default policy (all-unauthenticated) and
    under 100 authorizations and 50 inbound routes (`WeftMesh.apply_authorization`): what zero
    trust costs. Counted: requests the server's proxy admitted on those routes."""
    return compare_cell(weft, duration, rounds, without=weft.delete_authorization, with_=weft.apply_authorization,
                        counted=weft.authorized_requests, proxy=weft.proxies[1])


def compare_cell(weft, duration, rounds, without, with_, counted=None, proxy=None):
    """The weft pair at c=20 in two states set by `without()` and `with_()`, alternating; CPU
    of `proxy` (the client's by default) per request."""
    counted = counted or weft.routed_requests
    client = proxy or weft.proxies[0]
    results = {}

    def run(front, http2):
        cpu = client.usage()[1]
        rate = max_throughput(front, http2, duration, weft.client_ip)
        return rate, (client.usage()[1] - cpu) * 1e6 / max(rate * duration, 1)

    for label, front, http2 in (("HTTP/1.1", weft.front_h1, False), ("HTTP/2", weft.front_h2, True)):
        cell = {"without": [], "with": [], "counted": 0.0}
        for _ in range(rounds):
            weft.delete_routes()
            without()
            time.sleep(1)
            cell["without"].append(run(front, http2))
            weft.delete_routes()
            with_()
            time.sleep(1)
            before = counted()
            cell["with"].append(run(front, http2))
            cell["counted"] += counted() - before
        weft.delete_routes()
        results[label] = cell
    return results


def print_mesh(cells):
    print("\nmesh cells: weft up + weft run pair (discovery, mesh TLS, HTTP/2 between) vs Envoy pair (TLS 1.3 mTLS, HTTP/2 between)")
    rps_heads = " ".join(f"{f'rps c={c}':>10}" for c in CONCURRENCY)
    print(f"{'client':9} {'mesh':6} {'p50 ms':>7} {'p99 ms':>7} {'mean ms':>7} {rps_heads} {'CPU ms/req':>10} {'peak RSS':>8} {'failed':>6}")
    for protocol in ("HTTP/1.1", "HTTP/2"):
        for kind in ("weft", "envoy"):
            c = cells[(protocol, kind)]
            rates = " ".join(f"{r:10.0f}" for r in c["rps"])
            print(f"{protocol:9} {kind:6} {c['p50'] or 0:7.3f} {c['p99'] or 0:7.3f} {c['mean'] or 0:7.3f} {rates} {c['cpu']:10.3f}"
                  f" {c['rss']:8.1f} {c['failed']:>6}")
    print(f"weft proxy RSS (the larger of the two): idle before the load {cells['weft RSS idle']:.1f} MiB,"
          f" once the load is over {cells['weft RSS after']:.1f} MiB")
    print(f"weft-proxy start to first /ready 200: without identity {summary(cells['ready']['plain'])};"
          f" meshed, certifying with the mesh's identity service {summary(cells['ready']['meshed'])}")
    print("routing: the weft pair at c=20 without routes and with a 50-rule HTTPRoute table (every request checked against"
          " every rule), alternating; rps and the client proxy's CPU µs per request:")
    print_comparison(cells["routes"])
    print("retries and timeouts: the weft pair at c=20 under one route without and with retry.linkerd.io/http 5xx, limit 2,"
          " retry timeout 5s, request timeout 10s (never triggered), alternating; rps and CPU µs per request:")
    print_comparison(cells["retries"])
    print("authorization: the weft pair at c=20, the server's ports under the default policy and under 100 authorizations"
          " and 50 inbound routes (only the last of each admits), alternating; rps and the server proxy's CPU µs per request:")
    print_comparison(cells["authorization"])
    print_ratios(cells)


def print_comparison(comparison):
    """One line per protocol of a `compare_cell`."""
    for protocol, cell in comparison.items():
        def median(state, index):
            return statistics.median(run[index] for run in cell[state])
        print(f"  {protocol:8}: without {' '.join(f'{r:.0f}/{c:.0f}' for r, c in cell['without'])}"
              f" | with {' '.join(f'{r:.0f}/{c:.0f}' for r, c in cell['with'])}"
              f" | median rps ratio {median('with', 0) / max(median('without', 0), 1):.3f},"
              f" CPU/request ratio {median('with', 1) / max(median('without', 1), 1e-9):.3f}"
              f" | requests counted under the routes: {cell['counted']:.0f}")


def print_ratios(cells):
    print("ratios (Weft / Envoy; added = cell - direct at 1,000 RPS):")
    for protocol in ("HTTP/1.1", "HTTP/2"):
        weft, envoy, direct = cells[(protocol, "weft")], cells[(protocol, "envoy")], cells[(protocol, "direct")]

        def added(cell, key):
            return (cell[key] or 0) - (direct[key] or 0)

        throughput = " ".join(f"c={c}: {w / max(e, 1):.2f}" for c, w, e in zip(CONCURRENCY, weft["rps"], envoy["rps"]))
        print(f"  {protocol:8}: throughput {throughput} | max {max(weft['rps']) / max(max(envoy['rps']), 1):.2f}"
              f" | CPU/req {weft['cpu'] / max(envoy['cpu'], 1e-9):.2f}"
              f" | added mean {added(weft, 'mean') / max(added(envoy, 'mean'), 1e-9):.2f}"
              f" ({added(weft, 'mean'):.3f} vs {added(envoy, 'mean'):.3f} ms)"
              f" | added p99 {added(weft, 'p99') / max(added(envoy, 'p99'), 1e-9):.2f} | peak RSS {weft['rss'] / max(envoy['rss'], 0.1):.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", required=True, help="weft-proxy (release build)")
    parser.add_argument("--weft", help="the weft CLI (release build; weft-controller and weft-proxy beside it): runs the mesh cells")
    parser.add_argument("--envoy", required=True)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--controller", help="weft-controller (release build): runs the controller cell")
    parser.add_argument("--route-rules", type=int, default=50, help="rules of the route table in the mesh cells' routing measurement")
    parser.add_argument("--watches", type=int, default=1000, help="destination watches, and as many policy watches, in the controller cell")
    parser.add_argument("--rounds", type=int, default=20, help="changes of each kind in the controller cell")
    parser.add_argument("--cells", default="plain,mesh,controller", help="which cells, comma-separated: plain, mesh, controller (default: all)")
    args = parser.parse_args()
    cells = set(args.cells.split(","))
    nginx, h1_port, h2_port = start_nginx()
    plain, mesh, controller = None, None, None
    try:
        if "controller" in cells and args.controller and args.weft:
            controller = measure_controller(args.controller, args.weft, args.watches, args.rounds)
        if "plain" in cells:
            plain = plain_cells(args, h1_port, h2_port)
        if "mesh" in cells and args.weft:
            mesh = mesh_cells(args, h1_port, h2_port)
    finally:
        nginx.stop()
    if plain:
        print_plain(plain)
    if mesh:
        print_mesh(mesh)
    if controller:
        print_controller(controller)
    print(f"\nlogs and configs: {WORK}")


if __name__ == "__main__":
    main()
