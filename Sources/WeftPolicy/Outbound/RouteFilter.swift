/// What a rule does to a request it takes, or instead of forwarding it (the proxy API's route
/// filters; the Gateway API's `RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestRedirect`).
public enum RouteFilter: Sendable, Equatable {
    case requestHeaders(HeaderModifier)
    case responseHeaders(HeaderModifier)
    /// Answer with a redirect instead of forwarding.
    case redirect(RequestRedirect)
    /// Answer with an error instead of forwarding, for a share of requests.
    case failure(FailureInjector)
}

/// Headers to add, set (replace) and remove, in that order (the Gateway API's header modifier).
public struct HeaderModifier: Sendable, Equatable {
    public var add: [Header]
    public var set: [Header]
    /// Lower case.
    public var remove: [String]

    /// The most bytes of header names and values one modifier may add (the limit per service is
    /// checked over all of them).
    public static let maximumBytes = 16 * 1024

    /// Refuses names or values that could split or end a header (CR, LF, NUL), names that are
    /// not tokens, and pseudo-headers.
    public init(add: [Header] = [], set: [Header] = [], remove: [String] = []) throws(RoutePolicyError) {
        for header in add + set {
            guard Self.isToken(header.name), !header.name.hasPrefix(":") else {
                throw RoutePolicyError("header name \"\(header.name.prefix(64))\" is not an HTTP token")
            }
            guard !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
                throw RoutePolicyError("the value of header \(header.name) contains CR, LF or NUL")
            }
        }
        for name in remove where !Self.isToken(name) {
            throw RoutePolicyError("header name \"\(name.prefix(64))\" is not an HTTP token")
        }
        self.add = add
        self.set = set
        self.remove = remove.map { $0.lowercased() }
    }

    /// The bytes of names and values this modifier adds.
    public var addedBytes: Int { (add + set).reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count } }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 256 && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// Applies the modifier to headers through `headers`' own operations.
    public func apply<Headers: ModifiableHeaders>(to headers: inout Headers) {
        for header in add { headers.add(name: header.name, value: header.value) }
        for header in set { headers.replaceOrAdd(name: header.name, value: header.value) }
        for name in remove { headers.remove(name: name) }
    }
}

/// A header name (lower case) and value.
public struct Header: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name.lowercased()
        self.value = value
    }
}

/// The header operations a filter needs; the proxy's HTTP/1 and HTTP/2 header types provide them.
public protocol ModifiableHeaders {
    mutating func add(name: String, value: String)
    mutating func replaceOrAdd(name: String, value: String)
    mutating func remove(name: String)
}

/// A redirect answered instead of forwarding: each part that is set replaces the request's.
public struct RequestRedirect: Sendable, Equatable {
    public enum PathRewrite: Sendable, Equatable {
        case full(String)
        /// Replaces the part of the path the rule's prefix match matched.
        case prefix(String)
    }

    /// `http` or `https`; nil: the request's.
    public var scheme: String?
    public var host: String?
    public var path: PathRewrite?
    public var port: UInt16?
    /// 301 or 302 (Gateway API) — any 3xx is accepted from a control plane.
    public var status: Int

    public init(scheme: String? = nil, host: String? = nil, path: PathRewrite? = nil, port: UInt16? = nil, status: Int = 301) throws(RoutePolicyError) {
        guard (300...399).contains(status) else { throw RoutePolicyError("redirect status \(status) is not 3xx") }
        if let scheme, scheme != "http", scheme != "https" { throw RoutePolicyError("redirect scheme \(scheme) is not http or https") }
        for text in [host, path.map { switch $0 { case .full(let p), .prefix(let p): p } }].compactMap({ $0 })
        where text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw RoutePolicyError("redirect part \"\(text.prefix(64))\" contains a control character or space")
        }
        self.scheme = scheme
        self.host = host
        self.path = path
        self.port = port
        self.status = status
    }

    /// The `location` for a request to `scheme://host[:port]path[?query]`, `matchedPrefix` being
    /// the path prefix of the match that selected the rule, if it was a prefix match.
    public func location(scheme requestScheme: String, host requestHost: Substring, port requestPort: UInt16?,
                         path requestPath: Substring, query: Substring?, matchedPrefix: String?) -> String {
        let scheme = self.scheme ?? requestScheme
        let host = self.host ?? String(requestHost)
        // A port that is set is used; without one, a changed scheme means its well-known port.
        let port = self.port ?? (self.scheme == nil || self.scheme == requestScheme ? requestPort : nil)
        let defaultPort: UInt16 = scheme == "https" ? 443 : 80
        var path: String
        switch self.path {
        case .full(let replacement)?:
            path = replacement
        case .prefix(let replacement)?:
            var prefix = matchedPrefix ?? "/"
            while prefix.count > 1, prefix.hasSuffix("/") { prefix.removeLast() }
            let rest = prefix == "/" ? requestPath.dropFirst() : requestPath.dropFirst(prefix.count)
            var base = replacement
            if base.hasSuffix("/"), rest.first == "/" { base.removeLast() }
            if !base.hasSuffix("/"), !rest.isEmpty, rest.first != "/" { base += "/" }
            path = base + rest
        case nil:
            path = String(requestPath)
        }
        if path.isEmpty { path = "/" }
        let authority = port.map { $0 == defaultPort ? host : "\(host):\($0)" } ?? host
        return "\(scheme)://\(authority)\(path)\(query.map { "?\($0)" } ?? "")"
    }
}

/// Fails a share (`numerator`/`denominator`) of requests with `status` (HTTP) or a gRPC status.
public struct FailureInjector: Sendable, Equatable {
    public var status: Int
    public var message: String
    public var numerator: UInt32
    public var denominator: UInt32

    public init(status: Int, message: String, numerator: UInt32 = 1, denominator: UInt32 = 1) throws(RoutePolicyError) {
        guard denominator > 0, numerator <= denominator else {
            throw RoutePolicyError("failure ratio \(numerator)/\(denominator) is not a fraction")
        }
        guard !message.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
            throw RoutePolicyError("failure message contains CR, LF or NUL")
        }
        self.status = status
        self.message = message
        self.numerator = numerator
        self.denominator = denominator
    }
}
