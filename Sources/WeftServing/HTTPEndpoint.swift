import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Foundation
import WeftCore

/// One HTTP request as Weft's small HTTP servers see it (the whole body read).
public struct HTTPEndpointRequest: Sendable {
    public let method: HTTPMethod
    public let path: String
    public let query: [String: String]
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// Over TLS: the client's certificate (DER), verified against the endpoint's trust roots;
    /// nil without one (or without TLS).
    public let clientCertificate: [UInt8]?

    init(head: HTTPRequestHead, body: [UInt8], clientCertificate: [UInt8]? = nil) {
        self.clientCertificate = clientCertificate
        method = head.method
        headers = head.headers
        self.body = body
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts.first ?? "")
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncodingLeniently
                query[key] = kv.count == 2 ? String(kv[1]).removingPercentEncodingLeniently : ""
            }
        }
        self.query = query
    }
}

/// The answer to an ``HTTPEndpointRequest``.
public struct HTTPEndpointResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = Array(body.utf8)
    }

    public init(status: HTTPResponseStatus, contentType: String, bytes: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = bytes
    }
}

/// A small HTTP/1.1 server for the controller's management API (on a Unix socket) and admin
/// port: one request at a time per connection, bodies up to a limit, a read timeout, and the
/// answer computed by an async handler off the event loop.
public struct HTTPEndpoint: Service {
    public enum Address: Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        /// A Unix socket, created with mode 0600: only the controller's user may connect.
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): "\(host):\(port)"
            case .unix(let path): path
            }
        }
    }

    public typealias Handler = @Sendable (HTTPEndpointRequest) async -> HTTPEndpointResponse

    let name: String
    let address: Address
    let maximumBody: Int
    let handler: Handler
    let logger: Logger
    let channel: Channel

    /// Binds at once (so a bad address fails start-up); serves when run. With `tls`, every
    /// connection is TLS first (a client that does not finish its handshake is closed by the
    /// 30 s read timeout). Over TCP one client address holds at most 32 connections.
    public init(name: String, address: Address, maximumBody: Int, tls: NIOSSLContext? = nil, logger: Logger,
                handler: @escaping Handler) async throws {
        self.name = name
        self.address = address
        self.maximumBody = maximumBody
        self.handler = handler
        self.logger = logger
        // Over TCP each client address has at most 32 connections at once.
        let perAddress: ConnectionsPerAddress? = if case .tcp = address { ConnectionsPerAddress(limit: 32) } else { nil }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                if let perAddress, !perAddress.admit(channel) {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPEndpointHandler(maximumBody: maximumBody, handler: handler))
                }
            }
        do {
            switch address {
            case .tcp(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                let previous = umask(0o077)
                defer { umask(previous) }
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                chmod(path, 0o600)
            }
        } catch {
            throw ListenError(listener: "the \(name)", address: address.description, error: error)
        }
        logger.info("\(name) listening", metadata: ["address": "\(address)"])
    }

    public func run() async throws {
        let channel = channel
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        if case .unix(let path) = address { unlink(path) }
    }
}

/// Reads one request (refusing bodies over the limit with 413), hands it to the handler, writes
/// the answer, then reads the next.
final class HTTPEndpointHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let maximumBody: Int
    private let handler: HTTPEndpoint.Handler
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var refused = false

    init(maximumBody: Int, handler: @escaping HTTPEndpoint.Handler) {
        self.maximumBody = maximumBody
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            refused = false
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maximumBody {
                refuse(context: context)
            }
        case .body(var buffer):
            guard !refused else { return }
            if body.count + buffer.readableBytes > maximumBody {
                refuse(context: context)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head, !refused else { return }
            self.head = nil
            let certificate = (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))?.peerCertificate
            let request = HTTPEndpointRequest(head: head, body: body, clientCertificate: certificate.flatMap { try? $0.toDERBytes() })
            body = []
            let handler = handler
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let keepAlive = head.isKeepAlive
            context.eventLoop.makeFutureWithTask { await handler(request) }.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func refuse(context: ChannelHandlerContext) {
        refused = true
        write(HTTPEndpointResponse(status: .payloadTooLarge, body: "request body over \(maximumBody) bytes\n"), keepAlive: false, context: context)
    }

    private func write(_ response: HTTPEndpointResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.count))
        // The server's clock, for clients that check theirs against it (`weft check`).
        headers.add(name: "date", value: HTTPDate.format(Date()))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    /// A request NIO could not parse was answered 400 by its error handler; the connection ends.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}

extension String {
    /// `%XX` decoded and `+` as space; malformed escapes are left as they are.
    var removingPercentEncodingLeniently: String {
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
