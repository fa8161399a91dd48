"""The controller's discovery and policy gRPC APIs called by an independent client: Python grpcio
with stubs generated at test time from the project's .proto files (linkerd-compat §1.4–1.6)."""
import pathlib
import queue
import socket
import subprocess
import sys
import threading

import pytest

from conftest import REPO, Controller, free_port, weft_binary
from mesh import SERVICE

WORKLOAD = """---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {name}, namespace: shop, labels: {{app: web}}, annotations: {{workload.weft.io/health-check: "none"}}}}
spec:
  meshTLS: {{identity: "spiffe://cluster.local/ns/shop/{name}", serverName: "{name}.shop.cluster.local"}}
  workloadIPs: [{{ip: {ip}}}]
  ports: [{{port: 8080, name: http}}]
status:
  conditions: [{{type: Ready, status: "True"}}]
"""


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    import grpc_tools
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("proxy-api-stubs")
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    protos = ["net", "meta", "http_types", "http_route", "grpc_route", "destination", "inbound", "outbound"]
    assert protoc.main(["protoc", f"-I{REPO / 'Protos'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
                        *[str(REPO / "Protos" / f"{name}.proto") for name in protos]]) == 0
    sys.path.insert(0, str(out))
    import destination_pb2
    import destination_pb2_grpc
    import inbound_pb2
    import inbound_pb2_grpc
    import outbound_pb2
    import outbound_pb2_grpc
    return {"destination": (destination_pb2, destination_pb2_grpc), "inbound": (inbound_pb2, inbound_pb2_grpc),
            "outbound": (outbound_pb2, outbound_pb2_grpc)}


@pytest.fixture
def controller():
    running = Controller()
    yield running
    running.stop()


@pytest.fixture
def channel(controller):
    import grpc
    with grpc.insecure_channel(controller.grpc_address) as channel:
        yield channel


class Stream:
    """A server stream read by a thread, so that the test can wait for each message."""

    def __init__(self, call):
        self.call, self.messages = call, queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        try:
            for message in self.call:
                self.messages.put(message)
        except Exception as error:  # the call is cancelled at the end of a test
            self.messages.put(error)

    def next(self, timeout=5.0):
        message = self.messages.get(timeout=timeout)
        if isinstance(message, Exception):
            raise message
        return message

    def cancel(self):
        self.call.cancel()


def ip(message):
    value = message.ip.ipv4
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}:{message.port}"


def test_get_streams_endpoints_and_their_changes(controller, channel, stubs):
    pb, grpc_stubs = stubs["destination"]
    client = grpc_stubs.DestinationStub(channel)
    controller.weft("apply", "-f", "-", input=SERVICE + WORKLOAD.format(name="web-1", ip="10.0.0.1")
                    + WORKLOAD.format(name="web-2", ip="10.0.0.2"))
    stream = Stream(client.Get(pb.GetDestination(path="web.shop.svc.cluster.local:80", context_token='{"ns":"shop"}\n')))
    first = stream.next()
    assert first.WhichOneof("update") == "add"
    assert sorted(ip(a.addr) for a in first.add.addrs) == ["10.0.0.1:8080", "10.0.0.2:8080"]
    assert dict(first.add.metric_labels) == {"service": "web", "namespace": "shop"}
    by_ip = {ip(a.addr): a for a in first.add.addrs}
    endpoint = by_ip["10.0.0.1:8080"]
    assert endpoint.weight == 10000 and dict(endpoint.metric_labels) == {"external_workload": "web-1"}
    assert endpoint.tls_identity.uri_like_identity.uri == "spiffe://cluster.local/ns/shop/web-1"
    assert endpoint.tls_identity.server_name.name == "web-1.shop.cluster.local"

    controller.weft("delete", "ew", "web-2", "-n", "shop")
    removed = stream.next()
    assert removed.WhichOneof("update") == "remove" and [ip(a) for a in removed.remove.addrs] == ["10.0.0.2:8080"]
    controller.weft("apply", "-f", "-", input=WORKLOAD.format(name="web-3", ip="10.0.0.3"))
    added = stream.next()
    assert [ip(a.addr) for a in added.add.addrs] == ["10.0.0.3:8080"]
    # Deleted one after the other: the first is removed, the last leaves no endpoints.
    controller.weft("delete", "ew", "web-1", "web-3", "-n", "shop")
    assert [ip(a) for a in stream.next().remove.addrs] == ["10.0.0.1:8080"]
    assert stream.next().no_endpoints.exists is True
    stream.cancel()

    # Reconnecting gets the whole state again at once; an unknown service says so.
    again = Stream(client.Get(pb.GetDestination(path="web.shop.svc.cluster.local:80")))
    assert again.next().no_endpoints.exists is True
    unknown = Stream(client.Get(pb.GetDestination(path="nope.shop.svc.cluster.local:80")))
    assert unknown.next().no_endpoints.exists is False
    # ...and picks it up when it is created.
    controller.weft("apply", "-f", "-", input=SERVICE.replace("name: web,", "name: nope,") + WORKLOAD.format(name="web-9", ip="10.0.0.9"))
    assert [ip(a.addr) for a in unknown.next().add.addrs] == ["10.0.0.9:8080"]
    again.cancel()
    unknown.cancel()


def test_get_resolves_addresses_and_refuses_malformed_names(controller, channel, stubs):
    import grpc
    pb, grpc_stubs = stubs["destination"]
    client = grpc_stubs.DestinationStub(channel)
    # A workload's address is that workload, with its identity; an address nobody has does not exist.
    controller.weft("apply", "-f", "-", input=SERVICE + WORKLOAD.format(name="web-1", ip="10.0.0.1"))
    by_ip = Stream(client.Get(pb.GetDestination(path="10.0.0.1:8080")))
    first = by_ip.next()
    assert [ip(a.addr) for a in first.add.addrs] == ["10.0.0.1:8080"]
    assert first.add.addrs[0].tls_identity.uri_like_identity.uri == "spiffe://cluster.local/ns/shop/web-1"
    unknown = Stream(client.Get(pb.GetDestination(path="10.0.0.99:80")))
    assert unknown.next().no_endpoints.exists is False
    by_ip.cancel()
    unknown.cancel()
    for path in ["web.shop:80", "web.shop.svc.cluster.local:0", "x" * 300, "10.0.0.1:0", "[::1]:99999"]:
        with pytest.raises(grpc.RpcError) as failure:
            next(client.Get(pb.GetDestination(path=path), timeout=5))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path


def test_get_profile_follows_service_profiles(controller, channel, stubs):
    pb, grpc_stubs = stubs["destination"]
    client = grpc_stubs.DestinationStub(channel)
    controller.weft("apply", "-f", "-", input=SERVICE)
    stream = Stream(client.GetProfile(pb.GetDestination(path="web.shop.svc.cluster.local:80")))
    default = stream.next()
    assert default.fully_qualified_name == "web.shop.svc.cluster.local" and not default.routes
    assert abs(default.retry_budget.retry_ratio - 0.2) < 1e-6 and default.retry_budget.min_retries_per_second == 10
    assert default.retry_budget.ttl.seconds == 10
    controller.weft("apply", "-f", "-", input="""apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.shop.svc.cluster.local, namespace: shop}
spec:
  routes:
  - name: GET /books/{id}
    condition: {all: [{method: GET}, {pathRegex: '/books/[^/]*'}]}
    isRetryable: true
    timeout: 250ms
  retryBudget: {retryRatio: 0.5, minRetriesPerSecond: 3, ttl: 20s}
  dstOverrides:
  - {authority: "web-v2.shop.svc.cluster.local:80", weight: 750m}
  - {authority: "web.shop.svc.cluster.local:80", weight: 250m}
""")
    profile = stream.next()
    assert [dict(r.metrics_labels) for r in profile.routes] == [{"route": "GET /books/{id}"}]
    route = profile.routes[0]
    assert [m.WhichOneof("match") for m in route.condition.all.matches] == ["method", "path"]
    assert route.condition.all.matches[1].path.regex == "/books/[^/]*" and route.is_retryable
    assert route.timeout.nanos == 250_000_000
    assert abs(profile.retry_budget.retry_ratio - 0.5) < 1e-6 and profile.retry_budget.ttl.seconds == 20
    assert [(d.authority, d.weight) for d in profile.dst_overrides] == [
        ("web-v2.shop.svc.cluster.local:80", 7500), ("web.shop.svc.cluster.local:80", 2500)]
    stream.cancel()
    by_ip = next(client.GetProfile(pb.GetDestination(path="10.9.9.9:80"), timeout=5))
    assert by_ip.fully_qualified_name == "" and not by_ip.HasField("endpoint")


def test_watch_port_follows_servers(controller, channel, stubs):
    pb, grpc_stubs = stubs["inbound"]
    client = grpc_stubs.InboundServerPoliciesStub(channel)
    controller.weft("apply", "-f", "-", input=WORKLOAD.format(name="web-1", ip="10.0.0.1"))
    workload = ' {"ns":"shop", "external_workload":"web-1"}\n'
    stream = Stream(client.WatchPort(pb.PortSpec(workload=workload, port=8080)))
    default = stream.next()
    assert default.protocol.WhichOneof("kind") == "detect" and default.protocol.detect.timeout.seconds == 10
    assert dict(default.labels) == {"group": "", "kind": "default", "name": "all-unauthenticated"}
    authz = default.authorizations[0]
    assert authz.authentication.WhichOneof("permit") == "unauthenticated" and len(authz.networks) == 2
    controller.weft("apply", "-f", "-", input="""apiVersion: policy.linkerd.io/v1beta2
kind: Server
metadata: {name: web-http, namespace: shop}
spec:
  externalWorkloadSelector: {matchLabels: {app: web}}
  port: http
  proxyProtocol: HTTP/2
""")
    server = stream.next()
    assert server.protocol.WhichOneof("kind") == "http2" and dict(server.labels)["name"] == "web-http"
    assert list(server.authorizations) == []
    controller.weft("delete", "server", "web-http", "-n", "shop")
    assert stream.next().protocol.WhichOneof("kind") == "detect"
    stream.cancel()
    assert client.GetPort(pb.PortSpec(workload="shop:web-1", port=5432), timeout=5).protocol.WhichOneof("kind") == "opaque"


def test_outbound_watch_gives_the_service_protocol_and_backend(controller, channel, stubs):
    import grpc
    pb, grpc_stubs = stubs["outbound"]
    client = grpc_stubs.OutboundPoliciesStub(channel)
    controller.weft("apply", "-f", "-", input=SERVICE)
    stream = Stream(client.Watch(pb.TrafficSpec(source_workload='{"ns":"shop","external_workload":"client"}',
                                                authority="web.shop.svc.cluster.local:80")))
    policy = stream.next()
    assert policy.metadata.resource.kind == "Service" and policy.metadata.resource.name == "web"
    assert policy.protocol.WhichOneof("kind") == "detect" and policy.protocol.detect.timeout.seconds == 10
    backend = policy.protocol.detect.http1.routes[0].rules[0].backends.first_available.backends[0].backend
    assert backend.balancer.discovery.dst.path == "web.shop.svc.cluster.local:80"
    assert backend.balancer.peak_ewma.default_rtt.nanos == 30_000_000 and backend.balancer.peak_ewma.decay.seconds == 10
    assert backend.queue.capacity == 100 and backend.queue.failfast_timeout.seconds == 3
    controller.weft("apply", "-f", "-", input=SERVICE.replace("metadata: {name: web, namespace: shop}",
                                                              'metadata: {name: web, namespace: shop, annotations: {config.linkerd.io/opaque-ports: "80"}}'))
    assert stream.next().protocol.WhichOneof("kind") == "opaque"
    stream.cancel()
    with pytest.raises(grpc.RpcError) as failure:
        client.Get(pb.TrafficSpec(authority="nope.shop.svc.cluster.local:80"), timeout=5)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("taken", ["admin", "destination"])
def test_a_taken_address_is_named_with_the_reason(tmp_path, taken):
    """A listener that cannot bind says which one, on which address, and why (issue: the
    controller used to say only `bind(...): Address already in use`)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", free_port()))
    holder.listen(1)
    busy = f"127.0.0.1:{holder.getsockname()[1]}"
    ports = {"admin": f"127.0.0.1:{free_port()}", "destination": f"127.0.0.1:{free_port()}"}
    ports[taken] = busy
    command = [str(weft_binary("weft-controller")), "--data-dir", str(tmp_path / "store"),
               "--api-socket", str(tmp_path / "c.sock"), "--destination-addr", ports["destination"],
               "--policy-addr", ports["destination"], "--admin-addr", ports["admin"]]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    finally:
        holder.close()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert busy in output and "Address already in use" in output, output
    assert "cannot listen for" in output, output


def no_unknown_fields(message):
    """Whether `message` and every message inside it decoded without unknown fields."""
    from google.protobuf import unknown_fields
    if len(unknown_fields.UnknownFieldSet(message)):
        return False
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        values = value if field.is_repeated else [value]
        if field.message_type.GetOptions().map_entry:
            values = []
        if not all(no_unknown_fields(v) for v in values):
            return False
    return True


def test_outbound_policy_carries_http_and_grpc_routes_in_linkerd_order(controller, channel, stubs):
    """HTTPRoutes of both groups and a GRPCRoute become the service's routes, ordered as Linkerd's
    policy controller orders them, with matches, filters, weighted backends and metadata — and
    change on the open Watch stream (issue 13, item 2)."""
    pb, grpc_stubs = stubs["outbound"]
    client = grpc_stubs.OutboundPoliciesStub(channel)
    v2 = SERVICE.replace("name: web,", "name: web-v2,")
    controller.weft("apply", "-f", "-", input=SERVICE + "---\n" + v2)
    parent = "  parentRefs: [{name: web, kind: Service, group: core, port: 80}]\n"
    # A Gateway API route first (older), then a Linkerd one: Linkerd's group still comes first.
    controller.weft("apply", "-f", "-", input=f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: b-gateway, namespace: shop}}
spec:
{parent}  rules:
  - matches: [{{path: {{type: Exact, value: /exact}}, method: POST, headers: [{{name: X-Id, value: "7"}}], queryParams: [{{name: q, type: RegularExpression, value: "[a-z]+"}}]}}]
    backendRefs: [{{name: web, port: 80, weight: 9}}, {{name: web-v2, port: 80, weight: 1}}]
""")
    controller.weft("apply", "-f", "-", input=f"""apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {{name: a-linkerd, namespace: shop}}
spec:
{parent}  hostnames: ["*.example.com"]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /old}}}}]
    filters:
    - {{type: RequestRedirect, requestRedirect: {{scheme: https, path: {{type: ReplaceFullPath, replaceFullPath: /new}}}}}}
  - filters:
    - {{type: RequestHeaderModifier, requestHeaderModifier: {{add: [{{name: x-a, value: "1"}}], remove: [x-b]}}}}
""")
    spec = pb.TrafficSpec(source_workload='{"ns":"shop","external_workload":"client"}', authority="web.shop.svc.cluster.local:80")
    stream = Stream(client.Watch(spec))
    policy = stream.next()
    assert no_unknown_fields(policy)
    routes = policy.protocol.detect.http1.routes
    assert [r.metadata.resource.name for r in routes] == ["a-linkerd", "b-gateway"]
    assert [r.metadata.resource.group for r in routes] == ["policy.linkerd.io", "gateway.networking.k8s.io"]
    assert routes[0].hosts[0].suffix.reverse_labels == ["com", "example"]
    redirect = routes[0].rules[0].filters[0].redirect
    assert redirect.scheme.registered == 1 and redirect.path.full == "/new" and redirect.status == 302
    modifier = routes[0].rules[1].filters[0].request_header_modifier
    assert [(h.name, h.value) for h in modifier.add.headers] == [("x-a", b"1")] and list(modifier.remove) == ["x-b"]
    # A rule with no backendRefs goes to the parent service.
    assert routes[0].rules[1].backends.first_available.backends[0].backend.balancer.discovery.dst.path == "web.shop.svc.cluster.local:80"
    match = routes[1].rules[0].matches[0]
    assert match.path.exact == "/exact" and match.method.registered == 1  # POST
    assert match.headers[0].name == "x-id" and match.headers[0].exact == b"7"
    assert match.query_params[0].name == "q" and match.query_params[0].regex == "[a-z]+"
    split = routes[1].rules[0].backends.random_available.backends
    assert [(b.backend.backend.balancer.discovery.dst.path, b.weight) for b in split] == [
        ("web.shop.svc.cluster.local:80", 9), ("web-v2.shop.svc.cluster.local:80", 1)]
    assert split[1].backend.backend.metadata.resource.name == "web-v2"
    # A GRPCRoute makes the port a gRPC port, on the open stream.
    controller.weft("apply", "-f", "-", input=f"""apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{name: rpc, namespace: shop}}
spec:
{parent}  rules:
  - matches: [{{method: {{service: emojivoto.v1.VotingService, method: Vote}}}}]
    backendRefs: [{{name: web-v2, port: 80}}]
""")
    policy = stream.next()
    assert no_unknown_fields(policy)
    grpc_routes = policy.protocol.grpc.routes
    assert [r.metadata.resource.kind for r in grpc_routes] == ["GRPCRoute"]
    rpc = grpc_routes[0].rules[0].matches[0].rpc
    assert (rpc.service, rpc.method) == ("emojivoto.v1.VotingService", "Vote")
    controller.weft("delete", "grpcroute", "rpc", "-n", "shop")
    assert stream.next().protocol.WhichOneof("kind") == "detect"
    stream.cancel()
