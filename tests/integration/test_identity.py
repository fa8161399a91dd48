"""Trust material from `weft identity init` and the identity service of `weft-controller`, checked
with Python's cryptography and called with grpcio over TLS (reliability.md A3, §2a rows 38-39)."""
import datetime
import os
import pathlib
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import REPO, Controller, free_port, wait_for_port, weft_binary  # noqa: F401 (Controller is imported from here by others)

IDENTITY = "web.shop.serviceaccount.identity.linkerd.cluster.local"
SERVICE_NAME = "linkerd-identity.linkerd.serviceaccount.identity.linkerd.cluster.local"


def weft(*args, check=True):
    result = subprocess.run([str(weft_binary("weft")), *args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def identity_stubs(tmp_path_factory):
    import grpc_tools
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("identity-stubs")
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{REPO / 'Protos'}", f"-I{include}", f"--python_out={out}",
                        f"--grpc_python_out={out}", str(REPO / "Protos" / "identity.proto")]) == 0
    sys.path.insert(0, str(out))
    import identity_pb2
    import identity_pb2_grpc
    return identity_pb2, identity_pb2_grpc


@pytest.fixture
def trust_dir(tmp_path):
    directory = tmp_path / "trust"
    weft("identity", "init", "--dir", str(directory))
    return directory


@pytest.fixture
def controller(trust_dir):
    running = Controller(trust_dir)
    yield running.port, running.log
    running.stop()
    running.log.close()


@pytest.fixture
def certify(controller, trust_dir, identity_stubs):
    import grpc
    identity_pb2, identity_pb2_grpc = identity_stubs
    port, _ = controller
    credentials = grpc.ssl_channel_credentials(root_certificates=(trust_dir / "trust-anchors.pem").read_bytes())
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials,
                                  options=[("grpc.ssl_target_name_override", SERVICE_NAME)])
    stub = identity_pb2_grpc.IdentityStub(channel)

    def call(identity, token, csr):
        return stub.Certify(identity_pb2.CertifyRequest(identity=identity, token=token, certificate_signing_request=csr),
                            timeout=10)
    yield call
    channel.close()


def token_for(trust_dir, *args):
    return weft("identity", "token", "create", "--dir", str(trust_dir), *args).stdout.strip().encode()


def csr_der(names, key=None, common_name=None, ca=False, algorithm=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else []))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, algorithm or hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_init_writes_ca_certificates_with_the_right_extensions_and_modes(trust_dir):
    anchor = x509.load_pem_x509_certificate((trust_dir / "trust-anchors.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate((trust_dir / "issuer.crt").read_bytes())
    for certificate, path_length in ((anchor, 1), (issuer, 0)):
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca and constraints.value.path_length == path_length
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
        assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
        assert certificate.public_key().curve.name == "secp256r1"
    assert anchor.subject.rfc4514_string() == "CN=root.linkerd.cluster.local"
    assert issuer.subject.rfc4514_string() == "CN=identity.linkerd.cluster.local"
    issuer.verify_directly_issued_by(anchor)
    assert stat.S_IMODE(os.stat(trust_dir).st_mode) == 0o700
    for name in ("issuer.key", "anchor.key", "token-signing.key"):
        assert stat.S_IMODE(os.stat(trust_dir / name).st_mode) == 0o600, name
    # Never replaces what is there.
    result = weft("identity", "init", "--dir", str(trust_dir), check=False)
    assert result.returncode != 0 and "exists" in result.stderr


def test_inspect_prints_names_validity_and_the_chain(trust_dir, tmp_path):
    out = weft("identity", "inspect", str(trust_dir / "issuer.crt")).stdout
    assert "subject: CN=identity.linkerd.cluster.local" in out and "CA=TRUE" in out
    bundle = tmp_path / "chain.pem"
    bundle.write_bytes((trust_dir / "issuer.crt").read_bytes() + (trust_dir / "trust-anchors.pem").read_bytes())
    assert "signed by the next certificate: yes" in weft("identity", "inspect", str(bundle)).stdout


def test_certify_issues_a_leaf_for_the_token_identity(trust_dir, certify, controller):
    key = ec.generate_private_key(ec.SECP256R1())
    response = certify(IDENTITY, token_for(trust_dir, "--workload", "shop/web"),
                       csr_der([x509.DNSName(IDENTITY)], key=key, common_name=IDENTITY))
    leaf = x509.load_der_x509_certificate(response.leaf_certificate)
    issuer = x509.load_der_x509_certificate(response.intermediate_certificates[0])
    anchor = x509.load_pem_x509_certificate((trust_dir / "trust-anchors.pem").read_bytes())
    leaf.verify_directly_issued_by(issuer)
    issuer.verify_directly_issued_by(anchor)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [IDENTITY]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime == datetime.timedelta(hours=24, seconds=40)
    assert response.valid_until.seconds == int(leaf.not_valid_after_utc.timestamp())
    # Every issued certificate is logged with its serial.
    _, log = controller
    log.flush()
    log.seek(0)
    serials = [int(word.split("=")[1], 16) for line in log if "issued certificate" in line
               for word in line.split() if word.startswith("serial=")]
    assert serials == [leaf.serial_number]


def test_a_spiffe_identity_gets_exactly_one_uri_san(trust_dir, certify):
    spiffe = "spiffe://root.linkerd.cluster.local/external-workload"
    response = certify(spiffe, token_for(trust_dir, "--identity", spiffe), csr_der([x509.UniformResourceIdentifier(spiffe)]))
    leaf = x509.load_der_x509_certificate(response.leaf_certificate)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(names) == [x509.UniformResourceIdentifier(spiffe)]


def test_hostile_requests_get_the_exact_status(trust_dir, certify):
    """reliability.md A3 and §2a rows 38-39."""
    import grpc
    good_token = token_for(trust_dir, "--workload", "shop/web")
    other_token = token_for(trust_dir, "--workload", "shop/admin")
    expired_token = token_for(trust_dir, "--workload", "shop/web", "--ttl", "1s")
    foreign = subprocess.run([str(weft_binary("weft")), "identity", "init", "--dir", str(trust_dir.parent / "foreign")],
                             capture_output=True, timeout=60)
    assert foreign.returncode == 0
    foreign_token = token_for(trust_dir.parent / "foreign", "--workload", "shop/web")
    good_csr = csr_der([x509.DNSName(IDENTITY)])
    signed_by_other = bytearray(good_csr)
    signed_by_other[-5] ^= 0xFF  # the signature no longer matches the request
    import time
    time.sleep(1.1)
    cases = {
        "missing token": (IDENTITY, b"", good_csr, grpc.StatusCode.INVALID_ARGUMENT),
        "missing CSR": (IDENTITY, good_token, b"", grpc.StatusCode.INVALID_ARGUMENT),
        "random DER": (IDENTITY, good_token, os.urandom(300), grpc.StatusCode.INVALID_ARGUMENT),
        "bad CSR signature": (IDENTITY, good_token, bytes(signed_by_other), grpc.StatusCode.INVALID_ARGUMENT),
        "RSA key": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY)], key=rsa.generate_private_key(65537, 2048)),
                    grpc.StatusCode.INVALID_ARGUMENT),
        "P-384 key": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY)], key=ec.generate_private_key(ec.SECP384R1()),
                                                    algorithm=hashes.SHA384()), grpc.StatusCode.INVALID_ARGUMENT),
        "CA requested": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY)], ca=True), grpc.StatusCode.INVALID_ARGUMENT),
        "two DNS SANs": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY), x509.DNSName("x.cluster.local")]),
                         grpc.StatusCode.FAILED_PRECONDITION),
        "URI SAN too": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY), x509.UniformResourceIdentifier("spiffe://cluster.local/web")]),
                        grpc.StatusCode.FAILED_PRECONDITION),
        "lookalike name": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY + ".evil")]), grpc.StatusCode.FAILED_PRECONDITION),
        "CN differs": (IDENTITY, good_token, csr_der([x509.DNSName(IDENTITY)], common_name="admin"), grpc.StatusCode.FAILED_PRECONDITION),
        "token for another workload": (IDENTITY, other_token, good_csr, grpc.StatusCode.FAILED_PRECONDITION),
        "expired token": (IDENTITY, expired_token, good_csr, grpc.StatusCode.FAILED_PRECONDITION),
        "foreign controller's token": (IDENTITY, foreign_token, good_csr, grpc.StatusCode.FAILED_PRECONDITION),
        "not a token": (IDENTITY, b"hello", good_csr, grpc.StatusCode.INVALID_ARGUMENT),
        "1 MiB CSR": (IDENTITY, good_token, b"\x30" * (1 << 20), grpc.StatusCode.INVALID_ARGUMENT),
    }
    for name, (identity, token, csr, expected) in cases.items():
        with pytest.raises(grpc.RpcError) as failure:
            certify(identity, token, csr)
        assert failure.value.code() == expected, f"{name}: {failure.value.code()} {failure.value.details()}"
    # And the good request still works.
    assert certify(IDENTITY, good_token, good_csr).leaf_certificate


def test_a_revoked_token_is_refused(trust_dir, certify):
    import grpc
    result = weft("identity", "token", "create", "--dir", str(trust_dir), "--workload", "shop/web")
    token = result.stdout.strip().encode()
    token_id = result.stderr.split()[1]
    csr = csr_der([x509.DNSName(IDENTITY)])
    assert certify(IDENTITY, token, csr).leaf_certificate
    weft("identity", "token", "revoke", "--dir", str(trust_dir), token_id)
    with pytest.raises(grpc.RpcError) as failure:
        certify(IDENTITY, token, csr)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "revoked" in failure.value.details()


def test_clients_are_rate_limited(trust_dir, certify):
    import grpc
    token = token_for(trust_dir, "--workload", "shop/web")
    csr = csr_der([x509.DNSName(IDENTITY)])
    codes = []
    for _ in range(80):
        try:
            certify(IDENTITY, token, csr)
            codes.append("ok")
        except grpc.RpcError as error:
            codes.append(error.code())
    # The default burst is 50 per client address, then 10 per second.
    assert codes[:50] == ["ok"] * 50
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[50:]


def proxy_identity_env(trust_dir, controller_port, token_file, **extra):
    return {
        "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS": (trust_dir / "trust-anchors.pem").read_text(),
        "LINKERD2_PROXY_IDENTITY_LOCAL_NAME": IDENTITY,
        "LINKERD2_PROXY_IDENTITY_TOKEN_FILE": str(token_file),
        "LINKERD2_PROXY_IDENTITY_SVC_ADDR": f"127.0.0.1:{controller_port}",
        "LINKERD2_PROXY_IDENTITY_SVC_NAME": SERVICE_NAME,
        **extra,
    }


def wait_for(condition, seconds=10.0, what="condition"):
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_proxy_serves_nothing_before_its_first_certificate(trust_dir, tmp_path, start_proxy):
    """Issue 5 item 3: /ready is 503 and no mesh listener is bound until the first certificate."""
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    port = free_port()
    inbound = free_port()
    proxy = start_proxy(wait_ready=False, LINKERD2_PROXY_INBOUND_LISTEN_ADDR=f"127.0.0.1:{inbound}",
                        LINKERD2_PROXY_IDENTITY_MIN_REFRESH="1s",
                        **proxy_identity_env(trust_dir, port, token))
    import socket
    import time
    time.sleep(1.5)
    assert proxy.get("/ready")[0] == 503
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", inbound), timeout=1).close()
    # The identity service comes up: the proxy gets its certificate, then listens and is ready.
    controller = Controller(trust_dir, port)
    try:
        wait_for(lambda: proxy.get("/ready")[0] == 200, 10, "/ready")
        socket.create_connection(("127.0.0.1", inbound), timeout=1).close()
        metrics = proxy.metrics()
        assert metrics["identity_cert_refresh_count"] >= 1
        expiry = metrics["identity_cert_expiration_timestamp_seconds"]
        assert 86_000 < expiry - time.time() < 86_500
    finally:
        controller.stop()


def test_renewal_and_a_ca_outage(trust_dir, tmp_path, start_proxy):
    """Renews before expiry; keeps its certificate while the CA is down; recovers when it is back."""
    import time
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    controller = Controller(trust_dir, None, "--issuance-lifetime", "2m")
    try:
        proxy = start_proxy(LINKERD2_PROXY_IDENTITY_MAX_REFRESH="1s", LINKERD2_PROXY_IDENTITY_MIN_REFRESH="1s",
                            **proxy_identity_env(trust_dir, controller.port, token))
        first = proxy.metrics()["identity_cert_expiration_timestamp_seconds"]
        wait_for(lambda: proxy.metrics()["identity_cert_refresh_count"] >= 3, 10, "three refreshes")
        assert proxy.metrics()["identity_cert_expiration_timestamp_seconds"] >= first
        controller.stop()
        time.sleep(0.5)
        during = proxy.metrics()
        time.sleep(2.5)
        after = proxy.metrics()
        # No new certificate, the old one kept, still ready.
        assert after["identity_cert_refresh_count"] == during["identity_cert_refresh_count"]
        assert after["identity_cert_expiration_timestamp_seconds"] == during["identity_cert_expiration_timestamp_seconds"]
        assert proxy.get("/ready")[0] == 200
        assert "certify failed; keeping the current certificate" in proxy.output()
        controller.start()
        wait_for(lambda: proxy.metrics()["identity_cert_refresh_count"] > after["identity_cert_refresh_count"], 10, "recovery")
    finally:
        controller.stop()


def test_a_token_for_another_identity_never_gets_a_certificate(trust_dir, tmp_path, start_proxy, controller):
    import time
    port, _ = controller
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/admin"))
    proxy = start_proxy(wait_ready=False, LINKERD2_PROXY_IDENTITY_MIN_REFRESH="1s", **proxy_identity_env(trust_dir, port, token))
    time.sleep(2)
    assert proxy.get("/ready")[0] == 503
    assert "FAILED_PRECONDITION" in proxy.output() or "failedPrecondition" in proxy.output() or "token is for" in proxy.output()
    # The token file is read again on each try: a right token fixes it without a restart.
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    wait_for(lambda: proxy.get("/ready")[0] == 200, 10, "/ready after the token was fixed")


def test_an_identity_service_with_another_name_is_not_trusted(trust_dir, tmp_path, start_proxy, controller):
    import time
    port, _ = controller
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    env = proxy_identity_env(trust_dir, port, token)
    env["LINKERD2_PROXY_IDENTITY_SVC_NAME"] = "linkerd-identity.evil.serviceaccount.identity.linkerd.cluster.local"
    proxy = start_proxy(wait_ready=False, LINKERD2_PROXY_IDENTITY_MIN_REFRESH="1s", **env)
    time.sleep(2.5)
    assert proxy.get("/ready")[0] == 503


@pytest.mark.parametrize("variable, value, expected", [
    ("LINKERD2_PROXY_IDENTITY_DISABLED", "true", "identity cannot be disabled"),
    ("LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET", "unix://relative/spire.sock", "an absolute Unix socket path"),
    ("LINKERD2_PROXY_IDENTITY_TOKEN_FILE", "", "required when LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS is set"),
    ("LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS", "not pem", "PEM bundle"),
], ids=["disabled", "spire", "no token file", "bad anchors"])
def test_bad_identity_configuration_stops_start_up(trust_dir, tmp_path, variable, value, expected):
    env = {**os.environ, **proxy_identity_env(trust_dir, 1, tmp_path / "token"), variable: value}
    result = subprocess.run([str(weft_binary("weft-proxy"))], env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and variable in result.stderr and expected in result.stderr, result.stderr


def linkerd_identity_dir(directory, key=None, csr_key=None):
    """key.p8 and csr.der as linkerd2-proxy-identity writes them (PKCS#8 DER key; DER CSR, CN and one DNS SAN)."""
    directory.mkdir()
    key = key or ec.generate_private_key(ec.SECP256R1())
    (directory / "key.p8").write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (directory / "csr.der").write_bytes(csr_der([x509.DNSName(IDENTITY)], key=csr_key or key, common_name=IDENTITY))
    return directory


def test_linkerds_identity_directory_is_used(trust_dir, tmp_path, start_proxy, controller):
    port, _ = controller
    token = tmp_path / "token"
    token.write_bytes(token_for(trust_dir, "--workload", "shop/web"))
    directory = linkerd_identity_dir(tmp_path / "end-entity")
    # Ready means the controller signed csr.der and the proxy accepted a leaf for key.p8's key.
    proxy = start_proxy(LINKERD2_PROXY_IDENTITY_DIR=str(directory), **proxy_identity_env(trust_dir, port, token))
    assert proxy.metrics()["identity_cert_refresh_count"] >= 1


def test_an_identity_directory_whose_csr_is_for_another_key_is_refused(trust_dir, tmp_path):
    directory = linkerd_identity_dir(tmp_path / "end-entity", csr_key=ec.generate_private_key(ec.SECP256R1()))
    env = {**os.environ, **proxy_identity_env(trust_dir, 1, tmp_path / "token"), "LINKERD2_PROXY_IDENTITY_DIR": str(directory)}
    result = subprocess.run([str(weft_binary("weft-proxy"))], env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2 and "LINKERD2_PROXY_IDENTITY_DIR" in result.stderr and "csr.der" in result.stderr, result.stderr
