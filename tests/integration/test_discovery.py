"""Discovery end to end: a real weft-controller with a temporary store, workloads each with a
real weft-proxy on its own loopback address, and a client proxy that reaches the service by
name through Destination.Get, balancing over the endpoints (issue: the controller)."""
import collections
import json
import signal
import time

import pytest

from conftest import Controller, start_proxy  # noqa: F401 (fixture)
from mesh import SERVICE, Load, NamedApp, Workload, client_proxy, get, wait_ready

WEB = "web.shop.svc.cluster.local:80"


@pytest.fixture
def controller():
    running = Controller(None, None, "--workload-probe-interval", "500ms")
    yield running
    running.stop()


@pytest.fixture
def workloads():
    started = []

    def start(name, **kwargs):
        workload = Workload(name, **kwargs)
        started.append(workload)
        return workload

    yield start
    for workload in started:
        workload.stop()


def names_seen(port, count=60):
    seen = collections.Counter()
    for _ in range(count):
        status, body, error = get(port)
        assert status == 200, (status, body, error)
        seen[body] += 1
    return seen


def test_requests_reach_every_endpoint_and_follow_the_store(controller, workloads, start_proxy):  # noqa: F811
    web = [workloads(f"web-{i}") for i in (1, 2, 3)]
    controller.weft("apply", "-f", "-", input=SERVICE + "".join(w.manifest() for w in web))
    wait_ready(controller, ["web-1", "web-2", "web-3"])
    proxy, ports = client_proxy(start_proxy, controller, WEB)
    port = ports[WEB]
    assert set(names_seen(port)) == {"web-1", "web-2", "web-3"}

    load = Load(port, rate=100)
    try:
        time.sleep(1)
        deleted_at = time.monotonic()
        controller.weft("delete", "externalworkload", "web-3", "-n", "shop")
        time.sleep(2)
        web4 = workloads("web-4")
        added_at = time.monotonic()
        controller.weft("apply", "-f", "-", input=web4.manifest())
        time.sleep(4)
    finally:
        results = load.stop()
    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:5]
    last_web3 = max(t for t, _, body in results if body == "web-3")
    first_web4 = min((t for t, _, body in results if body == "web-4"), default=None)
    assert last_web3 - deleted_at < 1.0, "web-3 kept getting requests after it was deleted"
    assert first_web4 is not None and first_web4 - added_at < 5.0, "web-4 never got requests"
    late = collections.Counter(body for t, _, body in results if t > added_at + 3)
    assert set(late) == {"web-1", "web-2", "web-4"}, late
    # One stream for the service, fed by the controller.
    assert controller.metrics()['weft_controller_watches{api="destination_get"}'] == 1


def test_a_dead_workload_leaves_rotation_without_failed_requests(controller, workloads, start_proxy):  # noqa: F811
    web = [workloads(f"web-{i}") for i in (1, 2, 3)]
    controller.weft("apply", "-f", "-", input=SERVICE + "".join(w.manifest() for w in web))
    wait_ready(controller, ["web-1", "web-2", "web-3"])
    proxy, ports = client_proxy(start_proxy, controller, WEB, LINKERD2_PROXY_LOG="debug")
    load = Load(ports[WEB], rate=100, threads=4)
    try:
        time.sleep(1)
        killed_at = time.monotonic()
        web[1].proxy.stop(signal.SIGKILL)
        wait_ready(controller, ["web-2"], ready=False, timeout=5)
        marked_at = time.monotonic()
        time.sleep(2)
    finally:
        results = load.stop()
    # Requests that picked the dead endpoint after it died were given to another one (its
    # connections were refused); only requests in flight on it when it died may fail, at most
    # one per client connection.
    failures = [r for r in results if r[1] != 200 and r[0] > killed_at]
    assert len(failures) <= 4, [(round(t - killed_at, 3), s, b) for t, s, b in failures]
    assert not [r for r in results if r[1] != 200 and r[0] < killed_at]
    assert marked_at - killed_at < 5.0
    after = collections.Counter(body for t, status, body in results if t > killed_at + 0.5 and status == 200)
    assert "web-2" not in after and set(after) == {"web-1", "web-3"}, after
    assert "endpoint refused the connection; trying another" in proxy.output() or len(failures) == 0


def test_an_unknown_service_fails_fast(controller, start_proxy):  # noqa: F811
    proxy, ports = client_proxy(start_proxy, controller, "nope.shop.svc.cluster.local:80")
    started = time.monotonic()
    status, _, error = get(ports["nope.shop.svc.cluster.local:80"])
    assert status == 503 and error == "service nope.shop.svc.cluster.local:80 not found"
    assert time.monotonic() - started < 1.0


def test_a_service_without_ready_endpoints_fails_after_the_fail_fast_timeout(controller, start_proxy):  # noqa: F811
    controller.weft("apply", "-f", "-", input=SERVICE)
    proxy, ports = client_proxy(start_proxy, controller, WEB, LINKERD2_PROXY_OUTBOUND_HTTP_QUEUE_FAILFAST_TIMEOUT="1s")
    started = time.monotonic()
    status, _, error = get(ports[WEB])
    assert status == 503 and error == f"service {WEB} has no endpoints"
    assert 0.9 < time.monotonic() - started < 3.0


def test_a_request_waiting_for_endpoints_goes_through_when_one_appears(controller, workloads, start_proxy):  # noqa: F811
    controller.weft("apply", "-f", "-", input=SERVICE)
    proxy, ports = client_proxy(start_proxy, controller, WEB)
    web1 = workloads("web-1")
    import threading
    outcome = {}
    waiter = threading.Thread(target=lambda: outcome.update(result=get(ports[WEB], timeout=10)))
    waiter.start()
    time.sleep(0.3)
    controller.weft("apply", "-f", "-", input=web1.manifest())
    waiter.join(timeout=10)
    assert outcome["result"][:2] == (200, "web-1")


def test_the_controller_down_for_30s_under_200_rps(controller, workloads, start_proxy, tmp_path):  # noqa: F811
    # web-3's readiness is what a health endpoint of the test says, so that it can turn unready
    # while the controller is away.
    health = NamedApp("health")
    web = [workloads("web-1"), workloads("web-2"),
           workloads("web-3", annotations={"workload.weft.io/admin-port": str(health.port)})]
    # The probe goes to web-3's IP: serve the health endpoint there too.
    health.close()
    health = NamedApp("health", host=web[2].ip, port=health.port)
    controller.weft("apply", "-f", "-", input=SERVICE + "".join(w.manifest() for w in web))
    wait_ready(controller, ["web-1", "web-2", "web-3"])
    proxy, ports = client_proxy(start_proxy, controller, WEB, LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MAX="500ms")
    load = Load(ports[WEB], rate=200, threads=8)
    try:
        time.sleep(2)
        controller.stop(signal.SIGKILL)
        down_at = time.monotonic()
        time.sleep(15)
        health.healthy = False  # web-3 would now be taken out, but nobody is there to notice
        time.sleep(15)
        controller.start()
        restarted_at = time.monotonic()
        time.sleep(5)
    finally:
        results = load.stop()
        health.close()
    during = [r for r in results if down_at <= r[0] < restarted_at]
    assert len(during) > 200 * 30 * 0.9, f"only {len(during)} requests while the controller was down"
    assert all(r[1] == 200 for r in during), [r for r in during if r[1] != 200][:5]
    assert {body for _, _, body in during} == {"web-1", "web-2", "web-3"}
    assert all(r[1] == 200 for r in results), [r for r in results if r[1] != 200][:5]
    # After the restart the proxy reconnects within its 500 ms backoff, adopts the store's state,
    # and web-3 (now unready: two failed 500 ms probes) is removed: no request reaches it later
    # than 2 s after the reconnect.
    last_web3 = max(t for t, _, body in results if body == "web-3")
    assert last_web3 - restarted_at < 0.5 + 2.0, f"web-3 still used {last_web3 - restarted_at:.2f}s after the restart"
    assert "destination stream failed; keeping the last endpoints" in proxy.output()


def test_a_service_profile_traffic_split_is_followed_without_restart(controller, workloads, start_proxy):  # noqa: F811
    web = [workloads("web-1"), workloads("web-2")]
    canary = workloads("canary-1", labels={"app": "web-canary"})
    canary_service = SERVICE.replace("name: web,", "name: web-canary,").replace("app: web}", "app: web-canary}")
    controller.weft("apply", "-f", "-", input=SERVICE + "---\n" + canary_service + "".join(w.manifest() for w in web + [canary]))
    wait_ready(controller, ["web-1", "web-2", "canary-1"])
    proxy, ports = client_proxy(start_proxy, controller, WEB)
    port = ports[WEB]
    # (With two endpoints and one request at a time, P2C over Peak-EWMA may keep choosing the
    # faster one for a while: the split is checked by which services answer.)
    assert set(names_seen(port, 30)) <= {"web-1", "web-2"}

    def profile(*overrides):
        split = "".join(f'\n  - {{authority: "{authority}", weight: {weight}}}' for authority, weight in overrides)
        return f"""apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {{name: web.shop.svc.cluster.local, namespace: shop}}
spec:
  dstOverrides:{split}
"""

    def settle(expected, timeout=5.0):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = names_seen(port, 20)
            if set(seen) <= expected and (set(seen) & expected):
                if "canary-1" not in expected or "canary-1" in seen:
                    return names_seen(port, 200)
            time.sleep(0.1)
        raise AssertionError(f"the split never became {expected}: {seen}")

    controller.weft("apply", "-f", "-", input=profile(("web-canary.shop.svc.cluster.local:80", "1")))
    assert set(settle({"canary-1"})) == {"canary-1"}
    controller.weft("apply", "-f", "-", input=profile(("web-canary.shop.svc.cluster.local:80", "250m"),
                                                     ("web.shop.svc.cluster.local:80", "750m")))
    seen = settle({"canary-1", "web-1", "web-2"})
    assert 20 <= seen["canary-1"] <= 90 and set(seen) <= {"canary-1", "web-1", "web-2"}, seen  # 25 % of 200, with room for chance
    controller.weft("delete", "sp", "web.shop.svc.cluster.local", "-n", "shop")
    assert set(settle({"web-1", "web-2"})) <= {"web-1", "web-2"}


def inbound_requests(workload):
    return sum(value for series, value in workload.proxy.metrics().items()
               if series.startswith("request_total{") and 'direction="inbound"' in series)


def test_inbound_ports_follow_watch_port(controller, workloads, start_proxy):  # noqa: F811
    web1 = workloads("web-1", extra_env={
        "LINKERD2_PROXY_POLICY_SVC_ADDR": controller.grpc_address,
        "LINKERD2_PROXY_POLICY_WORKLOAD": '{"ns":"shop", "external_workload":"web-1"}\n', "LINKERD2_PROXY_LOG": "debug"})
    controller.weft("apply", "-f", "-", input=SERVICE + web1.manifest())
    wait_ready(controller, ["web-1"])
    proxy, ports = client_proxy(start_proxy, controller, WEB)
    assert names_seen(ports[WEB], 5) == {"web-1": 5}
    assert inbound_requests(web1) == 5  # detected as HTTP on web-1's inbound port

    # (A Server authorizes no one unless told: this one admits every client, as before it.)
    server = """apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-tcp, namespace: shop}
spec:
  externalWorkloadSelector: {matchLabels: {app: web}}
  port: http
  proxyProtocol: opaque
  accessPolicy: all-unauthenticated
"""
    controller.weft("apply", "-f", "-", input=server)
    deadline = time.monotonic() + 5
    while "protocol=opaque" not in web1.proxy.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "protocol=opaque" in web1.proxy.output()
    time.sleep(3.5)  # the client proxy's pooled connections, opened while the port detected, close
    before = inbound_requests(web1)
    assert names_seen(ports[WEB], 5) == {"web-1": 5}
    assert inbound_requests(web1) == before, "an opaque port's traffic was still parsed as HTTP"
    # A policy applies to new connections: once the Server is gone and the client proxy's pooled
    # connections (3 s idle timeout) are closed, requests are detected as HTTP again.
    controller.weft("delete", "server", "web-tcp", "-n", "shop")
    deadline = time.monotonic() + 5
    while web1.proxy.output().count("protocol=detect") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(3.5)
    assert names_seen(ports[WEB], 5) == {"web-1": 5}
    assert inbound_requests(web1) == before + 5, "detection did not come back when the Server went"
