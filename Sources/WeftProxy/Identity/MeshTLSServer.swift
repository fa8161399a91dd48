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

    /// The identity a verified client certificate proves: its first SAN (a DNS name, or a URI
    /// that is a SPIFFE ID), as Linkerd reads it; `nil` for a client without a certificate.
    static func clientIdentity(_ certificate: NIOSSLCertificate?) -> String? {
        guard let certificate, let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der),
              let names = try? parsed.extensions.subjectAlternativeNames, let first = names.first else { return nil }
        switch first {
        case .dnsName(let name): return (try? DNSLikeIdentity(parsing: name))?.description
        case .uniformResourceIdentifier(let uri): return (try? SPIFFEID(parsing: uri))?.description
        default: return nil
        }
    }
}
