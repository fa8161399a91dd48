import NIOCore
import NIOSSL
import Synchronization
import WeftCore
import WeftIdentity
import X509

/// Terminates mesh TLS on inbound connections: TLS 1.3 only, this proxy's current certificate,
/// clients' certificates verified against the trust anchors when they send one (clients without
/// one are accepted as unauthenticated). The TLS context is built once per certificate, so a
/// renewal changes what new handshakes present while open connections keep theirs.
public final class MeshTLSServer: Sendable {
    /// The name clients must put in SNI for the proxy to terminate (other TLS passes through).
    public let serverName: String
    private let credentials: CredentialStore
    private let anchors: [NIOSSLCertificate]
    private let cache = Mutex<(leaf: Certificate, context: NIOSSLContext)?>(nil)

    init(serverName: String, credentials: CredentialStore, anchors: [Certificate]) throws {
        self.serverName = serverName
        self.credentials = credentials
        self.anchors = try anchors.map { try NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der) }
    }

    /// The TLS context for the current certificate, or `nil` before the first one and after it
    /// expired.
    func context() throws -> NIOSSLContext? {
        guard let current = credentials.valid else { return nil }
        if let cached = cache.withLock({ $0 }), cached.leaf == current.leaf { return cached.context }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: try current.nioSSLCertificateChain(),
                                                                     privateKey: try current.nioSSLPrivateKey())
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(anchors)
        let context = try NIOSSLContext(configuration: configuration)
        cache.withLock { $0 = (current.leaf, context) }
        return context
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
