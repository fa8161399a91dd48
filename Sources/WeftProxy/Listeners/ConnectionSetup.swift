import WeftCore
import Logging
import NIOCore

/// Builds the pipeline of one accepted connection: find its target, then either forward its bytes
/// at once (opaque ports) or detect its protocol first.
struct ConnectionSetup: Sendable {
    let role: ListenerRole
    let opaquePorts: PortSet
    /// Every address the proxy listens on; a connection aimed at one of them would loop.
    let proxyAddresses: [SocketAddress]
    let registry: MetricRegistry
    /// Idle HTTP/1 connections to targets, shared by this listener's connections.
    let pool: NIOLoopBoundBox<HTTP1ConnectionPool>
    /// Upstream HTTP/2 connections, one per target, shared by this listener's connections.
    let http2Upstreams: NIOLoopBoundBox<HTTP2Upstreams>
    /// Inbound listeners with identity: terminate TLS addressed to this proxy.
    let meshTLS: MeshTLSServer?
    /// Originates mesh TLS for roles with a peer identity.
    let meshTLSClient: MeshTLSClient?
    /// Outbound: resolves service names through the destination service.
    let discovery: NIOLoopBoundBox<LoopDiscovery>?
    /// Inbound: the ports' policies (opaque ports skip detection).
    let inboundPolicies: NIOLoopBoundBox<LoopInboundPolicies>?
    /// Inbound: the bound ports' targets, for opaque transport to this listener itself.
    var directTargets: [UInt16: ConnectionTarget] = [:]
    /// Where the data path reads the time.
    let clock: MonotonicClock
    let logger: Logger

    func configure(_ channel: Channel) -> EventLoopFuture<Void> {
        switch role.targeting {
        case .fixed(let target):
            return whenPolicyKnown(channel, port: role.policyPort ?? target.port).flatMapThrowing { try install(channel, target: target) }
        case .originalDestination:
            return OriginalDestination.of(channel).flatMap { original in
                // Inbound: a connection waits (up to the detect timeout) for its port's policy.
                let toItself = original.map { target in proxyAddresses.contains { Self.sameEndpoint($0, target) } } ?? true
                return whenPolicyKnown(channel, port: toItself ? nil : role.policyPort ?? original?.port.flatMap { UInt16(exactly: $0) }).map { original }
            }.flatMapThrowing { original in
                let toItself = original.map { target in proxyAddresses.contains { Self.sameEndpoint($0, target) } } ?? true
                if role.direction == .inbound, meshTLS != nil, toItself {
                    // Opaque transport: a peer proxy connecting to this inbound port itself.
                    try install(channel, target: nil, direct: true)
                    return
                }
                guard let original else {
                    if role.ingress {
                        // Ingress mode: HTTP requests name their own targets.
                        try install(channel, target: nil)
                        return
                    }
                    logger.info("refused: no original destination (the connection was not redirected here)",
                                metadata: ["listener": "\(role.name)", "client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                    channel.close(promise: nil)
                    return
                }
                guard !proxyAddresses.contains(where: { Self.sameEndpoint($0, original) }) else {
                    if role.ingress {
                        // Ingress mode, connected to directly (the kernel reports the listener
                        // itself as the destination): HTTP requests name their own targets.
                        try install(channel, target: nil)
                        return
                    }
                    logger.info("refused: the original destination is the proxy itself", metadata: ["listener": "\(role.name)", "target": "\(original)"])
                    channel.close(promise: nil)
                    return
                }
                try install(channel, target: .address(original))
            }
        }
    }

    /// Succeeds when an inbound connection to `port` may be decided: its policy is known, or the
    /// detect timeout passed (then it is refused). At once for other connections.
    private func whenPolicyKnown(_ channel: Channel, port: UInt16?) -> EventLoopFuture<Void> {
        guard role.direction == .inbound, let inboundPolicies, let port else { return channel.eventLoop.makeSucceededVoidFuture() }
        return inboundPolicies.value.whenKnown(port, on: channel.eventLoop, timeout: TimeAmount(role.detectTimeout))
    }

    /// Whether two addresses name the same listener (a wildcard address matches any IP of its family).
    static func sameEndpoint(_ listener: SocketAddress, _ target: SocketAddress) -> Bool {
        guard listener.port == target.port, listener.protocol == target.protocol else { return false }
        let ip = listener.ipAddress
        return ip == target.ipAddress || ip == "0.0.0.0" || ip == "::"
    }

    private func install(_ channel: Channel, target: ConnectionTarget?, direct: Bool = false) throws {
        let targetText = target?.description ?? ""
        let source = TCPMetrics(registry: registry, direction: role.direction, peer: "src", targetAddress: targetText, tls: .disabled)
        let destination = TCPMetrics(registry: registry, direction: role.direction, peer: "dst", targetAddress: targetText,
                                     tls: role.peerIdentity == nil ? .disabled : .established, serverID: role.peerIdentity)
        let outcome = ConnectionOutcome()
        // Inbound connections that may be mesh TLS open their series once that is known.
        let sourceConnection = SourceConnection(plain: source)
        if meshTLS == nil || !role.detectsTLS { sourceConnection.open(source) }
        channel.closeFuture.assumeIsolated().whenComplete { _ in sourceConnection.closed(failed: outcome.failed) }
        var stage = ForwardingStage(target: target, ingress: role.ingress, connectTimeout: role.connectTimeout,
                                    detectTimeout: role.detectTimeout,
                                    headerReadTimeout: role.headerReadTimeout, streamStallTimeout: role.streamStallTimeout,
                                    direction: role.direction, clock: clock,
                                    source: source, destination: destination, outcome: outcome, registry: registry, pool: pool,
                                    http2Upstreams: http2Upstreams, meshTLS: meshTLS, discovery: discovery,
                                    sourceConnection: NIOLoopBound(sourceConnection, eventLoop: channel.eventLoop), logger: logger)
        if direct { stage.directTargets = directTargets }
        if role.direction == .outbound { stage.meshTLSOrigin = meshTLSClient }
        if role.direction == .inbound, let inboundPolicies {
            stage.inboundPolicies = inboundPolicies
            stage.policyPort = role.policyPort ?? target?.port
            stage.clientAddress = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init)?.unmappingIPv4
            stage.authorizationMetrics = AuthorizationMetrics(registry: registry, targetAddress: targetText)
        }
        if let peerIdentity = role.peerIdentity, let meshTLSClient {
            // A meshed peer: its proxy detects the protocol inside the TLS; here the bytes only cross.
            stage.meshTLSClient = (meshTLSClient, MeshPeer(identity: peerIdentity, serverName: peerIdentity))
            try stage.installOpaque(on: channel, position: .last, bytes: nil)
            return
        }
        let policyPort = role.policyPort ?? target?.port
        if let port = target?.port, opaquePorts.contains(port) {
            try stage.installOpaque(on: channel, position: .last, bytes: nil)
            return
        }
        if let policyPort, inboundPolicies?.value.isOpaque(policyPort) == true {
            try stage.installOpaque(on: channel, position: .last, bytes: nil)
            return
        }
        let logger = logger
        let detection = ProtocolDetectionHandler(detectsTLS: role.detectsTLS, timeout: TimeAmount(role.detectTimeout)) { context, detected, bytes in
            logger.debug("detected", metadata: ["protocol": "\(detected)", "target": "\(targetText)"])
            do {
                try stage.install(detected, after: context, bytes: bytes)
            } catch {
                context.close(promise: nil)
            }
        }
        try channel.pipeline.syncOperations.addHandler(detection)
    }
}
