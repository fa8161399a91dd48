"""SPIFFE mode: weft-proxy takes its X.509-SVID from a SPIFFE Workload API (the test kit's, which
is first checked with the `spiffe` PyPI client), serves mesh TLS with it, follows pushed
rotations and survives the Workload API going away (issue: identity and mTLS, item 6)."""
import subprocess
import sys
import time

import pytest
from cryptography import x509

from conftest import start_proxy  # noqa: F401 (fixture)
from spiffe_kit import WorkloadAPIServer, workload_stubs
from test_identity import trust_dir  # noqa: F401 (fixture)

WEB = "spiffe://cluster.local/ns/shop/sa/web"
SERVER_NAME = "web.shop.serviceaccount.identity.linkerd.cluster.local"


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    return workload_stubs(tmp_path_factory.mktemp("workload-stubs"))


@pytest.fixture
def kit(trust_dir, stubs):  # noqa: F811
    server = WorkloadAPIServer(trust_dir, stubs)
    yield server
    server.stop()


SPIFFE_CLIENT = """
import json, sys
from spiffe import WorkloadApiClient
client = WorkloadApiClient(socket_path=sys.argv[1])
try:
    svid = client.fetch_x509_svid()
    context = client.fetch_x509_context()
    bundle = context.x509_bundle_set.get_bundle_for_trust_domain(svid.spiffe_id.trust_domain)
    print(json.dumps({"id": str(svid.spiffe_id), "serial": svid.leaf.serial_number, "chain": len(svid.cert_chain),
                      "bundle": len(bundle.x509_authorities) if bundle else 0}))
finally:
    client.close()
"""


def test_the_kit_behaves_like_a_workload_api_for_the_spiffe_client(kit, trust_dir):  # noqa: F811
    import json
    issued = kit.issue(WEB)
    # In its own process: the spiffe library registers the same proto messages as the kit's stubs.
    result = subprocess.run([sys.executable, "-c", SPIFFE_CLIENT, f"unix://{kit.socket}"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    fetched = json.loads(result.stdout)
    assert fetched == {"id": WEB, "serial": issued.serial_number, "chain": 2, "bundle": 1}
    # Without the security header, a Workload API refuses the call.
    import grpc
    pb, grpc_stubs = kit.pb, __import__("workload_pb2_grpc")
    with grpc.insecure_channel(f"unix:{kit.socket}") as channel:
        with pytest.raises(grpc.RpcError) as failure:
            next(grpc_stubs.SpiffeWorkloadAPIStub(channel).FetchX509SVID(pb.X509SVIDRequest(), timeout=5))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def spire_env(trust_dir, kit, spiffe_id=WEB):  # noqa: F811
    return {
        "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS": (trust_dir / "trust-anchors.pem").read_text(),
        "LINKERD2_PROXY_IDENTITY_SPIRE_SOCKET": f"unix://{kit.socket}",
        "LINKERD2_PROXY_IDENTITY_SERVER_ID": spiffe_id,
        "LINKERD2_PROXY_IDENTITY_SERVER_NAME": SERVER_NAME,
    }


def presented(port):
    output = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", SERVER_NAME],
                            input=b"", capture_output=True, timeout=20).stdout
    if b"-----BEGIN CERTIFICATE-----" not in output:
        return None
    pem = b"-----BEGIN CERTIFICATE-----" + output.split(b"-----BEGIN CERTIFICATE-----")[1].split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    return x509.load_pem_x509_certificate(pem)


def test_the_proxy_serves_mesh_tls_with_its_svid_and_follows_rotation(kit, trust_dir, start_proxy):  # noqa: F811
    from conftest import free_port
    first = kit.issue(WEB)
    kit.issue("spiffe://cluster.local/ns/shop/sa/other")  # another SVID of the same agent: not ours
    port = free_port()
    proxy = start_proxy(WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:9", **spire_env(trust_dir, kit))
    assert proxy.get("/ready")[0] == 200
    certificate = presented(port)
    assert certificate.serial_number == first.serial_number
    uris = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [WEB]
    metrics = proxy.metrics()
    assert metrics["identity_cert_refresh_count"] == 1
    assert metrics["identity_cert_expiration_timestamp_seconds"] == int(first.not_valid_after_utc.timestamp())
    # A push from the agent: new handshakes present the new SVID.
    second = kit.issue(WEB)
    deadline = time.monotonic() + 5
    while presented(port).serial_number != second.serial_number and time.monotonic() < deadline:
        time.sleep(0.1)
    assert presented(port).serial_number == second.serial_number
    # The agent goes away: the proxy keeps its SVID and stays ready, and takes the next one when
    # an agent is back on the socket.
    kit.stop()
    time.sleep(1.5)
    assert proxy.get("/ready")[0] == 200 and presented(port).serial_number == second.serial_number
    assert "keeping the current certificate" in proxy.output()


def test_svids_that_break_the_rules_are_refused(kit, trust_dir, start_proxy):  # noqa: F811
    from conftest import free_port
    kit.issue(WEB, extra_uri="spiffe://cluster.local/ns/shop/sa/admin")
    port = free_port()
    proxy = start_proxy(wait_ready=False, WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:9", **spire_env(trust_dir, kit))
    time.sleep(1.5)
    assert proxy.get("/ready")[0] == 503
    assert "SVID refused" in proxy.output() and "2 URI SANs" in proxy.output()
    # Fixed by the agent: the proxy becomes ready without a restart.
    good = kit.issue(WEB)
    deadline = time.monotonic() + 5
    while proxy.get("/ready")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert presented(port).serial_number == good.serial_number


def test_a_proxy_whose_id_the_agent_does_not_hold_never_serves(kit, trust_dir, start_proxy):  # noqa: F811
    from conftest import free_port
    kit.issue("spiffe://cluster.local/ns/shop/sa/other")
    port = free_port()
    proxy = start_proxy(wait_ready=False, WEFT_PROXY_INBOUND_PORTS=f"127.0.0.1:{port}=127.0.0.1:9", **spire_env(trust_dir, kit))
    time.sleep(1.5)
    assert proxy.get("/ready")[0] == 503 and presented(port) is None
    assert "no SVID for this proxy's identity" in proxy.output()
