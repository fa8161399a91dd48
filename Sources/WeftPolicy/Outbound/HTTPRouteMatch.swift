import WeftCore

/// What a request must look like for a route rule to take it (the proxy API's
/// `http_route.HttpRouteMatch`, Gateway API semantics): every part that is set must match.
public struct HTTPRouteMatch: Equatable {
    public enum Path: Equatable {
        case exact(String)
        /// Whole path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
        case prefix(String)
        case regex(RoutePattern)
    }

    /// nil: any path (the Gateway API's default, `PathPrefix /`).
    public var path: Path?
    public var headers: [HeaderMatch]
    public var queryParams: [QueryParamMatch]
    /// Upper case, e.g. `GET`; nil: any method.
    public var method: String?

    public init(path: Path? = nil, headers: [HeaderMatch] = [], queryParams: [QueryParamMatch] = [], method: String? = nil) {
        self.path = path
        self.headers = headers
        self.queryParams = queryParams
        self.method = method
    }

    /// How well a request matched, compared by the Gateway API's precedence: an exact path,
    /// then the longer path (a regex counted between exact and prefix), then a method, then more
    /// header matches, then more query parameter matches.
    public struct Score: Sendable, Comparable {
        var pathKind: UInt8
        var pathLength: Int
        var hasMethod: Bool
        var headers: Int
        var queryParams: Int

        public static func < (a: Score, b: Score) -> Bool {
            (a.pathKind, a.pathLength, a.hasMethod ? 1 : 0, a.headers, a.queryParams)
                < (b.pathKind, b.pathLength, b.hasMethod ? 1 : 0, b.headers, b.queryParams)
        }
    }

    /// The score of `request` against this match, or nil when it does not match.
    public func score<Request: RoutableRequest>(_ request: Request) -> Score? {
        var pathKind: UInt8 = 1
        var pathLength = 1
        switch path {
        case .exact(let value)?:
            guard request.path == value[...] else { return nil }
            (pathKind, pathLength) = (3, value.utf8.count)
        case .regex(let pattern)?:
            guard pattern.matchesWhole(request.path) else { return nil }
            (pathKind, pathLength) = (2, pattern.source.utf8.count)
        case .prefix(let value)?:
            guard Self.pathHasPrefix(request.path, value) else { return nil }
            pathLength = value.utf8.count
        case nil:
            break
        }
        if let method, request.method != method { return nil }
        for header in headers where !request.containsHeader(header.name, where: { header.value.matches($0) }) {
            return nil
        }
        for param in queryParams where !Self.query(request.query, has: param) {
            return nil
        }
        return Score(pathKind: pathKind, pathLength: pathLength, hasMethod: method != nil, headers: headers.count, queryParams: queryParams.count)
    }

    /// Whether `path` starts with `prefix` at a segment boundary (a trailing `/` of the prefix is
    /// not significant).
    static func pathHasPrefix(_ path: Substring, _ prefix: String) -> Bool {
        var prefix = prefix[...]
        while prefix.utf8.count > 1, prefix.utf8.last == UInt8(ascii: "/") { prefix = prefix.dropLast() }
        if prefix == "/" { return path.utf8.first == UInt8(ascii: "/") }
        guard path.utf8.starts(with: prefix.utf8) else { return false }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// Whether the first value of the query parameter `param.name` matches (names compared exactly).
    static func query(_ query: Substring?, has param: QueryParamMatch) -> Bool {
        guard let query else { return false }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = pair.firstIndex(of: "=") {
                name = pair[..<equals]
                value = pair[pair.index(after: equals)...]
            } else {
                name = pair
                value = ""
            }
            if name == param.name[...] { return param.value.matches(value) }
        }
        return false
    }
}

/// A header a request must carry: one of its values (the name compared without case) matches.
public struct HeaderMatch: Equatable {
    /// Lower case.
    public var name: String
    public var value: StringMatch

    public init(name: String, value: StringMatch) {
        self.name = name.lowercased()
        self.value = value
    }
}

/// A query parameter a request must carry.
public struct QueryParamMatch: Equatable {
    public var name: String
    public var value: StringMatch

    public init(name: String, value: StringMatch) {
        self.name = name
        self.value = value
    }
}

/// A value matched exactly or by a whole-value regular expression.
public enum StringMatch: Equatable {
    case exact(String)
    case regex(RoutePattern)

    /// Whether `text` is the exact value, or matches the pattern as a whole.
    public func matches(_ text: Substring) -> Bool {
        switch self {
        case .exact(let value): text == value[...]
        case .regex(let pattern): pattern.matchesWhole(text)
        }
    }
}

/// A host a route applies to: exactly, or any name under a suffix (`*.example.com`).
public enum HostMatch: Sendable, Equatable {
    case exact(String)
    /// The labels of the suffix, e.g. `example.com` for `*.example.com`; lower case.
    case suffix(String)

    /// How specifically `host` (lower case, no port) is matched: an exact match beats any suffix,
    /// a longer suffix a shorter one; nil when it does not match.
    public func specificity(_ host: Substring) -> Int? {
        switch self {
        case .exact(let name):
            return host == name[...] ? Int.max : nil
        case .suffix(let suffix):
            guard host.utf8.count > suffix.utf8.count + 1, host.hasSuffix("." + suffix) else { return nil }
            return suffix.utf8.count
        }
    }
}

/// A regular expression from a route, compiled once; checked by ``RegexRule`` (no nested
/// quantifiers, at most 1024 bytes). Equal when the sources are.
///
/// Not `Sendable` (a compiled `Regex` is not), and neither is anything holding one: the proxy
/// hands a policy's bytes to its event loop and decodes them there.
public struct RoutePattern: Equatable, CustomStringConvertible {
    public let source: String
    private let regex: Regex<AnyRegexOutput>

    /// Refused, with the reason, when ``RegexRule`` refuses the pattern.
    public init(_ source: String) throws(RoutePolicyError) {
        if let problem = RegexRule.problem(with: source) { throw RoutePolicyError(problem) }
        do {
            regex = try Regex(source)
        } catch {
            throw RoutePolicyError("\"\(source.prefix(64))\" is not a valid regular expression")
        }
        self.source = source
    }

    /// Whether the whole of `text` matches.
    public func matchesWhole(_ text: Substring) -> Bool {
        (try? regex.wholeMatch(in: text)) != nil
    }

    public var description: String { source }

    public static func == (a: RoutePattern, b: RoutePattern) -> Bool { a.source == b.source }
}

/// Why a route policy cannot be used (a pattern that is refused, a header value with CR/LF, too
/// many rules…); the policy it was part of is refused whole.
public struct RoutePolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
