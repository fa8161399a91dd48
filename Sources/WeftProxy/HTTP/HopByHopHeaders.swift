import NIOHTTP1

/// Headers that describe one connection, not the message, and so never cross the proxy.
enum HopByHopHeaders {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
    ]

    /// `headers` without hop-by-hop headers and without those the `Connection` header names.
    static func removing(from headers: HTTPHeaders) -> HTTPHeaders {
        var named = names
        for value in headers[canonicalForm: "connection"] {
            named.insert(value.lowercased())
        }
        var result = HTTPHeaders()
        result.reserveCapacity(headers.count)
        for (name, value) in headers where !named.contains(name.lowercased()) {
            result.add(name: name, value: value)
        }
        return result
    }
}
