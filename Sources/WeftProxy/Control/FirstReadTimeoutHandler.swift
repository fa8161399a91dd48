import NIOCore

/// Closes a control-plane connection that reads nothing within `timeout` of being opened: the
/// gRPC transport has no handshake timeout, and a connection accepted into a controller's listen
/// backlog just as the controller exits may never hear back (neither a TLS ServerHello nor a
/// reset), leaving every call on it waiting. Closed, the transport reconnects with its backoff.
final class FirstReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var heard = false

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
        if !heard {
            heard = true
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }
}
