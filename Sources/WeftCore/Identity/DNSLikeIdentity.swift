/// A Linkerd DNS-like identity such as
/// `web.emojivoto.serviceaccount.identity.linkerd.cluster.local`.
///
/// It is a DNS name of at most 253 characters: dot-separated labels of 1 to 63 characters from
/// `[a-z0-9-]` that neither start nor end with `-`. Identities are compared exactly, so upper case
/// is refused rather than folded.
public struct DNSLikeIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The most characters a name may have.
    public static let maximumLength = 253

    /// The name as text.
    public let name: String

    public var description: String { name }

    /// The labels, left to right.
    public var labels: [Substring] { name.split(separator: ".", omittingEmptySubsequences: false) }

    /// Parses and validates a DNS-like name.
    public init(parsing text: String) throws(IdentityParseError) {
        func fail(_ code: IdentityParseError.Code) -> IdentityParseError {
            IdentityParseError(code: code, input: text)
        }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw fail(.empty) }
        if bytes.count > Self.maximumLength { throw fail(.tooLong) }
        if bytes.last == UInt8(ascii: ".") { throw fail(.trailingDot) }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            if label.isEmpty { throw fail(.emptyLabel) }
            if label.count > 63 { throw fail(.labelTooLong) }
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"):
                    continue
                default: throw fail(.badLabelCharacter)
                }
            }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                throw fail(.labelHyphenAtEdge)
            }
        }
        self.name = text
    }
}
