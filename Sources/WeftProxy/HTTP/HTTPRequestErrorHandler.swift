import NIOCore
import NIOHTTP1

/// Answers a request the HTTP/1 parser refused, then lets the connection close: `431` when the
/// head is over its limits (too many or too long fields, or too long a request target — the
/// target counts against the same limits), `400` for anything else malformed. Sits between the
/// HTTP codec and the forwarder, and answers only when no response is under way.
final class HTTPRequestErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseUnderWay = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if !responseUnderWay {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            let headers = HTTPHeaders([("connection", "close"), ("content-length", "0")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            responseUnderWay = true
        }
        // The decoder closes the connection after a parse error.
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where !(100..<200).contains(head.status.code) || head.status.code == 101:
            responseUnderWay = true
        case .end:
            responseUnderWay = false
        default:
            break
        }
        context.write(data, promise: promise)
    }
}
