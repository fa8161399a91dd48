import X509

extension Certificate {
    /// The names a certificate's subject alternative names give its holder, in order: DNS names
    /// (Linkerd's identities) and URIs (SPIFFE IDs); empty without the extension.
    public var identityNames: [String] {
        guard let names = try? extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let text), .uniformResourceIdentifier(let text): text
            default: nil
            }
        }
    }
}
