import NIOCore

/// Closes an HTTP/2 connection once the proxy has sent GOAWAY for an error, as RFC 9113 §5.4.1
/// requires: swift-nio-http2 sends that GOAWAY itself on a connection error, but leaves the
/// closing to the pipeline, and a hostile peer would otherwise keep the connection open.
///
/// Sits between the socket and `NIOHTTP2Handler`, reading the frame headers of the outgoing bytes.
final class GoAwayCloseHandler: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var scanner: HTTP2FrameScanner
    private var closeAfterFlush = false

    /// - Parameter isClient: the connection is the proxy's, to a target (its bytes start with the
    ///   client preface).
    init(isClient: Bool) {
        scanner = HTTP2FrameScanner(skippingClientPreface: isClient)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(let bytes) = unwrapOutboundIn(data),
           scanner.scan(bytes).contains(where: { $0.errorCode != 0 }) {
            closeAfterFlush = true
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        if closeAfterFlush {
            closeAfterFlush = false
            context.close(promise: nil)
        }
    }
}
