"""Mutual TLS to endpoints found by discovery: workloads certified by the controller's identity
service, registered with their identities; the client proxy verifies each endpoint's identity
as the destination service names it (issue: identity and mTLS, item 4)."""
import signal
import time

import pytest

from conftest import Controller, start_proxy  # noqa: F401 (fixture)
from mesh import SERVICE, Workload, client_proxy, get, wait_ready
from test_http2 import echo_stubs, grpc_backend  # noqa: F401 (fixtures)
from test_identity import proxy_identity_env, token_for, trust_dir  # noqa: F401 (fixture)

WEB = "web.shop.svc.cluster.local:80"
CLIENT = "client.shop.serviceaccount.identity.linkerd.cluster.local"


def identity_env(controller, trust_dir, tmp_path, identity):  # noqa: F811
    token = tmp_path / f"{identity}.token"
    token.write_bytes(token_for(trust_dir, "--identity", identity))
    return proxy_identity_env(trust_dir, controller.port, token, LINKERD2_PROXY_IDENTITY_LOCAL_NAME=identity)


@pytest.fixture
def mesh(trust_dir, tmp_path, start_proxy):  # noqa: F811
    controller = Controller(trust_dir, None, "--workload-probe-interval", "500ms")
    started = []

    def workload(name, proxy_identity=None, **kwargs):
        identity = proxy_identity or f"{name}.shop.serviceaccount.identity.linkerd.cluster.local"
        w = Workload(name, extra_env={**identity_env(controller, trust_dir, tmp_path, identity), **kwargs.pop("env", {})}, **kwargs)
        started.append(w)
        return w

    def client(*services, **env):
        return client_proxy(start_proxy, controller, *services, **identity_env(controller, trust_dir, tmp_path, CLIENT), **env)

    yield controller, workload, client
    for w in started:
        w.stop()
    controller.stop()


def series(proxy, name, **labels):
    return sum(value for key, value in proxy.metrics().items()
               if key.startswith(name + "{") and all(f'{k}="{v}"' in key for k, v in labels.items()))


def test_requests_to_discovered_endpoints_are_mutual_tls(mesh):
    controller, workload, client = mesh
    web = [workload(f"web-{i}") for i in (1, 2)]
    controller.weft("apply", "-f", "-", input=SERVICE + "".join(w.manifest() for w in web))
    wait_ready(controller, ["web-1", "web-2"])
    proxy, ports = client(WEB)
    for _ in range(40):
        status, body, error = get(ports[WEB])
        assert status == 200, (status, body, error)
    for w in web:
        # The app sees the client proxy's verified identity, and the workload's proxy counted TLS.
        assert w.app.client_ids and set(w.app.client_ids) == {CLIENT}, w.app.client_ids
        assert series(w.proxy, "request_total", direction="inbound", tls="true", client_id=CLIENT) == w.app.requests
        assert series(w.proxy, "tcp_open_total", direction="inbound", peer="src", tls="true", client_id=CLIENT) >= 1
        assert series(w.proxy, "tcp_open_total", direction="inbound", peer="src", tls="disabled") == 0
        # The client proxy's connection to it was mesh TLS to exactly that identity.
        assert series(proxy, "tcp_open_total", direction="outbound", peer="dst", target_addr=f"{w.ip}:8080",
                      tls="true", server_id=w.identity) >= 1


@pytest.mark.parametrize("server_name", ["web-1", "admin"])
def test_an_endpoint_that_is_not_who_discovery_says_gets_nothing(mesh, server_name):
    controller, workload, client = mesh
    # The ExternalWorkload says web-1's endpoint is "admin", but its proxy is certified as web-1.
    # With web-1's server name in SNI, web-1's proxy answers with its certificate, which does not
    # name admin; with admin's, web-1's proxy does not terminate the TLS at all.
    impostor = workload("web-1", identity="admin.shop.serviceaccount.identity.linkerd.cluster.local",
                        server_name=f"{server_name}.shop.serviceaccount.identity.linkerd.cluster.local",
                        proxy_identity="web-1.shop.serviceaccount.identity.linkerd.cluster.local")
    controller.weft("apply", "-f", "-", input=SERVICE + impostor.manifest())
    wait_ready(controller, ["web-1"])
    proxy, ports = client(WEB)
    status, _, error = get(ports[WEB])
    assert status == 502, (status, error)
    assert impostor.app.requests == 0
    if server_name == "web-1":
        assert error == ("mesh TLS refused: the peer is not admin.shop.serviceaccount.identity.linkerd.cluster.local "
                         '(its certificate names ["web-1.shop.serviceaccount.identity.linkerd.cluster.local"])')
    else:
        assert error.startswith("mesh TLS handshake failed")


def test_grpc_goes_over_mutual_tls_to_endpoints(mesh, grpc_backend, echo_stubs):  # noqa: F811
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    controller, workload, client = mesh
    web = workload("web-1", app_port=grpc_backend)
    controller.weft("apply", "-f", "-", input=SERVICE + web.manifest())
    wait_ready(controller, ["web-1"])
    proxy, ports = client(WEB)
    with grpc.insecure_channel(f"127.0.0.1:{ports[WEB]}") as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        assert stub.Unary(echo_pb2.Msg(text="hello"), timeout=10).text == "HELLO"
        replies = [m.text for m in stub.Chat(iter([echo_pb2.Msg(text=str(i)) for i in range(50)]), timeout=10)]
        assert replies == [f"echo {i}" for i in range(50)]
    # One HTTP/2 connection between the proxies, over mesh TLS to web-1's identity; web-1's proxy
    # saw gRPC inside TLS from the client's identity.
    assert series(proxy, "tcp_open_total", direction="outbound", peer="dst", target_addr=f"{web.ip}:8080",
                  tls="true", server_id=web.identity) == 1
    assert series(web.proxy, "response_total", direction="inbound", tls="true", grpc_status="0") == 2


def test_rotation_under_load(trust_dir, tmp_path, start_proxy, grpc_backend, echo_stubs):  # noqa: F811
    """60 s certificates, renewed every ~42 s for 5 minutes while 200 requests a second and one
    gRPC stream cross two mesh-TLS hops: nothing fails, the stream survives, and new handshakes
    present new certificates."""
    import subprocess
    import threading

    import grpc
    from mesh import Load
    echo_pb2, echo_pb2_grpc = echo_stubs
    controller = Controller(trust_dir, None, "--issuance-lifetime", "1m", "--clock-skew", "0s", "--workload-probe-interval", "500ms")
    env = lambda identity: {**identity_env(controller, trust_dir, tmp_path, identity), "LINKERD2_PROXY_IDENTITY_MIN_REFRESH": "5s"}  # noqa: E731
    web = Workload("web-1", extra_env=env("web-1.shop.serviceaccount.identity.linkerd.cluster.local"))
    echo = Workload("echo-1", labels={"app": "echo"}, app_port=grpc_backend,
                    extra_env=env("echo-1.shop.serviceaccount.identity.linkerd.cluster.local"))
    echo_service = SERVICE.replace("name: web,", "name: echo,").replace("app: web}", "app: echo}")
    try:
        controller.weft("apply", "-f", "-", input=SERVICE + "---\n" + echo_service + web.manifest() + echo.manifest())
        wait_ready(controller, ["web-1", "echo-1"])
        proxy, ports = client_proxy(start_proxy, controller, WEB, "echo.shop.svc.cluster.local:80", **env(CLIENT))
        stream_errors, replies = [], []
        stop = threading.Event()

        def chat():
            def messages():
                n = 0
                while not stop.is_set():
                    yield echo_pb2.Msg(text=str(n))
                    n += 1
                    time.sleep(0.5)
            try:
                with grpc.insecure_channel(f"127.0.0.1:{ports['echo.shop.svc.cluster.local:80']}") as channel:
                    for reply in echo_pb2_grpc.EchoStub(channel).Chat(messages(), timeout=600):
                        replies.append(reply.text)
            except Exception as error:  # recorded, asserted below
                stream_errors.append(error)

        chatter = threading.Thread(target=chat)
        chatter.start()
        load = Load(ports[WEB], rate=200, threads=16)  # 80 ms per request and thread: room for debug builds
        time.sleep(300)
        results = load.stop()
        stop.set()
        chatter.join(timeout=30)
        failures = [r for r in results if r[1] != 200]
        assert len(results) > 200 * 300 * 0.9 and not failures, (len(results), failures[:5])
        assert not stream_errors, stream_errors
        assert len(replies) > 500 and replies[:3] == ["echo 0", "echo 1", "echo 2"]
        # Every proxy renewed several times; the serials differ, and a new handshake with web-1's
        # proxy now presents its latest certificate.
        for workload in (web, echo):
            serials = [line.split("serial=")[1].split()[0] for line in workload.proxy.output().splitlines() if "certified" in line]
            assert len(set(serials)) >= 6, serials
        served = subprocess.run(["openssl", "s_client", "-connect", f"{web.ip}:8080", "-servername", web.identity],
                                input=b"", capture_output=True, timeout=20).stdout
        presented = x509_serial(served)
        latest = [line.split("serial=")[1].split()[0] for line in web.proxy.output().splitlines() if "certified" in line][-1]
        assert int(presented, 16) == int(latest, 16), (presented, latest)
    finally:
        web.stop()
        echo.stop()
        controller.stop()


def x509_serial(s_client_output: bytes) -> str:
    from cryptography import x509 as x
    pem = s_client_output.split(b"-----BEGIN CERTIFICATE-----")[1].split(b"-----END CERTIFICATE-----")[0]
    certificate = x.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----" + pem + b"-----END CERTIFICATE-----")
    return format(certificate.serial_number, "X")


def test_l5d_require_id_is_enforced(mesh, grpc_backend, echo_stubs):  # noqa: F811
    import http.client

    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    controller, workload, client = mesh
    web = workload("web-1")
    echo = workload("echo-1", labels={"app": "echo"}, app_port=grpc_backend)
    echo_service = SERVICE.replace("name: web,", "name: echo,").replace("app: web}", "app: echo}")
    controller.weft("apply", "-f", "-", input=SERVICE + "---\n" + echo_service + web.manifest() + echo.manifest())
    wait_ready(controller, ["web-1", "echo-1"])
    proxy, ports = client(WEB, "echo.shop.svc.cluster.local:80")

    def request(required):
        connection = http.client.HTTPConnection("127.0.0.1", ports[WEB], timeout=10)
        connection.request("GET", "/", headers={"l5d-require-id": required})
        response = connection.getresponse()
        result = response.status, response.read(), response.getheader("l5d-proxy-error")
        connection.close()
        return result

    assert request(web.identity)[:2] == (200, b"web-1")
    status, _, error = request("admin.shop.serviceaccount.identity.linkerd.cluster.local")
    assert status == 502 and error == (f"l5d-require-id: {web.ip}:8080 is {web.identity}, "
                                       "not admin.shop.serviceaccount.identity.linkerd.cluster.local")
    assert web.app.requests == 1
    with grpc.insecure_channel(f"127.0.0.1:{ports['echo.shop.svc.cluster.local:80']}") as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        assert stub.Unary(echo_pb2.Msg(text="hi"), metadata=[("l5d-require-id", echo.identity)], timeout=10).text == "HI"
        with pytest.raises(grpc.RpcError) as failure:
            stub.Unary(echo_pb2.Msg(text="hi"), metadata=[("l5d-require-id", web.identity)], timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE and "l5d-require-id" in failure.value.details()


def test_http1_travels_between_proxies_as_http2_and_reaches_the_app_as_http1(mesh):
    controller, workload, client = mesh
    web = workload("web-1")
    controller.weft("apply", "-f", "-", input=SERVICE + web.manifest())
    wait_ready(controller, ["web-1"])
    proxy, ports = client(WEB)
    for _ in range(30):
        status, body, error = get(ports[WEB])  # each on a new client connection
        assert (status, body) == (200, "web-1"), error
    # The app saw HTTP/1.1 requests, without the header the proxies used between themselves.
    assert web.app.seen == [("HTTP/1.1", None)] * 30
    # Between the proxies: one mesh-TLS connection carrying HTTP/2, for all 30 requests.
    assert series(proxy, "tcp_open_total", direction="outbound", peer="dst", target_addr=f"{web.ip}:8080", tls="true") == 1
    assert series(web.proxy, "tcp_open_total", direction="inbound", peer="src", tls="true", client_id=CLIENT) == 1
    assert series(web.proxy, "request_total", direction="inbound", tls="true", client_id=CLIENT) == 30


def test_opaque_ports_use_the_transport_header_to_the_peer_proxy(mesh, echo_server):  # noqa: F811
    import hashlib
    import os
    import socket
    controller, workload, client = mesh
    app = echo_server()
    db = workload("db-1", labels={"app": "db"}, app_port=app.port, port=5432, proxy_port=True)
    service = """apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  ports: [{name: app, port: 5432, targetPort: app}]
"""
    controller.weft("apply", "-f", "-", input=service + db.manifest())
    wait_ready(controller, ["db-1"])
    proxy, ports = client("db.shop.svc.cluster.local:5432")
    payload = os.urandom(4 << 20)
    with socket.create_connection(("127.0.0.1", ports["db.shop.svc.cluster.local:5432"]), timeout=20) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := conn.recv(1 << 20):
            received += chunk
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    # The client proxy went to db-1's proxy's inbound port 4143 over mesh TLS, not to 5432.
    assert series(proxy, "tcp_open_total", direction="outbound", peer="dst", target_addr=f"{db.ip}:4143",
                  tls="true", server_id=db.identity) == 1
    assert series(db.proxy, "tcp_open_total", direction="inbound", peer="src", tls="true", client_id=CLIENT) == 1
    # The inbound port itself takes nothing but mesh TLS with a transport header.
    with socket.create_connection((db.ip, 4143), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(5)
        assert raw.recv(100) == b""
