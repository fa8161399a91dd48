"""`weft apply/get/delete` against a real weft-controller, the management API's limits, and the
store's crash safety (a controller killed in a burst of applies; a full filesystem)."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading

import pytest
import yaml

from conftest import Controller, weft_binary
from mesh import SERVICE

WORKLOAD = """---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {name}, namespace: shop, labels: {{app: web}}, annotations: {{workload.weft.io/health-check: "none"}}}}
spec:
  meshTLS: {{identity: "web.shop.serviceaccount.identity.linkerd.cluster.local", serverName: "web.shop.serviceaccount.identity.linkerd.cluster.local"}}
  workloadIPs: [{{ip: 10.1.0.{n}}}]
  ports: [{{port: 8080, name: http}}]
"""


@pytest.fixture
def controller():
    running = Controller()
    yield running
    running.stop()


def raw_request(sock_path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_apply_get_delete_like_kubectl(controller, tmp_path):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(SERVICE + WORKLOAD.format(name="web-1", n=1))
    assert controller.weft("apply", "-f", str(manifest)).stdout.splitlines() == [
        "service/web (namespace shop) created", "externalworkload/web-1 (namespace shop) created"]
    assert controller.weft("apply", "-f", str(manifest)).stdout.splitlines() == [
        "service/web (namespace shop) unchanged", "externalworkload/web-1 (namespace shop) unchanged"]

    table = controller.weft("get", "svc", "-n", "shop").stdout.splitlines()
    assert table[0].split() == ["NAME", "PORT(S)", "AGE"] and table[1].split()[:2] == ["web", "80/TCP"]
    wide = controller.weft("get", "externalworkloads", "-n", "shop", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "IP", "READY", "IDENTITY", "AGE"] and wide[1].split()[:3] == ["web-1", "10.1.0.1", "Unknown"]
    everywhere = controller.weft("get", "ew", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"] and everywhere[1].split()[:2] == ["shop", "web-1"]
    assert controller.weft("get", "svc").stdout == "No resources found.\n"

    # -o yaml is what apply takes back, with the fields the store keeps.
    printed = controller.weft("get", "service", "web", "-n", "shop", "-o", "yaml").stdout
    document = yaml.safe_load(printed)
    meta = document["metadata"]
    assert meta["resourceVersion"] == "1" and meta["generation"] == 1 and len(meta["uid"]) == 36 and meta["creationTimestamp"]
    assert controller.weft("apply", "-f", "-", input=printed).stdout.strip() == "service/web (namespace shop) unchanged"
    single = json.loads(controller.weft("get", "service", "web", "-n", "shop", "-o", "json").stdout)
    assert single["kind"] == "Service" and single["spec"]["ports"][0]["port"] == 80

    # Optimistic concurrency: a change based on a stale resourceVersion is refused.
    changed = printed.replace("port: 80", "port: 81")
    assert "configured" in controller.weft("apply", "-f", "-", input=changed).stdout
    stale = controller.weft("apply", "-f", "-", input=printed.replace("port: 80", "port: 82"), check=False)
    assert stale.returncode == 1 and "has been modified (resourceVersion 1 is not the current 3)" in stale.stderr

    # Dry runs change nothing.
    dry = controller.weft("delete", "-f", str(manifest), "--dry-run")
    assert dry.stdout.splitlines() == ["service/web (namespace shop) deleted (dry run)", "externalworkload/web-1 (namespace shop) deleted (dry run)"]
    assert "web-1" in controller.weft("get", "ew", "-n", "shop").stdout
    assert controller.weft("delete", "-f", str(manifest)).stdout.splitlines()[1] == "externalworkload/web-1 (namespace shop) deleted"
    assert controller.weft("get", "ew", "-n", "shop").stdout == "No resources found.\n"
    missing = controller.weft("delete", "svc", "web", "-n", "shop", check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: Service shop/web not found"


def test_an_invalid_apply_changes_nothing_and_says_exactly_why(controller, tmp_path):
    (tmp_path / "a.yaml").write_text(SERVICE)
    (tmp_path / "b.yaml").write_text(WORKLOAD.format(name="web-1", n=1) + """---
apiVersion: v1
kind: Service
metadata: {name: bad, namespace: shop}
spec:
  ports: [{port: 70000}]
""")
    result = controller.weft("apply", "-f", str(tmp_path), check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'b.yaml'}: document 2 (Service shop/bad): spec.ports[0].port: port 70000 is outside 1-65535"
    assert controller.weft("get", "svc", "-A").stdout == "No resources found.\n"
    dry = controller.weft("apply", "-f", str(tmp_path / "a.yaml"), "--dry-run")
    assert dry.stdout.strip() == "service/web (namespace shop) created (dry run)"
    assert controller.weft("get", "svc", "-A").stdout == "No resources found.\n"
    unknown = controller.weft("get", "widgets", check=False)
    assert unknown.returncode == 1 and unknown.stderr.startswith('error: unknown kind "widgets"')


def test_the_api_socket_is_private_and_bad_requests_get_clear_answers(controller):
    mode = stat.S_IMODE(os.stat(controller.socket).st_mode)
    assert mode == 0o600
    answer = raw_request(controller.socket, b"POST /v1/apply HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    assert answer.startswith(b"HTTP/1.1 400") and b"the body must be" in answer
    answer = raw_request(controller.socket, b"POST /v1/apply HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")
    answer = raw_request(controller.socket, b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404")
    answer = raw_request(controller.socket, b"\x16\x03\x01 garbage\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") or answer == b""
    # A YAML bomb is refused by the resource model's limits, not expanded.
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\n"
    body = json.dumps({"sources": [{"name": "bomb.yaml", "text": bomb}]}).encode()
    answer = raw_request(controller.socket, b"POST /v1/apply HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 422") and b"anchors" in answer
    # Still serving.
    assert controller.weft("get", "svc").returncode == 0


def test_without_a_controller_the_cli_says_so(tmp_path):
    result = subprocess.run([str(weft_binary("weft")), "get", "svc", "--socket", str(tmp_path / "none.sock")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "cannot reach the controller at" in result.stderr and "is it running?" in result.stderr


def test_every_acknowledged_apply_survives_a_kill_in_the_middle_of_a_burst(controller):
    acknowledged = {}
    stop = threading.Event()

    def writer(worker):
        n = 0
        while not stop.is_set():
            name = f"w{worker}-{n}"
            result = subprocess.run([str(weft_binary("weft")), "apply", "-f", "-", "--socket", controller.socket],
                                    input=WORKLOAD.format(name=name, n=(n % 250) + 1), capture_output=True, text=True, timeout=30)
            if result.returncode == 0 and "created" in result.stdout:
                acknowledged[name] = (n % 250) + 1
            elif result.returncode != 0:
                return
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    import time
    time.sleep(3)
    controller.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) > 20, "too few applies before the kill to mean anything"
    leftovers = [p for p in controller.data.rglob("*") if ".tmp" in p.name]
    controller.start()
    listed = json.loads(controller.weft("get", "ew", "-n", "shop", "-o", "json").stdout)["items"]
    stored = {item["metadata"]["name"]: item for item in listed}
    missing = [name for name in acknowledged if name not in stored]
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    for name, n in acknowledged.items():
        assert stored[name]["spec"]["workloadIPs"] == [{"ip": f"10.1.0.{n}"}]
    versions = sorted(int(item["metadata"]["resourceVersion"]) for item in listed)
    assert len(set(versions)) == len(versions)
    # Whatever a commit had staged when it was killed is gone after the restart.
    assert not [p for p in controller.data.rglob("*") if ".tmp" in p.name], leftovers


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_a_clear_error_and_corrupts_nothing(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    controller = None
    try:
        controller = Controller(None, None, workdir=tmp_path)
        controller.data = mount / "store"
        controller.stop()
        controller.start()
        created = []
        error = None
        for n in range(1, 400):
            result = controller.weft("apply", "-f", "-", input=WORKLOAD.format(name=f"web-{n}", n=(n % 250) + 1), check=False)
            if result.returncode != 0:
                error = result.stderr
                break
            created.append(n)
        assert error is not None, "the 64 KiB filesystem never filled up"
        assert "the disk holding the store is full" in error and "nothing was changed" in error
        # Reads still work, and show exactly what was acknowledged.
        listed = json.loads(controller.weft("get", "ew", "-n", "shop", "-o", "json").stdout)["items"]
        assert sorted(int(item["metadata"]["name"].split("-")[1]) for item in listed) == created
        assert controller.metrics()['weft_controller_store_write_errors_total{code="storageFull"}'] == 1
        controller.stop()
        controller.start()
        listed = json.loads(controller.weft("get", "ew", "-n", "shop", "-o", "json").stdout)["items"]
        assert sorted(int(item["metadata"]["name"].split("-")[1]) for item in listed) == created
    finally:
        if controller:
            controller.stop()
        subprocess.run(["umount", str(mount)], check=False)


ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-canary, namespace: shop}
spec:
  parentRefs: [{name: web, kind: Service, group: core, port: 80}]
  rules:
  - backendRefs: [{name: web-v2, port: 80}]
"""


def route_conditions(controller):
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        route = json.loads(controller.weft("get", "httproute", "web-canary", "-n", "shop", "-o", "json").stdout)
        parents = (route.get("status") or {}).get("parents") or []
        if parents:
            yield {c["type"]: (c["status"], c.get("reason")) for c in parents[0]["conditions"]}, parents[0]
        time.sleep(0.1)


def wait_conditions(controller, expected):
    last = None
    for conditions, parent in route_conditions(controller):
        last = conditions
        if conditions == expected:
            return parent
    raise AssertionError(f"route status never became {expected}: {last}")


def test_the_controller_writes_route_status(controller):
    controller.weft("apply", "-f", "-", input=ROUTE)
    parent = wait_conditions(controller, {"Accepted": ("False", "NoMatchingParent"), "ResolvedRefs": ("False", "BackendNotFound")})
    assert parent["controllerName"] == "linkerd.io/policy-controller" and parent["parentRef"]["name"] == "web"
    controller.weft("apply", "-f", "-", input=SERVICE)
    wait_conditions(controller, {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")})
    controller.weft("apply", "-f", "-", input=SERVICE.replace("name: web,", "name: web-v2,"))
    wait_conditions(controller, {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")})
    # Status is the controller's: applying the route again leaves it, and the generation stays.
    assert "unchanged" in controller.weft("apply", "-f", "-", input=ROUTE).stdout
    route = json.loads(controller.weft("get", "httproute", "web-canary", "-n", "shop", "-o", "json").stdout)
    assert route["metadata"]["generation"] == 1 and route["status"]["parents"]


def test_the_admin_port_serves_health_and_metrics(controller):
    import urllib.request
    for path, body in [("/live", "live\n"), ("/ready", "ready\n")]:
        with urllib.request.urlopen(f"http://127.0.0.1:{controller.admin_port}{path}", timeout=5) as response:
            assert response.status == 200 and response.read().decode() == body
    controller.weft("apply", "-f", "-", input=SERVICE)
    metrics = controller.metrics()
    assert metrics["weft_controller_store_objects"] == 1 and metrics["weft_controller_store_resource_version"] == 1
