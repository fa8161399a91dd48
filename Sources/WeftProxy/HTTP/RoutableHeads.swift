import NIOHPACK
import NIOHTTP1
import WeftPolicy

/// An HTTP/1 request head as route matching reads it: the path and query split from the
/// target (origin-form, or absolute-form after its authority), the host from `Host`. Nothing is copied but the lower-cased host, and
/// only when a route asks for it.
public struct HTTP1RoutableRequest: RoutableRequest {
    let head: HTTPRequestHead
    public let path: Substring
    public let query: Substring?

    public init(_ head: HTTPRequestHead) {
        self.head = head
        (path, query) = RoutableTarget.split(RequestAuthority.path(of: head.uri))
    }

    public var method: String { head.method.rawValue }
    public var host: Substring? { RoutableTarget.host(head.headers.first(name: "host")) }
    public var port: UInt16? { RoutableTarget.port(head.headers.first(name: "host")) }

    public func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool {
        for header in head.headers where RoutableTarget.sameName(header.name, name) && predicate(header.value[...]) { return true }
        return false
    }
}

/// An HTTP/2 request's HEADERS as route matching reads them (`:method`, `:path`, `:authority`).
public struct HTTP2RoutableRequest: RoutableRequest {
    let headers: HPACKHeaders
    public let method: String
    public let path: Substring
    public let query: Substring?

    public init(_ headers: HPACKHeaders) {
        self.headers = headers
        method = headers.first(name: ":method") ?? "GET"
        (path, query) = RoutableTarget.split((headers.first(name: ":path") ?? "/")[...])
    }

    private var authority: String? { headers.first(name: ":authority") ?? headers.first(name: "host") }
    public var host: Substring? { RoutableTarget.host(authority) }
    public var port: UInt16? { RoutableTarget.port(authority) }

    public func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool {
        for header in headers where RoutableTarget.sameName(header.name, name) && predicate(header.value[...]) { return true }
        return false
    }
}

/// The pieces of a request target both HTTP versions share.
enum RoutableTarget {
    /// `/path?query` → (`/path`, `query`).
    static func split(_ target: Substring) -> (Substring, Substring?) {
        guard let mark = target.firstIndex(of: "?") else { return (target, nil) }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    /// The host of an authority, lower case, without the port (IPv6 without brackets).
    static func host(_ authority: String?) -> Substring? {
        guard let authority, !authority.isEmpty else { return nil }
        var host = authority[...]
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? host.lowercased()[...] : host
    }

    static func port(_ authority: String?) -> UInt16? {
        guard let authority, let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") else { return nil }
        return UInt16(authority[authority.index(after: colon)...])
    }

    /// Whether header names are equal, ASCII case aside (`name` is lower case).
    static func sameName(_ header: String, _ name: String) -> Bool {
        guard header.utf8.count == name.utf8.count else { return false }
        return zip(header.utf8, name.utf8).allSatisfy { a, b in a == b || (a >= 65 && a <= 90 && a + 32 == b) }
    }
}

extension HTTPHeaders: ModifiableHeaders {}

extension HPACKHeaders: ModifiableHeaders {
    public mutating func add(name: String, value: String) {
        add(name: name, value: value, indexing: .indexable)
    }

    public mutating func replaceOrAdd(name: String, value: String) {
        replaceOrAdd(name: name, value: value, indexing: .indexable)
    }
}
