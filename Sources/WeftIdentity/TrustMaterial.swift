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
import X509

/// A mesh's trust anchor (the root every proxy trusts) and its issuer (the intermediate CA the
/// identity service signs workload certificates with). Both are ECDSA P-256.
public struct TrustMaterial: Sendable {
    public var anchor: Certificate
    public var anchorKey: P256.Signing.PrivateKey
    public var issuer: Certificate
    public var issuerKey: P256.Signing.PrivateKey

    /// Linkerd's naming: the anchor is `root.linkerd.<trust domain>`, the issuer
    /// `identity.linkerd.<trust domain>`.
    public static func anchorName(trustDomain: String) -> String { "root.linkerd.\(trustDomain)" }
    public static func issuerName(trustDomain: String) -> String { "identity.linkerd.\(trustDomain)" }

    /// A new anchor (CA, path length 1) and an issuer signed by it (CA, path length 0), with
    /// key usage keyCertSign + cRLSign marked critical on both.
    public static func generate(trustDomain: String, now: Date = Date(),
                                anchorLifetime: TimeInterval = 10 * 365 * 86_400,
                                issuerLifetime: TimeInterval = 365 * 86_400) throws -> TrustMaterial {
        let anchorKey = P256.Signing.PrivateKey()
        let anchor = try makeAnchor(name: anchorName(trustDomain: trustDomain), key: anchorKey,
                                    notBefore: now - 60, notAfter: now + anchorLifetime)
        let issuerKey = P256.Signing.PrivateKey()
        let issuer = try makeIssuer(name: issuerName(trustDomain: trustDomain), key: issuerKey, anchor: anchor,
                                    anchorKey: anchorKey, notBefore: now - 60,
                                    notAfter: min(now + issuerLifetime, anchor.notValidAfter))
        return TrustMaterial(anchor: anchor, anchorKey: anchorKey, issuer: issuer, issuerKey: issuerKey)
    }

    /// A self-signed trust anchor.
    public static func makeAnchor(name: String, key: P256.Signing.PrivateKey, notBefore: Date, notAfter: Date) throws -> Certificate {
        let subject = try DistinguishedName { CommonName(name) }
        let publicKey = Certificate.PublicKey(key.publicKey)
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
    }

    /// An issuer (intermediate CA) signed by `anchor`.
    public static func makeIssuer(name: String, key: P256.Signing.PrivateKey, anchor: Certificate,
                                  anchorKey: P256.Signing.PrivateKey, notBefore: Date, notAfter: Date) throws -> Certificate {
        let publicKey = Certificate.PublicKey(key.publicKey)
        let anchorKeyID = try anchor.extensions.subjectKeyIdentifier?.keyIdentifier
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: anchor.subject,
            subject: try DistinguishedName { CommonName(name) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: anchorKeyID)
            },
            issuerPrivateKey: Certificate.PrivateKey(anchorKey))
    }
}
