import NIOSSL
import Synchronization
import WeftCore
import WeftIdentity
import X509

/// The NIOSSL contexts of mesh TLS, made from the proxy's current credentials: TLS 1.3 only, its
/// certificate chain and key, the trust anchors. One context per certificate, so a renewal
/// changes what new handshakes use while open connections keep theirs; none before the first
/// certificate or once it has expired (the proxy fails closed).
final class MeshTLSContexts: Sendable {
    enum Side: Sendable {
        /// Terminating: a client certificate is verified when one is sent (clients without one are
        /// unauthenticated).
        case server
        /// Originating: the peer's chain is verified; its name is checked by ``PeerIdentityCheck``,
        /// exactly.
        case client
        /// Originating opaque transport: as `client`, offering ALPN `transport.l5d.io/v1`.
        case transportClient
    }

    private let side: Side
    private let credentials: CredentialStore
    private let anchors: [NIOSSLCertificate]
    private let cache = Mutex<(leaf: Certificate, context: NIOSSLContext)?>(nil)

    init(side: Side, credentials: CredentialStore, anchors: [Certificate]) throws {
        self.side = side
        self.credentials = credentials
        self.anchors = try anchors.map { try NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der) }
    }

    /// The context for the current certificate, or `nil` when there is no valid one.
    func current() throws -> NIOSSLContext? {
        guard let valid = credentials.valid else { return nil }
        if let cached = cache.withLock({ $0 }), cached.leaf == valid.leaf { return cached.context }
        let context = try NIOSSLContext(configuration: try configuration(valid))
        cache.withLock { $0 = (valid.leaf, context) }
        return context
    }

    private func configuration(_ credentials: WorkloadCredentials) throws -> TLSConfiguration {
        let chain = try ([credentials.leaf] + credentials.intermediates).map {
            NIOSSLCertificateSource.certificate(try NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der))
        }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(bytes: Array(credentials.key.derRepresentation), format: .der))
        var configuration: TLSConfiguration
        switch side {
        case .server:
            configuration = .makeServerConfiguration(certificateChain: chain, privateKey: key)
            configuration.certificateVerification = .optionalVerification
            // Chosen only when a client offers it: a peer proxy sending a transport header.
            configuration.applicationProtocols = [TransportHeader.alpnProtocol]
        case .client, .transportClient:
            configuration = .makeClientConfiguration()
            configuration.certificateChain = chain
            configuration.privateKey = key
            configuration.certificateVerification = .noHostnameVerification
            if side == .transportClient { configuration.applicationProtocols = [TransportHeader.alpnProtocol] }
        }
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(anchors)
        return configuration
    }
}
