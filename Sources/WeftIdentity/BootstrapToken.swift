import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#endif
import WeftCore

/// Proof of identity for standalone workloads: a compact JWS (ES256) signed by the controller's
/// token key, with audience `identity.l5d.io`, naming the one identity it may be exchanged for,
/// expiring, and revocable by its ID.
public struct BootstrapToken: Sendable, Equatable {
    public static let audience = "identity.l5d.io"
    /// The largest token accepted.
    public static let maximumSize = 4096

    /// The identity the token may be exchanged for.
    public var identity: String
    public var id: String
    public var issuedAt: Date
    public var expires: Date

    public init(identity: String, id: String = BootstrapToken.randomID(), issuedAt: Date, expires: Date) {
        self.identity = identity
        self.id = id
        self.issuedAt = issuedAt
        self.expires = expires
    }

    public static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return HexText.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private struct Header: Decodable {
        var alg: String
    }

    private struct Claims: Decodable {
        var aud: String?
        var sub: String
        var jti: String
        var iat: Int
        var exp: Int
    }

    /// The signed, compact form.
    public func signed(with key: P256.Signing.PrivateKey) throws -> String {
        let header = #"{"alg":"ES256","typ":"JWT"}"#
        let claims = "{" + [
            "\"aud\":\(JSONText.quote(Self.audience))",
            "\"sub\":\(JSONText.quote(identity))",
            "\"jti\":\(JSONText.quote(id))",
            "\"iat\":\(Int(issuedAt.timeIntervalSince1970))",
            "\"exp\":\(Int(expires.timeIntervalSince1970))",
        ].joined(separator: ",") + "}"
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        let signature = try key.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(Array(signature.rawRepresentation))
    }

    /// The token in `text`, if `key` signed it, it is for `audience`, and it has not expired.
    public static func verify(_ text: String, key: P256.Signing.PublicKey, now: Date = Date()) throws(CertifyError) -> BootstrapToken {
        guard text.utf8.count <= maximumSize else { throw CertifyError(.invalidArgument, "token is over \(maximumSize) bytes") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
              let signatureBytes = Base64URL.decode(parts[2]) else {
            throw CertifyError(.invalidArgument, "token is not a compact JWS")
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)), header.alg == "ES256" else {
            throw CertifyError(.invalidArgument, "token header must name alg ES256")
        }
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              key.isValidSignature(signature, for: Array("\(parts[0]).\(parts[1])".utf8)) else {
            throw CertifyError(.failedPrecondition, "token is not signed by this controller")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: Data(claimBytes)) else {
            throw CertifyError(.invalidArgument, "token claims must hold sub, jti, iat and exp")
        }
        guard claims.aud == audience else {
            throw CertifyError(.failedPrecondition, "token audience is not \(audience)")
        }
        let (identity, id, issued, expires) = (claims.sub, claims.jti, claims.iat, claims.exp)
        let token = BootstrapToken(identity: identity, id: id, issuedAt: Date(timeIntervalSince1970: Double(issued)),
                                   expires: Date(timeIntervalSince1970: Double(expires)))
        guard now < token.expires else { throw CertifyError(.failedPrecondition, "token \(id) expired") }
        return token
    }
}

/// Base64 with the URL alphabet and no padding (RFC 7515 §2).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        String(Data(bytes).base64EncodedString().compactMap { character -> Character? in
            switch character {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: character
            }
        })
    }

    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") }) else { return nil }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map(Array.init)
    }
}
