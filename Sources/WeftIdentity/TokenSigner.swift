import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WeftCore

/// Mints bootstrap tokens with a trust directory's token-signing key: what
/// `weft identity token create` does on the command line and the controller's `POST /v1/tokens`
/// does for `weft run`.
public struct TokenSigner: Sendable {
    /// The longest lifetime a token may be given.
    public static let maximumLifetime: TimeInterval = 86_400

    private let key: P256.Signing.PrivateKey

    public init(directory: TrustDirectory) throws {
        key = try directory.readTokenKey()
    }

    /// A signed token for `identity` (a DNS-like name or a SPIFFE ID), valid `lifetime` seconds.
    public func token(for identity: String, lifetime: TimeInterval, now: Date = Date()) throws -> (text: String, token: BootstrapToken) {
        let name = try WorkloadIdentity(parsing: identity).description
        guard lifetime > 0, lifetime <= Self.maximumLifetime else {
            throw TrustDirectoryError("a token's lifetime must be between 1 second and \(Int(Self.maximumLifetime)) seconds")
        }
        let token = BootstrapToken(identity: name, issuedAt: now, expires: now + lifetime)
        return (try token.signed(with: key), token)
    }

    /// The token `text` says, if this signer signed it and it is valid now.
    public func verify(_ text: String, now: Date = Date()) throws -> BootstrapToken {
        try BootstrapToken.verify(text, key: key.publicKey, now: now)
    }
}
