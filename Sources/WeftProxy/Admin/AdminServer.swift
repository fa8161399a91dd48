import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import WeftCore

/// The admin listener (default 127.0.0.1:4191): `/metrics`, `/ready`, `/live`, `/env.json` and,
/// when enabled, `/shutdown` from loopback clients.
public final class AdminServer: Service {
    struct Context: Sendable {
        let registry: MetricRegistry
        let readiness: ProxyReadiness
        let environment: [String: String]
        let shutdownEnabled: Bool
        let requestShutdown: @Sendable () -> Void
        let version: String
    }

    let address: SocketAddress
    let group: EventLoopGroup
    let context: Context
    let logger: Logger
    /// `WEFT_PROXY_ADMIN_TLS`: TLS with the proxy's current certificate first (none before the
    /// first one: such connections are closed).
    let tls: MeshTLSServer?

    init(address: SocketAddress, group: EventLoopGroup, context: Context, tls: MeshTLSServer? = nil, logger: Logger) {
        self.tls = tls
        self.address = address
        self.group = group
        self.context = context
        self.logger = logger
    }

    public func run() async throws {
        let (context, tls) = (context, tls)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        guard let sslContext = try tls.context() else { throw ChannelError.ioOnClosedChannel }
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeTimeoutHandler(timeout: .seconds(10)))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(context: context))
                }
            }
        let server: Channel
        do {
            server = try await bootstrap.bind(to: address).get()
        } catch {
            throw ListenError(listener: "admin", address: "\(address)", error: error)
        }
        logger.info("admin listening", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "?")", "tls": "\(tls != nil)"])
        try? await gracefulShutdown()
        try? await server.close()
    }
}

/// Answers one admin request at a time; bodies are read and ignored (bounded by NIO's limits).
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let context: AdminServer.Context
    private var request: HTTPRequestHead?

    init(context: AdminServer.Context) {
        self.context = context
    }

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let (status, contentType, body) = respond(to: head, client: channelContext.channel.remoteAddress)
            var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.utf8.count)")])
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            channelContext.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            channelContext.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            let keepAlive = head.isKeepAlive
            channelContext.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { channelContext.close(promise: nil) }
            }
        }
    }

    func respond(to head: HTTPRequestHead, client: SocketAddress?) -> (HTTPResponseStatus, String, String) {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        let query = parts.count == 2 ? String(parts[1]) : nil
        switch path {
        case "/metrics":
            guard head.method == .GET else { return (.methodNotAllowed, "text/plain", "method not allowed\n") }
            return (.ok, "text/plain; version=0.0.4", context.registry.render() + ProcessMetrics.render(version: context.version))
        case "/ready":
            if let reason = context.readiness.notReadyReason { return (.serviceUnavailable, "text/plain", "not ready: \(reason)\n") }
            return (.ok, "text/plain", "ready\n")
        case "/live":
            return (.ok, "text/plain", "live\n")
        case "/env.json":
            guard head.method == .GET else { return (.methodNotAllowed, "text/plain", "method not allowed\n") }
            return environmentJSON(query: query)
        case "/shutdown":
            guard context.shutdownEnabled else { return (.notFound, "text/plain", "not found\n") }
            guard head.method == .POST else { return (.methodNotAllowed, "text/plain", "method not allowed\n") }
            guard Self.isLoopback(client) else { return (.forbidden, "text/plain", "shutdown is only allowed from loopback\n") }
            context.requestShutdown()
            return (.ok, "text/plain", "shutdown\n")
        default:
            return (.notFound, "text/plain", "not found\n")
        }
    }

    /// The environment as JSON; `?A&B` limits it to those names (null when unset).
    func environmentJSON(query: String?) -> (HTTPResponseStatus, String, String) {
        var names = context.environment.keys.sorted()
        if let query, !query.isEmpty {
            let requested = query.split(separator: "&").map(String.init)
            if requested.contains(where: { $0.contains("=") }) {
                return (.badRequest, "text/plain", "env.json takes variable names, not name=value pairs\n")
            }
            names = requested
        }
        let entries = names.map { name in
            "\(JSONText.quote(name)):\(context.environment[name].map(JSONText.quote) ?? "null")"
        }
        return (.ok, "application/json", "{" + entries.joined(separator: ",") + "}\n")
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}
