import WeftCore
import X509

/// What a mesh peer's leaf certificate must be, beyond chaining to the trust anchors (which TLS
/// checks): a workload's certificate, not a CA's (no `cA`, no certificate or CRL signing), with
/// at most one URI SAN, which must be a SPIFFE ID (the X509-SVID rules), and a name at all.
public enum PeerCertificateRules {
    /// Why `certificate` may not identify a peer, or nil when it may.
    public static func problem(_ certificate: Certificate) -> String? {
        if let constraints = try? certificate.extensions.basicConstraints, case .isCertificateAuthority = constraints {
            return "it is a CA certificate"
        }
        if let usage = try? certificate.extensions.keyUsage, usage.keyCertSign || usage.cRLSign {
            return "its key may sign certificates or CRLs"
        }
        guard let names = try? certificate.extensions.subjectAlternativeNames, !names.isEmpty else {
            return "it names no identity (no subject alternative name)"
        }
        let uris = names.compactMap { if case .uniformResourceIdentifier(let uri) = $0 { uri } else { nil } }
        if uris.count > 1 { return "it has \(uris.count) URI SANs (an X509-SVID has exactly one)" }
        if let uri = uris.first, (try? SPIFFEID(parsing: uri)) == nil { return "its URI SAN \(uri) is not a SPIFFE ID" }
        return nil
    }
}
