"""Mesh expansion across a network: a controller host and VM hosts, each a network namespace of
the topology kit, joined as the README tells a user (`weft up` on the controller host, `weft run
--capture --controller` on each VM). What crosses the bridge is recorded and read back: every
mesh hop and the control plane's gRPC services are TLS from the first byte (issue: mesh
expansion)."""
import os
import pathlib
import subprocess
import time

import pexpect
import pytest

from conftest import weft_binary
from test_mesh_cli import APP
from topology import Topology, is_tls, needs_root, tcp_streams

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason=needs_root)

WEFT = str(weft_binary("weft"))
IDENTITY, DESTINATION, ADMIN, API = 8080, 8086, 9990, 8085
UNKNOWN = 7070  # a plain server on the controller host that is not in the mesh


def up(ctl, home, host=None):
    """`weft up` on the controller host, every service on `host` (its IPv4 address by default;
    `[::]` serves both families)."""
    host = host or ctl.ipv4
    result = ctl.run(WEFT, "up", "--home", str(home), "--identity-addr", f"{host}:{IDENTITY}",
                     "--destination-addr", f"{host}:{DESTINATION}", "--policy-addr", f"{host}:{DESTINATION}",
                     "--admin-addr", f"{host}:{ADMIN}", "--api-addr", f"{host}:{API}", check=False, timeout=90,
                     env={**os.environ, "WEFT_HOME": ""})
    assert result.returncode == 0 and "the mesh is up" in result.stdout + result.stderr, result.stdout + result.stderr


def weft_on(host, home, *args, check=True):
    """`weft ARGS --home HOME` on a host of the test network."""
    return host.run(WEFT, *args, "--home", str(home), check=check, timeout=60, env={**os.environ, "WEFT_HOME": ""})


def join_token(ctl, home, *args):
    """`weft token create --join -n shop ARGS` on the controller host: (token, id, ca-cert-hash)."""
    printed = weft_on(ctl, home, "token", "create", "--join", "-n", "shop", *args).stdout
    field = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in printed.splitlines() if ":" in line}
    return field["join token"], field["id"].split()[0], field["ca-cert-hash"]


def join(vm, ctl, home, service, controller=None, token=None):
    """`weft run --capture` of the test app on a VM host (with each of its addresses), joined to
    the controller host with a join token, as the README says."""
    token = token or join_token(ctl, home.parent / "ctl")
    addresses = [argument for ip in (vm.ipv4, vm.ipv6) if ip for argument in ("--ip", ip)]
    child = pexpect.spawn("ip", ["netns", "exec", vm.namespace, WEFT, "run", "--capture", *addresses,
                                 "--controller", controller or f"{ctl.ipv4}:{API}", "--join-token", token[0], "--ca-cert-hash", token[2],
                                 "--home", str(home), "--name", vm.name, "--service", service,
                                 "-n", "shop", "--port", "8080", "--", "python3", "-c", APP],
                          encoding="utf-8", timeout=90, env={**os.environ, "APP_HOST": "::" if vm.ipv6 else "0.0.0.0", "WEFT_HOME": ""})
    child.expect(f"shop/{vm.name} is in the mesh as {service}.shop.serviceaccount.identity.linkerd.cluster.local")
    child.expect("app listening")
    return child


def identity(service):
    return f"{service}.shop.serviceaccount.identity.linkerd.cluster.local"


def metrics(host):
    """A joined VM's proxy metrics: its admin port speaks TLS (with the workload's certificate)."""
    return urllib_in(host, f"https://{host.url_host()}:4191/metrics")


def urllib_in(host, url):
    """GET `url` from inside `host` (the test process is not in its namespace)."""
    return host.run("curl", "-s", "-k", "-g", "--max-time", "5", url).stdout


def lines(text, *parts):
    return [line for line in text.splitlines() if all(part in line for part in parts) and not line.startswith("#")]


def test_vms_join_a_controller_host_and_every_hop_is_mutual_tls(tmp_path):
    with Topology({"ctl": "v4", "vm1": "v4", "vm2": "v4"}) as net:
        ctl, vm1, vm2 = net["ctl"], net["vm1"], net["vm2"]
        pcap = tmp_path / "bridge.pcap"
        with net.capture(pcap):
            up(ctl, tmp_path / "ctl")
            outside = ctl.popen("python3", "-m", "http.server", str(UNKNOWN), "--bind", ctl.ipv4,
                                stdout=open(tmp_path / "outside.log", "w"), stderr=open(tmp_path / "outside.err", "w"))
            vm1_token = join_token(ctl, tmp_path / "ctl")
            apps = [join(vm1, ctl, tmp_path / "vm1", "svc1", token=vm1_token), join(vm2, ctl, tmp_path / "vm2", "svc2")]
            # `weft check` on a VM: the controller, the clocks, and its own registration.
            pin = join_token(ctl, tmp_path / "ctl")[2]
            checked = weft_on(vm1, tmp_path / "vm1", "check", "--controller", f"{ctl.ipv4}:{API}", "--ca-cert-hash", pin, check=False).stdout
            assert "√ the controller answers over TLS 1.3" in checked and "√ this host's clock is within 20 s" in checked, checked
            assert "√ shop/vm1: registered with the controller and Ready" in checked, checked

            # By IP: the captured connection to vm2's address is discovered as vm2 and goes over mTLS.
            by_ip = vm1.run("curl", "-s", "--max-time", "10", f"http://{vm2.ipv4}:8080/by-ip")
            assert by_ip.stdout == "shop/vm2 /by-ip\n", by_ip
            inbound = metrics(vm2)
            assert lines(inbound, 'direction="inbound"', 'tls="true"', f'client_id="{identity("svc1")}"'), inbound
            outbound = metrics(vm1)
            assert lines(outbound, 'direction="outbound"', 'tls="true"', f'server_id="{identity("svc2")}"'), outbound
            # By name, from each side.
            by_name = vm1.run("curl", "-s", "--max-time", "10", "-H", "Host: svc2.shop.svc.cluster.local:8080", "http://127.0.0.1:4140/by-name")
            assert by_name.stdout == "shop/vm2 /by-name\n", by_name
            back = vm2.run("curl", "-s", "--max-time", "10", "-H", "Host: svc1.shop.svc.cluster.local:8080", "http://127.0.0.1:4140/back")
            assert back.stdout == "shop/vm1 /back\n", back
            # An address nobody in the mesh has is forwarded as it is, and labelled so.
            fetched = vm1.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", f"http://{ctl.ipv4}:{UNKNOWN}/")
            assert fetched.stdout == "200", fetched
            opened = [line for line in lines(metrics(vm1), "tcp_open_total", 'peer="dst"', f'target_addr="{ctl.ipv4}:{UNKNOWN}"')
                      if not line.endswith(" 0")]
            assert opened and all('tls="no_identity",no_tls_reason="not_provided_by_service_discovery"' in line for line in opened), opened
            for app in apps:
                app.sendcontrol("c")
                app.expect(pexpect.EOF, timeout=30)
            outside.kill()
            # vm1's token revoked: it cannot join again (and nothing is registered).
            weft_on(ctl, tmp_path / "ctl", "token", "revoke", vm1_token[1])
            again = vm1.run(WEFT, "run", "--capture", "--ip", vm1.ipv4, "--controller", f"{ctl.ipv4}:{API}", "--join-token", vm1_token[0],
                            "--ca-cert-hash", vm1_token[2], "--home", str(tmp_path / "vm1"), "--name", "vm1", "--service", "svc1",
                            "-n", "shop", "--port", "8080", "--", "true", check=False, timeout=60)
            assert again.returncode != 0 and "was revoked" in again.stderr, again.stderr
            assert "vm1" not in weft_on(ctl, tmp_path / "ctl", "get", "ew", "-n", "shop").stdout

        streams = tcp_streams(pcap)
        # Plaintext: only the server that is not in the mesh. The management API (the join) and
        # the joined proxies' admin ports (the controller's readiness probes) are TLS too.
        plaintext_ports = {UNKNOWN}
        checked = {flow: data for flow, data in streams.items() if not ({flow[1], flow[3]} & plaintext_ports)}
        not_tls = {flow: data[:60] for flow, data in checked.items() if not is_tls(data)}
        assert not not_tls, not_tls
        # The check saw what it is about: the identity, destination and policy services, and the
        # VMs' mesh traffic (to the app port, redirected to the proxy, and back) — all TLS.
        seen_ports = {flow[3] for flow in checked} | {flow[1] for flow in checked}
        assert {API, IDENTITY, DESTINATION, 8080, 4191} <= seen_ports, seen_ports
        for data in checked.values():
            assert b"HTTP/1.1" not in data and b"shop/vm" not in data
        # ...while the plaintext it exempts really is plaintext (the capture reads payloads).
        assert any(b"HTTP/1" in data for flow, data in streams.items() if UNKNOWN in (flow[1], flow[3]))


def test_an_ipv4_vm_an_ipv6_only_vm_and_a_dual_stack_vm_talk_over_mutual_tls(tmp_path):
    """1 controller host and 3 VMs: each pair with an address family in common reaches the
    other by name and by address over mutual TLS (an IPv4-only and an IPv6-only host share none)."""
    with Topology({"ctl": "dual", "vm1": "v4", "vm2": "v6", "vm3": "dual"}) as net:
        ctl, vm1, vm2, vm3 = net["ctl"], net["vm1"], net["vm2"], net["vm3"]
        pcap = tmp_path / "bridge.pcap"
        with net.capture(pcap):
            # The controller serves both families on [::]; the IPv6-only VM joins over IPv6.
            up(ctl, tmp_path / "ctl", host="[::]")
            apps = [join(vm1, ctl, tmp_path / "vm1", "svc1"),
                    join(vm2, ctl, tmp_path / "vm2", "svc2", controller=f"[{ctl.ipv6}]:{API}"),
                    join(vm3, ctl, tmp_path / "vm3", "svc3")]
            registered = weft_on(ctl, tmp_path / "ctl", "get", "ew", "vm3", "-n", "shop", "-o", "json").stdout
            assert vm3.ipv4 in registered and vm3.ipv6 in registered  # both addresses

            def by_name(client, service, path):
                return client.run("curl", "-s", "--max-time", "10", "-H", f"Host: {service}.shop.svc.cluster.local:8080",
                                  f"http://127.0.0.1:4140{path}").stdout

            def by_address(client, address, path):
                host = f"[{address}]" if ":" in address else address
                return client.run("curl", "-s", "-g", "--max-time", "10", f"http://{host}:8080{path}").stdout

            # The dual-stack VM is an IPv6 endpoint for the IPv6-only VM, an IPv4 one for the IPv4 VM.
            for client, server, service, address in ((vm2, vm3, "svc3", vm3.ipv6), (vm3, vm2, "svc2", vm2.ipv6),
                                                     (vm1, vm3, "svc3", vm3.ipv4), (vm3, vm1, "svc1", vm1.ipv4)):
                assert by_name(client, service, "/name") == f"shop/{server.name} /name\n", (client.name, service)
                assert by_address(client, address, "/ip") == f"shop/{server.name} /ip\n", (client.name, address)
            # Both sides of every hop: the server's proxy saw the client's identity, the client's
            # proxy verified the server's.
            peers = {vm1: ("svc1", ["svc3"]), vm2: ("svc2", ["svc3"]), vm3: ("svc3", ["svc1", "svc2"])}
            for host, (own, others) in peers.items():
                seen = metrics(host)
                for other in others:
                    assert lines(seen, 'direction="inbound"', 'tls="true"', f'client_id="{identity(other)}"'), (host.name, other)
                    assert lines(seen, 'direction="outbound"', 'tls="true"', f'server_id="{identity(other)}"'), (host.name, other)
            for app in apps:
                app.sendcontrol("c")
                app.expect(pexpect.EOF, timeout=30)
        streams = tcp_streams(pcap)
        checked = streams
        assert not {flow: data[:60] for flow, data in checked.items() if not is_tls(data)}
        # The IPv6-only VM's control plane and mesh traffic crossed over IPv6, the IPv4 VM's over IPv4; all TLS.
        assert any(flow[0] == vm2.ipv6 and flow[3] in (API, IDENTITY, DESTINATION) for flow in checked), sorted(checked)
        assert any(flow[0] == vm2.ipv6 and flow[2] == vm3.ipv6 and flow[3] == 8080 for flow in checked), sorted(checked)
        assert any(flow[0] == vm1.ipv4 and flow[2] == vm3.ipv4 and flow[3] == 8080 for flow in checked), sorted(checked)


def proxy_pids(host):
    """The weft-proxy processes in the host's network namespace."""
    pids = []
    for pid in subprocess.run(["ip", "netns", "pids", host.namespace], capture_output=True, text=True).stdout.split():
        try:
            if pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == "weft-proxy":
                pids.append(int(pid))
        except OSError:
            continue
    return sorted(pids)


def watches(ctl, api="destination_get"):
    text = urllib_in(ctl, f"http://{ctl.ipv4}:{ADMIN}/metrics")
    found = lines(text, "weft_controller_watches", f'api="{api}"')
    return int(float(found[0].split()[-1])) if found else 0


def test_requests_between_vms_survive_the_controller_host_unplugged_restarted_and_links_flapping(tmp_path):
    with Topology({"ctl": "v4", "vm1": "v4", "vm2": "v4"}) as net:
        ctl, vm1, vm2 = net["ctl"], net["vm1"], net["vm2"]
        up(ctl, tmp_path / "ctl")
        apps = [join(vm1, ctl, tmp_path / "vm1", "svc1"), join(vm2, ctl, tmp_path / "vm2", "svc2")]
        proxies = {vm.name: proxy_pids(vm) for vm in (vm1, vm2)}
        assert all(len(pids) == 1 for pids in proxies.values()), proxies

        # 200 requests a second from vm1 to svc2 while the controller host is off the network
        # for 30 s: the proxies keep serving what they last learned.
        load = vm1.popen("python3", "-c", LOAD, "200", "35", "svc2.shop.svc.cluster.local:8080", stdout=open(tmp_path / "load.out", "w"))
        time.sleep(2)
        ctl.unplug()
        time.sleep(30)
        ctl.plug()
        assert load.wait(timeout=30) == 0
        sent, failed = map(int, (tmp_path / "load.out").read_text().split())
        assert sent >= 200 * 35 * 0.9 and failed == 0, (sent, failed)

        # The controller restarted: each proxy's watch of its port's policy is back within 2 s of
        # the controller's return.
        # (The proxies' pings found their connections dead while unplugged and made new ones; the
        # controller drops the old ones once its own pings go unanswered.)
        assert watches(ctl, "inbound_watch_port") >= 2
        ctl.run(WEFT, "down", "--home", str(tmp_path / "ctl"), env={**os.environ, "WEFT_HOME": ""}, timeout=60)
        up(ctl, tmp_path / "ctl")
        returned = time.monotonic()
        while watches(ctl, "inbound_watch_port") < 2 and time.monotonic() - returned < 10:
            time.sleep(0.05)
        reconnected = time.monotonic() - returned
        assert watches(ctl, "inbound_watch_port") == 2, "the proxies did not reconnect"
        assert reconnected <= 2.0, reconnected

        # vm1's link flapped 5 times: its requests resume each time, and no process restarted.
        for _ in range(5):
            vm1.unplug()
            time.sleep(1)
            vm1.plug()
            deadline = time.monotonic() + 10
            while True:
                result = vm1.run("curl", "-s", "--max-time", "3", "-H", "Host: svc2.shop.svc.cluster.local:8080", "http://127.0.0.1:4140/flap",
                                 check=False)
                if result.stdout == "shop/vm2 /flap\n" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert result.stdout == "shop/vm2 /flap\n", result
        assert {vm.name: proxy_pids(vm) for vm in (vm1, vm2)} == proxies
        # A service vm2 had not used is found after all that (its streams are live).
        again = vm2.run("curl", "-s", "--max-time", "10", "-H", "Host: svc1.shop.svc.cluster.local:8080", "http://127.0.0.1:4140/again")
        assert again.stdout == "shop/vm1 /again\n", again
        for app in apps:
            app.sendcontrol("c")
            app.expect(pexpect.EOF, timeout=30)


# Requests at a steady rate through the proxy's outbound listener, each on a kept-alive
# connection; prints how many were sent and how many failed.
LOAD = """
import http.client, sys, time
rate, seconds, authority = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sent = failed = 0
connection = None
start = time.monotonic()
while time.monotonic() - start < seconds:
    due = start + sent / rate
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    sent += 1
    try:
        connection = connection or http.client.HTTPConnection("127.0.0.1", 4140, timeout=10)
        connection.request("GET", "/load", headers={"Host": authority})
        response = connection.getresponse()
        response.read()
        failed += response.status != 200
    except Exception:
        failed += 1
        connection = None
print(sent, failed)
"""


def test_the_topology_kit_routes_between_two_subnets_and_unplugs_a_host():
    """The kit itself: hosts in two subnets reach each other through the bridge namespace's
    routes, over IPv4 and IPv6; an unplugged host is unreachable until plugged again."""
    with Topology({"a": "dual", "b": "dual"}, subnets=2) as net:
        a, b = net["a"], net["b"]
        assert a.ipv4.split(".")[2] != b.ipv4.split(".")[2]  # different subnets
        server = b.popen("python3", "-m", "http.server", "8000", "--bind", "::", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while b.run("ss", "-ltn", check=False).stdout.count(":8000") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        for url in (f"http://{b.ipv4}:8000/", f"http://[{b.ipv6}]:8000/"):
            assert a.run("curl", "-s", "-g", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url).stdout == "200", url
        b.unplug()
        assert a.run("curl", "-s", "-o", "/dev/null", "--max-time", "2", f"http://{b.ipv4}:8000/", check=False).returncode != 0
        b.plug()
        assert a.run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", f"http://{b.ipv4}:8000/").stdout == "200"
        server.kill()
