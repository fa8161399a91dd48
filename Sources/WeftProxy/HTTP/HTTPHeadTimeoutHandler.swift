import NIOCore
import NIOHTTP1

/// Closes an HTTP/1 connection whose next request head does not arrive in time: a slowloris
/// client dribbling a head byte by byte, or a keep-alive connection left idle, frees its slot
/// after the timeout instead of holding it forever.
///
/// Sits after the HTTP decoder: the clock runs whenever the connection waits for a request head
/// (from the start, and again once each response has been written) and stops when a head
/// arrives.
final class HTTPHeadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// Requests whose responses have not finished yet.
    private var outstanding = 0

    init(timeout: Duration) {
        self.timeout = TimeAmount(timeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        startClock(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            outstanding += 1
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            outstanding = max(0, outstanding - 1)
            if outstanding == 0 { startClock(context: context) }
        }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func startClock(context: ChannelHandlerContext) {
        timer?.cancel()
        guard timeout > .zero else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            if outstanding == 0 { context.close(promise: nil) }
        }
    }
}
