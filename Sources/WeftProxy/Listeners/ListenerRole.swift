import NIOCore
import WeftCore

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
    /// The metrics' `direction`; inbound listeners detect and terminate mesh TLS.
    public let direction: Direction
    public let address: SocketAddress
    public let targeting: Targeting
    public let detectTimeout: Duration
    public let connectTimeout: Duration
    /// Whether TLS ClientHellos are recognised (inbound).
    public let detectsTLS: Bool
    /// How long idle HTTP/1 connections to targets are kept for reuse.
    public let poolIdleTimeout: Duration
    /// How long an HTTP/1 client connection may wait for its next request head.
    public let headerReadTimeout: Duration
    /// How long an HTTP/2 stream may stay blocked by its receiver's flow-control window.
    public let streamStallTimeout: Duration
    /// Whether HTTP requests choose their own target (`l5d-dst-override` / authority).
    public var ingress = false
    /// The identity the fixed target must prove over mutual TLS (its bytes are then tunnelled
    /// as they are, without protocol detection: the peer proxy detects them).
    public var peerIdentity: String?
    /// The workload port whose inbound policy applies, for bound inbound ports (the listener's
    /// own port); transparent listeners use each connection's original destination port.
    public var policyPort: UInt16?
}

extension ProxyConfiguration {
    /// Every listener the configuration asks for: inbound, outbound, then the mapped ports.
    public var listenerRoles: [ListenerRole] {
        func role(_ name: String, inbound: Bool, address: SocketAddress, targeting: ListenerRole.Targeting) -> ListenerRole {
            ListenerRole(
                name: name, direction: inbound ? .inbound : .outbound, address: address, targeting: targeting,
                detectTimeout: inbound ? inboundDetectTimeout : outboundDetectTimeout,
                connectTimeout: inbound ? inboundConnectTimeout : outboundConnectTimeout,
                detectsTLS: inbound,
                poolIdleTimeout: inbound ? inboundHTTP1PoolIdleTimeout : outboundHTTP1PoolIdleTimeout,
                headerReadTimeout: http1HeaderReadTimeout,
                streamStallTimeout: http2StreamStallTimeout)
        }
        func outbound(_ name: String, _ address: SocketAddress) -> ListenerRole {
            var outbound = role(name, inbound: false, address: address, targeting: .originalDestination)
            outbound.ingress = ingressMode
            return outbound
        }
        return [role("inbound", inbound: true, address: inboundListenAddress, targeting: .originalDestination),
                outbound("outbound", outboundListenAddress)]
            + moreInboundListenAddresses.map { role("inbound \(ConnectionTarget.address($0))", inbound: true, address: $0, targeting: .originalDestination) }
            + moreOutboundListenAddresses.map { outbound("outbound \(ConnectionTarget.address($0))", $0) }
            + inboundPorts.map { mapping in
                var inbound = role("inbound \(ConnectionTarget.address(mapping.listen))", inbound: true, address: mapping.listen,
                                   targeting: .fixed(mapping.target))
                inbound.policyPort = mapping.listen.port.map(UInt16.init)
                return inbound
            }
            + outboundPorts.map { mapping in
                var outbound = role("outbound \(ConnectionTarget.address(mapping.listen))", inbound: false, address: mapping.listen,
                                    targeting: .fixed(mapping.target))
                outbound.peerIdentity = mapping.peerIdentity
                return outbound
            }
    }
}
