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
import SwiftASN1
import WeftCore
import X509

/// A workload's key and the certificate the identity service issued for it, checked.
public struct WorkloadCredentials: Sendable {
    public let key: P256.Signing.PrivateKey
    public let leaf: Certificate
    /// From the issuer up to, not including, the trust anchor.
    public let intermediates: [Certificate]

    public var expiry: Date { leaf.notValidAfter }

    /// A DER CSR for `identity`, signed by `key`: CN and one DNS SAN for a DNS-like name (as
    /// Linkerd's proxy sends), one URI SAN and no CN for a SPIFFE ID.
    public static func certificateSigningRequest(for identity: WorkloadIdentity, key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let subject: DistinguishedName
        switch identity {
        case .dnsLike(let name): subject = try DistinguishedName { CommonName(name.description) }
        case .spiffe: subject = DistinguishedName()
        }
        let extensions = try Certificate.Extensions { LeafIssuer.subjectAlternativeNames(for: identity) }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    /// Accepts a `Certify` answer only if the leaf carries `key`, names exactly `identity`, is
    /// valid now (by the system clock) and chains through `intermediates` to one of `anchors`,
    /// and `validUntil` is its NotAfter.
    public static func accept(leafDER: [UInt8], intermediatesDER: [[UInt8]], validUntil: Date?, key: P256.Signing.PrivateKey,
                              identity: WorkloadIdentity, anchors: [Certificate], now: Date = Date()) async throws -> WorkloadCredentials {
        let leaf = try Certificate(derEncoded: leafDER)
        let intermediates = try intermediatesDER.map { try Certificate(derEncoded: $0) }
        guard leaf.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CredentialError("the issued certificate is not for this proxy's key")
        }
        guard try Array(leaf.extensions.subjectAlternativeNames ?? SubjectAlternativeNames()) == Array(LeafIssuer.subjectAlternativeNames(for: identity)) else {
            throw CredentialError("the issued certificate does not name exactly \(identity)")
        }
        guard let validUntil, validUntil > now else { throw CredentialError("the answer has no valid_until in the future") }
        guard abs(validUntil.timeIntervalSince(leaf.notValidAfter)) < 1 else {
            throw CredentialError("valid_until \(validUntil) is not the certificate's NotAfter \(leaf.notValidAfter)")
        }
        var verifier = Verifier(rootCertificates: CertificateStore(anchors)) { RFC5280Policy() }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(intermediates)) {
        case .validCertificate:
            return WorkloadCredentials(key: key, leaf: leaf, intermediates: intermediates)
        case .couldNotValidate(let failures):
            throw CredentialError("the issued certificate does not chain to the trust anchors: \(failures)")
        }
    }

    /// The chain, leaf first, in PEM (for a TLS configuration).
    public func pemChain() throws -> [String] {
        try ([leaf] + intermediates).map { try $0.serializeAsPEM().pemString }
    }

    /// When to renew: at 70 % of the remaining lifetime, clamped to [minimum, maximum]
    /// (Linkerd: 10 s and 24 h).
    public static func refreshDelay(expiry: Date, now: Date, minimum: TimeInterval, maximum: TimeInterval) -> TimeInterval {
        min(max(0.7 * expiry.timeIntervalSince(now), minimum), maximum)
    }
}

/// Why an identity service's answer was not accepted.
public struct CredentialError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
