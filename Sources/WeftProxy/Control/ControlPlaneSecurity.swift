import GRPCNIOTransportHTTP2
import NIOCertificateReloading
import NIOSSL
import WeftIdentity
import X509

/// How the proxy reaches one control-plane service over mutual TLS, as Linkerd's proxy does when
/// `LINKERD2_PROXY_DESTINATION_SVC_NAME` / `LINKERD2_PROXY_POLICY_SVC_NAME` are set: the
/// service's certificate must chain to the trust anchors and name `serverName` (also the SNI and
/// `:authority`), and the proxy presents its own current workload certificate, so the controller
/// knows which workload asks.
struct ControlPlaneSecurity: Sendable {
    /// The service's identity, e.g. `linkerd-destination.linkerd.serviceaccount.identity.linkerd.cluster.local`.
    let serverName: String
    let anchors: [Certificate]
    let credentials: CredentialStore

    /// The transport security of a gRPC client for this service.
    func transportSecurity() throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        let anchorsPEM = try anchors.map { try $0.serializeAsPEM().pemString }
        let reloader = CurrentWorkloadCertificate(credentials: credentials)
        return .tls { tls in
            tls.trustRoots = .certificates(anchorsPEM.map { .bytes(Array($0.utf8), format: .pem) })
            tls.serverCertificateVerification = .fullVerification
            tls.certificateReloader = reloader
        }
    }
}

/// Hands each control-plane handshake the proxy's current certificate chain and key, so that a
/// renewal reaches new connections without rebuilding the clients. Before the first certificate
/// (or once it expired) the handshake goes without one, and the controller refuses it; the
/// caller's stream retries with backoff.
struct CurrentWorkloadCertificate: CertificateReloader {
    let credentials: CredentialStore

    var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride {
        guard let valid = credentials.valid else { return .noChanges }
        do {
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = try ([valid.leaf] + valid.intermediates).map {
                .certificate(try NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der))
            }
            override.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(valid.key.derRepresentation), format: .der))
            return override
        } catch {
            return .noChanges
        }
    }
}
