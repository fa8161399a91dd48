import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// How one connection's traffic reaches its target once its protocol is known: the handlers
/// each protocol needs, installed after the detection handler (or first, for opaque ports), and
/// the bytes read during detection replayed into them.
struct ForwardingStage: Sendable {
    let target: ConnectionTarget
    let connectTimeout: Duration
    let direction: String
    let source: TCPMetrics
    let destination: TCPMetrics
    let registry: MetricRegistry
    let logger: Logger

    /// Bytes forwarded as they are, both ways; used first thing on opaque ports.
    func installOpaque(on pipeline: ChannelPipeline.SynchronousOperations, position: ChannelPipeline.SynchronousOperations.Position,
                       bytes: ByteBuffer?) throws {
        try pipeline.addHandler(
            OpaqueForwarder(target: target, connectTimeout: connectTimeout, initialBytes: bytes,
                            metrics: (source, destination), logger: logger),
            position: position)
    }

    /// The stage for a detected protocol, after the detection handler of `context`.
    func install(_ detected: DetectedProtocol, after context: ChannelHandlerContext, bytes: ByteBuffer?) throws {
        let pipeline = context.pipeline.syncOperations
        switch detected {
        case .http1:
            try pipeline.configureHTTPServerPipeline(
                position: .after(context.handler), withPipeliningAssistance: true, withErrorHandling: false,
                withOutboundHeaderValidation: true, withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: HTTPLimits.decoder)
            try pipeline.addHandler(HTTPRequestErrorHandler())
            try pipeline.addHandler(HTTP1Forwarder(target: target, connectTimeout: connectTimeout, metrics: httpMetrics(),
                                                   tcp: (source, destination), logger: logger))
        case .http2:
            let metrics = NIOLoopBound(httpMetrics(), eventLoop: context.eventLoop)
            let upstream = NIOLoopBound(
                HTTP2Upstream(eventLoop: context.eventLoop, target: target, connectTimeout: connectTimeout, tcp: destination),
                eventLoop: context.eventLoop)
            let logger = logger
            let http2 = NIOHTTP2Handler(
                mode: .server, eventLoop: context.eventLoop, connectionConfiguration: HTTP2Limits.connection,
                streamConfiguration: .init()
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(
                        HTTP2StreamRelay.downstream(upstream: upstream.value, metrics: metrics.value, logger: logger))
                }
            }
            try pipeline.addHandler(http2, position: .after(context.handler))
            context.channel.closeFuture.whenComplete { _ in upstream.value.close() }
        case .tls, .opaque:
            // TLS that is not for this proxy is passed through untouched.
            try installOpaque(on: pipeline, position: .after(context.handler), bytes: bytes)
            return
        }
        if let bytes { context.fireChannelRead(NIOAny(bytes)) }
        context.fireChannelReadComplete()
    }

    private func httpMetrics() -> HTTPMetrics {
        HTTPMetrics(registry: registry, direction: direction, targetAddress: target.description, tls: "disabled")
    }
}
