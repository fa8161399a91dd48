"""The test kit's SPIFFE Workload API server: `SpiffeWorkloadAPI/FetchX509SVID` on a Unix socket,
built from the project's own Protos/workload.proto, handing out X.509-SVIDs that it mints with
the mesh's issuer (from a `weft identity init` directory). Like a SPIRE agent it refuses calls
without the `workload.spiffe.io: true` metadata (INVALID_ARGUMENT) and pushes a new response on
the open streams whenever its SVIDs change. test_spiffe.py checks it with the `spiffe` PyPI
client, so that it is known to behave like a real Workload API."""
import datetime
import os
import pathlib
import sys
import tempfile
import threading
from concurrent import futures

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import REPO


def workload_stubs(out_dir: pathlib.Path):
    import grpc_tools
    from grpc_tools import protoc
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    assert protoc.main(["protoc", f"-I{REPO / 'Protos'}", f"-I{include}", f"--python_out={out_dir}",
                        f"--grpc_python_out={out_dir}", str(REPO / "Protos" / "workload.proto")]) == 0
    sys.path.insert(0, str(out_dir))
    import workload_pb2
    import workload_pb2_grpc
    return workload_pb2, workload_pb2_grpc


class WorkloadAPIServer:
    def __init__(self, trust_dir, stubs, lifetime=datetime.timedelta(hours=1)):
        self.pb, grpc_stubs = stubs
        self.issuer = x509.load_pem_x509_certificate((trust_dir / "issuer.crt").read_bytes())
        self.issuer_key = serialization.load_pem_private_key((trust_dir / "issuer.key").read_bytes(), password=None)
        self.anchor = x509.load_pem_x509_certificate((trust_dir / "trust-anchors.pem").read_bytes())
        self.lifetime = lifetime
        self.svids = {}           # spiffe ID -> (certificate, key)
        self.version = 0
        self.changed = threading.Condition()
        self.requests_without_header = 0
        self.socket = os.path.join(tempfile.mkdtemp(prefix="spire-"), "api.sock")
        kit = self

        class Servicer(grpc_stubs.SpiffeWorkloadAPIServicer):
            def FetchX509SVID(self, request, context):
                import grpc
                if dict(context.invocation_metadata()).get("workload.spiffe.io") != "true":
                    kit.requests_without_header += 1
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
                seen = -1
                while context.is_active():
                    with kit.changed:
                        if kit.version == seen:
                            kit.changed.wait(timeout=0.5)
                            continue
                        seen = kit.version
                        response = kit.response()
                    yield response

        import grpc
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        grpc_stubs.add_SpiffeWorkloadAPIServicer_to_server(Servicer(), self.server)
        self.server.add_insecure_port(f"unix:{self.socket}")
        self.server.start()

    def issue(self, spiffe_id, extra_uri=None, ca=False):
        """Mints (or re-mints) the SVID of `spiffe_id` and pushes it to open streams."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.UniformResourceIdentifier(spiffe_id)] + ([x509.UniformResourceIdentifier(extra_uri)] if extra_uri else [])
        certificate = (x509.CertificateBuilder()
                       .subject_name(x509.Name([]))
                       .issuer_name(self.issuer.subject).public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(seconds=30)).not_valid_after(now + self.lifetime)
                       .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                       .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                    data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=False,
                                                    encipher_only=False, decipher_only=False), critical=True)
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                       .add_extension(x509.SubjectAlternativeName(names), critical=True)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuer.public_key()), critical=False)
                       .sign(self.issuer_key, hashes.SHA256()))
        with self.changed:
            self.svids[spiffe_id] = (certificate, key)
            self.version += 1
            self.changed.notify_all()
        return certificate

    def response(self):
        der = serialization.Encoding.DER
        svids = [self.pb.X509SVID(
            spiffe_id=spiffe_id,
            x509_svid=certificate.public_bytes(der) + self.issuer.public_bytes(der),
            x509_svid_key=key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            bundle=self.anchor.public_bytes(der)) for spiffe_id, (certificate, key) in self.svids.items()]
        return self.pb.X509SVIDResponse(svids=svids)

    def stop(self):
        self.server.stop(0)
