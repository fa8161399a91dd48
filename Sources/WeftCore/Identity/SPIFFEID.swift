/// A SPIFFE ID (`spiffe://<trust-domain>/<path>`), validated against the SPIFFE-ID standard §2.
///
/// Parsing is strict: the scheme must be exactly `spiffe`, the trust domain lowercase
/// `[a-z0-9._-]` with no port, userinfo or percent-encoding, and the path made of non-empty
/// segments of `[a-zA-Z0-9._-]` that are neither `.` nor `..`, with no trailing `/`, query or
/// fragment. The whole ID is at most 2048 bytes and the trust domain at most 255.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    /// The most bytes a whole SPIFFE ID may have.
    public static let maximumLength = 2048
    /// The most bytes a trust domain may have.
    public static let maximumTrustDomainLength = 255

    /// The trust domain, e.g. `root.linkerd.cluster.local`.
    public let trustDomain: String
    /// The path, empty or starting with `/`, e.g. `/ns/default/sa/web`.
    public let path: String

    /// The ID as text.
    public var description: String { "spiffe://\(trustDomain)\(path)" }

    /// Whether this ID names a trust domain only (it may not identify a workload).
    public var isTrustDomainOnly: Bool { path.isEmpty }

    /// Parses and validates a SPIFFE ID.
    public init(parsing text: String) throws(IdentityParseError) {
        func fail(_ code: IdentityParseError.Code) -> IdentityParseError {
            IdentityParseError(code: code, input: text)
        }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw fail(.empty) }
        if bytes.count > Self.maximumLength { throw fail(.tooLong) }
        let prefix = Array("spiffe://".utf8)
        guard bytes.starts(with: prefix) else {
            if let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
               case let scheme = String(decoding: bytes[..<colon], as: UTF8.self),
               scheme != "spiffe", scheme.lowercased() == "spiffe" {
                throw fail(.schemeNotLowercase)
            }
            throw fail(.wrongScheme)
        }
        let rest = bytes[prefix.count...]
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let domain = rest[rest.startIndex..<slash]
        let path = rest[slash...]

        if domain.isEmpty { throw fail(.emptyTrustDomain) }
        if domain.count > Self.maximumTrustDomainLength { throw fail(.trustDomainTooLong) }
        for byte in domain {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): throw fail(.trustDomainNotLowercase)
            case UInt8(ascii: ":"): throw fail(.portNotAllowed)
            case UInt8(ascii: "@"): throw fail(.userInfoNotAllowed)
            case UInt8(ascii: "%"): throw fail(.percentEncodingNotAllowed)
            case UInt8(ascii: "?"): throw fail(.queryNotAllowed)
            case UInt8(ascii: "#"): throw fail(.fragmentNotAllowed)
            default: throw fail(.badTrustDomainCharacter)
            }
        }
        if !path.isEmpty {
            try Self.validatePath(path, fail: fail)
        }
        self.trustDomain = String(decoding: domain, as: UTF8.self)
        self.path = String(decoding: path, as: UTF8.self)
    }

    /// Checks a path that starts with `/`.
    private static func validatePath(
        _ path: ArraySlice<UInt8>, fail: (IdentityParseError.Code) -> IdentityParseError
    ) throws(IdentityParseError) {
        var segmentStart = path.startIndex + 1
        var index = segmentStart
        func closeSegment(_ end: Int) throws(IdentityParseError) {
            let segment = path[segmentStart..<end]
            if segment.isEmpty {
                throw fail(end == path.endIndex ? .trailingSlash : .emptySegment)
            }
            if segment.elementsEqual([UInt8(ascii: ".")])
                || segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                throw fail(.dotSegment)
            }
        }
        while index < path.endIndex {
            let byte = path[index]
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "_"):
                break
            case UInt8(ascii: "/"):
                try closeSegment(index)
                segmentStart = index + 1
            case UInt8(ascii: "%"): throw fail(.percentEncodingNotAllowed)
            case UInt8(ascii: "?"): throw fail(.queryNotAllowed)
            case UInt8(ascii: "#"): throw fail(.fragmentNotAllowed)
            default: throw fail(.badPathCharacter)
            }
            index += 1
        }
        try closeSegment(path.endIndex)
    }
}
