import NIOCore
import WeftCore

/// Reads typed values from the process environment, each in the form Linkerd's proxy accepts.
struct EnvironmentValues {
    let environment: [String: String]

    /// The value, or `nil` when unset or empty.
    func text(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }

    private func fail(_ name: String, _ expected: String) -> ConfigurationError {
        ConfigurationError(variable: name, value: environment[name] ?? "", expected: expected)
    }

    /// `<integer>(ms|s|m|h|d)` or a bare `0`, as Linkerd's proxy reads durations.
    func duration(_ name: String, default fallback: Duration) throws(ConfigurationError) -> Duration {
        guard let text = text(name) else { return fallback }
        guard let parsed = Self.parseDuration(text) else {
            throw fail(name, "a whole number with a unit ms, s, m, h or d (e.g. 300ms, 10s, 2m), or 0")
        }
        return parsed
    }

    static func parseDuration(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 12, let value = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": return .milliseconds(value)
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        case "d": return .seconds(value * 86400)
        default: return nil
        }
    }

    /// `true`/`false` (also `1`/`0`).
    func bool(_ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        guard let text = text(name) else { return fallback }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw fail(name, "true or false")
        }
    }

    /// `ip:port` or `[ipv6]:port`.
    func socketAddress(_ name: String, default fallback: String) throws(ConfigurationError) -> SocketAddress {
        let value = text(name) ?? fallback
        guard let address = Self.parseSocketAddress(value) else {
            throw ConfigurationError(variable: name, value: value, expected: "an IP address and port such as 127.0.0.1:4140 or [::1]:4140")
        }
        return address
    }

    /// A comma-separated list of addresses in `name` (at most 4), else the one address in `single`.
    func socketAddresses(_ name: String, else single: String, default fallback: String) throws(ConfigurationError) -> [SocketAddress] {
        guard let value = text(name) else { return [try socketAddress(single, default: fallback)] }
        let parts = value.split(separator: ",").map { $0.filter { $0 != " " } }
        let addresses = parts.compactMap { Self.parseSocketAddress(String($0)) }
        guard !parts.isEmpty, parts.count <= 4, addresses.count == parts.count else {
            throw ConfigurationError(variable: name, value: value, expected: "one to four IP addresses and ports, such as 127.0.0.1:4140,[::1]:4140")
        }
        return addresses
    }

    static func parseSocketAddress(_ text: String) -> SocketAddress? {
        guard let (host, port) = HostPort.split(text), let port else { return nil }
        return try? SocketAddress(ipAddress: host, port: Int(port))
    }


    /// A port list such as `25,587,3306-3310`.
    func ports(_ name: String, default fallback: String = "") throws(ConfigurationError) -> PortSet {
        let value = text(name) ?? fallback
        guard let set = PortSet(parsing: value) else {
            throw ConfigurationError(variable: name, value: value, expected: "ports and ranges separated by commas, e.g. 25,587,3306-3310")
        }
        return set
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
