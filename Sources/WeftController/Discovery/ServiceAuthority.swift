import WeftCore

/// A service name as the destination and outbound-policy APIs take it:
/// `<service>.<namespace>.svc.<cluster-domain>[:port]`, port 80 when absent.
public struct ServiceAuthority: Hashable, Sendable, CustomStringConvertible {
    public let service: String
    public let namespace: String
    public let port: UInt16

    public init(service: String, namespace: String, port: UInt16) {
        self.service = service
        self.namespace = namespace
        self.port = port
    }

    /// Why a path is not a service authority.
    public enum ParseFailure: Error, Equatable {
        /// An IP address: `Get` only resolves names.
        case address
        case notAService(String)
    }

    /// Parses `text`; the cluster domain must match, a trailing dot is allowed.
    public init(parsing text: String, clusterDomain: String) throws(ParseFailure) {
        var host = Substring(text)
        var port: UInt16 = 80
        if let colon = text.lastIndex(of: ":") {
            guard let value = UInt16(text[text.index(after: colon)...]), value > 0 else {
                throw .notAService("\"\(text)\" has no valid port")
            }
            port = value
            host = text[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        // An address (IPv4 by the IP parser; IPv6, bracketed or not, by its colons), not a name.
        if IPAddress(String(host)) != nil || host.contains(":") || host.hasPrefix("[") {
            throw .address
        }
        let suffix = ".svc." + clusterDomain
        guard host.lowercased().hasSuffix(suffix.lowercased()) else {
            throw .notAService("\"\(text)\" is not <service>.<namespace>.svc.\(clusterDomain)[:port]")
        }
        let labels = host.dropLast(suffix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count == 2, labels.allSatisfy({ !$0.isEmpty }) else {
            throw .notAService("\"\(text)\" is not <service>.<namespace>.svc.\(clusterDomain)[:port]")
        }
        service = labels[0].lowercased()
        namespace = labels[1].lowercased()
        self.port = port
    }

    /// The fully qualified name without the port.
    public func fullyQualifiedName(clusterDomain: String) -> String {
        "\(service).\(namespace).svc.\(clusterDomain)"
    }

    public var description: String { "\(service).\(namespace):\(port)" }
}
