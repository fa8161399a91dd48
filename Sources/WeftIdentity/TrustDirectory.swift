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

/// Where `weft identity init` puts the trust material and `weft-controller` reads it:
/// `trust-anchors.pem` (one or more anchors: an overlap bundle during rotation), `issuer.crt`,
/// `issuer.key`, `anchor.key` (keep it offline once the issuer exists) and `token-signing.key`
/// (the controller's key for bootstrap tokens). The directory is 0700, keys 0600.
public struct TrustDirectory: Sendable {
    public static let anchors = "trust-anchors.pem"
    public static let issuerCertificate = "issuer.crt"
    public static let issuerKey = "issuer.key"
    public static let anchorKey = "anchor.key"
    public static let tokenKey = "token-signing.key"

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Writes new trust material and a token-signing key; refuses to replace existing files.
    public func write(_ material: TrustMaterial, tokenKey: P256.Signing.PrivateKey) throws {
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            try files.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for name in [Self.anchors, Self.issuerCertificate, Self.issuerKey, Self.anchorKey, Self.tokenKey]
        where files.fileExists(atPath: file(name)) {
            throw TrustDirectoryError("\(file(name)) exists; remove it or choose another directory")
        }
        try writeFile(Self.anchors, try material.anchor.serializeAsPEM().pemString + "\n", mode: 0o644)
        try writeFile(Self.issuerCertificate, try material.issuer.serializeAsPEM().pemString + "\n", mode: 0o644)
        try writeFile(Self.issuerKey, material.issuerKey.pemRepresentation + "\n", mode: 0o600)
        try writeFile(Self.anchorKey, material.anchorKey.pemRepresentation + "\n", mode: 0o600)
        try writeFile(Self.tokenKey, tokenKey.pemRepresentation + "\n", mode: 0o600)
    }

    /// The trust anchors (every certificate in the bundle).
    public func readAnchors() throws -> [Certificate] {
        let anchors = try Self.certificates(pem: try readText(Self.anchors))
        guard !anchors.isEmpty else { throw TrustDirectoryError("\(file(Self.anchors)) holds no certificate") }
        return anchors
    }

    /// The issuer's certificate and key, checked: a CA whose key matches, signed by one of the
    /// anchors.
    public func readIssuer(anchors: [Certificate]) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let certificates = try Self.certificates(pem: try readText(Self.issuerCertificate))
        guard let certificate = certificates.first else { throw TrustDirectoryError("\(file(Self.issuerCertificate)) holds no certificate") }
        let key = try P256.Signing.PrivateKey(pemRepresentation: try readText(Self.issuerKey))
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw TrustDirectoryError("\(file(Self.issuerKey)) is not the key of \(file(Self.issuerCertificate))")
        }
        guard case .isCertificateAuthority = try certificate.extensions.basicConstraints else {
            throw TrustDirectoryError("\(file(Self.issuerCertificate)) is not a CA certificate")
        }
        guard anchors.contains(where: { $0.subject == certificate.issuer && $0.publicKey.isValidSignature(certificate.signature, for: certificate) }) else {
            throw TrustDirectoryError("\(file(Self.issuerCertificate)) is not signed by any trust anchor in \(file(Self.anchors))")
        }
        return (certificate, key)
    }

    public func readTokenKey() throws -> P256.Signing.PrivateKey {
        try P256.Signing.PrivateKey(pemRepresentation: try readText(Self.tokenKey))
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Every certificate in a PEM bundle.
    public static func certificates(pem: String) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: pem)
            .filter { $0.discriminator == "CERTIFICATE" }
            .map { try Certificate(pemDocument: $0) }
    }

    private func readText(_ name: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file(name)), data.count <= 1 << 20 else {
            throw TrustDirectoryError("cannot read \(file(name))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func writeFile(_ name: String, _ text: String, mode: Int) throws {
        let target = file(name)
        guard FileManager.default.createFile(atPath: target, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw TrustDirectoryError("cannot write \(target)")
        }
    }
}

/// A problem with the files of a trust directory.
public struct TrustDirectoryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
