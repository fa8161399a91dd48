"""Per-request routing end to end (issue 13): HTTPRoutes and GRPCRoutes applied to a real
weft-controller with the weft CLI, a client weft-proxy that watches the service's outbound
policy, and workloads behind their own weft-proxies, every hop between proxies over mutual TLS.
Requests are sent with curl, h2load, http.client and grpcio; what reached which app is what the
apps saw."""
import collections
import json
import subprocess
import sys
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import Controller, free_port, start_proxy, weft_binary  # noqa: F401 (fixture)
from mesh import ServedApp, Load, Workload, client_proxy, wait_ready
from test_identity import trust_dir  # noqa: F401 (fixture)
from test_controller_api import stubs  # noqa: F401 (fixture)
from test_discovery_tls import identity_env
from test_http2 import echo_stubs  # noqa: F401 (fixture)

WEB = "web.shop.svc.cluster.local:80"
CLIENT = "client.shop.serviceaccount.identity.linkerd.cluster.local"


class EchoApp(ServedApp):
    """An HTTP/1.1 app that answers any request with JSON: its name, the path and the headers it got."""

    def __init__(self, name):
        app = self
        self.name, self.requests = name, 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path == "/ready":
                    body = b"ready\n"
                else:
                    app.requests += 1
                    body = json.dumps({"name": app.name, "method": self.command, "path": self.path,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = answer

        self.serve(Handler)


def service(name, app=None, port=80):
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{app: {app or name}}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


@pytest.fixture
def mesh(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """(controller, add(service, workload) -> app, client(services) -> ports): services each with
    one workload (an EchoApp or a given app port) behind its own proxy, and a client proxy that
    watches outbound policies."""
    controller = Controller(trust_dir, None, "--workload-probe-interval", "500ms")
    started, apps, clients = [], [], []

    def add(service_name, workload_name, app_port=None):
        app = None
        if app_port is None:
            app = EchoApp(workload_name)
            apps.append(app)
            app_port = app.port
        identity = f"{workload_name}.shop.serviceaccount.identity.linkerd.cluster.local"
        w = Workload(workload_name, labels={"app": service_name}, app_port=app_port,
                     extra_env=identity_env(controller, trust_dir, tmp_path, identity))
        started.append(w)
        controller.weft("apply", "-f", "-", input=service(service_name) + w.manifest())
        return app

    def client(*services):
        env = identity_env(controller, trust_dir, tmp_path, CLIENT)
        proxy, ports = client_proxy(start_proxy, controller, *services, LINKERD2_PROXY_POLICY_SVC_ADDR=controller.grpc_address,
                                    LINKERD2_PROXY_POLICY_WORKLOAD='{"ns":"shop","external_workload":"client"}', **env)
        clients.append(proxy)
        return ports

    client.proxies = clients
    yield controller, add, client
    for w in started:
        w.stop()
    for app in apps:
        app.close()
    controller.stop()


def curl(port, path="/", *args):
    """curl's answer: (status, headers {lower name: value}, body)."""
    out = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", "5", *args, f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    # (Text mode turns curl's CRLFs into newlines.)
    head, _, body = out.stdout.partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def who(port, path="/", *args):
    status, headers, body = curl(port, path, *args)
    assert status == 200 and body.startswith("{"), (status, headers, body)
    return json.loads(body)


def apply_route(controller, name, spec, api="policy.linkerd.io/v1beta3", kind="HTTPRoute"):
    controller.weft("apply", "-f", "-", input=f"""apiVersion: {api}
kind: {kind}
metadata: {{name: {name}, namespace: shop}}
spec:
{spec}""")


PARENT = "  parentRefs: [{name: web, kind: Service, group: core, port: 80}]\n"


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_matches_pick_backends_and_filters_apply(mesh):
    controller, add, client = mesh
    add("web", "web-1")
    add("web-v2", "v2-1")
    add("web-admin", "admin-1")
    wait_ready(controller, ["web-1", "v2-1", "admin-1"])
    # Linkerd's documentation shapes: a header-matched canary, exact and prefix paths, a method,
    # a query parameter, a redirect and header modifiers; the catch-all goes to the service.
    apply_route(controller, "web-routes", PARENT + """  rules:
  - matches: [{path: {type: Exact, value: /admin}}]
    backendRefs: [{name: web-admin, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: web-v2, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: DELETE}]
    backendRefs: [{name: web-admin, port: 80}]
  - matches: [{queryParams: [{name: version, value: "2"}]}]
    backendRefs: [{name: web-v2, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/items/[0-9]+"}}]
    backendRefs: [{name: web-v2, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /filtered}}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-set, value: "yes"}], remove: [x-drop]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-resp, value: routed}]}}
  - matches: [{path: {type: PathPrefix, value: /}}]
""")
    port = client(WEB)[WEB]

    def routed():
        assert who(port, "/admin")["name"] == "admin-1"
    eventually(routed)
    assert who(port, "/admin/x")["name"] == "web-1"          # Exact is exact
    assert who(port, "/api/v", "-H", "x-canary: 1")["name"] == "v2-1"
    assert who(port, "/api/v", "-H", "x-canary: 2")["name"] == "web-1"
    assert who(port, "/apiary", "-H", "x-canary: 1")["name"] == "web-1"  # prefixes are whole segments
    assert who(port, "/api/v", "-X", "DELETE")["name"] == "admin-1"
    assert who(port, "/any?version=2")["name"] == "v2-1"
    assert who(port, "/any?version=3")["name"] == "web-1"
    assert who(port, "/items/42")["name"] == "v2-1"
    assert who(port, "/items/4x")["name"] == "web-1"
    seen = who(port, "/plain")
    assert seen["headers"]["l5d-dst-canonical"] == WEB, seen
    status, headers, _ = curl(port, "/old/page?q=1")
    assert status == 301 and headers["location"] == f"http://127.0.0.1:{port}/new/page?q=1", (status, headers)
    status, headers, body = curl(port, "/filtered", "-H", "x-drop: 1", "-H", "x-set: no")
    got = json.loads(body)["headers"]
    assert status == 200 and got["x-set"] == "yes" and "x-drop" not in got, got
    assert headers["x-resp"] == "routed", headers


def test_no_route_is_404_and_grpc_not_found(mesh, echo_stubs):
    import grpc
    controller, add, client = mesh
    add("web", "web-1")
    wait_ready(controller, ["web-1"])
    apply_route(controller, "only-api", PARENT + """  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
""")
    port = client(WEB)[WEB]

    def not_found():
        status, headers, _ = curl(port, "/elsewhere")
        assert status == 404 and "no route" in headers.get("l5d-proxy-error", ""), (status, headers)
    eventually(not_found)
    assert who(port, "/api/ok")["name"] == "web-1"
    echo_pb2, echo_pb2_grpc = echo_stubs
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", WEB)]) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.Msg(text="x"), timeout=5)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND, failure.value


def test_a_50_50_split_and_a_live_change_without_a_failed_request(mesh):
    controller, add, client = mesh
    a = add("web", "web-1")
    b = add("web-v2", "v2-1")
    wait_ready(controller, ["web-1", "v2-1"])
    apply_route(controller, "split", PARENT + """  rules:
  - backendRefs: [{name: web, port: 80, weight: 50}, {name: web-v2, port: 80, weight: 50}]
""", api="gateway.networking.k8s.io/v1")
    port = client(WEB)[WEB]
    eventually(lambda: _assert(who(port, "/")["name"] in {"web-1", "v2-1"} and b.requests > 0))
    before = (a.requests, b.requests)
    proxy = client.proxies[0]
    metrics_before = proxy.metrics()
    # (HTTP/1.1 from h2load: the apps speak HTTP/1.1; the proxies carry it as HTTP/2 between them.)
    out = subprocess.run(["h2load", "--h1", "-n", "1000", "-c", "4", f"http://127.0.0.1:{port}/split"],
                         capture_output=True, text=True, timeout=60)
    assert "1000 succeeded" in out.stdout, out.stdout
    sent = (a.requests - before[0], b.requests - before[1])
    share = sent[1] / sum(sent)
    assert 0.40 <= share <= 0.60, (share, a.requests, b.requests)

    # Per-route metrics, with Linkerd's labels, count exactly what was sent.
    metrics_after = proxy.metrics()

    def delta(name, **labels):
        return series_total(metrics_after, name, **labels) - series_total(metrics_before, name, **labels)
    route = dict(parent_group="core", parent_kind="Service", parent_name="web", parent_namespace="shop", parent_port="80",
                 route_group="gateway.networking.k8s.io", route_kind="HTTPRoute", route_name="split", route_namespace="shop")
    assert delta("outbound_http_route_request_statuses_total", http_status="200", error="", **route) == 1000
    assert delta("outbound_http_route_request_duration_seconds_count", **route) == 1000
    for backend, count in (("web", sent[0]), ("web-v2", sent[1])):
        labels = dict(route, backend_kind="Service", backend_name=backend, backend_namespace="shop", backend_port="80")
        assert delta("outbound_http_route_backend_requests_total", **labels) == count, backend
        assert delta("outbound_http_route_backend_response_statuses_total", http_status="200", **labels) == count, backend
        gauge = {k: v for k, v in metrics_after.items() if k.startswith("outbound_http_balancer_endpoints{")
                 and f'backend_name="{backend}"' in k and 'endpoint_state="ready"' in k}
        assert list(gauge.values()) == [1.0], gauge

    # A live change under load: every request answered 200, the new route in force within 1 s.
    load = Load(port, rate=200, threads=4, path="/live")
    # weft viz routes reads the client's proxy meanwhile.
    viz = weft("viz", "routes", "svc/web", "-n", "shop", "--proxy", f"127.0.0.1:{proxy.admin_port}", "-t", "1", "-o", "json",
               "--controller", controller.socket)
    rows = {row["route"]: row for row in json.loads(viz.stdout)}
    assert rows["split"]["success_rate"] == 1.0 and 100 <= rows["split"]["rps"] <= 300, rows
    table = weft("viz", "routes", "svc/web", "-n", "shop", "--proxy", f"127.0.0.1:{proxy.admin_port}", "-t", "0.5",
                 "--controller", controller.socket).stdout
    assert table.split("\n")[0].split() == ["ROUTE", "SERVICE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"], table
    assert table.split("\n")[1].startswith("split"), table
    changed_at = time.monotonic()
    apply_route(controller, "split", PARENT + """  rules:
  - backendRefs: [{name: web-v2, port: 80}]
""", api="gateway.networking.k8s.io/v1")
    time.sleep(2.0)
    results = load.stop()
    failed = [r for r in results if r[1] != 200]
    assert not failed, failed[:5]
    late = [t for t, _, body in results if t > changed_at + 1.0 and json.loads(body)["name"] != "v2-1"]
    assert not late, f"{len(late)} requests went to the old backend more than 1 s after the change"


def series_total(metrics, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(value for key, value in metrics.items()
               if key.startswith(name + "{") and all(f'{k}="{v}"' in key for k, v in labels.items()))


def weft(*args):
    result = subprocess.run([str(weft_binary("weft")), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _assert(condition):
    assert condition


BALLOT_PROTO = """syntax = "proto3";
package ballot.v1;
message Ask { string text = 1; }
message Answer { string server = 1; }
service Ballot {
  rpc Vote(Ask) returns (Answer);
  rpc List(Ask) returns (Answer);
}
"""


@pytest.fixture(scope="module")
def ballot_stubs(tmp_path_factory):
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("ballot")
    (out / "ballot.proto").write_text(BALLOT_PROTO)
    assert protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}", str(out / "ballot.proto")]) == 0
    sys.path.insert(0, str(out))
    import ballot_pb2
    import ballot_pb2_grpc
    return ballot_pb2, ballot_pb2_grpc


def test_grpc_method_routes_send_vote_and_list_to_different_services(mesh, ballot_stubs):
    import grpc
    ballot_pb2, ballot_pb2_grpc = ballot_stubs
    controller, add, client = mesh
    servers = []

    def ballot_server(name):
        class Ballot(ballot_pb2_grpc.BallotServicer):
            def Vote(self, request, context):
                return ballot_pb2.Answer(server=name)

            def List(self, request, context):
                return ballot_pb2.Answer(server=name)

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        ballot_pb2_grpc.add_BallotServicer_to_server(Ballot(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return port

    for svc, workload in (("voting", "voting-1"), ("voting-list", "list-1")):
        add(svc, workload, app_port=ballot_server(workload))
    wait_ready(controller, ["voting-1", "list-1"])
    apply_route(controller, "ballot", """  parentRefs: [{name: voting, kind: Service, group: core, port: 80}]
  rules:
  - matches: [{method: {service: ballot.v1.Ballot, method: List}}]
    backendRefs: [{name: voting-list, port: 80}]
  - matches: [{method: {service: ballot.v1.Ballot, method: Vote}, headers: [{name: x-ballot, value: spare}]}]
    backendRefs: [{name: voting-list, port: 80}]
  - matches: [{method: {service: ballot.v1.Ballot}}]
    backendRefs: [{name: voting, port: 80}]
""", api="gateway.networking.k8s.io/v1", kind="GRPCRoute")
    voting = "voting.shop.svc.cluster.local:80"
    port = client(voting)[voting]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.default_authority", voting)]) as channel:
            stub = ballot_pb2_grpc.BallotStub(channel)

            def routed():
                assert stub.List(ballot_pb2.Ask(text="x"), timeout=5).server == "list-1"
            eventually(routed)
            for _ in range(10):
                assert stub.Vote(ballot_pb2.Ask(text="x"), timeout=5).server == "voting-1"
                assert stub.List(ballot_pb2.Ask(text="x"), timeout=5).server == "list-1"
            # A header match (HTTP/2 headers) picks the rule too.
            assert stub.Vote(ballot_pb2.Ask(text="x"), timeout=5, metadata=[("x-ballot", "spare")]).server == "list-1"
        # gRPC routes are counted as outbound_grpc_route_*, with the status by name.
        metrics = client.proxies[0].metrics()
        ok = {key: value for key, value in metrics.items() if key.startswith("outbound_grpc_route_request_statuses_total{")
              and 'route_name="ballot"' in key and 'grpc_status="OK"' in key and 'parent_name="voting"' in key}
        assert sum(ok.values()) >= 21, ok  # the 21 calls above, and those that waited for the route
        backends = {key: value for key, value in metrics.items() if key.startswith("outbound_grpc_route_backend_requests_total{")
                    and 'route_name="ballot"' in key}
        assert {k.split('backend_name="')[1].split('"')[0] for k in backends} == {"voting", "voting-list"}, backends
    finally:
        for server in servers:
            server.stop(0)


def test_routes_stay_in_force_while_the_controller_is_down(mesh):
    controller, add, client = mesh
    add("web", "web-1")
    add("web-v2", "v2-1")
    wait_ready(controller, ["web-1", "v2-1"])
    apply_route(controller, "canary", PARENT + """  rules:
  - matches: [{headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: web-v2, port: 80}]
  - backendRefs: [{name: web, port: 80}]
""")
    port = client(WEB)[WEB]
    eventually(lambda: _assert(who(port, "/", "-H", "x-canary: 1")["name"] == "v2-1"))
    controller.stop()
    try:
        for _ in range(5):
            assert who(port, "/", "-H", "x-canary: 1")["name"] == "v2-1"
            assert who(port, "/")["name"] == "web-1"
    finally:
        controller.start()


def test_a_service_profile_with_routes_takes_precedence_and_is_counted_per_route(mesh):
    """As in Linkerd, a ServiceProfile with routes for the service wins over its HTTPRoutes: its
    routes name requests in route_request_total/route_response_total (rt_route), its response
    classes classify them, and weft viz routes shows them."""
    controller, add, client = mesh
    add("web", "web-1")
    add("web-v2", "v2-1")
    wait_ready(controller, ["web-1", "v2-1"])
    apply_route(controller, "all-to-v2", PARENT + """  rules:
  - backendRefs: [{name: web-v2, port: 80}]
""")
    port = client(WEB)[WEB]
    eventually(lambda: _assert(who(port, "/books/1")["name"] == "v2-1"))
    controller.weft("apply", "-f", "-", input="""apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /books/{id}
    condition: {method: GET, pathRegex: '/books/[0-9]+'}
  - name: POST /books
    condition: {method: POST, pathRegex: /books}
    responseClasses:
    - condition: {status: {min: 200, max: 299}}
      isFailure: true
""")
    eventually(lambda: _assert(who(port, "/books/1")["name"] == "web-1"))
    proxy = client.proxies[0]
    before = proxy.metrics()
    for _ in range(7):
        assert who(port, "/books/7")["name"] == "web-1"
    for _ in range(3):
        assert who(port, "/books", "-X", "POST", "-d", "x")["name"] == "web-1"
    assert who(port, "/other")["name"] == "web-1"
    after = proxy.metrics()

    def delta(name, **labels):
        return series_total(after, name, **labels) - series_total(before, name, **labels)
    dst = dict(direction="outbound", dst=WEB)
    assert delta("route_request_total", rt_route="GET /books/{id}", **dst) == 7
    assert delta("route_response_total", rt_route="GET /books/{id}", status_code="200", classification="success", **dst) == 7
    # The route's response class makes its 200s failures.
    assert delta("route_response_total", rt_route="POST /books", status_code="200", classification="failure", **dst) == 3
    unmatched = sum(v for k, v in after.items() if k.startswith("route_request_total{") and "rt_route" not in k and f'dst="{WEB}"' in k)
    assert unmatched - sum(v for k, v in before.items() if k.startswith("route_request_total{") and "rt_route" not in k
                           and f'dst="{WEB}"' in k) == 1
    load = Load(port, rate=60, threads=2, path="/books/3")
    try:
        viz = weft("viz", "routes", "svc/web", "-n", "shop", "--proxy", f"127.0.0.1:{proxy.admin_port}", "-t", "1", "-o", "json",
                   "--controller", controller.socket)
    finally:
        load.stop()
    rows = {row["route"]: row for row in json.loads(viz.stdout)}
    assert rows["GET /books/{id}"]["route_kind"] == "ServiceProfile" and rows["GET /books/{id}"]["success_rate"] == 1.0, rows


def test_a_policy_the_proxy_cannot_use_keeps_the_routes_in_force(start_proxy, stubs):  # noqa: F811
    """Another control plane (here a grpcio one compiled from the proxy API's .proto files) sends
    a policy, then one with a regex that nests quantifiers: the proxy keeps the first, counts and
    logs the refusal, and takes the next usable one."""
    import queue as queues

    import grpc
    destination_pb2, destination_grpc = stubs["destination"]
    outbound_pb2, outbound_grpc = stubs["outbound"]
    app = EchoApp("app-1")
    policies = queues.Queue()

    class Destination(destination_grpc.DestinationServicer):
        def Get(self, request, context):
            address = destination_pb2.WeightedAddr(weight=1)
            address.addr.ip.ipv4 = 0x7F000001
            address.addr.port = app.port
            yield destination_pb2.Update(add=destination_pb2.WeightedAddrSet(addrs=[address]))
            while context.is_active():
                time.sleep(0.1)

        def GetProfile(self, request, context):
            yield destination_pb2.DestinationProfile()
            while context.is_active():
                time.sleep(0.1)

    class Outbound(outbound_grpc.OutboundPoliciesServicer):
        def Watch(self, request, context):
            if request.authority != WEB:  # the backend's own policy: none
                context.abort(grpc.StatusCode.NOT_FOUND, "no such service")
            while context.is_active():
                try:
                    yield policies.get(timeout=0.1)
                except queues.Empty:
                    continue

    def policy(path_match):
        route = outbound_pb2.HttpRoute()
        route.metadata.resource.name, route.metadata.resource.kind = "only", "HTTPRoute"
        rule = route.rules.add()
        rule.matches.add().path.CopyFrom(path_match)
        backend = rule.backends.first_available.backends.add().backend
        backend.balancer.discovery.dst.path = "app.shop.svc.cluster.local:80"
        message = outbound_pb2.OutboundPolicy()
        message.protocol.detect.timeout.seconds = 10
        message.protocol.detect.http1.routes.append(route)
        message.protocol.detect.http2.routes.append(route)
        return message

    http_route_pb2 = sys.modules["http_route_pb2"]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    destination_grpc.add_DestinationServicer_to_server(Destination(), server)
    outbound_grpc.add_OutboundPoliciesServicer_to_server(Outbound(), server)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    server.start()
    try:
        policies.put(policy(http_route_pb2.PathMatch(prefix="/api")))
        proxy, ports = client_proxy(start_proxy, type("Fake", (), {"grpc_address": address})(), WEB,
                                    LINKERD2_PROXY_POLICY_SVC_ADDR=address, LINKERD2_PROXY_POLICY_WORKLOAD="client")
        port = ports[WEB]
        assert who(port, "/api/x")["name"] == "app-1"
        assert curl(port, "/other")[0] == 404
        policies.put(policy(http_route_pb2.PathMatch(regex="(a+)+$")))
        eventually(lambda: _assert(proxy.metrics().get("outbound_policy_refused_total", 0) == 1))
        assert who(port, "/api/y")["name"] == "app-1" and curl(port, "/other")[0] == 404
        assert "outbound policy refused" in proxy.output() and "nests quantifiers" in proxy.output()
        policies.put(policy(http_route_pb2.PathMatch(prefix="/")))
        eventually(lambda: _assert(who(port, "/other")["name"] == "app-1"))
    finally:
        server.stop(0)
        app.close()
