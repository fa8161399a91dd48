import NIOCore
import NIOHTTP1

/// Answers a request the HTTP/1 parser refused, then closes the connection: `431` when the
/// head is over its limits (too many or too long fields, or too long a request target — the
/// target counts against the same limits), `400` for anything else malformed. Sits between the
/// HTTP codec and the forwarder, and answers only when no response is under way.
final class HTTPRequestErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseUnderWay = false
    /// A parse error came while a response was under way: close once it has been sent.
    private var closeAfterResponse = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // Nothing after the bad bytes can be framed: answer (unless a response is already being
        // sent, which then ends the connection), and close once that is on the wire.
        if responseUnderWay {
            closeAfterResponse = true
        } else {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            let headers = HTTPHeaders([("connection", "close"), ("content-length", "0")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            responseUnderWay = true
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where !(100..<200).contains(head.status.code) || head.status.code == 101:
            responseUnderWay = true
        case .end where closeAfterResponse:
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            context.write(data, promise: written)
            return
        case .end:
            responseUnderWay = false
        default:
            break
        }
        context.write(data, promise: promise)
    }
}
