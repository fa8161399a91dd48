"""Inbound mesh TLS (issue 5 item 4, server side): a proxy with a certificate from a real
weft-controller terminates TLS 1.3 addressed to its own name, checked with openssl s_client and
Python's ssl, and hands the app the verified client identity as l5d-client-id."""
import json
import socket
import ssl
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import echo_server, free_port  # noqa: F401  (fixture)
from http_backend import Backend
from test_http2 import echo_stubs, grpc_backend  # noqa: F401  (fixtures)
from test_identity import (IDENTITY, Controller, csr_der, identity_stubs, proxy_identity_env,  # noqa: F401
                           token_for, trust_dir)

CLIENT = "client.shop.serviceaccount.identity.linkerd.cluster.local"


@pytest.fixture
def meshed(trust_dir, tmp_path, start_proxy):  # noqa: F811
    controller = Controller(trust_dir)
    backend = Backend()
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                        **proxy_identity_env(trust_dir, controller.port, token))
    yield proxy, port, controller
    controller.stop()
    backend.close()


def client_certificate(trust_dir, controller, identity_stubs, tmp_path, identity=CLIENT):  # noqa: F811
    """A leaf for `identity` from the controller, written as PEM files for ssl/openssl."""
    import grpc
    identity_pb2, identity_pb2_grpc = identity_stubs
    key = ec.generate_private_key(ec.SECP256R1())
    workload = identity.split(".")[1] + "/" + identity.split(".")[0]
    credentials = grpc.ssl_channel_credentials(root_certificates=(trust_dir / "trust-anchors.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{controller.port}", credentials, options=[
            ("grpc.ssl_target_name_override", "linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local")]) as channel:
        response = identity_pb2_grpc.IdentityStub(channel).Certify(identity_pb2.CertifyRequest(
            identity=identity, token=token_for(trust_dir, "--workload", workload),
            certificate_signing_request=csr_der([x509.DNSName(identity)], key=key, common_name=identity)), timeout=10)
    chain = tmp_path / "client-chain.pem"
    chain.write_bytes(b"".join(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
                               for der in [response.leaf_certificate, *response.intermediate_certificates]))
    key_file = tmp_path / "client-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key_file


def s_client(port, *args):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          input=b"", capture_output=True, timeout=20)


def test_openssl_sees_tls13_and_the_proxys_certificate(meshed, trust_dir):  # noqa: F811
    _, port, _ = meshed
    result = s_client(port, "-servername", IDENTITY, "-CAfile", str(trust_dir / "trust-anchors.pem"),
                      "-verify_return_error", "-showcerts")
    out = result.stdout.decode()
    assert "Protocol  : TLSv1.3" in out or "New, TLSv1.3" in out, out[-2000:]
    assert "Verify return code: 0 (ok)" in out, out[-2000:]
    assert f"CN = {IDENTITY}" in out and "CN = identity.linkerd.cluster.local" in out
    leaf = x509.load_pem_x509_certificate(out[out.index("-----BEGIN CERTIFICATE-----"):].encode())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [IDENTITY]


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_1"])
def test_older_tls_versions_are_refused(meshed, version):
    _, port, _ = meshed
    result = s_client(port, "-servername", IDENTITY, version)
    out = result.stdout.decode() + result.stderr.decode()
    assert "Protocol  : TLSv1.2" not in out and "Cipher is (NONE)" in out or result.returncode != 0, out[-1500:]
    assert "BEGIN CERTIFICATE" not in out


def https_headers(port, context, extra_headers=b""):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=IDENTITY) as tls:
            version = tls.version()
            tls.sendall(b"GET /headers HTTP/1.1\r\nHost: app\r\n" + extra_headers + b"Connection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body), version


def test_the_app_gets_the_verified_client_identity(meshed, trust_dir, identity_stubs, tmp_path):  # noqa: F811
    proxy, port, controller = meshed
    chain, key = client_certificate(trust_dir, controller, identity_stubs, tmp_path)
    context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
    context.load_cert_chain(str(chain), str(key))
    seen, version = https_headers(port, context, b"l5d-client-id: forged.default.serviceaccount.identity.linkerd.cluster.local\r\n")
    assert version == "TLSv1.3"
    assert seen["l5d-client-id"] == CLIENT
    metrics = proxy.metrics()
    assert any(k.startswith("request_total{") and 'tls="true"' in k for k in metrics), [k for k in metrics if "request_total" in k]


def test_a_client_without_a_certificate_is_unauthenticated(meshed, trust_dir):  # noqa: F811
    _, port, _ = meshed
    context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
    seen, _ = https_headers(port, context, b"l5d-client-id: forged.default.serviceaccount.identity.linkerd.cluster.local\r\n")
    assert "l5d-client-id" not in seen


def test_a_client_certificate_from_another_ca_fails_the_handshake(meshed, trust_dir, tmp_path):  # noqa: F811
    _, port, _ = meshed
    other = tmp_path / "other"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", f"/CN={CLIENT}", "-addext", f"subjectAltName=DNS:{CLIENT}",
                    "-keyout", str(tmp_path / "other-key.pem"), "-out", str(tmp_path / "other.pem")],
                   check=True, capture_output=True)
    context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
    context.load_cert_chain(str(tmp_path / "other.pem"), str(tmp_path / "other-key.pem"))
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        https_headers(port, context)
    del other


def test_tls_for_another_name_passes_through_untouched(meshed):
    """Only TLS addressed to this proxy is terminated; other TLS goes to the app as bytes."""
    _, port, _ = meshed
    result = s_client(port, "-servername", "somebody-else.example")
    out = result.stdout.decode()
    # The app (plain HTTP) cannot speak TLS: no certificate comes back, and certainly not the proxy's.
    assert IDENTITY not in out


class Tap:
    """A TCP relay that records the bytes one proxy sends the other."""

    def __init__(self, target_port):
        import threading
        self.target_port = target_port
        self.recorded = bytearray()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import threading
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self.pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, False), daemon=True).start()

    def pump(self, source, destination, record):
        try:
            while chunk := source.recv(65536):
                if record:
                    self.recorded += chunk
                destination.sendall(chunk)
            destination.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def two_proxies(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """Proxy B serves the app (identity web.shop); proxy A is the client's (identity client.shop) and
    maps a local port to B's port through a tap, expecting B to be `expected`."""
    controller = Controller(trust_dir)
    backend = Backend()
    web_token, client_token = tmp_path / "web.token", tmp_path / "client.token"
    web_token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    client_token.write_bytes(token_for(trust_dir, "--workload", "shop/client"))
    b_port = free_port()
    server = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{b_port}=127.0.0.1:{backend.port}",
                         **proxy_identity_env(trust_dir, controller.port, web_token))
    tap = Tap(b_port)

    def client(expected=IDENTITY):
        a_port = free_port()
        env = proxy_identity_env(trust_dir, controller.port, client_token, LINKERD2_PROXY_IDENTITY_LOCAL_NAME=CLIENT)
        proxy = start_proxy(WEFT_PROXY_OUTBOUND_PORTS=f"127.0.0.1:{a_port}=127.0.0.1:{tap.port}@{expected}", **env)
        return proxy, a_port
    yield server, client, tap
    controller.stop()
    backend.close()


def plain_get_headers(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /headers HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_two_proxies_talk_mutual_tls(two_proxies):
    server, client, tap = two_proxies
    client_proxy, port = client()
    data = plain_get_headers(port)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:300]
    # The app behind B sees A's identity, proven by A's certificate.
    assert json.loads(body)["l5d-client-id"] == CLIENT
    # Between the proxies: a TLS handshake record first, and no plaintext of the request anywhere.
    assert tap.recorded[:1] == b"\x16" and b"GET /headers" not in tap.recorded and b"Host: web" not in tap.recorded
    assert any(k.startswith("request_total{") and 'tls="true"' in k for k in server.metrics())
    # The client side counts its connection to the peer as mesh TLS to that identity.
    client_metrics = client_proxy.metrics()
    series = f'tcp_open_total{{direction="outbound",peer="dst",target_addr="127.0.0.1:{tap.port}",tls="true",server_id="{IDENTITY}"}}'
    assert client_metrics.get(series) == 1, [k for k in client_metrics if k.startswith("tcp_open_total")]


def test_a_peer_with_another_identity_gets_nothing(two_proxies):
    server, client, tap = two_proxies
    _, port = client(expected="other.shop.serviceaccount.identity.linkerd.cluster.local")
    data = plain_get_headers(port)
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]
    # The client's bytes were never written to the wrong peer: only the handshake went out.
    assert b"GET /headers" not in tap.recorded
    assert not any(k.startswith("request_total{") for k in server.metrics())


def test_an_identity_that_only_looks_alike_is_refused(two_proxies):
    """Exact match: no case folding, no suffix."""
    _, client, tap = two_proxies
    for lookalike in [IDENTITY.upper(), "x" + IDENTITY]:
        try:
            _, port = client(expected=lookalike)
        except RuntimeError:
            continue  # refused at start-up (not a valid DNS-like identity): fine too
        assert not plain_get_headers(port).startswith(b"HTTP/1.1 200"), lookalike


def test_fails_closed_after_expiry_while_the_ca_is_down(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """Issue 5, "CA outage across expiry": the certificate is kept while the CA is down, no expired
    certificate is ever presented (mesh TLS stops, /ready turns 503, nothing falls back to
    plaintext), and the proxy recovers once the CA is back."""
    import time
    controller = Controller(trust_dir, None, "--issuance-lifetime", "1m", "--clock-skew", "0s")
    backend = Backend()
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    port = free_port()
    try:
        proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                            LINKERD2_PROXY_IDENTITY_MIN_REFRESH="1s",
                            **proxy_identity_env(trust_dir, controller.port, token))
        expiry = proxy.metrics()["identity_cert_expiration_timestamp_seconds"]
        controller.stop()
        anchors = str(trust_dir / "trust-anchors.pem")
        before = s_client(port, "-servername", IDENTITY, "-CAfile", anchors, "-verify_return_error").stdout.decode()
        assert "Verify return code: 0 (ok)" in before
        time.sleep(max(0.0, expiry - time.time()) + 1.5)
        assert proxy.get("/ready")[0] == 503
        after = s_client(port, "-servername", IDENTITY, "-CAfile", anchors)
        out = after.stdout.decode()
        assert "BEGIN CERTIFICATE" not in out and "Server certificate" not in out, out[-1500:]
        controller.start()
        for _ in range(100):
            if proxy.get("/ready")[0] == 200:
                break
            time.sleep(0.1)
        assert proxy.get("/ready")[0] == 200
        again = s_client(port, "-servername", IDENTITY, "-CAfile", anchors, "-verify_return_error").stdout.decode()
        assert "Verify return code: 0 (ok)" in again
    finally:
        controller.stop()
        backend.close()


@pytest.fixture
def mtls_pair(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """Returns connect(target_port) -> local port of proxy A whose traffic reaches `target_port`
    through proxy B, A to B over mutual TLS."""
    controller = Controller(trust_dir)
    web_token, client_token = tmp_path / "web.token", tmp_path / "client.token"
    web_token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    client_token.write_bytes(token_for(trust_dir, "--workload", "shop/client"))

    def connect(target_port):
        b_port, a_port = free_port(), free_port()
        start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{b_port}=127.0.0.1:{target_port}",
                    **proxy_identity_env(trust_dir, controller.port, web_token))
        start_proxy(WEFT_PROXY_OUTBOUND_PORTS=f"127.0.0.1:{a_port}=127.0.0.1:{b_port}@{IDENTITY}",
                    **proxy_identity_env(trust_dir, controller.port, client_token, LINKERD2_PROXY_IDENTITY_LOCAL_NAME=CLIENT))
        return a_port
    yield connect
    controller.stop()


def test_grpc_unary_and_bidi_streaming_over_mutual_tls(mtls_pair, grpc_backend, echo_stubs):  # noqa: F811
    import grpc
    echo_pb2, echo_pb2_grpc = echo_stubs
    port = mtls_pair(grpc_backend)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        assert stub.Unary(echo_pb2.Msg(text="hi", blob=b"x" * 100_000), timeout=20).text == "HI"
        answers = [m.text for m in stub.Chat(iter([echo_pb2.Msg(text=str(i)) for i in range(50)]), timeout=20)]
        assert answers == [f"echo {i}" for i in range(50)]


def test_opaque_bytes_over_mutual_tls(mtls_pair, echo_server):  # noqa: F811
    import hashlib
    import os
    import threading
    backend = echo_server()
    port = mtls_pair(backend.port)
    payload = os.urandom(8 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
        def send():
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send)
        sender.start()
        received = bytearray()
        while chunk := client.recv(1 << 20):
            received += chunk
        sender.join()
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_weft_identity_inspect_reads_a_live_endpoint(meshed, trust_dir, tmp_path):  # noqa: F811
    from test_identity import weft
    _, port, _ = meshed
    out = weft("identity", "inspect", f"127.0.0.1:{port}", "--server-name", IDENTITY,
               "--trust-anchors", str(trust_dir / "trust-anchors.pem")).stdout
    assert f"names: DNS:{IDENTITY}" in out and "signed by the next certificate: yes" in out
    assert "chain to the trust anchors: yes" in out
    other = tmp_path / "other-trust"
    weft("identity", "init", "--dir", str(other))
    refused = weft("identity", "inspect", f"127.0.0.1:{port}", "--server-name", IDENTITY,
                   "--trust-anchors", str(other / "trust-anchors.pem"), check=False)
    assert refused.returncode == 1 and "chain to the trust anchors: NO" in refused.stdout
    unreachable = weft("identity", "inspect", f"127.0.0.1:{free_port()}", check=False)
    assert unreachable.returncode != 0 and "cannot connect" in unreachable.stderr


def test_a_stalled_handshake_is_closed_at_the_detect_timeout(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """A client that sends a ClientHello for the proxy's name and then nothing holds nothing open."""
    import time
    controller = Controller(trust_dir)
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    backend = Backend()
    port = free_port()
    try:
        start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{backend.port}",
                    LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT="1s", **proxy_identity_env(trust_dir, controller.port, token))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        hello = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=IDENTITY)
        with pytest.raises(ssl.SSLWantReadError):
            hello.do_handshake()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(outgoing.read())
            started = time.monotonic()
            while sock.recv(65536):  # the ServerHello and the rest, then the close
                pass
            assert 0.8 < time.monotonic() - started < 3
        assert backend.server.connections_seen == set()
    finally:
        controller.stop()
        backend.close()


def test_a_peer_that_never_finishes_the_handshake_is_given_up_on(trust_dir, tmp_path, start_proxy):  # noqa: F811
    """The outbound side bounds the handshake too (by the connect timeout): the client is closed."""
    import time
    controller = Controller(trust_dir)
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/client"))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts (in the kernel) and never answers
    port = free_port()
    try:
        start_proxy(WEFT_PROXY_OUTBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:{silent.getsockname()[1]}@{IDENTITY}",
                    LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT="1s",
                    **proxy_identity_env(trust_dir, controller.port, token, LINKERD2_PROXY_IDENTITY_LOCAL_NAME=CLIENT))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            assert sock.recv(65536) == b""
            assert 0.8 < time.monotonic() - started < 3
    finally:
        silent.close()
        controller.stop()
