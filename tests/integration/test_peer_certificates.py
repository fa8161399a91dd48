"""Hostile peer certificates, built with Python's cryptography and signed by the mesh's own
issuer (so that only the rule under test is broken): presented by a client to a proxy's inbound
mesh TLS, each must be refused — a failed handshake, or the connection closed before anything
reaches the app (issue: identity and mTLS, Done-when 1)."""
import datetime
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from test_identity import IDENTITY, identity_stubs, trust_dir  # noqa: F401 (fixtures)
from test_mesh_tls import client_certificate, https_headers, meshed  # noqa: F401 (fixture)

CLIENT = "client.shop.serviceaccount.identity.linkerd.cluster.local"
NOW = datetime.datetime.now(datetime.timezone.utc)


def issuer(trust_dir):
    certificate = x509.load_pem_x509_certificate((trust_dir / "issuer.crt").read_bytes())
    key = serialization.load_pem_private_key((trust_dir / "issuer.key").read_bytes(), password=None)
    return certificate, key


def leaf(trust_dir, names, *, ca=False, not_before=None, not_after=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
         key_usage="leaf", signer=None):
    issuer_certificate, issuer_key = signer or issuer(trust_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")]))
               .issuer_name(issuer_certificate.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(minutes=5))
               .not_valid_after(not_after or NOW + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectAlternativeName(names), critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    ca_usage = key_usage == "ca"
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca_usage, crl_sign=ca_usage, encipher_only=False, decipher_only=False), critical=True)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    return certificate, key, issuer_certificate


def other_issuer():
    """A CA of another mesh: a self-signed root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "identity.linkerd.cluster.local")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(days=1))
                   .not_valid_after(NOW + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    return certificate, key


def write_chain(tmp_path, certificate, key, intermediate):
    chain = tmp_path / "hostile-chain.pem"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + intermediate.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "hostile-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key_file


HOSTILE = {
    "expired": lambda t: leaf(t, [x509.DNSName(CLIENT)], not_before=NOW - datetime.timedelta(days=2), not_after=NOW - datetime.timedelta(days=1)),
    "not yet valid": lambda t: leaf(t, [x509.DNSName(CLIENT)], not_before=NOW + datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=2)),
    "another mesh's CA": lambda t: leaf(t, [x509.DNSName(CLIENT)], signer=other_issuer()),
    "a CA certificate as leaf": lambda t: leaf(t, [x509.DNSName(CLIENT)], ca=True, key_usage="ca"),
    "EKU serverAuth only": lambda t: leaf(t, [x509.DNSName(CLIENT)], eku=(ExtendedKeyUsageOID.SERVER_AUTH,)),
    "two URI SANs": lambda t: leaf(t, [x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/client"),
                                       x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/admin")]),
    "a URI SAN that is not a SPIFFE ID": lambda t: leaf(t, [x509.UniformResourceIdentifier("https://cluster.local/ns/shop/client")]),
    "no identity at all": lambda t: leaf(t, [x509.IPAddress(__import__("ipaddress").ip_address("10.0.0.1"))]),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_client_certificates_are_refused(meshed, trust_dir, tmp_path, case):  # noqa: F811
    proxy, port, controller = meshed
    certificate, key, intermediate = HOSTILE[case](trust_dir)
    chain, key_file = write_chain(tmp_path, certificate, key, intermediate)
    context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
    context.load_cert_chain(str(chain), str(key_file))
    answered = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=IDENTITY) as tls:
                tls.sendall(b"GET /headers HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
                while chunk := tls.recv(65536):
                    answered += chunk
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    assert answered == b"", f"{case}: the app answered {answered[:80]!r}"
    requests = [k for k in proxy.metrics() if k.startswith("request_total{") and 'direction="inbound"' in k]
    assert requests == [], f"{case}: counted as requests: {requests}"


def test_a_valid_client_certificate_still_works(meshed, trust_dir, identity_stubs, tmp_path):  # noqa: F811
    proxy, port, controller = meshed
    chain, key = client_certificate(trust_dir, controller, identity_stubs, tmp_path)
    context = ssl.create_default_context(cafile=str(trust_dir / "trust-anchors.pem"))
    context.load_cert_chain(str(chain), str(key))
    seen, version = https_headers(port, context)
    assert seen["l5d-client-id"] == CLIENT and version == "TLSv1.3"
