import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Builds the pipeline of one accepted connection: find its target, then either forward its bytes
/// at once (opaque ports) or detect its protocol first.
struct ConnectionSetup: Sendable {
    let role: ListenerRole
    let opaquePorts: PortSet
    /// Every address the proxy listens on; a connection aimed at one of them would loop.
    let proxyAddresses: [SocketAddress]
    let registry: MetricRegistry
    let logger: Logger

    func configure(_ channel: Channel) -> EventLoopFuture<Void> {
        switch role.targeting {
        case .fixed(let target):
            return channel.eventLoop.makeCompletedFuture { try install(channel, target: target) }
        case .originalDestination:
            return OriginalDestination.of(channel).flatMapThrowing { original in
                guard let original else {
                    logger.info("refused: no original destination (the connection was not redirected here)",
                                metadata: ["listener": "\(role.name)", "client": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                    channel.close(promise: nil)
                    return
                }
                guard !proxyAddresses.contains(where: { Self.sameEndpoint($0, original) }) else {
                    logger.info("refused: the original destination is the proxy itself", metadata: ["listener": "\(role.name)", "target": "\(original)"])
                    channel.close(promise: nil)
                    return
                }
                try install(channel, target: .address(original))
            }
        }
    }

    /// Whether two addresses name the same listener (a wildcard address matches any IP of its family).
    static func sameEndpoint(_ listener: SocketAddress, _ target: SocketAddress) -> Bool {
        guard listener.port == target.port, listener.protocol == target.protocol else { return false }
        let ip = listener.ipAddress
        return ip == target.ipAddress || ip == "0.0.0.0" || ip == "::"
    }

    private func install(_ channel: Channel, target: ConnectionTarget) throws {
        let targetText = target.description
        let source = TCPMetrics(registry: registry, direction: role.direction, peer: "src", targetAddress: targetText, tls: "disabled")
        let destination = TCPMetrics(registry: registry, direction: role.direction, peer: "dst", targetAddress: targetText, tls: "disabled")
        source.opened()
        channel.closeFuture.whenComplete { _ in source.closed() }
        let logger = logger
        let connectTimeout = role.connectTimeout
        if let port = target.port, opaquePorts.contains(port) {
            try channel.pipeline.syncOperations.addHandler(
                OpaqueForwarder(target: target, connectTimeout: connectTimeout, initialBytes: nil,
                                metrics: (source, destination), logger: logger))
            return
        }
        let direction = role.direction
        let registry = registry
        let detection = ProtocolDetectionHandler(detectsTLS: role.detectsTLS, timeout: TimeAmount(role.detectTimeout)) { context, detected, bytes in
            logger.debug("detected", metadata: ["protocol": "\(detected)", "target": "\(targetText)"])
            do {
                switch detected {
                case .http1:
                    let sync = context.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(position: .after(context.handler), withPipeliningAssistance: true,
                                                         withErrorHandling: false, withOutboundHeaderValidation: true,
                                                         withEncoderConfiguration: .init(), withDecoderLimitConfiguration: HTTPLimits.decoder)
                    let metrics = HTTPMetrics(registry: registry, direction: direction, targetAddress: targetText, tls: "disabled")
                    try sync.addHandler(HTTPRequestErrorHandler())
                    try sync.addHandler(HTTP1Forwarder(target: target, connectTimeout: connectTimeout, metrics: metrics,
                                                       tcp: (source, destination), logger: logger))
                    if let bytes { context.fireChannelRead(NIOAny(bytes)) }
                    context.fireChannelReadComplete()
                case .http2:
                    let metrics = HTTPMetrics(registry: registry, direction: direction, targetAddress: targetText, tls: "disabled")
                    let upstream = HTTP2Upstream(eventLoop: context.eventLoop, target: target, connectTimeout: connectTimeout, tcp: destination)
                    let loopBoundMetrics = NIOLoopBound(metrics, eventLoop: context.eventLoop)
                    let loopBoundUpstream = NIOLoopBound(upstream, eventLoop: context.eventLoop)
                    let http2 = NIOHTTP2Handler(
                        mode: .server, eventLoop: context.eventLoop, connectionConfiguration: HTTP2Limits.connection,
                        streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(
                                HTTP2StreamRelay.downstream(upstream: loopBoundUpstream.value, metrics: loopBoundMetrics.value, logger: logger))
                        }
                    }
                    try context.pipeline.syncOperations.addHandler(http2, position: .after(context.handler))
                    context.channel.closeFuture.whenComplete { _ in loopBoundUpstream.value.close() }
                    if let bytes { context.fireChannelRead(NIOAny(bytes)) }
                    context.fireChannelReadComplete()
                case .tls, .opaque:
                    // TLS that is not for this proxy is always passed through untouched.
                    try context.pipeline.syncOperations.addHandler(
                        OpaqueForwarder(target: target, connectTimeout: connectTimeout, initialBytes: bytes,
                                        metrics: (source, destination), logger: logger),
                        position: .after(context.handler))
                }
            } catch {
                context.close(promise: nil)
            }
        }
        try channel.pipeline.syncOperations.addHandler(detection)
    }
}
