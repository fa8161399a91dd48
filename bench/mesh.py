"""The mesh as users run it, next to Envoy doing the same job.

Weft: `weft up`, then `weft run --port` for the server (its app is nginx) and `weft run --forward`
for the client, so a request goes client -> client proxy (HTTP/1.1 or h2c) -> mesh TLS + HTTP/2
(`l5d-orig-proto` for HTTP/1.1) -> server proxy -> nginx. Envoy: a client Envoy and a server Envoy
with TLS 1.3 mutual TLS and HTTP/2 between them, certificates minted here."""
import datetime
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kit import WORK, Process, free_port, wait_port


class ProcessByPid:
    """A process someone else started (a proxy that `weft run` spawned): its usage from /proc."""

    def __init__(self, pid):
        self.pid = pid

    def usage(self):
        status = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
        fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return peak, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self):
        status = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


class WeftMesh:
    """`weft up` in a home of its own, a server workload in front of nginx and a client workload
    whose forwarded ports lead to it by service name."""

    def __init__(self, weft, h1_port, h2_port):
        self.weft, self.home = weft, WORK / "mesh-home"
        ports = [free_port() for _ in range(4)]
        self.addresses = ["--identity-addr", f"127.0.0.1:{ports[0]}", "--destination-addr", f"127.0.0.1:{ports[1]}",
                          "--policy-addr", f"127.0.0.1:{ports[2]}", "--admin-addr", f"127.0.0.1:{ports[3]}"]
        self.runs = []
        subprocess.run([weft, "up", "--home", str(self.home), *self.addresses], check=True, capture_output=True, timeout=60)
        self._run("books", ["--port", f"8080:{h1_port}", "--port", f"8081:{h2_port}"])
        self.front_h1, self.front_h2 = free_port(), free_port()
        self._run("client", ["--forward", f"{self.front_h1}=books.bench.svc.cluster.local:8080",
                             "--forward", f"{self.front_h2}=books.bench.svc.cluster.local:8081"])
        workloads = self._workloads()
        self.client_ip, self.server_ip = workloads["client"], workloads["books"]
        wait_port(self.front_h1, self.client_ip)
        self.proxies = [ProcessByPid(self._proxy_pid(workloads[name])) for name in ("client", "books")]

    def _run(self, name, ports):
        log = open(WORK / f"weft-run-{name}.log", "w")
        self.runs.append(subprocess.Popen(
            [self.weft, "run", "--home", str(self.home), "--name", name, "--service", name, "-n", "bench",
             "--proxy-log-level", "warn", *ports, "--", "sleep", "100000"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.time() + 60
        while name not in self._workloads():
            if time.time() > deadline:
                raise TimeoutError(f"weft run {name} did not join the mesh; see {log.name}")
            time.sleep(0.2)

    def _workloads(self):
        out = subprocess.run([self.weft, "get", "ew", "-n", "bench", "-o", "json", "--home", str(self.home)],
                             capture_output=True, text=True, timeout=30).stdout
        try:
            items = json.loads(out)["items"]
        except (ValueError, KeyError):
            return {}
        return {item["metadata"]["name"]: item["spec"]["workloadIPs"][0]["ip"] for item in items
                if item.get("status", {}).get("conditions", [{}])[0].get("status") == "True"}

    @staticmethod
    def _proxy_pid(ip):
        marker = f"LINKERD2_PROXY_ADMIN_LISTEN_ADDR={ip}:4191".encode()
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if marker in (entry / "environ").read_bytes():
                        return int(entry.name)
                except OSError:
                    continue
        raise RuntimeError(f"no weft-proxy with admin on {ip}:4191")

    def apply_routes(self, rules, annotations=None):
        """HTTPRoutes on the books service (both ports) with `rules` rules in all: every rule but
        the last matches a path prefix and a header the bench's requests do not have, so that
        each request is checked against all of them before the catch-all takes it. Each route
        carries `annotations` (e.g. retries and timeouts)."""
        notes = "".join(f'\n    {key}: "{value}"' for key, value in (annotations or {}).items()) or " {}"
        documents, left, index = [], rules, 0
        while left > 0:
            count = min(16, left)
            left -= count
            lines = []
            for rule in range(count):
                index += 1
                if left == 0 and rule == count - 1:
                    lines.append("  - matches: [{path: {type: PathPrefix, value: /}}]")
                else:
                    lines.append(f"  - matches: [{{path: {{type: PathPrefix, value: /r{index}}}, headers: [{{name: x-rule, value: \"{index}\"}}]}}]")
            documents.append(f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bench-routes-{len(documents)}
  namespace: bench
  annotations:{notes}
spec:
  parentRefs: [{{name: books, kind: Service, group: core}}]
  rules:
""" + "\n".join(lines) + "\n")
        subprocess.run([self.weft, "apply", "-f", "-", "--home", str(self.home)], input="---\n".join(documents), text=True,
                       check=True, capture_output=True, timeout=60)
        self.route_names = [f"bench-routes-{i}" for i in range(len(documents))]

    def delete_routes(self):
        for name in getattr(self, "route_names", []):
            subprocess.run([self.weft, "delete", "httproute", name, "-n", "bench", "--home", str(self.home)],
                           check=True, capture_output=True, timeout=60)
        self.route_names = []

    def routed_requests(self):
        """Requests the client's proxy counted under the bench's routes."""
        with urllib.request.urlopen(f"http://{self.client_ip}:4191/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("outbound_http_route_request_statuses_total{") and 'route_name="bench-routes-' in line)

    def apply_authorization(self, routes=50, authorizations=100):
        """Zero trust on books' two ports: a Server each (no authorizations of its own),
        `routes` HTTPRoutes whose parent is both Servers (every one but the last matches a path
        prefix and a header the bench's requests lack, so every route is scored), and
        `authorizations` AuthorizationPolicies on the namespace of which only the last admits the
        client's identity (so every one is tried). Deleting the Servers (`delete_authorization`)
        takes the ports back to the default policy."""
        servers = "".join(f"""---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {{name: books-{port}, namespace: bench}}
spec: {{externalWorkloadSelector: {{matchLabels: {{app: books}}}}, port: {port}}}
""" for port in (8080, 8081))
        parents = "[{group: policy.linkerd.io, kind: Server, name: books-8080}, {group: policy.linkerd.io, kind: Server, name: books-8081}]"
        route_docs = "".join(f"""---
apiVersion: policy.linkerd.io/v1beta3
kind: HTTPRoute
metadata: {{name: bench-inbound-{index:02}, namespace: bench}}
spec:
  parentRefs: {parents}
  rules:
  - matches: [{"{path: {type: PathPrefix, value: /}}" if index == routes - 1 else f'{{path: {{type: PathPrefix, value: /r{index}}}, headers: [{{name: x-rule, value: "{index}"}}]}}'}]
""" for index in range(routes))
        authentications = """---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: strangers, namespace: bench}
spec: {identities: ["stranger.bench.serviceaccount.identity.linkerd.cluster.local"]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: client, namespace: bench}
spec: {identityRefs: [{kind: ServiceAccount, name: client}]}
"""
        policies = "".join(f"""---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {{name: bench-authz-{index:03}, namespace: bench}}
spec:
  targetRef: {{kind: Namespace, name: bench}}
  requiredAuthenticationRefs: [{{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: {"client" if index == authorizations - 1 else "strangers"}}}]
""" for index in range(authorizations))
        subprocess.run([self.weft, "apply", "-f", "-", "--home", str(self.home)], input=authentications + policies + route_docs + servers,
                       text=True, check=True, capture_output=True, timeout=120)

    def delete_authorization(self):
        for port in (8080, 8081):
            subprocess.run([self.weft, "delete", "server", f"books-{port}", "-n", "bench", "--home", str(self.home)],
                           capture_output=True, timeout=60)

    def authorized_requests(self):
        """Requests the server's proxy admitted on the bench's inbound routes."""
        with urllib.request.urlopen(f"http://{self.server_ip}:4191/metrics", timeout=5) as response:
            text = response.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("inbound_http_authz_allow_total{") and 'route_name="bench-inbound-' in line)

    def stop(self):
        for run in reversed(self.runs):
            run.send_signal(signal.SIGINT)
        for run in self.runs:
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
        subprocess.run([self.weft, "down", "--home", str(self.home)], capture_output=True, timeout=60)


def _certificate(subject, issuer_name, issuer_key, key, ca=False, dns=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def mint_envoy_certificates():
    """A CA and a certificate each for the client and the server Envoy (P-256, as Weft's)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-ca")])
    ca = _certificate("bench-ca", ca_name, ca_key, ca_key, ca=True)
    (WORK / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("client", "server"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, ca_name, ca_key, key, dns=f"{name}.bench")
        (WORK / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (WORK / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))


def _tls(kind, name):
    common = (f"tls_params: {{tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: TLSv1_3}}, "
              f"tls_certificates: [{{certificate_chain: {{filename: {WORK}/{name}.pem}}, private_key: {{filename: {WORK}/{name}.key}}}}], "
              f"validation_context: {{trusted_ca: {{filename: {WORK}/ca.pem}}}}")
    if kind == "upstream":
        return (f"transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{'@type': type.googleapis.com/"
                f"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, sni: server.bench, common_tls_context: {{{common}, "
                f"alpn_protocols: [h2]}}}}}}")
    return (f"transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{'@type': type.googleapis.com/"
            f"envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, require_client_certificate: true, "
            f"common_tls_context: {{{common}, alpn_protocols: [h2]}}}}}}")


def envoy(binary, name, listen, target, listener_tls, upstream_tls, upstream_h2):
    """An Envoy (one worker) listening on `listen` in front of `target`, with TLS and HTTP/2 as told."""
    h2 = ("typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {'@type': "
          "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: "
          "{http2_protocol_options: {}}}}") if upstream_h2 else ""
    config = WORK / f"{name}.yaml"
    config.write_text(f"""
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - {_tls("downstream", "server") if listener_tls else ""}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          route_config: {{virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: backend}}}}]}}]}}
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
  clusters:
  - name: backend
    type: STATIC
    {h2}
    {_tls("upstream", "client") if upstream_tls else ""}
    load_assignment: {{cluster_name: backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {target}}}}}}}}}]}}]}}
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {free_port()}}}}}}}
""")
    process = Process([binary, "-c", str(config), "--concurrency", "1", "--log-level", "warn", "--base-id", str(free_port())], name=name)
    wait_port(listen)
    return process


class EnvoyMesh:
    """Two Envoy pairs (one per app protocol): client Envoy -> mTLS, HTTP/2 -> server Envoy -> nginx."""

    def __init__(self, binary, h1_port, h2_port):
        mint_envoy_certificates()
        self.pairs = {}
        for label, target, upstream_h2 in (("h1", h1_port, False), ("h2", h2_port, True)):
            middle, front = free_port(), free_port()
            server = envoy(binary, f"envoy-mesh-server-{label}", middle, target, True, False, upstream_h2)
            client = envoy(binary, f"envoy-mesh-client-{label}", front, middle, False, True, True)
            self.pairs[label] = (front, [client, server])

    def stop(self):
        for _, processes in self.pairs.values():
            for process in processes:
                process.stop()
