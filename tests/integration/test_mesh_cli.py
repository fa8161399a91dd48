"""`weft up`, `weft run`, `weft viz`, `weft check`, `weft demo` and `weft down`, driven as a user
would: each in a terminal (a pty, with pexpect), reading what it prints and its exit status,
Ctrl-C typed into the terminal. Every test has its own home and controller ports."""
import datetime
import http.client
import http.server
import json
import os
import pathlib
import signal
import subprocess
import threading
import time
import urllib.request

import pexpect
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import REPO, free_port, weft_binary

WEFT = str(weft_binary("weft"))


class Mesh:
    """A home and the controller ports `weft up` is given."""

    def __init__(self, home: pathlib.Path):
        self.home = home
        destination = free_port()
        self.addresses = ["--identity-addr", f"127.0.0.1:{free_port()}", "--destination-addr", f"127.0.0.1:{destination}",
                          "--policy-addr", f"127.0.0.1:{destination}", "--admin-addr", f"127.0.0.1:{free_port()}"]

    def terminal(self, *args, timeout=60):
        """`weft ARGS --home HOME` in a terminal of its own."""
        args = list(args)
        at = args.index("--") if "--" in args else len(args)
        args[at:at] = ["--home", str(self.home)]
        return pexpect.spawn(WEFT, args, encoding="utf-8", timeout=timeout,
                             dimensions=(60, 300), env={**os.environ, "WEFT_HOME": ""})

    def finished(self, *args, timeout=60):
        """Runs `weft ARGS` to its end in a terminal: (output, exit status)."""
        child = self.terminal(*args, timeout=timeout)
        child.expect(pexpect.EOF)
        child.close()
        return child.before, child.exitstatus

    def up(self):
        output, status = self.finished("up", *self.addresses)
        assert status == 0, output
        assert "the mesh is up" in output
        return output

    def down(self):
        return self.finished("down")

    def workloads(self, namespace):
        output, status = self.finished("get", "ew", "-n", namespace, "-o", "json", "--socket", str(self.home / "controller.sock"))
        assert status == 0, output
        return {item["metadata"]["name"]: item for item in json.loads(output)["items"]}

    def processes(self):
        """Processes whose command line or environment mention this home."""
        found = []
        marker = str(self.home).encode()
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes() or marker in (entry / "environ").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
            except OSError:
                continue
        return found


@pytest.fixture
def mesh(tmp_path):
    mesh = Mesh(tmp_path / "home")
    yield mesh
    mesh.down()
    for pid, _ in mesh.processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def proxy_pid(ip):
    """The weft-proxy whose admin listens on `ip`."""
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"LINKERD2_PROXY_ADMIN_LISTEN_ADDR={ip}:4191".encode() in (entry / "environ").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    return None


def via(ip, authority, path):
    """A request through a workload's outbound listener, to the service `authority` names."""
    request = urllib.request.Request(f"http://{ip}:4140{path}", headers={"Host": authority})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


APP = """
import http.server, os, socket, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # the head and body in one write (two small writes meet Nagle and delayed ACKs)
    def do_GET(self):
        status = 500 if self.path.startswith("/fail") else 200
        body = f"{os.environ['WEFT_WORKLOAD']} {self.path}\\n".encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
host = os.environ.get("APP_HOST", "127.0.0.1")
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET  # "::" takes IPv4 too
server = Server((host, int(os.environ["PORT"])), Handler)
print("app listening", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(42)
"""


def run_app(mesh, name, service="web", namespace="shop"):
    """`weft run` of the test app, waiting until it serves; returns the terminal."""
    child = mesh.terminal("run", "--name", name, "--service", service, "-n", namespace, "--port", "8080",
                          "--", "python3", "-c", APP)
    child.expect(f"{namespace}/{name} is in the mesh as {service}.{namespace}.serviceaccount.identity.linkerd.cluster.local")
    child.expect("app listening")
    return child


def test_up_is_idempotent_and_down_removes_what_it_started(mesh):
    output = mesh.up()
    for line in ["management API", "identity", "destination", "trust anchor", "log"]:
        assert line in output
    pid = int((mesh.home / "controller.pid").read_text())
    assert (mesh.home / "identity" / "trust-anchors.pem").exists()
    assert oct((mesh.home / "controller.sock").stat().st_mode & 0o777) == "0o600"
    anchor = (mesh.home / "identity" / "trust-anchors.pem").read_bytes()

    again, status = mesh.finished("up", *mesh.addresses)
    assert status == 0 and f"the mesh is already up (weft-controller pid {pid})" in again
    assert (mesh.home / "identity" / "trust-anchors.pem").read_bytes() == anchor

    output, status = mesh.down()
    assert status == 0 and f"stopped weft-controller (pid {pid})" in output
    assert not (mesh.home / "controller.sock").exists() and not (mesh.home / "controller.pid").exists()
    assert mesh.processes() == []
    output, status = mesh.down()
    assert status == 0 and "the mesh is not running" in output

    # The next start keeps the trust material and the store.
    mesh.up()
    assert (mesh.home / "identity" / "trust-anchors.pem").read_bytes() == anchor


def test_run_meshes_a_process_over_mtls_and_cleans_up_after_ctrl_c(mesh):
    mesh.up()
    web = run_app(mesh, "web-1")
    workloads = mesh.workloads("shop")
    assert list(workloads) == ["web-1"]
    ip = workloads["web-1"]["spec"]["workloadIPs"][0]["ip"]
    assert ip.startswith("127.") and workloads["web-1"]["status"]["conditions"][0]["status"] == "True"

    # A client meshed with weft run reaches the service by name; its exit status is weft run's.
    output, status = mesh.finished(
        "run", "--name", "client", "-n", "shop", "--",
        "sh", "-c", 'curl -s -H "Host: web.shop.svc.cluster.local:8080" "http://$WEFT_OUTBOUND_ADDR/hello"; '
                    'curl -s "http://$WEFT_WORKLOAD_IP:4191/metrics" | grep "^tcp_open_total.*tls=\\"true\\""; exit 7')
    assert status == 7, output
    assert "shop/web-1 /hello" in output
    assert 'server_id="web.shop.serviceaccount.identity.linkerd.cluster.local"' in output
    assert list(mesh.workloads("shop")) == ["web-1"]  # the client is gone

    # Ctrl-C reaches the app (which exits 42); the workload, its Service and its proxy go.
    proxy = proxy_pid(ip)
    assert proxy is not None
    web.sendcontrol("c")
    web.expect(pexpect.EOF, timeout=30)
    web.close()
    assert web.exitstatus == 42
    assert mesh.workloads("shop") == {}
    output, _ = mesh.finished("get", "svc", "-n", "shop", "--socket", str(mesh.home / "controller.sock"))
    assert "web" not in output
    assert not pathlib.Path(f"/proc/{proxy}").exists() or "Z" in pathlib.Path(f"/proc/{proxy}/stat").read_text().split(")")[1][:3]
    assert list((mesh.home / "workloads").iterdir()) == []


def test_viz_stat_counts_what_was_sent_and_edges_name_both_identities(mesh):
    mesh.up()
    web = run_app(mesh, "web-1")
    client = mesh.terminal("run", "--name", "client", "-n", "shop", "--", "sleep", "600")
    client.expect("is in the mesh")
    client_ip = mesh.workloads("shop")["client"]["spec"]["workloadIPs"][0]["ip"]
    assert via(client_ip, "web.shop.svc.cluster.local:8080", "/warm")[0] == 200

    window = 15.0
    stat = mesh.terminal("viz", "stat", "ew/web-1", "-n", "shop", "-t", str(window), "-o", "json")
    table = mesh.terminal("viz", "stat", "ew", "-n", "shop", "-t", str(window))
    from_client = mesh.terminal("viz", "stat", "ew/web-1", "-n", "shop", "-t", str(window), "--from", "ew/client", "-o", "json")
    time.sleep(2.0)  # after their first reading
    sent = {"ok": 0, "failed": 0}
    started = time.monotonic()
    connection = http.client.HTTPConnection(client_ip, 4140, timeout=5)
    for i in range(300):
        connection.request("GET", "/fail" if i % 10 == 0 else "/ok", headers={"Host": "web.shop.svc.cluster.local:8080"})
        response = connection.getresponse()
        response.read()
        sent["ok" if response.status == 200 else "failed"] += 1
    connection.close()
    assert sent == {"ok": 270, "failed": 30}
    assert time.monotonic() - started < window - 4, "the requests must all fall between the two readings"

    stat.expect(pexpect.EOF)
    stat.close()
    assert stat.exitstatus == 0, stat.before
    [row] = json.loads(stat.before)
    assert row["name"] == "web-1" and row["meshed"] == 1
    assert abs(row["requests"] - 300) <= 3
    assert abs(row["success_rate"] - 0.9) <= 0.009
    assert abs(row["rps"] - 300 / row["window_seconds"]) <= 0.01 * 300 / row["window_seconds"]
    assert row["secured_share"] == 1.0
    assert row["latency_ms_p50"] is not None and row["latency_ms_p50"] <= row["latency_ms_p99"]

    table.expect(pexpect.EOF)
    table.close()
    lines = {line.split()[0]: line.split() for line in table.before.strip().splitlines()}
    assert lines["NAME"] == ["NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN"]
    assert lines["web-1"][1] == "1/1" and abs(float(lines["web-1"][2].rstrip("%")) - 90.0) <= 0.9
    assert lines["client"][2] == "-"

    from_client.expect(pexpect.EOF)
    from_client.close()
    [row] = json.loads(from_client.before)
    assert abs(row["requests"] - 300) <= 3
    output, status = mesh.finished("viz", "stat", "ew/web-1", "-n", "shop", "-t", "1", "--from", "ew/web-1", "-o", "json")
    assert status == 0 and json.loads(output)[0]["requests"] == 0

    output, status = mesh.finished("viz", "edges", "-n", "shop")
    assert status == 0, output
    header, *rows = [line.split() for line in output.strip().splitlines()]
    assert header == ["SRC", "DST", "SRC_NS", "DST_NS", "CLIENT_ID", "SERVER_ID", "SECURED", "MSG"]
    assert ["client", "web-1", "shop", "shop", "client.shop.serviceaccount.identity.linkerd.cluster.local",
            "web.shop.serviceaccount.identity.linkerd.cluster.local", "√", "-"] in rows

    output, status = mesh.finished("viz", "stat", "ew/nothere", "-n", "shop", "-t", "0.5")
    assert status == 1 and "not found" in output
    client.sendcontrol("c")
    web.sendcontrol("c")
    for child in (client, web):
        child.expect(pexpect.EOF, timeout=30)


def test_check_passes_then_names_a_dead_proxy_and_a_stopped_controller(mesh):
    mesh.up()
    web = run_app(mesh, "web-1")
    output, status = mesh.finished("check")
    assert status == 0, output
    for expected in ["√ the controller answers", "√ the store is writable", "√ the issuer chains to a trust anchor",
                     "√ shop/web-1: the proxy is ready", "√ shop/web-1: certificate for web.shop.serviceaccount.identity.linkerd.cluster.local",
                     "√ every proxy runs", "Status check results are √"]:
        assert expected in output, output

    ip = mesh.workloads("shop")["web-1"]["spec"]["workloadIPs"][0]["ip"]
    os.kill(proxy_pid(ip), signal.SIGKILL)
    web.expect("weft-proxy of shop/web-1 exited with status 137")
    output, status = mesh.finished("check")
    assert status == 1, output
    assert "× shop/web-1: the proxy is ready" in output and "hint: its proxy does not answer" in output
    assert "Status check results are ×" in output
    web.sendcontrol("c")
    web.expect(pexpect.EOF, timeout=30)

    mesh.down()
    output, status = mesh.finished("check")
    assert status == 1
    assert "× the controller answers" in output and "hint: start it with `weft up`" in output
    assert "√ the issuer" in output  # read from the home
    output, status = mesh.finished("run", "--name", "late", "-n", "shop", "--", "true")
    assert status == 1 and "cannot reach the controller" in output


def test_an_expired_issuer_stops_up_and_fails_check(mesh):
    init = pexpect.spawn(WEFT, ["identity", "init", "--dir", str(mesh.home / "identity")], encoding="utf-8")
    init.expect(pexpect.EOF)
    init.close()
    assert init.exitstatus == 0, init.before
    directory = mesh.home / "identity"
    anchor = x509.load_pem_x509_certificate((directory / "trust-anchors.pem").read_bytes())
    anchor_key = serialization.load_pem_private_key((directory / "anchor.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "identity.linkerd.cluster.local")]))
              .issuer_name(anchor.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now - datetime.timedelta(days=1))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .sign(anchor_key, hashes.SHA256()))
    (directory / "issuer.crt").write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
    (directory / "issuer.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))

    output, status = mesh.finished("up", *mesh.addresses)
    assert status == 1
    assert "weft-controller exited with status 1" in output and "the issuer certificate is not valid now" in output
    assert not (mesh.home / "controller.pid").exists() and not (mesh.home / "controller.sock").exists()

    output, status = mesh.finished("check")
    assert status == 1
    assert "× the issuer CN=identity.linkerd.cluster.local is valid" in output and "hint: make a new issuer" in output
    assert "√ the trust anchor" in output


def test_demo_shows_every_service_over_mtls_and_leaves_nothing_behind(mesh, tmp_path):
    iptables_before = os.popen("iptables-save 2>/dev/null | grep -c PROXY_").read().strip() if os.geteuid() == 0 else None
    # The README's command: scripts/demo builds (nothing to do here: the suite built first) and runs weft demo.
    demo = pexpect.spawn(str(REPO / "scripts" / "demo"), ["--home", str(mesh.home), *mesh.addresses, "--rate", "30", "--refresh", "1",
                                                         "--window", "5", "--duration", "120", "--failure-rate", "1"],
                         encoding="utf-8", timeout=300, dimensions=(60, 300), env={**os.environ, "WEFT_HOME": ""})
    try:
        demo.expect("started the control plane")
        demo.expect("meshing emoji, voting-1, voting-2, web")
        # A table with traffic for every service: wait until each row has a non-zero RPS.
        seen = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (seen and all(rps > 0 for rps in seen.values()) and len(seen) == 4):
            demo.expect(r"weft demo — namespace emojivoto")
            demo.expect(r"SRC\s+DST")
            for line in demo.before.splitlines():
                fields = line.split()
                if fields and fields[0] in ("web", "emoji", "voting-1", "voting-2") and fields[3].endswith("rps"):
                    seen[fields[0]] = float(fields[3][:-3])
        assert len(seen) == 4 and all(rps > 0 for rps in seen.values()), seen

        # While it runs, the edges are mTLS with both identities, and services have traffic.
        output, status = mesh.finished("viz", "edges", "-n", "emojivoto")
        assert status == 0, output
        rows = [line.split() for line in output.strip().splitlines()[1:]]
        edges = {(row[0], row[1]): row for row in rows}
        for source, destination, server in [("vote-bot", "web", "web"), ("web", "emoji", "emoji"), ("web", "voting-1", "voting"),
                                            ("web", "voting-2", "voting")]:
            row = edges[(source, destination)]
            assert row[4] == f"{source}.emojivoto.serviceaccount.identity.linkerd.cluster.local"
            assert row[5] == f"{server}.emojivoto.serviceaccount.identity.linkerd.cluster.local"
            assert row[6] == "√"
        output, status = mesh.finished("viz", "stat", "svc", "-n", "emojivoto", "-t", "6", "-o", "json")
        stats = {row["name"]: row for row in json.loads(output)}
        assert all(stats[name]["rps"] > 0 for name in ("web", "emoji", "voting"))
        assert stats["voting"]["success_rate"] < 1.0  # voting-2 fails some votes on purpose
        # The demo's GRPCRoutes: votes split 90/10 between voting-v1 (voting-1) and voting-v2
        # (voting-2), results balanced over both; vote-bot votes and reads results equally often.
        # So voting-2 serves about 0.1 × votes + 0.5 × results ≈ 30 % of voting's calls: far from
        # the 50 % of no routes and from the ~5 % of a balancer that starved it on results.
        output, status = mesh.finished("viz", "stat", "ew", "-n", "emojivoto", "-t", "6", "-o", "json")
        assert status == 0, output
        served = {row["name"]: row["requests"] for row in json.loads(output) if row["name"] in ("voting-1", "voting-2")}
        total = sum(served.values())
        assert total > 0 and 0.15 <= served["voting-2"] / total <= 0.42, served
        # (voting-2 fails every vote here: about 10 of the 100 votes in 10 s fail, under the canary route.)
        output, status = mesh.finished("viz", "routes", "svc/voting", "-n", "emojivoto", "-t", "10", "-o", "json")
        assert status == 0, output
        routes = {row["route"]: row for row in json.loads(output)}
        assert routes["voting-canary"]["rps"] > 0 and routes["voting-results"]["rps"] > 0, routes
        assert routes["voting-canary"]["success_rate"] < 1.0 and routes["voting-results"]["success_rate"] == 1.0, routes

        # The README's next step: retries on the canary route and a circuit breaker on voting-v2.
        output, status = mesh.finished("apply", "-f", str(REPO / "examples" / "demo-resilience.yaml"))
        assert status == 0, output
        time.sleep(3)  # the policies reach web's proxy; 3 s of old failures leave the next window
        output, status = mesh.finished("viz", "stat", "ew", "-n", "emojivoto", "-t", "8", "-o", "json")
        assert status == 0, output
        stats = {row["name"]: row for row in json.loads(output)}
        assert stats["web"]["success_rate"] == 1.0, stats["web"]   # every failed vote retried
        assert stats["voting-2"]["success_rate"] < 1.0, stats["voting-2"]  # the canary still fails votes

        # A gRPC client nobody here wrote, compiled from Protos/demo/emojivoto.proto, calls the demo's
        # Swift services (whose messages are encoded by hand) through their proxies.
        import grpc
        from grpc_tools import protoc
        import sys
        out = tmp_path / "emojivoto_stubs"
        out.mkdir()
        assert protoc.main(["protoc", f"-I{REPO / 'Protos' / 'demo'}", f"--python_out={out}", f"--grpc_python_out={out}", "emojivoto.proto"]) == 0
        sys.path.insert(0, str(out))
        try:
            import emojivoto_pb2 as pb
            import emojivoto_pb2_grpc as rpc
        finally:
            sys.path.remove(str(out))
        workloads = mesh.workloads("emojivoto")
        ip = {name: item["spec"]["workloadIPs"][0]["ip"] for name, item in workloads.items()}
        with grpc.insecure_channel(f"{ip['emoji']}:8080") as channel:
            emoji = rpc.EmojiServiceStub(channel)
            listed = emoji.ListAll(pb.ListAllEmojiRequest(), timeout=5).list
            assert len(listed) == 16 and listed[0].shortcode == ":ghost:" and listed[0].unicode == "👻"
            assert emoji.FindByShortcode(pb.FindByShortcodeRequest(shortcode=":taco:"), timeout=5).emoji.unicode == "🌮"
            assert not emoji.FindByShortcode(pb.FindByShortcodeRequest(shortcode=":nope:"), timeout=5).HasField("emoji")
        with grpc.insecure_channel(f"{ip['voting-1']}:8080") as channel:
            voting = rpc.VotingServiceStub(channel)
            voting.Vote(pb.VoteRequest(shortcode=":taco:"), timeout=5)
            results = {result.shortcode: result.votes for result in voting.Results(pb.ResultsRequest(), timeout=5).results}
            assert results.get(":taco:", 0) >= 1

        # The README's zero-trust step: only web's identity may call emoji and voting.
        output, status = mesh.finished("apply", "-f", str(REPO / "examples" / "demo-zero-trust.yaml"))
        assert status == 0, output
        deadline = time.monotonic() + 5
        while True:
            with grpc.insecure_channel(f"{ip['emoji']}:8080") as channel:
                try:
                    rpc.EmojiServiceStub(channel).ListAll(pb.ListAllEmojiRequest(), timeout=5)
                    assert time.monotonic() < deadline, "an unmeshed client still reaches emoji"
                    time.sleep(0.2)
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
                    break
        with grpc.insecure_channel(f"{ip['voting-1']}:8080") as channel:
            with pytest.raises(grpc.RpcError) as denied:
                rpc.VotingServiceStub(channel).Results(pb.ResultsRequest(), timeout=5)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, denied.value
        unmeshed = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{ip['web']}:8080/api/list"],
                                  capture_output=True, text=True, timeout=10)
        assert unmeshed.stdout == "403", unmeshed
        # The README's one-liner: a meshed process with another identity is refused by web.
        output, status = mesh.finished("run", "--name", "intruder", "-n", "emojivoto", "--", "sh", "-c",
                                       'curl -s -o /dev/null -w "code=%{http_code}\\n" -H "Host: web.emojivoto.svc.cluster.local:8080" '
                                       '"http://$WEFT_OUTBOUND_ADDR/api/list"', timeout=90)
        assert status == 0 and "code=403" in output, output
        time.sleep(2)
        output, status = mesh.finished("viz", "stat", "ew", "-n", "emojivoto", "-t", "4", "-o", "json")
        assert status == 0, output
        stats = {row["name"]: row for row in json.loads(output)}
        assert stats["web"]["success_rate"] == 1.0 and stats["emoji"]["success_rate"] == 1.0, stats  # web is still admitted
        output, status = mesh.finished("viz", "authz", "-n", "emojivoto", "-t", "4", "-o", "json")
        assert status == 0, output
        rows = json.loads(output)
        assert any(r["workload"] == "emoji" and r["authorization"] == "authorizationpolicy/emoji-from-web" and r["allowed_rps"] > 0
                   for r in rows), rows
        assert any(r["workload"] == "web" and r["authorization"] == "authorizationpolicy/web-from-vote-bot" and r["allowed_rps"] > 0
                   for r in rows), rows

        demo.sendcontrol("c")
        demo.expect("nothing is left running", timeout=90)
        demo.expect(pexpect.EOF)
    finally:
        if demo.isalive():
            # A failure above must not leave the demo's processes running for the next tests.
            demo.sendcontrol("c")
            try:
                demo.expect(pexpect.EOF, timeout=90)
            except pexpect.TIMEOUT:
                demo.terminate(force=True)
    demo.close()
    assert demo.exitstatus == 0
    assert mesh.processes() == []
    assert not (mesh.home / "controller.sock").exists()
    assert list((mesh.home / "workloads").iterdir()) == []
    if iptables_before is not None:
        assert os.popen("iptables-save 2>/dev/null | grep -c PROXY_").read().strip() == iptables_before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates a network namespace with a veth pair and iptables rules")
def test_capture_meshes_a_namespace_that_joins_the_controller_over_tcp(mesh):
    """A VM's view: a network namespace reaches the controller only over its veth, and
    `weft run --capture --controller ADDR` meshes its process with iptables rules."""
    tag = f"{os.getpid() % 100000}"
    namespace, host_side, inside = f"weftcap{tag}", f"wc{tag}h", f"wc{tag}n"
    host_ip, vm_ip = "10.251.9.1", "10.251.9.2"

    def sh(*command, check=True):
        return subprocess.run(command, check=check, capture_output=True, text=True)

    sh("ip", "netns", "add", namespace)
    try:
        sh("ip", "link", "add", host_side, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", inside, "netns", namespace)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_side)
        sh("ip", "link", "set", host_side, "up")
        for command in (["ip", "addr", "add", f"{vm_ip}/30", "dev", inside], ["ip", "link", "set", inside, "up"], ["ip", "link", "set", "lo", "up"]):
            sh("ip", "netns", "exec", namespace, *command)
        destination, api = free_port(), free_port()
        mesh.addresses = ["--identity-addr", f"{host_ip}:{free_port()}", "--destination-addr", f"{host_ip}:{destination}",
                          "--policy-addr", f"{host_ip}:{destination}", "--admin-addr", f"{host_ip}:{free_port()}",
                          "--api-addr", f"{host_ip}:{api}"]
        mesh.up()

        # A plain server on the host, for the namespace's captured outbound traffic.
        outside = http.server.ThreadingHTTPServer((host_ip, free_port()), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=outside.serve_forever, daemon=True).start()

        # The namespace joins with a join token, trusting the controller by its anchor's pin.
        printed, status = mesh.finished("token", "create", "--join", "-n", "shop", "--uses", "1")
        assert status == 0, printed
        field = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in printed.splitlines() if ":" in line}
        vm = pexpect.spawn("ip", ["netns", "exec", namespace, WEFT, "run", "--capture", "--ip", vm_ip, "--controller", f"{host_ip}:{api}",
                                  "--join-token", field["join token"], "--ca-cert-hash", field["ca-cert-hash"],
                                  "--home", str(mesh.home), "--name", "web-vm", "--service", "web", "-n", "shop", "--port", "8080",
                                  "--", "python3", "-c", APP],
                           encoding="utf-8", timeout=60, env={**os.environ, "APP_HOST": "0.0.0.0"})
        vm.expect("shop/web-vm is in the mesh as web.shop.serviceaccount.identity.linkerd.cluster.local")
        vm.expect("app listening")
        rules = sh("ip", "netns", "exec", namespace, "iptables", "-t", "nat", "-S").stdout
        assert "proxy-init/redirect-all-incoming-to-proxy-port" in rules and "proxy-init/redirect-all-outgoing-to-proxy-port" in rules
        assert f"--dports {api}" in rules  # weft run's own calls to the controller stay direct

        # From the host's mesh, by name, over mTLS; the namespace's proxy saw the client's identity.
        output, status = mesh.finished("run", "--name", "client", "-n", "shop", "--", "sh", "-c",
                                       'curl -s -H "Host: web.shop.svc.cluster.local:8080" "http://$WEFT_OUTBOUND_ADDR/from-host"')
        assert status == 0 and "shop/web-vm /from-host" in output, output
        # The namespace's app reaches a host workload by name through its proxy (the host
        # workload on the veth's address, which the namespace can reach).
        api = mesh.terminal("run", "--name", "api-1", "--service", "api", "-n", "shop", "--ip", host_ip, "--port", "8080",
                            "--", "python3", "-c", APP)
        api.expect("app listening")
        by_name = sh("ip", "netns", "exec", namespace, "curl", "-s", "-H", "Host: api.shop.svc.cluster.local:8080",
                     "http://127.0.0.1:4140/from-vm")
        assert by_name.stdout == "shop/api-1 /from-vm\n", by_name
        api_metrics = urllib.request.urlopen(f"http://{host_ip}:4191/metrics", timeout=5).read().decode()
        assert 'client_id="web.shop.serviceaccount.identity.linkerd.cluster.local"' in api_metrics
        api.sendcontrol("c")
        api.expect(pexpect.EOF, timeout=30)

        # Any TCP connection made in the namespace goes through its proxy.
        fetched = sh("ip", "netns", "exec", namespace, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                     f"http://{host_ip}:{outside.server_address[1]}/")
        assert fetched.stdout == "200"
        # A joined workload's admin port speaks TLS (with its certificate).
        import ssl
        metrics = urllib.request.urlopen(f"https://{vm_ip}:4191/metrics", timeout=5, context=ssl._create_unverified_context()).read().decode()
        assert 'direction="inbound"' in metrics and 'client_id="client.shop.serviceaccount.identity.linkerd.cluster.local"' in metrics
        # An address the mesh does not know is forwarded as it is, and its series say why it is plaintext.
        assert (f'tcp_open_total{{direction="outbound",peer="dst",target_addr="{host_ip}:{outside.server_address[1]}",'
                'tls="no_identity",no_tls_reason="not_provided_by_service_discovery"} 1') in metrics
        outside.shutdown()

        vm.sendcontrol("c")
        vm.expect(pexpect.EOF, timeout=30)
        vm.close()
        assert vm.exitstatus == 42
        assert "PROXY_INIT" not in sh("ip", "netns", "exec", namespace, "iptables", "-t", "nat", "-S").stdout
        assert mesh.workloads("shop") == {}
        assert [p for p in mesh.processes() if "weft-controller" not in p[1]] == []
    finally:
        # Whatever still runs in the namespace (after a failure: the proxy, in its own group) goes with it.
        for pid in sh("ip", "netns", "pids", namespace, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        sh("ip", "netns", "del", namespace, check=False)
        sh("ip", "link", "del", host_side, check=False)


def test_the_systemd_unit_runs_the_controller_in_the_foreground(mesh, tmp_path):
    """The shipped unit is valid for systemd, and its ExecStart (`weft up --foreground`) runs the
    controller in its own process until SIGTERM, which stops it cleanly."""
    unit = (REPO / "deploy" / "systemd" / "weft-controller.service").read_text()
    exec_start = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == "/usr/local/bin/weft up --foreground --home /var/lib/weft"
    if subprocess.run(["which", "systemd-analyze"], capture_output=True).returncode == 0:
        local = tmp_path / "weft-controller.service"
        local.write_text(unit.replace("/usr/local/bin/weft", WEFT).replace("User=weft", "User=root").replace("Group=weft", "Group=root"))
        verified = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
        assert verified.returncode == 0, verified.stderr

    foreground = mesh.terminal("up", "--foreground", *mesh.addresses)
    foreground.expect("created the trust anchor and issuer")
    foreground.expect("management API listening")
    pid = int((mesh.home / "controller.pid").read_text())
    assert pid == foreground.pid  # the controller replaced `weft up`: a supervisor's child is the controller
    output, status = mesh.finished("check")
    assert "√ the controller answers" in output and "√ the store is writable" in output
    again, status = mesh.finished("up", *mesh.addresses)
    assert status == 0 and f"already up (weft-controller pid {pid})" in again
    os.kill(pid, signal.SIGTERM)
    foreground.expect(pexpect.EOF, timeout=30)
    foreground.close()
    assert foreground.exitstatus == 0
    assert mesh.processes() == []


def api_request(socket_path, method, path, body=b""):
    """One raw request to a management API socket: (status, body)."""
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(socket_path)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


def test_the_mesh_and_token_endpoints_answer_bad_requests_clearly(mesh):
    mesh.up()
    sock = str(mesh.home / "controller.sock")
    status, body = api_request(sock, "GET", "/v1/mesh")
    described = json.loads(body)
    assert status == 200 and described["identity"]["trustAnchorsPEM"].startswith("-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in body
    status, body = api_request(sock, "POST", "/v1/store/check")
    assert status == 200 and json.loads(body) == {"writable": True}

    def token(payload):
        return api_request(sock, "POST", "/v1/tokens", payload if isinstance(payload, bytes) else json.dumps(payload).encode())

    status, body = token({"identity": "web.shop.serviceaccount.identity.linkerd.cluster.local", "ttlSeconds": 60})
    answer = json.loads(body)
    assert status == 200 and answer["identity"] == "web.shop.serviceaccount.identity.linkerd.cluster.local"
    assert answer["token"].count(".") == 2 and answer["id"]
    for bad, message in [(b"hello", "the body must be"), (b"\xff" * 1000, "the body must be"),
                         ({"identity": "not an identity!", "ttlSeconds": 60}, "not an identity!"),
                         ({"identity": "spiffe://td/../x", "ttlSeconds": 60}, "path segments may not be '.' or '..'"),
                         ({"identity": "web.shop.serviceaccount.identity.linkerd.cluster.local", "ttlSeconds": 0}, "lifetime"),
                         ({"identity": "web.shop.serviceaccount.identity.linkerd.cluster.local", "ttlSeconds": 86401}, "lifetime")]:
        status, body = token(bad)
        assert status == 400 and message in json.loads(body)["message"], (bad, body)

    # A controller without trust material mints nothing.
    from conftest import Controller
    plain = Controller()
    try:
        status, body = api_request(plain.socket, "POST", "/v1/tokens", b'{"identity":"a.b","ttlSeconds":60}')
        assert status == 404 and "mints no tokens" in json.loads(body)["message"]
        status, body = api_request(plain.socket, "GET", "/v1/mesh")
        assert status == 200 and "identity" not in json.loads(body)  # absent: no identity service
    finally:
        plain.stop()


def test_viz_and_check_survive_hostile_admin_endpoints(mesh, tmp_path):
    """Proxies' admin ports that answer garbage, far too much, or nothing: each is reported and
    the commands still finish in their time."""
    import socket
    mesh.up()

    class Hostile(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ready":
                body = b"ready\n"
            elif self.server.mode == "garbage":
                body = b"<html>this is not {prometheus} text\n"
            else:
                body = b"x 1\n" * (5 << 20)  # 20 MiB
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    servers = []
    for ip, mode in [("127.90.0.1", "garbage"), ("127.90.0.2", "huge")]:
        server = http.server.ThreadingHTTPServer((ip, 4191), Hostile)
        server.mode = mode
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    silent = socket.socket()
    silent.bind(("127.90.0.3", 4191))
    silent.listen(16)  # accepts (in the kernel) and never answers
    manifest = tmp_path / "hostile.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: hostile}\n" + "".join(f"""---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {name}, namespace: hostile, labels: {{app: h}}, annotations: {{workload.weft.io/health-check: "none"}}}}
spec:
  meshTLS: {{identity: "h.hostile.serviceaccount.identity.linkerd.cluster.local", serverName: "h.hostile.serviceaccount.identity.linkerd.cluster.local"}}
  workloadIPs: [{{ip: {ip}}}]
  ports: [{{port: 8080, name: http}}]
""" for name, ip in [("garbage", "127.90.0.1"), ("huge", "127.90.0.2"), ("silent", "127.90.0.3")]))
    try:
        output, status = mesh.finished("apply", "-f", str(manifest))
        assert status == 0, output
        started = time.monotonic()
        output, status = mesh.finished("viz", "stat", "-n", "hostile", "-t", "1", "-o", "json")
        assert status == 0, output
        assert time.monotonic() - started < 15
        assert "warning: hostile/garbage: line 1 is not a sample" in output
        assert "warning: hostile/huge:" in output and "larger than 16777216 bytes" in output
        assert "warning: hostile/silent:" in output and "no answer within 2s" in output
        rows, _ = json.JSONDecoder().raw_decode(output[output.index("["):])  # the warnings follow it
        assert {row["name"]: row["meshed"] for row in rows} == {"garbage": 0, "huge": 0, "silent": 0}

        output, status = mesh.finished("check", timeout=60)
        assert status == 1
        assert "× hostile/silent: the proxy is ready" in output
        assert "× hostile/garbage: presents a certificate" in output  # nothing speaks TLS there
        output, status = mesh.finished("viz", "edges", "-n", "hostile")
        assert status == 0 and "No edges found." in output
    finally:
        for server in servers:
            server.shutdown()
        silent.close()
