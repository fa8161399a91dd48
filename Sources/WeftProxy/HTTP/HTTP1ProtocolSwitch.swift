import NIOCore
import NIOHTTP1

/// After a `101 Switching Protocols` (e.g. WebSocket): takes HTTP out of both pipelines and joins
/// the client and target connections byte for byte, without losing bytes the target sent right
/// after its 101. Every handler it removes is one it was handed, none looked up by type.
struct HTTP1ProtocolSwitch {
    let client: ChannelHandlerContext
    /// The client connection's HTTP/1 handlers (nil: requests came as HTTP/2 streams, no switch).
    let server: HTTP1ServerHandlers?
    let forwarder: HTTP1Forwarder
    let upstream: HTTP1Connection
    let tcp: (source: TCPMetrics, destination: TCPMetrics)
    let outcome: ConnectionOutcome

    func splice() throws {
        guard let server, let handlers = upstream.handlers else {
            throw ProxyError(code: .upstreamClosed, detail: "a protocol switch needs HTTP/1 on both sides")
        }
        let (downstreamGlue, upstreamGlue) = GlueHandler.matchedPair(first: tcp.source, second: tcp.destination, outcome: outcome)
        let up = upstream.channel.pipeline.syncOperations
        let down = client.pipeline.syncOperations
        // Both glue handlers first, then the client's HTTP handlers (so nothing written to the
        // client meets an HTTP encoder), then the target's: its decoder hands the bytes that
        // followed the 101 to the glue on its way out.
        try down.addHandler(downstreamGlue, position: .after(forwarder))
        try up.addHandler(upstreamGlue)
        server.remove(from: down)
        upstream.relay.detach()
        up.removeHandler(upstream.relay, promise: nil)
        up.removeHandler(handlers.encoder, promise: nil)
        // Bytes that followed the 101 reach the glue as the decoder leaves; send them on then.
        let decoderGone = upstream.channel.eventLoop.makePromise(of: Void.self)
        let channel = client.channel
        decoderGone.futureResult.whenComplete { _ in channel.flush() }
        up.removeHandler(handlers.decoder, promise: decoderGone)
        down.removeHandler(forwarder, promise: nil)
        client.flush()
        upstream.channel.read()
        channel.read()
    }
}
