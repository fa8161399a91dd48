"""The destination and policy services over mutual TLS (`weft-controller --control-plane-tls`), as
Python's grpcio and weft-proxy reach them: the server proves Linkerd's control-plane names, a
client without a certificate of the mesh is refused at the handshake, and a workload's context
must be its own (issue: mesh expansion, item 2)."""
import datetime

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import Controller, start_proxy, still_open  # noqa: F401 (fixture)
from mesh import SERVICE, Workload, client_proxy, free_ip, get
from test_controller_api import stubs  # noqa: F401 (fixture)
from test_discovery_tls import identity_env
from test_identity import trust_dir  # noqa: F401 (fixture)

DESTINATION = "linkerd-destination.linkerd.serviceaccount.identity.linkerd.cluster.local"
POLICY = "linkerd-policy.linkerd.serviceaccount.identity.linkerd.cluster.local"
WEB_1 = "web-1.shop.serviceaccount.identity.linkerd.cluster.local"
EW = """---
apiVersion: workload.linkerd.io/v1beta1
kind: ExternalWorkload
metadata: {{name: {name}, namespace: shop, labels: {{app: web}}, annotations: {{workload.weft.io/health-check: "none"}}}}
spec:
  meshTLS: {{identity: "{name}.shop.serviceaccount.identity.linkerd.cluster.local", serverName: "{name}.shop.serviceaccount.identity.linkerd.cluster.local"}}
  workloadIPs: [{{ip: {ip}}}]
  ports: [{{port: 8080, name: http}}]
status:
  conditions: [{{type: Ready, status: "True"}}]
"""


def pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM)


def leaf(issuer_cert, issuer_key, name, not_after=None, not_before=None):
    """A workload certificate for `name`, as the identity service would issue it (or expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([])).issuer_name(issuer_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or now - datetime.timedelta(minutes=1))
                   .not_valid_after(not_after or now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(issuer_key, hashes.SHA256()))
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), \
        pem(certificate) + pem(issuer_cert)


def other_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return certificate, key


@pytest.fixture
def controller(trust_dir):  # noqa: F811
    running = Controller(trust_dir, None, "--control-plane-tls", "--workload-probe-interval", "500ms")
    running.weft("apply", "-f", "-", input=SERVICE + EW.format(name="web-1", ip="127.0.9.1") + EW.format(name="web-2", ip="127.0.9.2"))
    yield running
    running.stop()


@pytest.fixture
def issuer(trust_dir):  # noqa: F811
    return (x509.load_pem_x509_certificate((trust_dir / "issuer.crt").read_bytes()),
            serialization.load_pem_private_key((trust_dir / "issuer.key").read_bytes(), None))


def channel(controller, trust_dir, credentials=None, name=DESTINATION):  # noqa: F811
    key, chain = credentials or (None, None)
    tls = grpc.ssl_channel_credentials(root_certificates=(trust_dir / "trust-anchors.pem").read_bytes(), private_key=key, certificate_chain=chain)
    return grpc.secure_channel(controller.grpc_address, tls, options=[("grpc.ssl_target_name_override", name)])


def get_code(stubs, channel, path="web.shop.svc.cluster.local:80", token=""):  # noqa: F811
    pb, grpc_stubs = stubs["destination"]
    try:
        next(grpc_stubs.DestinationStub(channel).Get(pb.GetDestination(path=path, context_token=token), timeout=5))
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def test_a_workload_certificate_reads_endpoints_and_its_own_policy_only(controller, trust_dir, issuer, stubs):  # noqa: F811
    web_1 = leaf(*issuer, WEB_1)
    # Both of Linkerd's names are on the one port's certificate.
    for name in (DESTINATION, POLICY):
        with channel(controller, trust_dir, web_1, name=name) as secured:
            assert get_code(stubs, secured, token='{"ns":"shop","external_workload":"web-1"}') == grpc.StatusCode.OK
    inbound, inbound_stubs = stubs["inbound"]
    with channel(controller, trust_dir, web_1, name=POLICY) as secured:
        client = inbound_stubs.InboundServerPoliciesStub(secured)
        own = client.GetPort(inbound.PortSpec(workload='{"ns":"shop","external_workload":"web-1"}', port=8080), timeout=5)
        assert own.protocol.WhichOneof("kind") is not None
        with pytest.raises(grpc.RpcError) as refused:
            client.GetPort(inbound.PortSpec(workload='{"ns":"shop","external_workload":"web-2"}', port=8080), timeout=5)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "web-2" in refused.value.details() and WEB_1 in refused.value.details()
        # Endpoints of any service, but a context naming another workload, a namespace that is not
        # its own, text that is not JSON, or over 4 KiB is refused.
        assert get_code(stubs, secured, token='{"ns":"shop","external_workload":"web-2"}') == grpc.StatusCode.PERMISSION_DENIED
        assert get_code(stubs, secured, token='{"ns":"billing"}') == grpc.StatusCode.PERMISSION_DENIED
        assert get_code(stubs, secured, token="shop:web-1") == grpc.StatusCode.INVALID_ARGUMENT
        assert get_code(stubs, secured, token='{"ns":"shop","x":"' + "y" * 5000 + '"}') == grpc.StatusCode.INVALID_ARGUMENT


def test_handshakes_without_a_valid_mesh_certificate_are_refused(controller, trust_dir, issuer, stubs):  # noqa: F811
    now = datetime.datetime.now(datetime.timezone.utc)
    foreign_cert, foreign_key = other_ca()
    refused = {
        "no certificate": None,
        "another CA": leaf(foreign_cert, foreign_key, WEB_1),
        "expired": leaf(*issuer, WEB_1, not_before=now - datetime.timedelta(hours=2), not_after=now - datetime.timedelta(hours=1)),
    }
    for what, credentials in refused.items():
        with channel(controller, trust_dir, credentials) as secured:
            assert get_code(stubs, secured) == grpc.StatusCode.UNAVAILABLE, what
    with grpc.insecure_channel(controller.grpc_address) as plaintext:
        assert get_code(stubs, plaintext) == grpc.StatusCode.UNAVAILABLE
    # The controller's certificate does not name anything else.
    with channel(controller, trust_dir, leaf(*issuer, WEB_1), name="web-1.shop.serviceaccount.identity.linkerd.cluster.local") as wrong:
        assert get_code(stubs, wrong) == grpc.StatusCode.UNAVAILABLE
    # ...and it keeps serving those who have one.
    with channel(controller, trust_dir, leaf(*issuer, WEB_1)) as secured:
        assert get_code(stubs, secured) == grpc.StatusCode.OK


def test_proxies_discover_and_read_policy_over_mutual_tls(trust_dir, tmp_path, start_proxy):  # noqa: F811
    controller = Controller(trust_dir, None, "--control-plane-tls", "--workload-probe-interval", "500ms")
    names = {"LINKERD2_PROXY_DESTINATION_SVC_NAME": DESTINATION, "LINKERD2_PROXY_POLICY_SVC_NAME": POLICY}
    try:
        identity = "web-1.shop.serviceaccount.identity.linkerd.cluster.local"
        # Registered first: a proxy may read only the policy of a workload that has its identity.
        ip = free_ip()
        controller.weft("apply", "-f", "-", input=SERVICE + EW.format(name="web-1", ip=ip))
        web = Workload("web-1", ip=ip, extra_env={
            **identity_env(controller, trust_dir, tmp_path, identity), **names,
            "LINKERD2_PROXY_POLICY_SVC_ADDR": controller.grpc_address,
            "LINKERD2_PROXY_POLICY_WORKLOAD": '{"ns":"shop","external_workload":"web-1"}',
        })
        # Started, its proxy was ready: its port's policy came over mutual TLS.
        client_identity = "client.shop.serviceaccount.identity.linkerd.cluster.local"
        proxy, ports = client_proxy(start_proxy, controller, "web.shop.svc.cluster.local:80",
                                    **identity_env(controller, trust_dir, tmp_path, client_identity), **names)
        status, body, error = get(ports["web.shop.svc.cluster.local:80"])
        assert status == 200 and "web-1" in body, (status, body, error)
        assert web.app.client_ids == [client_identity]
        web.stop()
    finally:
        controller.stop()


def test_the_identity_destination_and_policy_services_speak_tls_13_only(controller, trust_dir, issuer):  # noqa: F811
    import subprocess
    key, chain = leaf(*issuer, WEB_1)
    (trust_dir.parent / "web-1.key").write_bytes(key)
    (trust_dir.parent / "web-1.crt").write_bytes(chain)
    for port, name in ((controller.port, "linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local"),
                       (controller.grpc_address.split(":")[1], DESTINATION)):
        client = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name, "-alpn", "h2",
                  "-cert", str(trust_dir.parent / "web-1.crt"), "-key", str(trust_dir.parent / "web-1.key")]
        old = subprocess.run(client + ["-tls1_2"], input="", capture_output=True, text=True, errors="replace", timeout=20)
        assert "protocol version" in old.stdout + old.stderr and "Cipher is (NONE)" in old.stdout, old.stdout + old.stderr
        new = subprocess.run(client + ["-tls1_3"], input="", capture_output=True, text=True, errors="replace", timeout=20)
        assert "TLSv1.3" in new.stdout and name in new.stdout, new.stdout + new.stderr


def test_one_address_flooding_the_destination_service_does_not_starve_the_others(controller, trust_dir, issuer):  # noqa: F811
    import socket
    import ssl
    import time
    port = int(controller.grpc_address.split(":")[1])
    flood = [socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.3", 0)) for _ in range(300)]
    time.sleep(0.5)
    alive = still_open(flood)
    assert 0 < alive <= 256, alive
    # Another address completes a mutual TLS 1.3 handshake meanwhile.
    key, chain = leaf(*issuer, WEB_1)
    (trust_dir.parent / "flood.key").write_bytes(key)
    (trust_dir.parent / "flood.crt").write_bytes(chain)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(trust_dir / "trust-anchors.pem"))
    context.load_cert_chain(str(trust_dir.parent / "flood.crt"), str(trust_dir.parent / "flood.key"))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as raw:
        with context.wrap_socket(raw, server_hostname=DESTINATION) as tls:
            assert tls.version() == "TLSv1.3"
    for s in flood:
        s.close()


def test_hostile_first_bytes_to_the_destination_service_are_closed(controller):
    import socket
    import time
    port = int(controller.grpc_address.split(":")[1])
    # Not TLS: a protocol_version alert, then the end.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as garbage:
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert garbage.recv(64) == b"\x15\x03\x03\x00\x02\x02\x46"
        assert garbage.recv(64) == b""
    # Half a ClientHello, then nothing: closed after the 10 s the first record may take.
    with socket.create_connection(("127.0.0.1", port), timeout=15) as stalled:
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01")
        started = time.monotonic()
        assert stalled.recv(64) == b""
        assert 9 <= time.monotonic() - started <= 13
