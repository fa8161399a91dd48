import NIOSSL
import WeftIdentity

extension WorkloadCredentials {
    /// The chain, leaf first, and the key, as NIOSSL takes them.
    func nioSSLCertificateChain() throws -> [NIOSSLCertificateSource] {
        try ([leaf] + intermediates).map { .certificate(try NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der)) }
    }

    func nioSSLPrivateKey() throws -> NIOSSLPrivateKeySource {
        .privateKey(try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der))
    }
}
