import NIOCore
import NIOPosix

/// One HTTP/1.1 `GET /ready` to a proxy's admin port, answered by its status code; connect,
/// write and read all within a deadline.
struct ReadinessProbe: Sendable {
    enum Result: Equatable, Sendable {
        case status(Int)
        case unreachable(String)
    }

    let timeout: TimeAmount

    func probe(host: String, port: Int) async -> Result {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = eventLoop.makePromise(of: Result.self)
        let deadline = eventLoop.scheduleTask(in: timeout) { promise.fail(ChannelError.connectTimeout(timeout)) }
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StatusLineReader(promise: promise))
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

        init(promise: EventLoopPromise<Result>) {
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
            let text = String(buffer: received)
            if let end = text.firstRange(of: "\r\n") {
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
