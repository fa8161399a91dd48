import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import WeftIdentity

@Suite("Trust material and certificate issuance")
struct LeafIssuerTests {
    static let identity = "web.shop.serviceaccount.identity.linkerd.cluster.local"
    let material: TrustMaterial
    let issuer: LeafIssuer

    init() throws {
        material = try TrustMaterial.generate(trustDomain: "cluster.local")
        issuer = LeafIssuer(issuer: material.issuer, issuerKey: material.issuerKey)
    }

    static func csr(names: [GeneralName], commonName: String? = nil, key: P256.Signing.PrivateKey = .init(),
                    extensions extra: [Certificate.Extension] = []) throws -> CertificateSigningRequest {
        var extensions = try Certificate.Extensions { SubjectAlternativeNames(names) }
        for item in extra { try extensions.append(item) }
        let subject = try commonName.map { name in try DistinguishedName { CommonName(name) } } ?? DistinguishedName()
        return try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
    }

    static func der(_ csr: CertificateSigningRequest) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        return serializer.serializedBytes
    }

    @Test func anchorAndIssuerAreCAsWithCriticalKeyUsage() throws {
        for (certificate, pathLength) in [(material.anchor, 1), (material.issuer, 0)] {
            #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: pathLength))
            let usage = try #require(certificate.extensions[oid: .X509ExtensionID.keyUsage])
            #expect(usage.critical)
            let keyUsage = try KeyUsage(usage)
            #expect(keyUsage.keyCertSign && keyUsage.cRLSign && !keyUsage.digitalSignature)
        }
        #expect(material.anchor.publicKey.isValidSignature(material.issuer.signature, for: material.issuer))
        #expect(material.issuer.issuer == material.anchor.subject)
    }

    @Test func issuesALeafForTheRequestedName() throws {
        let now = Date()
        let issued = try issuer.certify(identity: Self.identity, csrDER: try Self.der(Self.csr(names: [.dnsName(Self.identity)], commonName: Self.identity)), now: now)
        let leaf = issued.leaf
        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.dnsName(Self.identity)])
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth, .clientAuth]))
        let usage = try KeyUsage(#require(leaf.extensions[oid: .X509ExtensionID.keyUsage]))
        #expect(usage.digitalSignature && !usage.keyCertSign)
        #expect(abs(leaf.notValidAfter.timeIntervalSince(now) - (86_400 + 20)) < 2)
        #expect(abs(leaf.notValidBefore.timeIntervalSince(now) + 20) < 2)
        #expect(material.issuer.publicKey.isValidSignature(leaf.signature, for: leaf))
        #expect(issued.intermediates == [material.issuer])
    }

    @Test func spiffeIdentitiesGetOneURISAN() throws {
        let id = "spiffe://root.linkerd.cluster.local/external-workload"
        let issued = try issuer.certify(identity: id, csrDER: try Self.der(Self.csr(names: [.uniformResourceIdentifier(id)])))
        let names = try #require(try issued.leaf.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier(id)])
    }

    @Test func refusesRequestsThatDoNotNameExactlyTheIdentity() throws {
        let cases: [([GeneralName], String?)] = [
            ([.dnsName(Self.identity), .dnsName("other.shop.serviceaccount.identity.linkerd.cluster.local")], nil),
            ([.dnsName("web.shop.serviceaccount.identity.linkerd.cluster.local.evil")], nil),
            ([.dnsName(Self.identity), .uniformResourceIdentifier("spiffe://cluster.local/web")], nil),
            ([.dnsName(Self.identity), .rfc822Name("a@b.c")], nil),
            ([.dnsName(Self.identity)], "someone.else"),
            ([], nil),
        ]
        for (names, commonName) in cases {
            #expect(throws: CertifyError.self) {
                _ = try issuer.certify(identity: Self.identity, csrDER: try Self.der(Self.csr(names: names, commonName: commonName)))
            }
            do {
                _ = try issuer.certify(identity: Self.identity, csrDER: try Self.der(Self.csr(names: names, commonName: commonName)))
            } catch let error as CertifyError {
                #expect(error.code == .failedPrecondition, "\(names) \(String(describing: commonName))")
            }
        }
    }

    @Test func refusesBadSignaturesForeignKeysAndCARequests() throws {
        // Signed by one key, carrying another: no proof of possession.
        let signed = try Self.csr(names: [.dnsName(Self.identity)])
        let swapped = try CertificateSigningRequest(
            version: .v1, subject: signed.subject, publicKey: Certificate.PublicKey(P256.Signing.PrivateKey().publicKey),
            attributes: signed.attributes, signatureAlgorithm: signed.signatureAlgorithm, signature: signed.signature)
        let caRequest = try Self.csr(names: [.dnsName(Self.identity)], extensions: [
            try Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true)])
        let p384 = P384.Signing.PrivateKey()
        let p384Request = try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName(), privateKey: Certificate.PrivateKey(p384),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName(Self.identity)]) }))]),
            signatureAlgorithm: .ecdsaWithSHA384)
        for (name, bytes) in [("swapped key", try Self.der(swapped)), ("CA request", try Self.der(caRequest)),
                              ("P-384", try Self.der(p384Request)), ("garbage", [0x30, 0x03, 0x02, 0x01, 0x00]),
                              ("oversized", [UInt8](repeating: 0x30, count: LeafIssuer.maximumCSRSize + 1)), ("empty", [])] {
            do {
                _ = try issuer.certify(identity: Self.identity, csrDER: bytes)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.code == .invalidArgument, "\(name): \(error)")
            }
        }
    }

    @Test func tokensVerifyOnlyWithTheirKeyAndBeforeTheyExpire() throws {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let token = BootstrapToken(identity: Self.identity, issuedAt: now, expires: now + 3600)
        let text = try token.signed(with: key)
        #expect(try BootstrapToken.verify(text, key: key.publicKey, now: now) == BootstrapToken(
            identity: Self.identity, id: token.id, issuedAt: Date(timeIntervalSince1970: Double(Int(now.timeIntervalSince1970))),
            expires: Date(timeIntervalSince1970: Double(Int((now + 3600).timeIntervalSince1970)))))
        #expect(throws: CertifyError(.failedPrecondition, "token \(token.id) expired")) {
            try BootstrapToken.verify(text, key: key.publicKey, now: now + 3601)
        }
        #expect(throws: CertifyError(.failedPrecondition, "token is not signed by this controller")) {
            try BootstrapToken.verify(text, key: P256.Signing.PrivateKey().publicKey, now: now)
        }
        // Another identity pasted into the claims breaks the signature.
        var parts = text.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Array(#"{"aud":"identity.l5d.io","sub":"admin","jti":"1","iat":0,"exp":9999999999}"#.utf8))
        #expect(throws: CertifyError.self) { try BootstrapToken.verify(parts.joined(separator: "."), key: key.publicKey, now: now) }
        #expect(throws: CertifyError.self) { try BootstrapToken.verify("not a token", key: key.publicKey, now: now) }
    }
}
