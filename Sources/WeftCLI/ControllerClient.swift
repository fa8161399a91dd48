import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Talks to `weft-controller`'s management API over its Unix socket: one HTTP/1.1 request per
/// call, with a timeout.
struct ControllerClient {
    /// `$WEFT_HOME/controller.sock`, or `.weft/controller.sock`.
    static var defaultSocket: String {
        (ProcessInfo.processInfo.environment["WEFT_HOME"].map { $0.isEmpty ? ".weft" : $0 } ?? ".weft") + "/controller.sock"
    }

    struct Response {
        let status: Int
        let body: Data

        /// The API's error message (`{"code":..,"message":..}`), or the body as text.
        var errorMessage: String {
            if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let message = object["message"] as? String {
                return message
            }
            return String(decoding: body, as: UTF8.self)
        }
    }

    struct ConnectionError: Error, CustomStringConvertible {
        let description: String
    }

    let socket: String
    var timeout: TimeAmount = .seconds(30)

    func request(_ method: HTTPMethod, _ uri: String, body: Data? = nil) throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Response.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.connect(unixDomainSocketPath: socket).wait()
        } catch {
            promise.fail(error)
            throw ConnectionError(description: "cannot reach the controller at \(socket) (\(error)); is it running? (`weft-controller`, or set WEFT_HOME / --socket)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "weft-controller")
        headers.add(name: "content-length", value: String(body?.count ?? 0))
        if body != nil { headers.add(name: "content-type", value: "application/json") }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(ConnectionError(description: "the controller did not answer within \(timeout.nanoseconds / 1_000_000_000)s"))
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        return try promise.futureResult.wait()
    }

    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private let promise: EventLoopPromise<Response>
        private var status = 0
        private var body = Data()

        init(promise: EventLoopPromise<Response>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(let buffer): body.append(contentsOf: buffer.readableBytesView)
            case .end: promise.succeed(Response(status: status, body: body))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ConnectionError(description: "the controller closed the connection before answering"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
