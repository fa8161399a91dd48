import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate authority made at run time for tests: a self-signed root, and leaves minted on
/// demand — a workload's (a DNS-like name or a SPIFFE ID), or deliberately wrong ones (expired,
/// not yet valid, a CA, server-only, several URIs) to check that they are refused.
public struct TestCA: Sendable {
    /// What a minted leaf claims.
    public struct Leaf: Sendable {
        public var dnsNames: [String] = []
        public var uris: [String] = []
        public var notBefore: Date = Date() - 60
        public var notAfter: Date = Date() + 3_600
        public var isCertificateAuthority = false
        /// Extended key usages; a workload's has both serverAuth and clientAuth.
        public var serverAuth = true
        public var clientAuth = true

        public init(dnsNames: [String] = [], uris: [String] = []) {
            self.dnsNames = dnsNames
            self.uris = uris
        }
    }

    /// A minted certificate with its key.
    public struct Minted: Sendable {
        public let certificate: Certificate
        public let key: P256.Signing.PrivateKey

        public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
        public var keyPEM: String { key.pemRepresentation }
    }

    public let root: Certificate
    private let rootKey: P256.Signing.PrivateKey

    /// A new root named `name`, valid from a minute ago for a day.
    public init(name: String = "weft test root") throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let publicKey = Certificate.PublicKey(key.publicKey)
        root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: Date() - 60, notValidAfter: Date() + 86_400, issuer: subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        rootKey = key
    }

    public var rootPEM: String { (try? root.serializeAsPEM().pemString) ?? "" }

    /// A leaf signed by the root, with a new key.
    public func mint(_ leaf: Leaf) throws -> Minted {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        var names: [GeneralName] = leaf.dnsNames.map { .dnsName($0) }
        names += leaf.uris.map { .uniformResourceIdentifier($0) }
        var usages: [ExtendedKeyUsage.Usage] = []
        if leaf.serverAuth { usages.append(.serverAuth) }
        if leaf.clientAuth { usages.append(.clientAuth) }
        let extensions = try Certificate.Extensions {
            if leaf.isCertificateAuthority {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            } else {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
            }
            try ExtendedKeyUsage(usages)
            if !names.isEmpty { SubjectAlternativeNames(names) }
            AuthorityKeyIdentifier(keyIdentifier: try root.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: leaf.notBefore, notValidAfter: leaf.notAfter, issuer: root.subject,
            subject: try DistinguishedName { CommonName(leaf.dnsNames.first ?? "workload") },
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(rootKey))
        return Minted(certificate: certificate, key: key)
    }
}
