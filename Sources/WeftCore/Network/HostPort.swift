/// `host:port` as Weft reads it everywhere (proxy variables, controller flags, `--controller`):
/// an IPv6 address only in brackets, `[::1]:8080`.
public enum HostPort {
    /// Splits `host:port` or `[v6]:port`; the port is `nil` when absent, and the whole is `nil`
    /// when the port is not 1-65535.
    public static func split(_ text: String) -> (host: String, port: UInt16?)? {
        var host = Substring(text)
        var portText: Substring? = nil
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard host.firstIndex(of: ":") == colon else { return nil }
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { return nil }
        guard let portText else { return (String(host), nil) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(portText), port > 0 else { return nil }
        return (String(host), port)
    }
}
