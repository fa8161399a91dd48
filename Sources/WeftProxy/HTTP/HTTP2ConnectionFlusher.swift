import NIOCore

/// The socket end of an HTTP/2 connection's outbound side: sits between the socket and
/// `NIOHTTP2Handler`, and
/// - coalesces flushes: every stream flushes on its own, and relaying one client read can flush
///   dozens of streams on the same connection; they become one socket write at the end of the
///   event-loop tick instead of one `writev` each (and a close flushes first);
/// - closes the connection once the proxy has sent GOAWAY for an error, as RFC 9113 §5.4.1
///   requires (swift-nio-http2 sends that GOAWAY itself on a connection error but leaves the
///   closing to the pipeline, and a hostile peer would otherwise keep the connection open). It
///   finds that GOAWAY by following the frame headers of the outgoing bytes;
/// - closes the connection when the peer closes its side (a FIN): an HTTP/2 peer that stops
///   sending is gone (accepted connections allow half-closure, for opaque TCP's sake).
final class HTTP2ConnectionFlusher: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var scanner: HTTP2FrameScanner
    private var context: ChannelHandlerContext?
    private var flushScheduled = false
    private var closeAfterFlush = false
    /// The deferred flush, made once: scheduling it then allocates nothing. It holds the handler
    /// (a task still queued keeps it alive), so it is let go when the handler is removed, which
    /// the pipeline does when the channel closes.
    private var deferredFlush: (() -> Void)?

    /// - Parameter isClient: the connection is the proxy's, to a target (its bytes start with the
    ///   client preface).
    init(isClient: Bool) {
        scanner = HTTP2FrameScanner(skippingClientPreface: isClient)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        deferredFlush = { [self] in
            flushScheduled = false
            self.context?.flush()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        deferredFlush = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(let bytes) = unwrapOutboundIn(data),
           scanner.scan(bytes).contains(where: { $0.errorCode != 0 }) {
            closeAfterFlush = true
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if closeAfterFlush {
            // The connection is over: send the GOAWAY now and close, reading nothing more.
            closeAfterFlush = false
            context.flush()
            context.close(promise: nil)
            return
        }
        guard !flushScheduled, let deferredFlush else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute(deferredFlush)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // What was written before the close goes out first.
        if flushScheduled { context.flush() }
        context.close(mode: mode, promise: promise)
    }
}
