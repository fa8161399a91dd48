import NIOCore
import NIOHTTP1

/// Sits on the upstream channel and hands every response part to the forwarder, reading only
/// while the client can take more.
final class UpstreamRelay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var forwarder: HTTP1Forwarder?

    init(forwarder: HTTP1Forwarder) {
        self.forwarder = forwarder
    }

    /// Stops relaying: the connection is idle in the pool, or being closed.
    func detach() {
        forwarder = nil
    }

    /// Relays to `forwarder` from now on (the connection was taken from the pool).
    func attach(_ forwarder: HTTP1Forwarder) {
        self.forwarder = forwarder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        forwarder?.receive(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        forwarder?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        forwarder?.upstreamClosed()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { forwarder?.upstreamWritable() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        forwarder?.upstreamError(error)
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        // When the client cannot take more, the read is dropped; the forwarder asks again once
        // the client is writable.
        if forwarder?.downstreamWritable ?? true { context.read() }
    }
}
