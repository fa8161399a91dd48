import Logging
import NIOCore
import WeftCore
import WeftPolicy

/// Where a proxied connection goes: an address, or a name resolved when connecting.
public enum ConnectionTarget: Hashable, Sendable, CustomStringConvertible {
    case address(SocketAddress)
    case name(host: String, port: UInt16)

    public var port: UInt16? {
        switch self {
        case .address(let address): address.port.map(UInt16.init)
        case .name(_, let port): port
        }
    }

    public var description: String {
        switch self {
        case .address(let address):
            guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
            return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        case .name(let host, let port):
            return "\(host):\(port)"
        }
    }
}

/// Everything `weft-proxy` is configured with, read once from the environment at start-up.
///
/// Variables are Linkerd's (`LINKERD2_PROXY_*`, same names, defaults and syntax) where Linkerd has
/// one; Weft's own options use `WEFT_PROXY_*`.
public struct ProxyConfiguration: Sendable {
    /// A listener the proxy opens in addition to its inbound and outbound ones, with a fixed target.
    public struct PortMapping: Hashable, Sendable {
        public let listen: SocketAddress
        public let target: ConnectionTarget
        /// `…@identity` (outbound): the target is a meshed proxy that must prove this identity;
        /// the connection goes to it over mutual TLS.
        public var peerIdentity: String? = nil
    }

    public enum LogFormat: String, Sendable {
        case plain
        case json
    }

    public var inboundListenAddress: SocketAddress
    public var outboundListenAddress: SocketAddress
    /// More addresses of the same listeners, for dual stack (Linkerd 2.16's
    /// `LINKERD2_PROXY_{INBOUND,OUTBOUND}_LISTEN_ADDRS`, e.g. `127.0.0.1:4140,[::1]:4140`): the
    /// first of each list is the listener above, the rest here.
    public var moreInboundListenAddresses: [SocketAddress] = []
    public var moreOutboundListenAddresses: [SocketAddress] = []
    public var adminListenAddress: SocketAddress
    /// `WEFT_PROXY_ADMIN_TLS` (Weft's own): the admin listener speaks TLS 1.3 with the proxy's
    /// workload certificate, for a controller on another host (its readiness probes and scrapes
    /// then cross the network encrypted and reach who the certificate names). Needs identity.
    public var adminTLS = false
    public var inboundDetectTimeout: Duration
    public var outboundDetectTimeout: Duration
    public var inboundConnectTimeout: Duration
    public var outboundConnectTimeout: Duration
    /// How long an idle HTTP/1 connection to a target is kept for reuse.
    public var inboundHTTP1PoolIdleTimeout: Duration
    public var outboundHTTP1PoolIdleTimeout: Duration
    /// Ports whose traffic is never inspected: forwarded as bytes at once.
    public var opaquePorts: PortSet
    public var shutdownGracePeriod: Duration
    /// `WEFT_PROXY_HTTP1_HEADER_READ_TIMEOUT`: how long an HTTP/1 connection may wait for its
    /// next request head (slowloris and idle keep-alive connections are closed after it).
    public var http1HeaderReadTimeout: Duration
    /// `WEFT_PROXY_HTTP2_STREAM_STALL_TIMEOUT`: how long an HTTP/2 stream may hold data its
    /// receiver's flow-control window does not let through before both of its sides are reset.
    public var http2StreamStallTimeout: Duration
    /// Route outbound HTTP by `l5d-dst-override` or the authority instead of the original destination.
    public var ingressMode: Bool
    public var shutdownEndpointEnabled: Bool
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// `WEFT_PROXY_INBOUND_PORTS`: public ports the proxy binds itself, each forwarded to the app.
    public var inboundPorts: [PortMapping]
    /// `WEFT_PROXY_OUTBOUND_PORTS`: local ports forwarded to fixed remote targets.
    public var outboundPorts: [PortMapping]
    /// `LINKERD2_PROXY_IDENTITY_*`; `nil` when identity is not configured.
    public var identity: IdentityConfiguration?
    /// `LINKERD2_PROXY_DESTINATION_*`; `nil` without a destination service (names are then
    /// resolved with DNS).
    public var discovery: DiscoveryConfiguration?
    /// `LINKERD2_PROXY_POLICY_*`; `nil` without a policy service (every inbound port detects).
    public var inboundPolicy: InboundPolicyConfiguration?
    /// `LINKERD2_PROXY_INBOUND_DEFAULT_POLICY`: every port's policy when no policy service is
    /// configured (Linkerd's names; default `all-unauthenticated`).
    public var inboundDefaultPolicy = DefaultInboundPolicy.allUnauthenticated

    /// Reads the configuration; the first bad variable stops start-up with a message naming it.
    public init(environment: [String: String]) throws(ConfigurationError) {
        let env = EnvironmentValues(environment: environment)
        let inbound = try env.socketAddresses("LINKERD2_PROXY_INBOUND_LISTEN_ADDRS", else: "LINKERD2_PROXY_INBOUND_LISTEN_ADDR", default: "0.0.0.0:4143")
        let outbound = try env.socketAddresses("LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS", else: "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR", default: "127.0.0.1:4140")
        (inboundListenAddress, moreInboundListenAddresses) = (inbound[0], Array(inbound.dropFirst()))
        (outboundListenAddress, moreOutboundListenAddresses) = (outbound[0], Array(outbound.dropFirst()))
        adminListenAddress = try env.socketAddress("LINKERD2_PROXY_ADMIN_LISTEN_ADDR", default: "127.0.0.1:4191")
        inboundDetectTimeout = try env.duration("LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", default: .seconds(10))
        outboundDetectTimeout = try env.duration("LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT", default: .seconds(10))
        inboundConnectTimeout = try env.duration("LINKERD2_PROXY_INBOUND_CONNECT_TIMEOUT", default: .milliseconds(300))
        outboundConnectTimeout = try env.duration("LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT", default: .seconds(1))
        inboundHTTP1PoolIdleTimeout = try env.duration("LINKERD2_PROXY_INBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT", default: .seconds(3))
        outboundHTTP1PoolIdleTimeout = try env.duration("LINKERD2_PROXY_OUTBOUND_HTTP1_CONNECTION_POOL_IDLE_TIMEOUT", default: .seconds(3))
        opaquePorts = env.text("LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION") == nil
            ? .linkerdDefaultOpaquePorts
            : try env.ports("LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION")
        shutdownGracePeriod = try env.duration("LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD", default: .seconds(120))
        http1HeaderReadTimeout = try env.duration("WEFT_PROXY_HTTP1_HEADER_READ_TIMEOUT", default: .seconds(10))
        http2StreamStallTimeout = try env.duration("WEFT_PROXY_HTTP2_STREAM_STALL_TIMEOUT", default: .seconds(300))
        ingressMode = try env.bool("LINKERD2_PROXY_INGRESS_MODE", default: false)
        shutdownEndpointEnabled = try env.bool("LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED", default: false)
        adminTLS = try env.bool("WEFT_PROXY_ADMIN_TLS", default: false)
        logLevel = try Self.logLevel(env)
        switch env.text("LINKERD2_PROXY_LOG_FORMAT")?.lowercased() ?? "plain" {
        case "plain": logFormat = .plain
        case "json": logFormat = .json
        default:
            throw ConfigurationError(variable: "LINKERD2_PROXY_LOG_FORMAT", value: env.text("LINKERD2_PROXY_LOG_FORMAT") ?? "", expected: "plain or json")
        }
        identity = try IdentityConfiguration.read(env)
        discovery = try DiscoveryConfiguration.read(env)
        inboundPorts = try Self.mappings(env, "WEFT_PROXY_INBOUND_PORTS", listenIP: inboundListenAddress)
        outboundPorts = try Self.mappings(env, "WEFT_PROXY_OUTBOUND_PORTS", listenIP: outboundListenAddress)
        inboundPolicy = try InboundPolicyConfiguration.read(
            env, boundPorts: inboundPorts.compactMap { $0.listen.port.map(UInt16.init) },
            backoff: (discovery?.backoffMinimum ?? .milliseconds(100), discovery?.backoffMaximum ?? .seconds(2)))
        if let text = env.text("LINKERD2_PROXY_INBOUND_DEFAULT_POLICY") {
            guard let policy = DefaultInboundPolicy(rawValue: text) else {
                throw ConfigurationError(variable: "LINKERD2_PROXY_INBOUND_DEFAULT_POLICY", value: text,
                                         expected: DefaultInboundPolicy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            inboundDefaultPolicy = policy
        }
        for (variable, named) in [("LINKERD2_PROXY_DESTINATION_SVC_NAME", discovery?.serverName), ("LINKERD2_PROXY_POLICY_SVC_NAME", inboundPolicy?.serverName)]
            where identity == nil && named != nil {
            throw ConfigurationError(variable: variable, value: named ?? "",
                                     expected: "no control-plane identity without the proxy's own (set the LINKERD2_PROXY_IDENTITY_* variables)")
        }
        if identity == nil, adminTLS {
            throw ConfigurationError(variable: "WEFT_PROXY_ADMIN_TLS", value: "true", expected: "false without the proxy's identity (set the LINKERD2_PROXY_IDENTITY_* variables)")
        }
        if identity == nil, outboundPorts.contains(where: { $0.peerIdentity != nil }) {
            throw ConfigurationError(variable: "WEFT_PROXY_OUTBOUND_PORTS", value: env.text("WEFT_PROXY_OUTBOUND_PORTS") ?? "",
                                     expected: "no @identity targets without identity (set the LINKERD2_PROXY_IDENTITY_* variables)")
        }
        // A mapping whose target is one of the proxy's own listeners would connect to itself forever.
        let listeners = [inboundListenAddress, outboundListenAddress, adminListenAddress] + moreInboundListenAddresses + moreOutboundListenAddresses
            + inboundPorts.map(\.listen) + outboundPorts.map(\.listen)
        for (name, mappings) in [("WEFT_PROXY_INBOUND_PORTS", inboundPorts), ("WEFT_PROXY_OUTBOUND_PORTS", outboundPorts)] {
            for mapping in mappings {
                guard case .address(let target) = mapping.target,
                      listeners.contains(where: { Self.isOwnListener($0, target) }) else { continue }
                throw ConfigurationError(variable: name, value: env.text(name) ?? "",
                                         expected: "targets other than the proxy's own listeners (\(mapping.target) is one)")
            }
        }
    }

    /// Whether `target` reaches `listener` on this host: the same address, or a loopback address
    /// on the port of a wildcard listener. (A remote host's 4143 is a legitimate target.)
    static func isOwnListener(_ listener: SocketAddress, _ target: SocketAddress) -> Bool {
        guard listener.port == target.port, let ip = target.ipAddress else { return false }
        if listener.ipAddress == ip { return true }
        let wildcard = listener.ipAddress == "0.0.0.0" || listener.ipAddress == "::"
        return wildcard && (ip.hasPrefix("127.") || ip == "::1")
    }

    /// The first bare level of a Linkerd log filter such as `warn,linkerd=info`.
    private static func logLevel(_ env: EnvironmentValues) throws(ConfigurationError) -> Logger.Level {
        guard let filter = env.text("LINKERD2_PROXY_LOG") else { return .info }
        let levels: [String: Logger.Level] = ["trace": .trace, "debug": .debug, "info": .info, "warn": .warning, "error": .error, "off": .critical]
        for directive in filter.split(separator: ",") {
            let word = directive.trimmingSpaces.lowercased()
            if word.contains("=") { continue }
            if let level = levels[word] { return level }
            throw ConfigurationError(variable: "LINKERD2_PROXY_LOG", value: filter, expected: "a level (trace, debug, info, warn, error, off), optionally followed by module=level directives")
        }
        return .info
    }

    /// `[ip:]port=host:port,...`.
    private static func mappings(_ env: EnvironmentValues, _ name: String, listenIP: SocketAddress) throws(ConfigurationError) -> [PortMapping] {
        guard let text = env.text(name) else { return [] }
        let expected = name == "WEFT_PROXY_OUTBOUND_PORTS"
            ? "comma-separated [ip:]port=host:port[@identity] entries, e.g. 15432=db.example:5432 or 8080=10.1.2.3:4143@web.shop.serviceaccount.identity.linkerd.cluster.local"
            : "comma-separated [ip:]port=host:port entries, e.g. 8080=127.0.0.1:18080"
        var result: [PortMapping] = []
        for entry in text.split(separator: ",").map({ String($0.trimmingSpaces) }) where !entry.isEmpty {
            var sides = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard sides.count == 2 else { throw ConfigurationError(variable: name, value: text, expected: expected) }
            var peerIdentity: String?
            if let at = sides[1].firstIndex(of: "@") {
                // Only DNS-like identities: they are also the TLS server name (SNI).
                guard name == "WEFT_PROXY_OUTBOUND_PORTS",
                      let identity = try? DNSLikeIdentity(parsing: String(sides[1][sides[1].index(after: at)...])) else {
                    throw ConfigurationError(variable: name, value: text, expected: expected + " (the identity a DNS-like name)")
                }
                peerIdentity = identity.description
                sides[1] = String(sides[1][..<at])
            }
            let listen: SocketAddress?
            if let port = UInt16(sides[0]), port > 0, let ip = listenIP.ipAddress {
                listen = try? SocketAddress(ipAddress: ip, port: Int(port))
            } else {
                listen = EnvironmentValues.parseSocketAddress(sides[0])
            }
            guard let listen, let (host, port) = HostPort.split(sides[1]), let port else {
                throw ConfigurationError(variable: name, value: text, expected: expected)
            }
            let target: ConnectionTarget = (try? SocketAddress(ipAddress: host, port: Int(port))).map { .address($0) }
                ?? .name(host: host, port: port)
            result.append(PortMapping(listen: listen, target: target, peerIdentity: peerIdentity))
        }
        return result
    }
}
