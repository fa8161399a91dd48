#if canImport(FoundationEssentials)
import FoundationEssentials
#else
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#endif
import X509

/// What `weft identity inspect` prints about a certificate.
public struct CertificateSummary {
    public let lines: [String]

    public init(_ certificate: Certificate) {
        var lines = ["subject: \(certificate.subject)", "issuer: \(certificate.issuer)", "serial: \(certificate.serialNumber)",
                     "valid: \(certificate.notValidBefore) to \(certificate.notValidAfter)"]
        let names = (try? certificate.extensions.subjectAlternativeNames.map(Array.init)) ?? nil
        if let names, !names.isEmpty {
            lines.append("names: " + names.map { name in
                switch name {
                case .dnsName(let value): "DNS:\(value)"
                case .uniformResourceIdentifier(let value): "URI:\(value)"
                case .rfc822Name(let value): "email:\(value)"
                case .ipAddress: "IP:\(name)"
                default: "\(name)"
                }
            }.joined(separator: ", "))
            if let spiffe = names.compactMap({ if case .uniformResourceIdentifier(let uri) = $0, uri.hasPrefix("spiffe://") { uri } else { nil } }).first {
                lines.append("SPIFFE ID: \(spiffe)")
            }
        }
        if let constraints = try? certificate.extensions.basicConstraints {
            lines.append("basic constraints: \(constraints)")
        }
        if let usage = try? certificate.extensions.keyUsage { lines.append("key usage: \(usage)") }
        if let extended = try? certificate.extensions.extendedKeyUsage { lines.append("extended key usage: \(extended)") }
        lines.append("public key: \(certificate.publicKey)")
        self.lines = lines
    }
}
