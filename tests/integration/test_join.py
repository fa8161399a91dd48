"""Joining a controller over TCP without a shared secret on the wire: join tokens (minted, used,
used up, expired, revoked, scoped to a namespace and a name prefix), the controller's TLS 1.3
management API pinned by its trust anchor, and operator certificates for everything else
(issue: mesh expansion, item 3). On loopback: `weft run --controller` as another host would."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import free_port, still_open, weft_binary
from mesh import free_ip

WEFT = str(weft_binary("weft"))


def weft(*args, home, check=True, timeout=60):
    result = subprocess.run([WEFT, *args, "--home", str(home)], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "WEFT_HOME": ""})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def controller(tmp_path):
    home, api = tmp_path / "ctl", free_port()
    destination = free_port()
    weft("up", "--identity-addr", f"127.0.0.1:{free_port()}", "--destination-addr", f"127.0.0.1:{destination}",
         "--policy-addr", f"127.0.0.1:{destination}", "--admin-addr", f"127.0.0.1:{free_port()}", "--api-addr", f"127.0.0.1:{api}", home=home)
    yield home, f"127.0.0.1:{api}"
    weft("down", home=home, check=False)


def token(home, *args):
    printed = weft("token", "create", "--join", "-n", "shop", *args, home=home).stdout
    field = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in printed.splitlines() if ":" in line}
    return field["join token"], field["id"].split()[0], field["ca-cert-hash"]


def run(tmp_path, api, joined, name, namespace="shop", command=("true",)):
    """`weft run` of NAME from "another host" with a join token; (exit status, output)."""
    result = weft("run", "--controller", api, "--join-token", joined[0], "--ca-cert-hash", joined[2], "--ip", free_ip(),
                  "--name", name, "-n", namespace, "--service", "web", "--port", "8080", "--", *command,
                  home=tmp_path / f"vm-{name}", check=False, timeout=90)
    return result.returncode, result.stdout + result.stderr


def workloads(home):
    return weft("get", "ew", "-n", "shop", home=home).stdout


def test_a_join_token_registers_a_workload_within_its_scope_and_is_refused_otherwise(controller, tmp_path):
    home, api = controller
    once = token(home, "--uses", "1", "--name-prefix", "web-")
    # Joined: the workload is registered, its proxy certified, the command run, and on exit the
    # workload leaves (with its own bootstrap token).
    status, output = run(tmp_path, api, once, "web-1", command=("sh", "-c", 'echo "joined as $WEFT_IDENTITY"'))
    assert status == 0, output
    assert "joined as web.shop.serviceaccount.identity.linkerd.cluster.local" in output
    assert "web-1" not in workloads(home)

    refusals = {
        "used up (1 registrations)": (once, "web-2", "shop"),
        "is for namespace shop, not billing": (token(home), "web-3", "billing"),
        'admits names starting with "web-", not api-1': (token(home, "--name-prefix", "web-"), "api-1", "shop"),
    }
    revoked = token(home)
    weft("token", "revoke", revoked[1], home=home)
    refusals["was revoked"] = (revoked, "web-4", "shop")
    expiring = token(home, "--ttl", "1s")
    time.sleep(1.5)
    refusals["expired at"] = (expiring, "web-5", "shop")
    forged = (revoked[0][:-4] + "AAAA", revoked[1], revoked[2])
    refusals["is not known to this controller"] = (forged, "web-6", "shop")
    for message, (joined, name, namespace) in refusals.items():
        status, output = run(tmp_path, api, joined, name, namespace)
        assert status != 0 and message in output, (message, output)
    # Nothing was registered by a refused join, and the list says what each token is.
    assert "web-" not in workloads(home)
    listed = weft("token", "list", home=home).stdout
    assert once[1] in listed and "used up" in listed and revoked[1] in listed and "revoked" in listed
    # The join tokens are kept hashed: no secret on disk.
    stored = (home / "identity" / "join-tokens.json").read_text()
    assert once[0].split(".")[2] not in stored and revoked[0].split(".")[2] not in stored


def test_the_management_api_over_tcp_takes_operators_and_is_tls_13_only(controller, tmp_path):
    home, api = controller
    pin = token(home)[2]
    manifest = tmp_path / "ns.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ops}\n")
    # Without a certificate: TLS, but nothing but joining.
    refused = weft("apply", "-f", str(manifest), "--controller", api, "--ca-cert-hash", pin, home=tmp_path / "nobody", check=False)
    assert refused.returncode != 0 and "needs an operator certificate" in refused.stderr, refused.stderr
    # With an operator certificate from the trust directory: everything.
    created = subprocess.run([WEFT, "identity", "operator", "create", "alice", "--dir", str(home / "identity"), "--out", str(tmp_path / "alice")],
                             capture_output=True, text=True, timeout=30)
    assert created.returncode == 0 and "spiffe://cluster.local/weft/operator/alice" in created.stdout, created.stdout + created.stderr
    applied = weft("apply", "-f", str(manifest), "--controller", api, "--operator", str(tmp_path / "alice"), home=tmp_path / "alice-home")
    assert "namespace/ops" in applied.stdout.lower(), applied.stdout
    # `weft check` from another host: reachability, the controller's name, the clocks; the rest
    # needs an operator.
    checked = weft("check", "--controller", api, "--ca-cert-hash", pin, home=tmp_path / "nobody", check=False)
    assert checked.returncode == 1, checked.stdout
    assert "√ the controller answers over TLS 1.3 at " + api + " as weft-controller.linkerd.serviceaccount.identity.linkerd.cluster.local" in checked.stdout
    assert "√ this host's clock is within 20 s of the controller's" in checked.stdout
    assert "× this command may read the controller" in checked.stdout and "--operator" in checked.stdout
    if shutil.which("faketime"):
        # A host whose clock is 90 s ahead is told so (libfaketime moves this command's clock only).
        skewed = subprocess.run(["faketime", "-f", "+90s", WEFT, "check", "--controller", api, "--ca-cert-hash", pin, "--home", str(tmp_path / "nobody")],
                                capture_output=True, text=True, timeout=60, env={**os.environ, "WEFT_HOME": ""})
        assert "× this host's clock is within 20 s of the controller's (-9" in skewed.stdout and "NTP" in skewed.stdout, skewed.stdout
    operator = weft("check", "--controller", api, "--operator", str(tmp_path / "alice"), home=tmp_path / "alice-home", check=False)
    assert "√ the controller answers over TLS 1.3" in operator.stdout and "× this command may read" not in operator.stdout, operator.stdout
    assert "√ the store is writable" in operator.stdout, operator.stdout
    # The wrong pin: the command refuses the controller itself.
    wrong = weft("get", "ns", "--controller", api, "--ca-cert-hash", "sha256:" + "0" * 64, home=tmp_path / "nobody", check=False)
    assert wrong.returncode != 0, wrong.stdout
    # Plain HTTP gets no answer; TLS 1.2 gets no handshake.
    host, port = api.split(":")
    plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", f"http://{api}/v1/mesh"],
                           capture_output=True, text=True)
    assert plain.stdout in ("000", ""), plain.stdout
    old = subprocess.run(["openssl", "s_client", "-connect", api, "-tls1_2"], input="", capture_output=True, text=True, timeout=20)
    assert "Cipher is (NONE)" in old.stdout or old.returncode != 0, old.stdout
    new = subprocess.run(["openssl", "s_client", "-connect", api, "-tls1_3"], input="", capture_output=True, text=True, timeout=20)
    assert "TLSv1.3" in new.stdout and "weft-controller.linkerd.serviceaccount.identity.linkerd.cluster.local" in new.stdout, new.stdout


def test_one_address_flooding_the_api_with_bad_handshakes_does_not_starve_the_others(controller):
    import socket
    import ssl
    _, api = controller
    host, port = api.split(":")
    # Bad handshakes first (each refused), then 100 connections that never start one.
    for _ in range(50):
        with socket.create_connection((host, int(port)), timeout=5, source_address=("127.0.0.3", 0)) as bad:
            bad.sendall(b"\x16\x03\x01\x00\x05garbage-that-is-no-handshake")
            bad.settimeout(5)
            while bad.recv(4096):
                pass
    flood = [socket.create_connection((host, int(port)), timeout=5, source_address=("127.0.0.3", 0)) for _ in range(100)]
    time.sleep(0.5)
    # Beyond 32 at once, the address's connections are closed as they come.
    alive = still_open(flood)
    assert 0 < alive <= 32, alive
    # Another address is served meanwhile: a TLS 1.3 handshake completes.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=5, source_address=("127.0.0.2", 0)) as raw:
        with context.wrap_socket(raw) as tls:
            assert tls.version() == "TLSv1.3"
    for s in flood:
        s.close()
