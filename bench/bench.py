"""Latency at a fixed rate and maximum throughput: direct, through one proxy, and through a
client-side + server-side proxy pair, for weft-proxy and Envoy, over HTTP/1.1 and HTTP/2 (h2c),
against nginx on loopback. Prints one table with Weft/direct and Weft/Envoy ratios."""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="weft-bench-"))
WORK.chmod(0o755)  # nginx's workers run as another user and must read the document root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
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
    upstream = "typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {'@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {}}}}" if http2 else ""
    config = WORK / f"{name}.yaml"
    config.write_text(f"""
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          route_config: {{virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: backend}}}}]}}]}}
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
  clusters:
  - name: backend
    type: STATIC
    {upstream}
    load_assignment: {{cluster_name: backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {target}}}}}}}}}]}}]}}
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {free_port()}}}}}}}
""")
    process = Process([binary, "-c", str(config), "--concurrency", "1", "--log-level", "warn", "--base-id", str(free_port())], name=name)
    wait_port(listen)
    return process


def fixed_rate(port, http2, duration):
    """p50/p99 latency (ms) at 1,000 RPS: 10 connections x 100 requests/s, from h2load's log."""
    log = WORK / f"latency-{port}.log"
    args = ["h2load", "-c", "10", "--rps", "100", "-D", str(duration), "--log-file", str(log), f"http://127.0.0.1:{port}/"]
    if not http2:
        args.insert(1, "--h1")
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    durations = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line.split("\t")[1] == "200")
    failed = re.search(r"(\d+) failed", out)
    failures = failed.group(1) if failed else "?"
    if not durations:
        return None, None, failures
    return statistics.median(durations), durations[int(len(durations) * 0.99) - 1], failures


def max_throughput(port, http2, duration):
    if http2:
        out = subprocess.run(["h2load", "-c", "20", "-m", "10", "-D", str(duration), f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=duration + 60).stdout
        match = re.search(r"finished in .*?, ([\d.]+) req/s", out)
    else:
        out = subprocess.run(["wrk", "-t1", "-c20", f"-d{duration}s", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=duration + 60).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--envoy", required=True)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    nginx, h1_port, h2_port = start_nginx()
    rows = []
    try:
        for protocol, target in (("HTTP/1.1", h1_port), ("HTTP/2", h2_port)):
            http2 = protocol == "HTTP/2"
            setups = {"direct": ([], target)}
            for kind in ("weft", "envoy"):
                for topology in ("one", "pair"):
                    processes = []
                    front = free_port()
                    if topology == "one":
                        ports = [front]
                    else:
                        ports = [front, free_port()]
                    targets = ports[1:] + [target]
                    for index, (listen, to) in enumerate(zip(ports, targets)):
                        name = f"{kind}-{topology}-{index}-{'h2' if http2 else 'h1'}"
                        processes.append(start_weft(args.proxy, listen, to, name) if kind == "weft"
                                         else start_envoy(args.envoy, listen, to, http2, name))
                    setups[f"{kind} {topology}"] = (processes, front)
            for label, (processes, port) in setups.items():
                p50, p99, failed = fixed_rate(port, http2, args.duration)
                rps = max_throughput(port, http2, args.duration)
                usage = [process.usage() for process in processes]
                rss = max((u[0] for u in usage), default=0.0)
                cpu = sum(u[1] for u in usage)
                rows.append((protocol, label, p50, p99, rps, rss, cpu, failed))
                for process in processes:
                    process.stop()
    finally:
        nginx.stop()

    print(f"\n{'protocol':9} {'path':11} {'p50 ms':>7} {'p99 ms':>7} {'max rps':>9} {'peak RSS MiB':>12} {'CPU s':>6} {'failed':>6}")
    for protocol, label, p50, p99, rps, rss, cpu, failed in rows:
        print(f"{protocol:9} {label:11} {p50 or 0:7.3f} {p99 or 0:7.3f} {rps:9.0f} {rss:12.1f} {cpu:6.1f} {failed:>6}")
    print("\nratios (Weft / baseline; added latency = path p50 - direct p50):")
    by = {(r[0], r[1]): r for r in rows}
    for protocol in ("HTTP/1.1", "HTTP/2"):
        direct = by[(protocol, "direct")]
        for topology in ("one", "pair"):
            weft, envoy = by[(protocol, f"weft {topology}")], by[(protocol, f"envoy {topology}")]
            added_weft = (weft[2] or 0) - (direct[2] or 0)
            added_envoy = (envoy[2] or 0) - (direct[2] or 0)
            print(f"  {protocol:8} {topology:4}: added p50 weft {added_weft:.3f} ms vs envoy {added_envoy:.3f} ms"
                  f" | throughput weft/direct {weft[4] / max(direct[4], 1):.2f}, weft/envoy {weft[4] / max(envoy[4], 1):.2f}"
                  f" | peak RSS weft/envoy {weft[5] / max(envoy[5], 0.1):.2f}")
    print(f"\nlogs and configs: {WORK}")


if __name__ == "__main__":
    main()
