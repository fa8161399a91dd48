import NIOHTTP1

/// Headers that describe one connection, not the message, and so never cross the proxy.
enum HopByHopHeaders {
    static let names: [String] = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
    ]

    /// `headers` without hop-by-hop headers and without those the `Connection` header names.
    ///
    /// Headers without any of them come back as they are (no copy); otherwise the named ones are
    /// removed from a copy, the others keeping their order. `Connection: keep-alive` or `close`,
    /// the usual case, costs no more than that copy.
    static func removing(from headers: HTTPHeaders) -> HTTPHeaders {
        guard names.contains(where: { headers.contains(name: $0) }) else { return headers }
        var result = headers
        for (name, value) in headers where equalIgnoringCase(name, "connection") {
            forEachToken(in: value) { token in
                if !names.contains(where: { equalIgnoringCase(token, $0) }) { result.remove(name: String(token)) }
            }
        }
        for name in names { result.remove(name: name) }
        return result
    }

    /// ASCII case-insensitive equality, without lowercasing (so without allocating).
    private static func equalIgnoringCase(_ a: some StringProtocol, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8) { $0.asciiLowercased == $1.asciiLowercased }
    }

    /// Calls `body` with each comma-separated token of `value`, spaces and tabs trimmed.
    private static func forEachToken(in value: String, _ body: (Substring) -> Void) {
        var start = value.startIndex
        while start < value.endIndex {
            let end = value[start...].firstIndex(of: ",") ?? value.endIndex
            var token = value[start..<end]
            while let first = token.first, first == " " || first == "\t" { token = token.dropFirst() }
            while let last = token.last, last == " " || last == "\t" { token = token.dropLast() }
            if !token.isEmpty { body(token) }
            start = end == value.endIndex ? end : value.index(after: end)
        }
    }
}
