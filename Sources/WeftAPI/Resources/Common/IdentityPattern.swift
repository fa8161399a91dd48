import WeftCore

/// An identity as a policy names it: `*` (any authenticated client), `*.<suffix>` (every DNS-like
/// identity under a suffix), an exact DNS-like identity, or an exact SPIFFE ID.
public enum IdentityPattern: Hashable, Sendable {
    case any
    case suffix(String)
    case exact(WorkloadIdentity)

    public init(parsing text: String) throws(IdentityParseError) {
        if text == "*" {
            self = .any
        } else if text.hasPrefix("*.") {
            let suffix = String(text.dropFirst(2))
            _ = try DNSLikeIdentity(parsing: suffix)
            self = .suffix(suffix)
        } else {
            self = .exact(try WorkloadIdentity(parsing: text))
        }
    }

    /// Whether `identity` is allowed by this pattern.
    public func matches(_ identity: WorkloadIdentity) -> Bool {
        switch self {
        case .any: true
        case .exact(let expected): expected == identity
        case .suffix(let suffix):
            if case .dnsLike(let name) = identity { name.name.hasSuffix("." + suffix) } else { false }
        }
    }
}
