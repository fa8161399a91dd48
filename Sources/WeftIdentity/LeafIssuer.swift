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

/// Checks certificate signing requests and issues workload certificates: the identity service's
/// decisions, with no I/O.
public struct LeafIssuer: Sendable {
    /// The largest CSR accepted (a P-256 CSR with one name is under 1 KiB).
    public static let maximumCSRSize = 16 * 1024

    /// A certificate issued for a workload.
    public struct Issued: Sendable {
        public var leaf: Certificate
        /// From the issuer up to, not including, the trust anchor.
        public var intermediates: [Certificate]
        public var validUntil: Date

        /// The leaf and the intermediates in DER, as `CertifyResponse` carries them.
        public func derEncoded() throws -> (leaf: [UInt8], intermediates: [[UInt8]]) {
            (try leaf.derEncoded(), try intermediates.map { try $0.derEncoded() })
        }

        /// The chain from the leaf up, in PEM, as a TLS server presents it.
        public func pemChain() throws -> [String] {
            try ([leaf] + intermediates).map { try $0.serializeAsPEM().pemString }
        }
    }

    public let issuer: Certificate
    private let issuerKey: P256.Signing.PrivateKey
    /// How long a leaf is valid for (Linkerd's default: 24 h).
    public let lifetime: TimeInterval
    /// Added before NotBefore and after NotAfter, for clocks that disagree (Linkerd: 20 s).
    public let clockSkew: TimeInterval

    public init(issuer: Certificate, issuerKey: P256.Signing.PrivateKey, lifetime: TimeInterval = 86_400, clockSkew: TimeInterval = 20) {
        self.issuer = issuer
        self.issuerKey = issuerKey
        self.lifetime = lifetime
        self.clockSkew = clockSkew
    }

    /// Issues a certificate for `identity` to the key in `csrDER`, after checking the request
    /// (the caller has already checked that the client may have this identity).
    ///
    /// The CSR must be signed by its own key (proof of possession), hold a P-256 key, ask for no
    /// CA powers, and name exactly `identity`: one DNS SAN for a DNS-like identity (a common name,
    /// if any, equal to it), one URI SAN for a SPIFFE ID; no other SAN of any kind.
    public func certify(identity text: String, csrDER: [UInt8], now: Date = Date()) throws(CertifyError) -> Issued {
        let identity: WorkloadIdentity
        do {
            identity = try WorkloadIdentity(parsing: text)
        } catch {
            throw CertifyError(.invalidArgument, "identity \"\(text)\" is not a DNS-like name or SPIFFE ID: \(error)")
        }
        let csr = try Self.parse(csrDER)
        try Self.checkNames(of: csr, for: identity)
        return try issue(for: identity, publicKey: csr.publicKey, now: now)
    }

    /// A certificate for `identity` and a P-256 key, with no questions asked (see below).
    public func issue(for identity: WorkloadIdentity, key: P256.Signing.PublicKey, now: Date = Date()) throws(CertifyError) -> Issued {
        try issue(for: identity, publicKey: Certificate.PublicKey(key), now: now)
    }

    /// A certificate for `identity` and `publicKey`, with no questions asked: for requests that
    /// passed ``certify(identity:csrDER:now:)``'s checks, and for the controller's own identities
    /// (`alsoNames`: more names for one server, e.g. the destination and policy services on one port).
    public func issue(for identity: WorkloadIdentity, publicKey: Certificate.PublicKey, alsoNames: [WorkloadIdentity] = [],
                      now: Date = Date()) throws(CertifyError) -> Issued {
        // Certificates hold whole seconds: `validUntil` must be exactly the leaf's NotAfter.
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        guard now < issuer.notValidAfter, now >= issuer.notValidBefore else {
            throw CertifyError(.unavailable, "the issuer certificate is not valid now")
        }
        let notAfter = min(now + lifetime + clockSkew, issuer.notValidAfter)
        do {
            let leaf = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now - clockSkew, notValidAfter: notAfter,
                issuer: issuer.subject, subject: try Self.subject(for: identity), signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth, .clientAuth])
                    SubjectAlternativeNames(([identity] + alsoNames).flatMap { Self.subjectAlternativeNames(for: $0) })
                    AuthorityKeyIdentifier(keyIdentifier: try issuer.extensions.subjectKeyIdentifier?.keyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(issuerKey))
            return Issued(leaf: leaf, intermediates: [issuer], validUntil: notAfter)
        } catch {
            throw CertifyError(.invalidArgument, "cannot issue a certificate for this request: \(error)")
        }
    }

    /// Parses and checks the CSR itself: size, DER, self-signature, key type, no CA request.
    static func parse(_ der: [UInt8]) throws(CertifyError) -> CertificateSigningRequest {
        guard !der.isEmpty else { throw CertifyError(.invalidArgument, "missing certificate signing request") }
        guard der.count <= maximumCSRSize else {
            throw CertifyError(.invalidArgument, "certificate signing request of \(der.count) bytes is over \(maximumCSRSize)")
        }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw CertifyError(.invalidArgument, "certificate signing request is not valid DER: \(error)")
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw CertifyError(.invalidArgument, "certificate signing request key must be ECDSA P-256")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CertifyError(.invalidArgument, "certificate signing request is not signed by its own key")
        }
        let requested: Certificate.Extensions
        do {
            requested = try csr.attributes.extensionRequest?.extensions ?? Certificate.Extensions()
        } catch {
            throw CertifyError(.invalidArgument, "certificate signing request has a malformed extension request: \(error)")
        }
        do {
            if case .isCertificateAuthority = try requested.basicConstraints {
                throw CertifyError(.invalidArgument, "certificate signing request asks to be a CA")
            }
            if let usage = try requested.keyUsage, usage.keyCertSign || usage.cRLSign {
                throw CertifyError(.invalidArgument, "certificate signing request asks for certificate signing")
            }
        } catch let error as CertifyError {
            throw error
        } catch {
            throw CertifyError(.invalidArgument, "certificate signing request has a malformed extension: \(error)")
        }
        return csr
    }

    /// The CSR names exactly the identity (reliability.md A3).
    static func checkNames(of csr: CertificateSigningRequest, for identity: WorkloadIdentity) throws(CertifyError) {
        let names: [GeneralName]
        do {
            names = try csr.attributes.extensionRequest?.extensions.subjectAlternativeNames.map(Array.init) ?? []
        } catch {
            throw CertifyError(.invalidArgument, "certificate signing request has malformed subject alternative names: \(error)")
        }
        let commonNames = csr.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
        switch identity {
        case .dnsLike(let name):
            let dns = names.compactMap { if case .dnsName(let value) = $0 { value } else { nil } }
            guard dns == [name.description] else {
                throw CertifyError(.failedPrecondition, "certificate signing request must have exactly one DNS name, \(name); it has \(dns)")
            }
            guard names.count == 1 else {
                throw CertifyError(.failedPrecondition, "certificate signing request may not carry email, IP or URI names")
            }
            guard commonNames.allSatisfy({ $0 == name.description }), commonNames.count <= 1 else {
                throw CertifyError(.failedPrecondition, "certificate signing request common name must be empty or \(name)")
            }
        case .spiffe(let id):
            let uris = names.compactMap { if case .uniformResourceIdentifier(let value) = $0 { value } else { nil } }
            guard uris == [id.description], names.count == 1 else {
                throw CertifyError(.failedPrecondition, "certificate signing request must have exactly one name, the URI \(id); it has \(names.count) names")
            }
            guard commonNames.isEmpty || commonNames == [id.description] else {
                throw CertifyError(.failedPrecondition, "certificate signing request common name must be empty or \(id)")
            }
        }
    }

    /// The leaf's subject: CN = the name for a DNS-like identity (as Linkerd's), empty for a
    /// SPIFFE ID (X509-SVID). Nothing else the client wrote in its CSR is copied.
    static func subject(for identity: WorkloadIdentity) throws -> DistinguishedName {
        switch identity {
        case .dnsLike(let name): try DistinguishedName { CommonName(name.description) }
        case .spiffe: DistinguishedName()
        }
    }

    static func subjectAlternativeNames(for identity: WorkloadIdentity) -> SubjectAlternativeNames {
        switch identity {
        case .dnsLike(let name): SubjectAlternativeNames([.dnsName(name.description)])
        case .spiffe(let id): SubjectAlternativeNames([.uniformResourceIdentifier(id.description)])
        }
    }
}

extension Certificate {
    /// The certificate's DER bytes.
    public func derEncoded() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }
}
