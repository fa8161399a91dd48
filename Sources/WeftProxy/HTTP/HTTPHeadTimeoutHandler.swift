import NIOCore
import NIOHTTP1

/// Closes an HTTP/1 connection whose next request head does not arrive in time: a slowloris
/// client dribbling a head byte by byte, or a keep-alive connection left idle, frees its slot
/// after the timeout instead of holding it forever.
///
/// Sits after the HTTP decoder: the clock runs whenever the connection waits for a request head
/// (from the start, and again once each response has been written) and stops when a head
/// arrives.
///
/// One timer serves many requests: a head only marks the clock stopped, and a finished response
/// moves the deadline; the timer, when it fires early, sleeps again until the current deadline.
/// So a busy keep-alive connection schedules about one task per timeout, not one per request.
final class HTTPHeadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// When the wait for the next head ends; nil while no head is awaited.
    private var deadline: NIODeadline?
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
            deadline = nil
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
        timer = nil
        deadline = nil
        context.fireChannelInactive()
    }

    private func startClock(context: ChannelHandlerContext) {
        guard timeout > .zero else { return }
        let until = NIODeadline.now() + timeout
        deadline = until
        if timer == nil { arm(at: until, context: context) }
    }

    private func arm(at until: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: until) { [self] in
            timer = nil
            guard let deadline, outstanding == 0 else { return }
            if deadline <= .now() {
                context.close(promise: nil)
            } else {
                arm(at: deadline, context: context)
            }
        }
    }
}
