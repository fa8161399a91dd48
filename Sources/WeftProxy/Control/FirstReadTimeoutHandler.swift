import NIOCore

/// Closes a control-plane connection that reads nothing within `timeout` of being opened: the
/// gRPC transport has no connect-to-first-byte timeout (TLS handshake or HTTP/2 preface), so a
/// peer that accepts and then says nothing would leave every call on the connection waiting.
/// Closed, the transport reconnects with its backoff.
final class FirstReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    /// Until the first read.
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelRead(data)
    }
}
