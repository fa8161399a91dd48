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

/// X.509-SVIDs as a SPIFFE Workload API hands them out, checked by the X509-SVID rules before
/// they become a proxy's credentials.
public enum X509SVID {
    /// Splits concatenated DER certificates (the Workload API's `x509_svid` and `bundle`).
    public static func splitCertificates(_ der: [UInt8]) throws(CredentialError) -> [[UInt8]] {
        var certificates: [[UInt8]] = []
        var rest = der[...]
        while !rest.isEmpty {
            guard rest.count >= 2, rest[rest.startIndex] == 0x30 else { throw CredentialError("the SVID chain is not concatenated DER certificates") }
            let first = Int(rest[rest.startIndex + 1])
            var length = 0
            var header = 2
            if first < 0x80 {
                length = first
            } else {
                let octets = first & 0x7F
                guard (1...4).contains(octets), rest.count >= 2 + octets else { throw CredentialError("a certificate in the SVID chain has a bad length") }
                for index in 0..<octets { length = length << 8 | Int(rest[rest.startIndex + 2 + index]) }
                header += octets
            }
            guard rest.count >= header + length else { throw CredentialError("the SVID chain is cut short") }
            certificates.append(Array(rest.prefix(header + length)))
            rest = rest.dropFirst(header + length)
        }
        guard !certificates.isEmpty else { throw CredentialError("the SVID has no certificate") }
        return certificates
    }

    /// Accepts an X.509-SVID for `identity`: the leaf (first certificate) names exactly that one
    /// SPIFFE ID as its only URI SAN, is a workload's certificate (``PeerCertificateRules``) with
    /// digitalSignature, carries the PKCS#8 `keyDER`'s key, is valid now, and chains through the
    /// rest of `chainDER` to one of `anchors` (the Workload API's own bundle is not trusted:
    /// roots come from the proxy's configuration, as in Linkerd).
    public static func credentials(chainDER: [UInt8], keyDER: [UInt8], identity: SPIFFEID,
                                   anchors: [Certificate]) async throws -> WorkloadCredentials {
        let parsed = try splitCertificates(chainDER).map { try Certificate(derEncoded: $0) }
        let leaf = parsed[0]
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(derRepresentation: keyDER)
        } catch {
            throw CredentialError("the SVID's key is not a P-256 key in PKCS#8 DER")
        }
        guard leaf.publicKey == Certificate.PublicKey(key.publicKey) else { throw CredentialError("the SVID's key does not match its certificate") }
        if let problem = PeerCertificateRules.problem(leaf) { throw CredentialError("the SVID cannot identify a workload: \(problem)") }
        guard let usage = try leaf.extensions.keyUsage, usage.digitalSignature else {
            throw CredentialError("the SVID's key usage lacks digitalSignature")
        }
        let uris = (try leaf.extensions.subjectAlternativeNames ?? SubjectAlternativeNames()).compactMap {
            if case .uniformResourceIdentifier(let uri) = $0 { uri } else { nil }
        }
        guard uris == [identity.description] else { throw CredentialError("the SVID names \(uris), not \(identity)") }
        var verifier = Verifier(rootCertificates: CertificateStore(anchors)) {
            RFC5280Policy()
            LeafIdentityPolicy(identity: identity)
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(Array(parsed.dropFirst()))) {
        case .validCertificate:
            return WorkloadCredentials(key: key, leaf: leaf, intermediates: Array(parsed.dropFirst()))
        case .couldNotValidate(let failures):
            throw CredentialError("the SVID does not chain to the trust anchors, or is not valid now: \(failures)")
        }
    }
}

/// Enforces the subject alternative name of a chain's leaf: exactly one URI SAN, the expected
/// SPIFFE ID. Because it enforces the extension, a critical SAN (required when the subject is
/// empty, as in many X509-SVIDs) is understood rather than refused.
struct LeafIdentityPolicy: VerifierPolicy {
    let identity: SPIFFEID

    var verifyingCriticalExtensions: [ASN1ObjectIdentifier] { [.X509ExtensionID.subjectAlternativeName] }

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        var uris: [String] = []
        if let names = try? chain.leaf.extensions.subjectAlternativeNames {
            for case .uniformResourceIdentifier(let uri) in names { uris.append(uri) }
        }
        let named = uris
        return named == [identity.description] ? .meetsPolicy : .failsToMeetPolicy(reason: "the leaf names \(named), not \(identity)")
    }
}
