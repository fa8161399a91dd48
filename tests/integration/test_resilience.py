"""Retries, timeouts and circuit breaking end to end (issue 14): Linkerd 2.16's `retry.linkerd.io/*` and
`timeout.linkerd.io/*` annotations applied with the weft CLI to a real weft-controller, a client
weft-proxy enforcing them, and an app behind its own weft-proxy (mutual TLS between the proxies)
that fails, stalls or answers on command. What the app saw is what it counted; what the client
got is what curl, http.client and grpcio got."""
import http.client
import json
import subprocess
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import free_port, start_proxy  # noqa: F401 (fixture)
from mesh import ServedApp, wait_ready
from test_controller_api import stubs  # noqa: F401 (fixture)
from test_http2 import echo_stubs  # noqa: F401 (fixture)
from test_identity import trust_dir  # noqa: F401 (fixture)
from test_routes import ballot_stubs, eventually, mesh, series_total  # noqa: F401 (fixtures)

WEB = "web.shop.svc.cluster.local:80"
ROUTE = dict(parent_name="web", parent_namespace="shop", route_kind="HTTPRoute", route_namespace="shop")


class ScriptedApp(ServedApp):
    """An HTTP/1.1 app whose answer depends on the path:
    `/flaky/N` fails with 503 the first time it sees N when N % 10 is 0, 3 or 6 (30 %), then 200;
    `/broken/…` is always 503; `/slow/…` answers after 2 s; `/stall-once/N` stalls 1.5 s the first
    time it sees N; anything else is 200. It counts every request per path and the body bytes."""

    def __init__(self):
        app = self
        self.lock = threading.Lock()
        self.seen = {}
        self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == "/ready":
                    return self.reply(200)
                with app.lock:
                    count = app.seen.get(self.path, 0) + 1
                    app.seen[self.path] = count
                    if length:
                        app.bodies.append(len(body))
                parts = self.path.split("/")
                kind = parts[1] if len(parts) > 1 else ""
                if kind == "flaky" and count == 1 and int(parts[2]) % 10 in (0, 3, 6):
                    return self.reply(503)
                if kind == "broken":
                    return self.reply(503)
                if kind == "slow" or (kind == "stall-once" and count == 1):
                    time.sleep(2.0 if kind == "slow" else 1.5)
                self.reply(200)

            def reply(self, status):
                payload = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the proxy gave up on this attempt

            do_GET = do_POST = do_PUT = do_DELETE = answer

        self.serve(Handler)

    def count(self, prefix):
        with self.lock:
            return sum(n for path, n in self.seen.items() if path.startswith(prefix))


def apply(controller, kind, name, annotations, spec="", api="gateway.networking.k8s.io/v1"):
    """Applies a route (or, with kind Service, the web Service) carrying `annotations`."""
    notes = "".join(f'    {key}: "{value}"\n' for key, value in annotations.items())
    return controller.weft("apply", "-f", "-", input=f"""apiVersion: {api}
kind: {kind}
metadata:
  name: {name}
  namespace: shop
  annotations:
{notes}spec:
{spec}""")


def web_routes(controller):
    """The web Service's routes: flaky and broken paths retried, slow paths timed out."""
    parent = "  parentRefs: [{name: web, kind: Service, group: core, port: 80}]\n"
    apply(controller, "HTTPRoute", "flaky", {"retry.linkerd.io/http": "5xx", "retry.linkerd.io/limit": "3"},
          parent + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /flaky}}]\n")
    apply(controller, "HTTPRoute", "broken", {"retry.linkerd.io/http": "gateway-error", "retry.linkerd.io/limit": "2"},
          parent + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /broken}}]\n")
    apply(controller, "HTTPRoute", "slow", {"timeout.linkerd.io/request": "300ms"},
          parent + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /slow}}]\n")
    apply(controller, "HTTPRoute", "stall-once", {"retry.linkerd.io/timeout": "300ms", "retry.linkerd.io/http": "5xx"},
          parent + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /stall-once}}]\n")
    apply(controller, "HTTPRoute", "rest", {}, parent + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /}}]\n")


def request(port, method, path, body=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("l5d-proxy-error")
    finally:
        connection.close()


@pytest.fixture
def scripted(mesh):
    controller, add, client = mesh
    app = ScriptedApp()
    add("web", "web-1", app_port=app.port)
    wait_ready(controller, ["web-1"])
    web_routes(controller)
    port = client(WEB)[WEB]
    eventually(lambda: _expect(request(port, "GET", "/slow/probe")[0] == 504, request(port, "GET", "/slow/probe")), timeout=10)
    yield controller, app, port, client.proxies[0]
    app.close()


def _expect(condition, detail=None):
    assert condition, detail


def test_retries_turn_a_30_percent_failing_backend_into_full_success(scripted):
    controller, app, port, proxy = scripted
    before = proxy.metrics()
    # HTTP/1.1: 200 requests on one keep-alive connection, 60 of whose first attempts fail.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    for n in range(200):
        connection.request("GET", f"/flaky/{n}")
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [200] * 200, [s for s in statuses if s != 200][:5]
    assert app.count("/flaky/") == 260, app.count("/flaky/")
    after = proxy.metrics()

    def delta(name, **labels):
        return series_total(after, name, **labels) - series_total(before, name, **labels)
    flaky = dict(ROUTE, route_name="flaky")
    assert delta("outbound_http_route_retry_requests_total", **flaky) == 60
    assert delta("outbound_http_route_retry_successes_total", **flaky) == 60
    assert delta("outbound_http_route_retry_limit_exceeded_total", **flaky) == 0
    assert delta("outbound_http_route_request_statuses_total", http_status="200", **flaky) == 200


def test_the_limit_bounds_what_the_backend_sees_and_posts_too_long_are_sent_once(scripted):
    controller, app, port, proxy = scripted
    before = proxy.metrics()
    for n in range(20):
        status, error = request(port, "GET", f"/broken/{n}")
        assert status == 503 and error is None, (status, error)  # the app's own 503, after 2 retries
    assert app.count("/broken/") == 60  # (1 + limit) × requests, no more
    # A POST whose body is over 64 KiB is sent once, whole, and its failure comes back.
    big = b"x" * (1024 * 1024)
    assert request(port, "POST", "/flaky/0", body=big)[0] == 503
    assert app.count("/flaky/0") == 1 and app.bodies[-1] == len(big)
    # A small POST is retried on a 503 (the app answered it: it saw the request and failed it).
    assert request(port, "POST", "/flaky/3", body=b"small")[0] == 200
    assert app.count("/flaky/3") == 2
    after = proxy.metrics()

    def delta(name, **labels):
        return series_total(after, name, **labels) - series_total(before, name, **labels)
    assert delta("outbound_http_route_retry_requests_total", **dict(ROUTE, route_name="broken")) == 40
    assert delta("outbound_http_route_retry_limit_exceeded_total", **dict(ROUTE, route_name="broken")) == 20
    assert delta("outbound_http_route_retry_overflow_total", **dict(ROUTE, route_name="flaky")) == 1


def test_timeouts_answer_504_and_timed_out_attempts_are_retried(scripted, echo_stubs):
    controller, app, port, proxy = scripted
    before = proxy.metrics()
    started = time.monotonic()
    status, error = request(port, "GET", "/slow/1")
    took = time.monotonic() - started
    assert status == 504 and "request timeout" in (error or ""), (status, error)
    assert 0.25 <= took < 1.5, took
    # A fast request on the same service is untouched.
    assert request(port, "GET", "/fast")[0] == 200
    # An attempt that stalls past the retry timeout is abandoned and tried again.
    started = time.monotonic()
    assert request(port, "GET", "/stall-once/1")[0] == 200
    assert time.monotonic() - started < 1.2
    assert app.count("/stall-once/1") == 2
    after = proxy.metrics()
    slow = dict(ROUTE, route_name="slow")
    assert series_total(after, "outbound_http_route_request_statuses_total", error="REQUEST_TIMEOUT", **slow) \
        - series_total(before, "outbound_http_route_request_statuses_total", error="REQUEST_TIMEOUT", **slow) == 1


def test_grpc_unavailable_is_retried_internal_is_not_and_deadlines_hold(mesh, ballot_stubs):
    """gRPC (HTTP/2 end to end): trailers-only statuses classified, the request timeout as
    DEADLINE_EXCEEDED."""
    import grpc
    ballot_pb2, ballot_pb2_grpc = ballot_stubs
    controller, add, client = mesh
    calls = {"Vote": 0, "List": 0, "meta": 0}

    class Ballot(ballot_pb2_grpc.BallotServicer):
        def Vote(self, request, context):
            if request.text == "slow":
                time.sleep(2)
                return ballot_pb2.Answer(server="late")
            if request.text == "meta":
                # A head first, then the error in trailers (not trailers-only).
                calls["meta"] += 1
                if calls["meta"] % 2 == 1:
                    context.send_initial_metadata((("x-first", "1"),))
                    context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
                return ballot_pb2.Answer(server="voting-1")
            calls["Vote"] += 1
            if calls["Vote"] % 2 == 1:
                context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
            return ballot_pb2.Answer(server="voting-1")

        def List(self, request, context):
            calls["List"] += 1
            context.abort(grpc.StatusCode.INTERNAL, "broken")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    ballot_pb2_grpc.add_BallotServicer_to_server(Ballot(), server)
    add("voting", "voting-1", app_port=server.add_insecure_port("127.0.0.1:0"))
    server.start()
    try:
        wait_ready(controller, ["voting-1"])
        apply(controller, "GRPCRoute", "ballot", {"retry.linkerd.io/grpc": "unavailable,cancelled", "retry.linkerd.io/limit": "2",
                                                   "timeout.linkerd.io/request": "500ms"},
              "  parentRefs: [{name: voting, kind: Service, group: core, port: 80}]\n  rules:\n"
              "  - matches: [{method: {service: ballot.v1.Ballot}}]\n")
        voting = "voting.shop.svc.cluster.local:80"
        port = client(voting)[voting]
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", voting)]) as channel:
            stub = ballot_pb2_grpc.BallotStub(channel)
            eventually(lambda: _expect(stub.Vote(ballot_pb2.Ask(text="x"), timeout=5).server == "voting-1"), timeout=10)
            votes = calls["Vote"]
            for _ in range(10):
                assert stub.Vote(ballot_pb2.Ask(text="x"), timeout=5).server == "voting-1"
            assert calls["Vote"] - votes == 20
            for _ in range(5):
                assert stub.Vote(ballot_pb2.Ask(text="meta"), timeout=5).server == "voting-1"
            assert calls["meta"] == 10
            with pytest.raises(grpc.RpcError) as failure:
                stub.List(ballot_pb2.Ask(text="x"), timeout=5)
            assert failure.value.code() == grpc.StatusCode.INTERNAL
            assert calls["List"] == 1
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as failure:
                stub.Vote(ballot_pb2.Ask(text="slow"), timeout=5)
            assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, failure.value
            assert "request timeout" in failure.value.details() and time.monotonic() - started < 1.5
    finally:
        server.stop(None)


def test_invalid_annotations_are_refused_with_their_field(mesh):
    controller, _, _ = mesh
    result = controller.weft("apply", "-f", "-", check=False, input="""apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    retry.linkerd.io/limit: "-1"
    timeout.linkerd.io/request: "1.5"
    retry.linkerd.io/grpc: "unavailable,sometimes"
spec:
  ports: [{port: 80}]
""")
    assert result.returncode != 0
    for expected in ('metadata.annotations.retry.linkerd.io/limit', '"-1" must be a whole number from 0 to 10',
                     'timeout.linkerd.io/request', 'missing a unit', '"sometimes" in "unavailable,sometimes" is not a gRPC status Linkerd retries'):
        assert expected in result.stderr, result.stderr


class StatusApp(ServedApp):
    """An HTTP/1.1 app that answers every request with `status` (settable) and notes when each came."""

    def __init__(self, status=200):
        app = self
        self.status, self.arrivals = status, []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/ready":
                    app.arrivals.append(time.monotonic())
                status = 200 if self.path == "/ready" else app.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.serve(Handler)


def test_failure_accrual_ejects_a_failing_endpoint_probes_it_once_per_penalty_and_fails_fast(mesh):
    controller, add, client = mesh
    good, bad = StatusApp(200), StatusApp(500)
    try:
        add("web", "web-1", app_port=good.port)
        add("web", "web-2", app_port=bad.port)
        wait_ready(controller, ["web-1", "web-2"])
        apply(controller, "Service", "web", {"balancer.linkerd.io/failure-accrual": "consecutive",
                                             "balancer.linkerd.io/failure-accrual-consecutive-max-failures": "3",
                                             "balancer.linkerd.io/failure-accrual-consecutive-min-penalty": "2s",
                                             "balancer.linkerd.io/failure-accrual-consecutive-max-penalty": "2s",
                                             "balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio": "0"},
              "  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]\n", api="v1")
        port = client(WEB)[WEB]
        proxy = client.proxies[0]
        eventually(lambda: _expect(request(port, "GET", "/")[0] in (200, 500)), timeout=10)
        time.sleep(1.0)  # the Service's policy (with its accrual) reaches the proxy
        good.arrivals.clear()
        bad.arrivals.clear()
        # Requests one after another for 7 s, 40 per second. (A failing endpoint's answers count
        # as slow in the balancer's estimate, so it gets about one request per second before
        # its third failure ejects it.)
        statuses = []
        end = time.monotonic() + 7
        while time.monotonic() < end:
            statuses.append(request(port, "GET", "/")[0])
            time.sleep(0.025)
        arrivals = bad.arrivals
        assert 3 + 1 <= len(arrivals) <= 3 + 3, arrivals
        probations = arrivals[3:]  # ejected after its first 3 failures
        gaps = [b - a for a, b in zip([arrivals[2]] + probations, probations)]
        assert probations and all(1.95 <= gap <= 2.5 for gap in gaps), gaps  # one request per 2 s penalty
        assert statuses.count(500) == len(arrivals) and statuses.count(200) == len(good.arrivals)
        pending = series_total(proxy.metrics(), "outbound_http_balancer_endpoints", endpoint_state="pending", backend_name="web")
        assert pending == 1, pending
        # Now the other fails too: once both are ejected, requests fail fast with the reason.
        good.status = 500
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and request(port, "GET", "/")[0] != 503:
            time.sleep(0.02)
        started = time.monotonic()
        status, error = request(port, "GET", "/")
        assert status == 503 and "ejected" in (error or ""), (status, error)
        assert time.monotonic() - started < 0.5
    finally:
        good.close()
        bad.close()


def test_a_service_profile_retries_within_its_budget_and_times_out(scripted):
    """Linkerd 2.15's model: ServiceProfile routes with isRetryable and timeout, a retry budget."""
    controller, app, port, proxy = scripted
    controller.weft("apply", "-f", "-", input="""apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 5, ttl: 2s}
  routes:
  - {name: flaky, condition: {method: GET, pathRegex: "/flaky/.*"}, isRetryable: true}
  - {name: broken, condition: {method: GET, pathRegex: "/broken/.*"}, isRetryable: true}
  - {name: slow, condition: {pathRegex: "/slow/.*"}, timeout: 300ms}
""")

    def profiled():
        request(port, "GET", "/broken/probe")
        assert any('rt_route="broken"' in key for key in proxy.metrics()), "the profile is not in force yet"
    eventually(profiled, timeout=10)
    time.sleep(2.5)  # the probes' retries leave the budget's window
    # 30 % of first attempts fail and are retried within the budget: every request succeeds.
    assert [request(port, "GET", f"/flaky/{n}")[0] for n in range(2000, 2040)] == [200] * 40
    assert app.count("/flaky/20") == 40 + 12  # (/flaky/2000 … /flaky/2039: 12 fail once)
    # A backend that always fails: retries stop where the budget does.
    time.sleep(2.5)
    before = app.count("/broken/")
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < 4:
        assert request(port, "GET", f"/broken/{sent}")[0] == 503
        sent += 1
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    seen = app.count("/broken/") - before
    # At most 20 % more than was sent, plus 5 per second, plus one window's reserve (5 × 2 s).
    assert sent < seen <= 1.2 * sent + 5 * elapsed + 10, (sent, seen, elapsed)
    # The route's timeout.
    status, error = request(port, "GET", "/slow/9")
    assert status == 504 and "request timeout" in (error or ""), (status, error)
