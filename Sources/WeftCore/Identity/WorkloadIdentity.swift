/// Who a workload is: a Linkerd DNS-like name (carried as a DNS SAN) or a SPIFFE ID (carried as a
/// URI SAN). Never the certificate's common name.
public enum WorkloadIdentity: Hashable, Sendable, CustomStringConvertible {
    case dnsLike(DNSLikeIdentity)
    case spiffe(SPIFFEID)

    /// Parses either form: text starting with a scheme (`xxx://`) must be a SPIFFE ID,
    /// anything else a DNS-like name.
    public init(parsing text: String) throws(IdentityParseError) {
        if text.contains("://") || text.lowercased().hasPrefix("spiffe:") {
            let id = try SPIFFEID(parsing: text)
            if id.isTrustDomainOnly { throw IdentityParseError(code: .trustDomainOnly, input: text) }
            self = .spiffe(id)
        } else {
            self = .dnsLike(try DNSLikeIdentity(parsing: text))
        }
    }

    public var description: String {
        switch self {
        case .dnsLike(let name): name.description
        case .spiffe(let id): id.description
        }
    }

    /// The identity Linkerd gives a Kubernetes ServiceAccount (or an ExternalWorkload's account):
    /// `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`.
    /// An empty account name means `default`.
    public static func serviceAccount(
        _ account: String, namespace: String,
        controlPlaneNamespace: String = "linkerd", trustDomain: String = "cluster.local"
    ) throws(IdentityParseError) -> WorkloadIdentity {
        let sa = account.isEmpty ? "default" : account
        let name = "\(sa).\(namespace).serviceaccount.identity.\(controlPlaneNamespace).\(trustDomain)"
        return .dnsLike(try DNSLikeIdentity(parsing: name))
    }
}

/// The parts of a Linkerd ServiceAccount identity name.
public struct ServiceAccountIdentity: Hashable, Sendable {
    public let serviceAccount: String
    public let namespace: String
    public let controlPlaneNamespace: String
    public let trustDomain: String

    /// Splits `<sa>.<ns>.serviceaccount.identity.<cp-ns>.<trust-domain>`.
    public init(parsing identity: DNSLikeIdentity) throws(IdentityParseError) {
        let labels = identity.labels
        guard labels.count >= 6, labels[2] == "serviceaccount", labels[3] == "identity" else {
            throw IdentityParseError(code: .notServiceAccountIdentity, input: identity.name)
        }
        serviceAccount = String(labels[0])
        namespace = String(labels[1])
        controlPlaneNamespace = String(labels[4])
        trustDomain = labels[5...].joined(separator: ".")
    }

    /// The suffix shared by every identity of a namespace, as a policy writes it:
    /// `*.<ns>.serviceaccount.identity.<cp-ns>.<trust-domain>`.
    public static func namespaceWildcard(
        namespace: String, controlPlaneNamespace: String = "linkerd", trustDomain: String = "cluster.local"
    ) -> String {
        "*.\(namespace).serviceaccount.identity.\(controlPlaneNamespace).\(trustDomain)"
    }
}
