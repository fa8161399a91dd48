import NIOCore

/// What a listener is for and how it finds each connection's target.
public struct ListenerRole: Sendable {
    public enum Targeting: Sendable {
        /// Connections were redirected here by iptables: the target is their original destination.
        case originalDestination
        /// Every connection goes to one target (bound and outbound ports).
        case fixed(ConnectionTarget)
    }

    /// A name for logs, e.g. `inbound` or `inbound 0.0.0.0:8080`.
    public let name: String
    /// `inbound` or `outbound`, the metrics' `direction`.
    public let direction: String
    public let address: SocketAddress
    public let targeting: Targeting
    public let detectTimeout: Duration
    public let connectTimeout: Duration
    /// Whether TLS ClientHellos are recognised (inbound).
    public let detectsTLS: Bool
    /// How long idle HTTP/1 connections to targets are kept for reuse.
    public let poolIdleTimeout: Duration
    /// How long an HTTP/1 client connection may wait for its next request head.
    public var headerReadTimeout: Duration = .seconds(10)
    /// Whether HTTP requests choose their own target (`l5d-dst-override` / authority).
    public var ingress = false
}

extension ProxyConfiguration {
    /// Every listener the configuration asks for: inbound, outbound, then the mapped ports.
    public var listenerRoles: [ListenerRole] {
        var roles = baseListenerRoles
        for index in roles.indices { roles[index].headerReadTimeout = http1HeaderReadTimeout }
        return roles
    }

    private var baseListenerRoles: [ListenerRole] {
        var roles = [
            ListenerRole(name: "inbound", direction: "inbound", address: inboundListenAddress, targeting: .originalDestination,
                         detectTimeout: inboundDetectTimeout, connectTimeout: inboundConnectTimeout, detectsTLS: true,
                         poolIdleTimeout: inboundHTTP1PoolIdleTimeout),
            ListenerRole(name: "outbound", direction: "outbound", address: outboundListenAddress, targeting: .originalDestination,
                         detectTimeout: outboundDetectTimeout, connectTimeout: outboundConnectTimeout, detectsTLS: false,
                         poolIdleTimeout: outboundHTTP1PoolIdleTimeout, ingress: ingressMode),
        ]
        for mapping in inboundPorts {
            roles.append(ListenerRole(name: "inbound \(ConnectionTarget.address(mapping.listen))", direction: "inbound",
                                      address: mapping.listen, targeting: .fixed(mapping.target),
                                      detectTimeout: inboundDetectTimeout, connectTimeout: inboundConnectTimeout, detectsTLS: true,
                                      poolIdleTimeout: inboundHTTP1PoolIdleTimeout))
        }
        for mapping in outboundPorts {
            roles.append(ListenerRole(name: "outbound \(ConnectionTarget.address(mapping.listen))", direction: "outbound",
                                      address: mapping.listen, targeting: .fixed(mapping.target),
                                      detectTimeout: outboundDetectTimeout, connectTimeout: outboundConnectTimeout, detectsTLS: false,
                                      poolIdleTimeout: outboundHTTP1PoolIdleTimeout))
        }
        return roles
    }
}
