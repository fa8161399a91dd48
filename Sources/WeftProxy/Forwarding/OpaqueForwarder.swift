import Logging
import NIOCore
import NIOPosix
import WeftCore

/// Forwards a connection's bytes to a target, both ways, once the target is connected.
///
/// Added to the accepted channel in place of protocol handling. Bytes that arrive while the target
/// is being dialled are held (the channel stops reading meanwhile, so at most one read is held);
/// when the target cannot be reached in time the client connection is closed, as Linkerd does for
/// TCP.
final class OpaqueForwarder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let target: ConnectionTarget
    private let connectTimeout: Duration
    private var metrics: (source: TCPMetrics, destination: TCPMetrics)
    /// Labels the `tcp_*` series of connections to discovered endpoints with the endpoint.
    private let registry: MetricRegistry?
    private let outcome: ConnectionOutcome
    private let logger: Logger
    /// Mesh TLS to a peer proxy that must prove this identity.
    private let meshTLS: (client: MeshTLSClient, peer: MeshPeer)?
    /// Originates mesh TLS to discovered endpoints that have an identity.
    private let meshTLSOrigin: MeshTLSClient?
    private var held: [ByteBuffer]
    private var inputClosedEarly = false
    /// Outbound discovery: a service target is balanced per connection over its endpoints.
    private let discovery: LoopDiscovery?
    /// The transport header to send first, for opaque transport to a peer proxy.
    private var transportHeader: ByteBuffer?

    init(target: ConnectionTarget, connectTimeout: Duration, initialBytes: ByteBuffer?,
         metrics: (source: TCPMetrics, destination: TCPMetrics), outcome: ConnectionOutcome,
         meshTLS: (client: MeshTLSClient, peer: MeshPeer)? = nil, meshTLSOrigin: MeshTLSClient? = nil,
         discovery: LoopDiscovery? = nil, registry: MetricRegistry? = nil, logger: Logger) {
        self.registry = registry
        self.meshTLSOrigin = meshTLSOrigin
        self.discovery = discovery
        self.meshTLS = meshTLS
        self.outcome = outcome
        self.target = target
        self.connectTimeout = connectTimeout
        self.held = initialBytes.map { [$0] } ?? []
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        guard let discovery, let service = discovery.logical(for: target) else {
            dial(target, context: context, meshTLS: meshTLS).assumeIsolated().whenComplete { result in
                self.dialed(result, target: self.target, context: context)
            }
            return
        }
        // A service: balanced per connection by the endpoint stage; the connection's lifetime is
        // not a latency, so the endpoint's load is its open connections.
        let stage = EndpointConnector(discovery: discovery, service: service, requiredIdentity: nil,
                                      originatesMeshTLS: meshTLSOrigin != nil, logger: logger)
        stage.connect({ endpoint in .opening(self.dial(endpoint, context: context)) }) { result in
            switch result {
            case .success(let (upstream, endpoint)):
                upstream.closeFuture.assumeIsolated().whenComplete { _ in endpoint.abandoned() }
                self.connected(context: context, upstream: upstream)
            case .failure(let error):
                self.logger.info("no endpoint", metadata: ["target": "\(self.target)", "error": "\(error.message)"])
                self.outcome.markFailed()
                context.close(promise: nil)
            }
        }
    }

    /// Dials a discovered endpoint: over mesh TLS when it has an identity, and to its proxy's
    /// own inbound port with a transport header when it takes opaque transport.
    private func dial(_ endpoint: BalancedEndpoint, context: ChannelHandlerContext) -> EventLoopFuture<Channel> {
        logger.debug("opaque endpoint", metadata: ["endpoint": "\(endpoint.target)", "opaque": "\(endpoint.endpoint.opaque)",
                                                  "transport port": "\(endpoint.endpoint.opaqueTransportPort.map(String.init) ?? "-")"])
        let secured = meshTLSOrigin.flatMap { client in endpoint.endpoint.meshPeer.map { (client, $0) } }
        if let secured, endpoint.endpoint.opaque, let inbound = endpoint.endpoint.opaqueTransportPort,
           let ip = endpoint.endpoint.address.ipAddress, let port = endpoint.endpoint.address.port,
           let proxyPort = try? SocketAddress(ipAddress: ip, port: Int(inbound)) {
            // Opaque transport: to the peer proxy's own inbound port, the original port named in
            // a transport header written before any of the client's bytes.
            var header = ByteBuffer()
            do {
                try TransportHeader(port: UInt16(port)).encode(into: &header)
            } catch {
                return context.eventLoop.makeFailedFuture(ProxyError(code: .connectFailed, detail: "transport header: \(error)"))
            }
            transportHeader = header
            useEndpointMetrics(.address(proxyPort), peer: secured.1)
            return dial(.address(proxyPort), context: context, meshTLS: secured, transportHeader: true)
        }
        transportHeader = nil
        useEndpointMetrics(endpoint.target, peer: secured?.1)
        return dial(endpoint.target, context: context, meshTLS: secured)
    }

    /// The `tcp_*` series of the connection to an endpoint: its address, `tls` and `server_id`.
    private func useEndpointMetrics(_ target: ConnectionTarget, peer: MeshPeer?) {
        guard let registry else { return }
        metrics.destination = TCPMetrics(registry: registry, direction: .outbound, peer: "dst", targetAddress: target.description,
                                         tls: .toEndpoint(peer, proxyHasIdentity: meshTLSOrigin != nil), serverID: peer?.identity)
    }

    private func dial(_ target: ConnectionTarget, context: ChannelHandlerContext, meshTLS: (client: MeshTLSClient, peer: MeshPeer)?,
                      transportHeader: Bool = false) -> EventLoopFuture<Channel> {
        var bootstrap = ClientBootstrap.upstream(on: context.eventLoop, connectTimeout: TimeAmount(connectTimeout))
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        if let meshTLS {
            let handshakeTimeout = TimeAmount(connectTimeout)
            bootstrap = bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try meshTLS.client.secure(channel, peer: meshTLS.peer, handshakeTimeout: handshakeTimeout, transportHeader: transportHeader)
                }
            }
        }
        return bootstrap.connect(to: target).hop(to: context.eventLoop)
    }

    /// A fixed target's connection is made, or not: one try, as Linkerd does for TCP.
    private func dialed(_ result: Result<Channel, any Error>, target: ConnectionTarget, context: ChannelHandlerContext) {
        switch result {
        case .success(let upstream):
            connected(context: context, upstream: upstream)
        case .failure(let error):
            logger.info("connect failed", metadata: ["target": "\(target)", "error": "\(error)"])
            outcome.markFailed()
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosedEarly = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func connected(context: ChannelHandlerContext, upstream: Channel) {
        guard context.channel.isActive else {
            upstream.close(promise: nil)
            return
        }
        metrics.destination.opened()
        let destination = metrics.destination
        let outcome = outcome
        upstream.closeFuture.whenComplete { _ in destination.closed(failed: outcome.failed) }
        let (client, server) = GlueHandler.matchedPair(first: metrics.source, second: metrics.destination, outcome: outcome)
        // Bytes written to the target are the bytes read from the client, and the reverse.
        do {
            try upstream.pipeline.syncOperations.addHandler(server)
            try context.pipeline.syncOperations.addHandler(client, position: .after(self))
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
            return
        }
        if let transportHeader {
            metrics.destination.writeBytes.increment(by: UInt64(transportHeader.readableBytes))
            upstream.write(transportHeader, promise: nil)
        }
        for buffer in held {
            metrics.source.readBytes.increment(by: UInt64(buffer.readableBytes))
            metrics.destination.writeBytes.increment(by: UInt64(buffer.readableBytes))
            upstream.write(buffer, promise: nil)
        }
        held.removeAll()
        upstream.flush()
        if inputClosedEarly {
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        upstream.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }
}
