"""Zero-trust authorization end to end (issue 15): Servers, AuthorizationPolicies,
MeshTLSAuthentications, NetworkAuthentications, ServerAuthorizations and default policies applied
to a real weft-controller with the weft CLI; workloads behind their own weft-proxies that watch
their inbound policy; meshed clients (client proxies with their own identities, over mutual TLS)
and unmeshed ones (curl, grpcio, raw sockets straight to the workload's port). What reached the
app is what the app saw."""
import socket
import subprocess
import time

import pytest

from conftest import Controller, free_port, start_proxy, weft_binary  # noqa: F401 (fixture)
from mesh import Load, Workload, client_proxy, wait_ready
from test_identity import trust_dir  # noqa: F401 (fixture)
from test_discovery_tls import identity_env
from test_http2 import echo_stubs, grpc_backend  # noqa: F401 (fixture)
from test_routes import eventually, service

WEB = "web.shop.svc.cluster.local:80"
CLIENT = "client.shop.serviceaccount.identity.linkerd.cluster.local"
INTRUDER = "intruder.shop.serviceaccount.identity.linkerd.cluster.local"


@pytest.fixture
def authz(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """(controller, workload(name, **kwargs) -> Workload, client(identity) -> port to web):
    workloads of Service `web` whose proxies watch their inbound policy, and client proxies
    with an identity of their own."""
    controller = Controller(trust_dir, None, "--workload-probe-interval", "500ms")
    started = []

    def workload(name, annotations=None, app_port=None, **kwargs):
        identity = f"{name}.shop.serviceaccount.identity.linkerd.cluster.local"
        env = {**identity_env(controller, trust_dir, tmp_path, identity),
               "LINKERD2_PROXY_POLICY_SVC_ADDR": controller.grpc_address,
               "LINKERD2_PROXY_POLICY_WORKLOAD": f'{{"ns":"shop","external_workload":"{name}"}}',
               "LINKERD2_PROXY_LOG": "info"}
        w = Workload(name, labels={"app": "web"}, annotations=annotations, app_port=app_port, extra_env=env, **kwargs)
        started.append(w)
        controller.weft("apply", "-f", "-", input=service("web") + w.manifest())
        return w

    def client(identity):
        env = identity_env(controller, trust_dir, tmp_path, identity)
        return client_proxy(start_proxy, controller, WEB, **env)[1][WEB]

    yield controller, workload, client
    for w in started:
        w.stop()
    controller.stop()


def status(port, host="127.0.0.1", path="/", *args):
    """curl's status and `l5d-proxy-error` for one GET."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", "--max-time", "5", *args, f"http://{host}:{port}{path}"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    error = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("l5d-proxy-error:")), None)
    return int(lines[0].split()[1]), error


def series(proxy, name, **labels):
    return sum(value for key, value in proxy.metrics().items()
               if key.startswith(name + "{") and all(f'{k}="{v}"' in key for k, v in labels.items()))


def apply(controller, text):
    controller.weft("apply", "-f", "-", input=text)


def server(name, protocol, access=None):
    return f"""---
apiVersion: policy.linkerd.io/{"v1beta3" if access else "v1beta2"}
kind: Server
metadata: {{name: {name}, namespace: shop}}
spec:
  externalWorkloadSelector: {{matchLabels: {{app: web}}}}
  port: http
{f"  proxyProtocol: {protocol}" if protocol else ""}
{f"  accessPolicy: {access}" if access else ""}
"""


def authorization_policy(name, target, *refs):
    kind, target_name = target
    group = {"Server": "policy.linkerd.io", "HTTPRoute": "policy.linkerd.io", "GRPCRoute": "gateway.networking.k8s.io"}.get(kind, '""')
    references = ", ".join("{kind: %s, name: %s, group: %s}" % (k, n, '""' if k == "ServiceAccount" else "policy.linkerd.io")
                           for k, n in refs)
    return f"""---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: shop}}
spec:
  targetRef: {{group: {group}, kind: {kind}, name: {target_name}}}
  requiredAuthenticationRefs: [{references}]
"""


def test_a_server_denies_until_an_authorization_policy_admits_identities_and_networks(authz):
    controller, workload, client = authz
    web = workload("web-1")
    wait_ready(controller, ["web-1"])
    meshed, intruder = client(CLIENT), client(INTRUDER)
    # The default policy (all-unauthenticated) admits everyone.
    assert status(meshed)[0] == 200 and status(8080, web.ip)[0] == 200
    seen = web.app.requests

    # A Server without authorizations: every client is refused, before the app.
    apply(controller, server("web-http", "HTTP/1"))
    eventually(lambda: _assert(status(8080, web.ip)[0] == 403))
    code, error = status(meshed)
    assert code == 403 and "unauthorized" in (error or ""), (code, error)
    assert web.app.requests == seen

    # Admit the client's identity by name, and unmeshed clients of one network except one address.
    apply(controller, """---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: web-clients, namespace: shop}
spec:
  identities: ["%s"]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: loopback-but-one, namespace: shop}
spec:
  networks: [{cidr: 127.0.0.0/8, except: [127.0.0.1/32]}]
""" % CLIENT + authorization_policy("web-from-clients", ("Server", "web-http"), ("MeshTLSAuthentication", "web-clients"))
          + authorization_policy("web-from-loopback", ("Server", "web-http"), ("NetworkAuthentication", "loopback-but-one")))
    eventually(lambda: _assert(status(meshed)[0] == 200))
    assert status(intruder)[0] == 403
    assert status(8080, web.ip)[0] == 403  # from 127.0.0.1: the exception
    assert status(8080, web.ip, "/", "--interface", "127.0.0.9")[0] == 200
    proxy = web.proxy
    assert series(proxy, "inbound_http_authz_allow_total", srv_name="web-http", authz_kind="authorizationpolicy",
                  authz_name="web-from-clients", client_id=CLIENT, tls="true") >= 1
    assert series(proxy, "inbound_http_authz_allow_total", authz_name="web-from-loopback", tls="disabled") == 1
    assert series(proxy, "inbound_http_authz_deny_total", srv_name="web-http", client_id=INTRUDER) >= 1
    assert series(proxy, "inbound_http_authz_deny_total", srv_name="web-http", tls="disabled") >= 2
    assert "request refused by policy" in proxy.output()

    # A policy whose authentication does not exist grants nothing (fails closed).
    apply(controller, authorization_policy("web-from-nobody", ("Server", "web-http"), ("MeshTLSAuthentication", "missing")))
    controller.weft("delete", "authorizationpolicy", "web-from-clients", "-n", "shop")
    eventually(lambda: _assert(status(meshed)[0] == 403))

    # With the controller gone, the last policy stays in force.
    controller.stop()
    time.sleep(0.5)
    assert status(meshed)[0] == 403 and status(8080, web.ip, "/", "--interface", "127.0.0.9")[0] == 200


def test_grpc_is_denied_with_permission_denied_and_a_server_authorization_admits(authz, grpc_backend, echo_stubs):  # noqa: F811
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    controller, workload, client = authz
    workload("grpc-1", app_port=grpc_backend)
    wait_ready(controller, ["grpc-1"])
    meshed = client(CLIENT)
    apply(controller, server("web-grpc", "gRPC"))

    def call():
        with grpc.insecure_channel(f"127.0.0.1:{meshed}", options=[("grpc.default_authority", WEB)]) as channel:
            return echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.Msg(text="hi"), timeout=5).text

    def denied():
        with pytest.raises(grpc.RpcError) as failure:
            call()
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED, failure.value
    eventually(denied)
    apply(controller, """apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: grpc-clients, namespace: shop}
spec:
  server: {name: web-grpc}
  client:
    meshTLS: {serviceAccounts: [{name: client}]}
""")
    eventually(lambda: _assert(call() == "HI"))

    # Down to one gRPC method: a GRPCRoute for Unary whose own policy admits only INTRUDER's
    # identity; the Server's authorization no longer covers it, and Fail has no route at all.
    intruder = client(INTRUDER)
    apply(controller, """---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: unary, namespace: shop}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-grpc}]
  rules:
  - matches: [{method: {service: weft.test.Echo, method: Unary}}]
""" + authorization_policy("unary-from-intruder", ("GRPCRoute", "unary"), ("ServiceAccount", "intruder")))

    def unary_needs_the_route_policy():
        with grpc.insecure_channel(f"127.0.0.1:{intruder}", options=[("grpc.default_authority", WEB)]) as channel:
            assert echo_pb2_grpc.EchoStub(channel).Unary(echo_pb2.Msg(text="x"), timeout=5).text == "X"
    eventually(unary_needs_the_route_policy)
    assert call() == "HI"  # the Server's ServerAuthorization still admits CLIENT on every route
    with grpc.insecure_channel(f"127.0.0.1:{intruder}", options=[("grpc.default_authority", WEB)]) as channel:
        with pytest.raises(grpc.RpcError) as failure:
            echo_pb2_grpc.EchoStub(channel).Fail(echo_pb2.Msg(text="x"), timeout=5)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND, failure.value


def test_an_http_route_of_the_server_has_its_own_authorizations(authz):
    controller, workload, client = authz
    web = workload("web-1")
    wait_ready(controller, ["web-1"])
    meshed, intruder = client(CLIENT), client(INTRUDER)
    apply(controller, server("web-http", "HTTP/1") + """---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: admin, namespace: shop}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /admin}, method: GET}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {name: pages, namespace: shop}
spec:
  parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /pages}}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: anywhere, namespace: shop}
spec:
  networks: [{cidr: 0.0.0.0/0}]
""" + authorization_policy("admin-from-client", ("HTTPRoute", "admin"), ("ServiceAccount", "client"))
          + authorization_policy("pages-for-all", ("HTTPRoute", "pages"), ("NetworkAuthentication", "anywhere")))
    admin = ("/admin/users",)

    def admitted():
        answer = status(meshed, "127.0.0.1", *admin)
        assert answer[0] == 200, (answer, web.proxy.output()[-2000:])
    eventually(admitted)
    assert status(intruder, "127.0.0.1", *admin)[0] == 403
    assert status(8080, web.ip, *admin)[0] == 403
    assert status(8080, web.ip, "/pages/a")[0] == 200 and status(intruder, "127.0.0.1", "/pages/a")[0] == 200
    code, error = status(meshed, "127.0.0.1", "/admin/users", "-X", "POST")  # POST: no route
    assert code == 404 and "no route" in (error or ""), (code, error)
    assert series(web.proxy, "inbound_http_authz_allow_total", route_kind="httproute", route_name="admin",
                  authz_name="admin-from-client", client_id=CLIENT) >= 1
    assert series(web.proxy, "inbound_http_authz_deny_total", route_name="admin", client_id=INTRUDER) == 1
    assert series(web.proxy, "inbound_http_route_not_found_total", srv_name="web-http") >= 1


def test_an_opaque_port_closes_refused_connections_before_the_app_sees_a_byte(authz):
    controller, workload, client = authz
    app = socket.socket()
    app.bind(("127.0.0.1", 0))
    app.listen(16)
    app.settimeout(0.2)
    web = workload("tcp-1", app_port=app.getsockname()[1])
    apply(controller, server("web-tcp", "opaque"))

    def refused():
        """Whether the proxy closes (or resets) a connection without an answer."""
        try:
            with socket.create_connection((web.ip, 8080), timeout=1) as connection:
                connection.sendall(b"secret\n")
                return connection.recv(16) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    eventually(lambda: _assert(refused()))
    while True:  # connections admitted before the Server arrived
        try:
            app.accept()[0].close()
        except socket.timeout:
            break
    assert all(refused() for _ in range(3))
    with pytest.raises(socket.timeout):
        app.accept()
    assert series(web.proxy, "inbound_tcp_authz_deny_total", srv_name="web-tcp") >= 2

    apply(controller, """apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: anyone, namespace: shop}
spec:
  server: {name: web-tcp}
  client: {unauthenticated: true}
""")

    def reaches_the_app():
        with socket.create_connection((web.ip, 8080), timeout=3) as connection:
            connection.sendall(b"hello\n")
            try:
                accepted, _ = app.accept()
            except socket.timeout:  # the ServerAuthorization has not arrived yet: try again
                raise AssertionError("the app saw no connection")
            with accepted:
                accepted.settimeout(3)
                assert accepted.recv(16) == b"hello\n"
    eventually(reaches_the_app)
    assert series(web.proxy, "inbound_tcp_authz_allow_total", srv_name="web-tcp", authz_name="anyone") >= 1
    app.close()


def test_default_policies_from_annotations_audit_and_live_changes(authz):
    controller, workload, client = authz
    web = workload("web-1", annotations={"config.linkerd.io/default-inbound-policy": "deny"})
    other = workload("web-2")
    wait_ready(controller, ["web-1", "web-2"])
    assert status(8080, web.ip)[0] == 403 and status(8080, other.ip)[0] == 200
    meshed = client(CLIENT)

    # The Namespace's annotation is the default for workloads without their own.
    apply(controller, """apiVersion: v1
kind: Namespace
metadata: {name: shop, annotations: {config.linkerd.io/default-inbound-policy: all-authenticated}}
""")
    eventually(lambda: _assert(status(8080, other.ip)[0] == 403))
    assert series(other.proxy, "inbound_http_authz_deny_total", srv_kind="default", srv_name="all-authenticated") >= 1

    # Audit: everything passes, what would have been refused is logged and counted.
    apply(controller, server("web-http", "HTTP/1", access="audit"))
    eventually(lambda: _assert(status(8080, other.ip)[0] == 200))
    assert status(8080, web.ip)[0] == 200 and status(meshed)[0] == 200
    assert series(other.proxy, "inbound_http_authz_allow_total", srv_name="web-http", authz_name="audit") >= 1
    assert "audit: allowed a client no authorization admits" in other.proxy.output()

    # A change to deny closes open connections it refuses within a second.
    connection = socket.create_connection((other.ip, 8080), timeout=5)
    connection.sendall(b"GET / HTTP/1.1\r\nHost: web\r\n\r\n")
    # The whole response (head and body may come in separate reads), so that what is read
    # after the change is only what the change does.
    response = b""
    while b"\r\n\r\n" not in response:
        response += connection.recv(4096)
    head, body = response.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += connection.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    apply(controller, server("web-http", "HTTP/1", access="deny"))
    applied = time.monotonic()
    assert connection.recv(4096) == b""
    assert time.monotonic() - applied < 1.0
    connection.close()


def test_a_port_refuses_until_its_policy_is_known_and_ready_says_why(start_proxy):  # noqa: F811
    app_port = free_port()
    port = free_port()
    unreachable = f"127.0.0.1:{free_port()}"
    proxy = start_proxy(wait_ready=False, WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{app_port}",
                        LINKERD2_PROXY_POLICY_SVC_ADDR=unreachable, LINKERD2_PROXY_POLICY_WORKLOAD='{"ns":"shop","external_workload":"x"}',
                        LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="300ms")
    eventually(lambda: _assert(proxy.get("/ready")[0] == 503))
    assert f"no inbound policy yet for port {port}" in proxy.get("/ready")[1]
    started = time.monotonic()
    assert status(port)[0] == 403
    assert time.monotonic() - started < 3

    # Without a policy service the default comes from LINKERD2_PROXY_INBOUND_DEFAULT_POLICY.
    denied = free_port()
    start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{denied}=127.0.0.1:{app_port}", LINKERD2_PROXY_INBOUND_DEFAULT_POLICY="deny")
    code, error = status(denied)
    assert code == 403 and "unauthorized" in (error or ""), (code, error)
    with pytest.raises(RuntimeError, match="LINKERD2_PROXY_INBOUND_DEFAULT_POLICY"):
        start_proxy(LINKERD2_PROXY_INBOUND_DEFAULT_POLICY="everyone")


def _assert(condition):
    assert condition


def test_weft_check_warns_about_policies_that_select_or_name_nothing(authz):
    controller, workload, client = authz
    workload("web-1")
    apply(controller, server("web-http", "HTTP/1") + server("lost", "HTTP/1").replace("app: web", "app: nothing")
          + authorization_policy("needs-missing", ("Server", "web-http"), ("MeshTLSAuthentication", "missing"))
          + authorization_policy("targets-missing", ("Server", "gone"), ("ServiceAccount", "client")) + """---
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: orphan, namespace: shop}
spec:
  server: {name: nowhere}
  client: {unauthenticated: true}
""")
    def check():
        return subprocess.run([str(weft_binary("weft")), "check", "--controller", controller.socket],
                              capture_output=True, text=True, timeout=60).stdout
    output = check()
    assert "‼ Server shop/lost: selects no ExternalWorkload" in output, output
    assert "‼ AuthorizationPolicy shop/needs-missing: the MeshTLSAuthentication shop/missing it requires does not exist" in output, output
    assert "‼ AuthorizationPolicy shop/targets-missing: its target Server gone does not exist" in output, output
    assert "‼ ServerAuthorization shop/orphan: names or selects no Server" in output, output
    assert "Server shop/web-http" not in output
    for kind, name in [("server", "lost"), ("authorizationpolicy", "needs-missing"), ("authorizationpolicy", "targets-missing"),
                       ("serverauthorization", "orphan")]:
        controller.weft("delete", kind, name, "-n", "shop")
    output = check()
    assert "√ every Server selects a workload and every policy's references exist" in output and "‼" not in output, output


def test_switching_to_deny_under_load_admits_nothing_after_a_second_and_closes_http2(authz):
    import h2.config
    import h2.connection
    import h2.events
    controller, workload, client = authz
    web = workload("web-1")
    wait_ready(controller, ["web-1"])
    meshed = client(CLIENT)
    apply(controller, server("web-http", None, access="all-unauthenticated"))

    def server_in_force():
        assert status(meshed)[0] == 200
        assert series(web.proxy, "inbound_http_authz_allow_total", srv_name="web-http") >= 1
    eventually(server_in_force)

    # An unmeshed HTTP/2 connection, open (the proxy's SETTINGS received and acknowledged).
    # (The app speaks only HTTP/1.1, so no request is sent on it.)
    connection = socket.create_connection((web.ip, 8080), timeout=5)
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    h2conn.initiate_connection()
    connection.sendall(h2conn.data_to_send())
    settled = False
    while not settled:
        settled = any(isinstance(event, h2.events.RemoteSettingsChanged) for event in h2conn.receive_data(connection.recv(65536)))
        connection.sendall(h2conn.data_to_send())

    load = Load(meshed, rate=200, threads=8)
    time.sleep(1.5)
    started = time.monotonic()
    apply(controller, server("web-http", None, access="deny"))
    applied = time.monotonic()
    connection.settimeout(3)
    while True:
        data = connection.recv(65536)
        if not data:
            break
        h2conn.receive_data(data)
    closed_after = time.monotonic() - applied
    connection.close()
    time.sleep(2)
    results = load.stop()
    assert closed_after < 1.0, closed_after
    before = [r for r in results if r[0] < started]
    after = [r for r in results if r[0] > applied + 1.0]
    assert len(before) > 100 and all(r[1] == 200 for r in before), [r for r in before if r[1] != 200][:5]
    assert len(after) > 100 and all(r[1] == 403 for r in after), [r for r in after if r[1] != 403][:5]


def test_clients_with_certificates_minted_here_are_admitted_by_their_exact_identity(authz, trust_dir, tmp_path):  # noqa: F811
    """Python's ssl and openssl s_client as mesh-TLS clients, with leaf certificates signed by
    the mesh's issuer here: a DNS-like name and a SPIFFE ID admitted by name, another name and a
    SPIFFE ID under an admitted suffix refused."""
    import ssl
    from cryptography import x509
    from test_peer_certificates import leaf, write_chain
    controller, workload, client = authz
    web = workload("web-1")
    spiffe = "spiffe://cluster.local/ns/shop/sa/spiffe-client"
    apply(controller, server("web-http", "HTTP/1") + f"""---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {{name: named, namespace: shop}}
spec:
  identities: ["{CLIENT}", "{spiffe}", "*.other.serviceaccount.identity.linkerd.cluster.local"]
""" + authorization_policy("named-only", ("Server", "web-http"), ("MeshTLSAuthentication", "named")))

    def chain_for(san):
        certificate, key, issuer_certificate = leaf(trust_dir, [san])
        return write_chain(tmp_path, certificate, key, issuer_certificate)

    def python_client(san):
        chain, key = chain_for(san)
        context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
        context.load_cert_chain(str(chain), str(key))
        with socket.create_connection((web.ip, 8080), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=web.identity) as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
                return int(tls.recv(64).split()[1])

    eventually(lambda: _assert(python_client(x509.DNSName(CLIENT)) == 200))
    assert python_client(x509.DNSName(INTRUDER)) == 403
    assert python_client(x509.UniformResourceIdentifier(spiffe)) == 200
    assert python_client(x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/someone-else")) == 403
    # A suffix admits DNS-like names under it, never a SPIFFE ID that happens to end alike.
    assert python_client(x509.DNSName("x.other.serviceaccount.identity.linkerd.cluster.local")) == 200
    assert python_client(x509.UniformResourceIdentifier("spiffe://x.other.serviceaccount.identity.linkerd.cluster.local/a")) == 403

    chain, key = chain_for(x509.DNSName(INTRUDER))
    out = subprocess.run(["openssl", "s_client", "-connect", f"{web.ip}:8080", "-servername", web.identity, "-CAfile",
                          str(trust_dir / "trust-anchors.pem"), "-cert", str(chain), "-cert_chain", str(trust_dir / "issuer.crt"),
                          "-key", str(key), "-quiet", "-verify_return_error"],
                         input=b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n", capture_output=True, timeout=10)
    assert out.stdout.startswith(b"HTTP/1.1 403"), (out.stdout[:200], out.stderr[-500:])
    assert series(web.proxy, "inbound_http_authz_deny_total", client_id=INTRUDER, tls="true") >= 2
