/// What route matching reads of a request; the proxy's HTTP/1 and HTTP/2 heads conform without
/// copying anything.
public protocol RoutableRequest {
    /// Upper case, e.g. `GET`.
    var method: String { get }
    /// The path, without the query.
    var path: Substring { get }
    /// What follows `?`, if anything.
    var query: Substring? { get }
    /// The authority's host, lower case, without the port; nil when the request names none.
    var host: Substring? { get }
    /// The authority's port, if it names one.
    var port: UInt16? { get }
    /// Whether a header named `name` (lower case) has a value for which `predicate` holds.
    func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool
}

extension RoutableRequest {
    /// `/pkg.Service/Method` as (service, method) for gRPC matching; nil for other paths.
    public var grpcMethod: (service: Substring, method: Substring)? {
        let path = self.path
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        let rest = path.dropFirst()
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let service = rest[..<slash]
        let method = rest[rest.index(after: slash)...]
        guard !service.isEmpty, !method.isEmpty, !method.contains("/") else { return nil }
        return (service, method)
    }
}
