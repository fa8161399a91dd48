import NIOCore
import NIOHTTP2

/// Watches a connection to a target for the target's GOAWAY.
///
/// On GOAWAY the connection takes no new streams: `onGoAway` lets its owner stop handing it out
/// (new streams then go over a fresh connection), the streams already open finish, and the
/// connection is closed once the last of them has. Streams are counted through
/// ``streamDelegate(on:)``, which the connection's `NIOHTTP2Handler` must be given.
final class UpstreamGoAwayHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    /// Tells the handler of streams opening and closing on its connection.
    struct StreamCounter: NIOHTTP2StreamDelegate {
        fileprivate let handler: NIOLoopBound<UpstreamGoAwayHandler>

        func streamCreated(_ id: HTTP2StreamID, channel: Channel) {
            handler.value.openStreams += 1
        }

        func streamClosed(_ id: HTTP2StreamID, channel: Channel) {
            handler.value.openStreams -= 1
            handler.value.closeIfDone()
        }
    }

    private let onGoAway: () -> Void
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var draining = false

    /// - Parameter onGoAway: called once, when the target sends GOAWAY.
    init(onGoAway: @escaping () -> Void) {
        self.onGoAway = onGoAway
    }

    /// The delegate to give the connection's `NIOHTTP2Handler`.
    func streamDelegate(on eventLoop: EventLoop) -> StreamCounter {
        StreamCounter(handler: NIOLoopBound(self, eventLoop: eventLoop))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload, !draining {
            draining = true
            onGoAway()
            closeIfDone()
        }
        context.fireChannelRead(data)
    }

    private func closeIfDone() {
        if draining, openStreams <= 0 { context?.close(promise: nil) }
    }
}
