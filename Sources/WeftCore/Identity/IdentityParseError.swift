/// Why a text is not a valid workload identity.
public struct IdentityParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The rule that the input broke.
    public enum Code: String, Sendable, CaseIterable {
        case empty
        case tooLong
        case wrongScheme
        case schemeNotLowercase
        case emptyTrustDomain
        case trustDomainTooLong
        case trustDomainNotLowercase
        case badTrustDomainCharacter
        case portNotAllowed
        case userInfoNotAllowed
        case percentEncodingNotAllowed
        case queryNotAllowed
        case fragmentNotAllowed
        case emptySegment
        case dotSegment
        case trailingSlash
        case badPathCharacter
        case emptyLabel
        case labelTooLong
        case badLabelCharacter
        case labelHyphenAtEdge
        case trailingDot
        case notServiceAccountIdentity
        case trustDomainOnly
    }

    /// The rule that the input broke.
    public let code: Code
    /// The text that was parsed, cut to 80 characters for messages.
    public let input: String

    public init(code: Code, input: String) {
        self.code = code
        self.input = input.count > 80 ? String(input.prefix(77)) + "..." : input
    }

    /// A one-line explanation that names the rule.
    public var message: String {
        switch code {
        case .empty: "is empty"
        case .tooLong: "is longer than \(SPIFFEID.maximumLength) bytes"
        case .wrongScheme: "scheme must be \"spiffe://\""
        case .schemeNotLowercase: "scheme must be lowercase \"spiffe\""
        case .emptyTrustDomain: "trust domain is empty"
        case .trustDomainTooLong: "trust domain is longer than \(SPIFFEID.maximumTrustDomainLength) bytes"
        case .trustDomainNotLowercase: "trust domain must be lowercase"
        case .badTrustDomainCharacter: "trust domain may only contain a-z, 0-9, '.', '-' and '_'"
        case .portNotAllowed: "trust domain may not have a port"
        case .userInfoNotAllowed: "trust domain may not have user info"
        case .percentEncodingNotAllowed: "percent-encoding is not allowed"
        case .queryNotAllowed: "a query is not allowed"
        case .fragmentNotAllowed: "a fragment is not allowed"
        case .emptySegment: "path has an empty segment"
        case .dotSegment: "path segments may not be '.' or '..'"
        case .trailingSlash: "path may not end with '/'"
        case .badPathCharacter: "path may only contain a-z, A-Z, 0-9, '.', '-', '_' and '/'"
        case .emptyLabel: "has an empty DNS label"
        case .labelTooLong: "has a DNS label longer than 63 characters"
        case .badLabelCharacter: "DNS labels may only contain a-z, 0-9 and '-'"
        case .labelHyphenAtEdge: "DNS labels may not start or end with '-'"
        case .trailingDot: "may not end with '.'"
        case .notServiceAccountIdentity:
            "is not <sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>"
        case .trustDomainOnly: "names a trust domain only; a workload's SPIFFE ID needs a path"
        }
    }

    public var description: String { "invalid identity \"\(input)\": \(message)" }
}
