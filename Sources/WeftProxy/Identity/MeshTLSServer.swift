import NIOCore
import NIOSSL
import WeftCore
import WeftIdentity
import X509

/// Terminates mesh TLS on inbound connections: TLS 1.3 only, this proxy's current certificate,
/// clients' certificates verified against the trust anchors when they send one (clients without
/// one are accepted as unauthenticated); see ``MeshTLSContexts``.
public final class MeshTLSServer: Sendable {
    /// The name clients must put in SNI for the proxy to terminate (other TLS passes through).
    public let serverName: String
    private let contexts: MeshTLSContexts

    init(serverName: String, credentials: CredentialStore, anchors: [Certificate]) throws {
        self.serverName = serverName
        contexts = try MeshTLSContexts(side: .server, credentials: credentials, anchors: anchors)
    }

    /// The TLS context for the current certificate, or `nil` before the first one and after it
    /// expired.
    func context() throws -> NIOSSLContext? {
        try contexts.current()
    }

    /// Who a mesh-TLS client is.
    enum Client: Equatable {
        /// No certificate: unauthenticated.
        case anonymous
        /// The identity its verified certificate proves: its first SAN (a DNS name, or a URI that
        /// is a SPIFFE ID), as Linkerd reads it.
        case identified(WorkloadIdentity)
        /// A certificate that chains to the anchors but may not identify a workload
        /// (``PeerCertificateRules``): the connection is refused.
        case refused(String)
    }

    static func client(_ certificate: NIOSSLCertificate?) -> Client {
        guard let certificate else { return .anonymous }
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return .refused("its certificate cannot be read")
        }
        if let problem = PeerCertificateRules.problem(parsed) { return .refused(problem) }
        let identity: WorkloadIdentity?
        switch try? parsed.extensions.subjectAlternativeNames?.first {
        case .dnsName(let name)?: identity = (try? DNSLikeIdentity(parsing: name)).map { .dnsLike($0) }
        case .uniformResourceIdentifier(let uri)?: identity = (try? SPIFFEID(parsing: uri)).map { .spiffe($0) }
        default: identity = nil
        }
        return identity.map { .identified($0) } ?? .refused("its first SAN is not a DNS-like identity or a SPIFFE ID")
    }
}
