import NIOCore
import NIOPosix
import NIOSSL
import WeftIdentity
import X509

/// One HTTP/1.1 `GET /ready` to a proxy's admin port, answered by its status code; connect,
/// write and read all within a deadline. To a proxy whose admin port speaks TLS
/// (`WEFT_PROXY_ADMIN_TLS`), over TLS 1.3: its chain verified against the trust anchors and its
/// certificate naming the workload's identity.
struct ReadinessProbe: Sendable {
    enum Result: Equatable, Sendable {
        case status(Int)
        case unreachable(String)
    }

    let timeout: TimeAmount
    /// For TLS probes; nil without a trust directory.
    let tls: NIOSSLContext?

    init(timeout: TimeAmount, anchors: [Certificate] = []) {
        self.timeout = timeout
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        let roots = anchors.compactMap { try? NIOSSLCertificate(bytes: try $0.derEncoded(), format: .der) }
        configuration.trustRoots = .certificates(roots)
        tls = roots.isEmpty ? nil : try? NIOSSLContext(configuration: configuration)
    }

    func probe(host: String, port: Int, identity: String? = nil) async -> Result {
        if identity != nil, tls == nil { return .unreachable("a TLS admin port, but the controller has no trust anchors") }
        let (tls, identity) = (identity == nil ? nil : tls, identity)
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = eventLoop.makePromise(of: Result.self)
        let deadline = eventLoop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(StatusLineReader(promise: promise, identity: identity))
                }
            }
            .connect(host: host, port: port)
        connected.whenSuccess { channel in
            let request = "GET /ready HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\nUser-Agent: weft-controller\r\nConnection: close\r\n\r\n"
            channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
        }
        connected.whenFailure { promise.fail($0) }
        let result: Result
        do {
            result = try await promise.futureResult.get()
        } catch {
            result = .unreachable("\(error)")
        }
        deadline.cancel()
        if let channel = try? await connected.get() { try? await channel.close() }
        return result
    }

    /// Reads up to the end of the status line (at most 1 KiB) and reports its code.
    private final class StatusLineReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let promise: EventLoopPromise<Result>
        private var received = ByteBuffer()
        /// Over TLS: the identity the proxy's certificate must name.
        private let identity: String?

        init(promise: EventLoopPromise<Result>, identity: String?) {
            self.promise = promise
            self.identity = identity
        }

        /// Whether the TLS peer's certificate names `identity` (a DNS name or a URI SAN).
        private func peerNamesIdentity(_ context: ChannelHandlerContext) -> Bool {
            guard let identity else { return true }
            guard let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
                  let der = try? handler.peerCertificate?.toDERBytes(), let certificate = try? Certificate(derEncoded: der) else { return false }
            return certificate.identityNames.contains(identity)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
            let text = String(buffer: received)
            if let end = text.firstRange(of: "\r\n") {
                guard peerNamesIdentity(context) else {
                    promise.succeed(.unreachable("its certificate does not name \(identity ?? "")"))
                    context.close(promise: nil)
                    return
                }
                let parts = text[..<end.lowerBound].split(separator: " ")
                if parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) {
                    promise.succeed(.status(code))
                } else {
                    promise.succeed(.unreachable("not an HTTP response"))
                }
                context.close(promise: nil)
            } else if received.readableBytes > 1024 {
                promise.succeed(.unreachable("status line over 1 KiB"))
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(.unreachable("connection closed before a response"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
